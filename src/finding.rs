//! The rule catalogue: every finding the simulator can report has a stable id (class letter
//! and number), a severity, a text in Finnish, English and Swedish, and whether the rule is confirmed
//! by a public Kanta source or assumed by us. The checks themselves live beside the typed
//! input they inspect (in `rules`, and in the codecs and transport below it, which report
//! their own rule ids); this module is the single place ids and texts come from.
//!
//! Rule ids are a type, [`RuleId`]: an id that is not in the catalogue does not compile, and
//! ids read from outside (test-case files, `rules show`) go through [`RuleId::from_str`],
//! which names the unknown id.
//!
//! Classes: T transport/TLS, A authorisation/registers, W SOAP/HL7 wrapper, M MIME,
//! G signatures, S service request, X CDA structure, H header, B body, P persons,
//! L lifecycle (new versions, invalidation), Q queries; C is the test-case engine's own
//! (a step's message, timing, outcome or archive state differs from the case).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Refuses the connection, request or document.
    Error,
    /// Reported, never refuses.
    Warning,
}

/// Whether a public Kanta source confirms the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Seen in a public Kanta/DVV source [V].
    Confirmed,
    /// Our inference or design choice [I]/[U]; configurable where it matters.
    Assumed,
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `T-003`.
    pub id: RuleId,
    /// Severity.
    pub severity: Severity,
    /// Finnish text.
    pub fi: &'static str,
    /// English text.
    pub en: &'static str,
    /// Swedish text.
    pub sv: &'static str,
    /// Confirmed or assumed.
    pub basis: Basis,
}

impl Rule {
    /// Its text in `lang`.
    pub fn text(&self, lang: crate::lang::Lang) -> &'static str {
        match lang {
            crate::lang::Lang::Fi => self.fi,
            crate::lang::Lang::Sv => self.sv,
            crate::lang::Lang::En => self.en,
        }
    }
}

/// The catalogue is written once, below; this macro turns it into the [`RuleId`] enum (one
/// variant per rule, in catalogue order) and the [`CATALOGUE`] table indexed by it, so the
/// two cannot drift apart.
macro_rules! catalogue {
    ($( $variant:ident = $id:literal, $severity:ident, $basis:ident, $fi:literal, $en:literal, $sv:literal; )*) => {
        /// A rule's id: one variant per rule of the catalogue (`A001` is `A-001`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $(
                #[doc = $en]
                $variant,
            )*
        }

        impl RuleId {
            /// The id as written in faults, logs and reports, e.g. `"A-001"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $id, )*
                }
            }
        }

        /// Every rule, ordered by id.
        pub const CATALOGUE: &[Rule] = &[
            $(
                Rule {
                    id: RuleId::$variant,
                    severity: Severity::$severity,
                    basis: Basis::$basis,
                    fi: $fi,
                    en: $en,
                    sv: $sv,
                },
            )*
        ];
    };
}

catalogue! {
    A001 = "A-001", Error, Assumed,
        "Asiakasvarmenteesta ei löydy organisaation OID-tunnusta",
        "The client certificate names no organisation OID",
        "Klientcertifikatet anger inget OID för organisationen";
    A002 = "A-002", Error, Confirmed,
        "Organisaatio ei ole SOTE-organisaatiorekisterissä",
        "The organisation is not in the SOTE organisation register",
        "Organisationen finns inte i SOTE-organisationsregistret";
    A003 = "A-003", Error, Assumed,
        "Organisaatio on merkitty rekisteriin passiiviseksi",
        "The organisation is marked inactive in the register",
        "Organisationen är markerad som passiv i registret";
    A004 = "A-004", Error, Assumed,
        "Lähettäjän laitetunniste ei ole asiakasvarmenteen organisaatio",
        "The sender device is not the client certificate's organisation",
        "Avsändarens enhet är inte klientcertifikatets organisation";
    A005 = "A-005", Error, Assumed,
        "Rekisterinpitäjä ei ole asiakasvarmenteen organisaatio",
        "The custodian is not the client certificate's organisation",
        "Registerhållaren är inte klientcertifikatets organisation";
    A006 = "A-006", Error, Confirmed,
        "Rekisterinkäyttöoikeus puuttuu",
        "No register use right into the organiser's register",
        "Ingen registeranvändningsrätt till anordnarens register";
    B001 = "B-001", Error, Confirmed,
        "Näyttömuoto puuttuu tai sen base64-koodaus on virheellinen",
        "The display form is absent or not valid base64",
        "Visningsformen saknas eller är inte giltig base64";
    B002 = "B-002", Error, Confirmed,
        "Näyttömuoto ei ole hyvin muodostettua XHTML:ää, jonka juuri on div.soc-document",
        "The display form is not well-formed XHTML rooted at div.soc-document",
        "Visningsformen är inte välformad XHTML med div.soc-document som rot";
    B003 = "B-003", Error, Confirmed,
        "Rakenteinen muoto puuttuu tai ei ole kelvollista base64-koodattua JSONia",
        "The structured form is absent or not valid base64 JSON",
        "Den strukturerade formen saknas eller är inte giltig base64-kodad JSON";
    B004 = "B-004", Error, Assumed,
        "Näyttömuodon mediaType ei ole application/xhtml+xml",
        "The display form's mediaType is not application/xhtml+xml",
        "Visningsformens mediaType är inte application/xhtml+xml";
    C001 = "C-001", Error, Assumed,
        "Sanoma ei ole se, jota testitapauksen vaihe odottaa",
        "The message is not the one the test step expects",
        "Meddelandet är inte det som teststeget väntar på";
    C002 = "C-002", Error, Assumed,
        "Testattava järjestelmä ei lähettänyt vaiheen sanomaa ajoissa",
        "The system under test did not send the step's message in time",
        "Systemet som testas skickade inte stegets meddelande i tid";
    C003 = "C-003", Error, Assumed,
        "Arkiston tila ei vastaa odotettua vaiheen jälkeen",
        "The archive's state after the step is not as expected",
        "Arkivets tillstånd efter steget är inte det väntade";
    C004 = "C-004", Error, Assumed,
        "Arkiston vastaus ei ole vaiheen odottama",
        "The archive's answer is not the one the step expects",
        "Arkivets svar är inte det som steget väntar på";
    C005 = "C-005", Error, Assumed,
        "Järjestelmä ei toimittanut asiakirjaa arkiston katkon jälkeen",
        "The system did not deliver the document after the archive's break",
        "Systemet levererade inte handlingen efter arkivets avbrott";
    C006 = "C-006", Error, Assumed,
        "Kadonneen kuittauksen jälkeen järjestelmä ei lähettänyt samaa sanomaa uudelleen",
        "After a lost acknowledgement the system did not resend the same message",
        "Efter en förlorad kvittering skickade systemet inte samma meddelande igen";
    C007 = "C-007", Error, Assumed,
        "Järjestelmä ei noudattanut Retry-After-aikaa",
        "The system did not honour Retry-After",
        "Systemet följde inte Retry-After";
    C008 = "C-008", Error, Assumed,
        "Järjestelmä lähetti saman sanoman kahta yhteyttä pitkin yhtä aikaa",
        "The system sent the same message on two connections at once",
        "Systemet skickade samma meddelande över två anslutningar samtidigt";
    F001 = "F-001", Error, Assumed,
        "Arkiston vika aiheutettiin tarkoituksella vikasuunnitelman mukaan",
        "An archive-side fault injected on purpose by the fault plan",
        "Ett fel i arkivet framkallat avsiktligt av felplanen";
    G001 = "G-001", Error, Assumed,
        "Asiakirjassa ei ole allekirjoitusta",
        "The document carries no signature",
        "Handlingen saknar signatur";
    G002 = "G-002", Error, Confirmed,
        "Allekirjoituksen rakenne on virheellinen",
        "The signature's structure is wrong",
        "Signaturens struktur är felaktig";
    G003 = "G-003", Error, Confirmed,
        "Allekirjoituksessa on algoritmi, jota ei sallita",
        "The signature uses an algorithm that is not allowed",
        "Signaturen använder en algoritm som inte är tillåten";
    G004 = "G-004", Error, Assumed,
        "SHA-1-algoritmeja ei hyväksytä",
        "SHA-1 algorithms are refused",
        "SHA-1-algoritmer avvisas";
    G005 = "G-005", Error, Confirmed,
        "Viittaus ei osoita mihinkään elementtiin",
        "A reference resolves to no element",
        "En referens pekar inte på något element";
    G006 = "G-006", Error, Assumed,
        "Sama ID esiintyy useammin kuin kerran",
        "The same ID appears more than once",
        "Samma ID förekommer mer än en gång";
    G007 = "G-007", Error, Assumed,
        "Ulkoisia viittauksia ei noudeta",
        "External references are never fetched",
        "Externa referenser hämtas aldrig";
    G008 = "G-008", Error, Confirmed,
        "Tiivisteet eivät täsmää",
        "Digest mismatch",
        "Kontrollsumman stämmer inte";
    G009 = "G-009", Error, Confirmed,
        "Allekirjoitusarvo ei täsmää",
        "The signature value does not verify",
        "Signaturvärdet kan inte verifieras";
    G010 = "G-010", Error, Confirmed,
        "Allekirjoittajan varmenne puuttuu tai on virheellinen",
        "The signer's certificate is missing or unreadable",
        "Signerarens certifikat saknas eller kan inte läsas";
    G011 = "G-011", Error, Assumed,
        "Allekirjoittajan varmenne ei kelpaa allekirjoitushetkellä",
        "The signer's certificate is not acceptable at the signing time",
        "Signerarens certifikat godtas inte vid signeringstidpunkten";
    G012 = "G-012", Error, Assumed,
        "Allekirjoittajan varmenne ei kelpaa vastaanottohetkellä",
        "The signer's certificate is not acceptable at receipt",
        "Signerarens certifikat godtas inte vid mottagandet";
    G013 = "G-013", Error, Assumed,
        "Allekirjoitus ei kata arkistoitavaa runkoa tai omaa aikaleimaansa",
        "The signature does not cover the archived body or its own timestamp",
        "Signaturen täcker inte den arkiverade innehållsdelen eller sin egen tidsstämpel";
    G014 = "G-014", Error, Confirmed,
        "Allekirjoitusaika puuttuu tai on virheellinen",
        "The signing time is missing or unreadable",
        "Signeringstiden saknas eller kan inte läsas";
    G015 = "G-015", Error, Assumed,
        "Allekirjoituksen viittaus osoittaa muualle kuin arkistoitavaan sisältöön",
        "A signature reference points at something other than what is archived",
        "En signaturreferens pekar på något annat än det som arkiveras";
    G016 = "G-016", Error, Assumed,
        "Järjestelmäallekirjoitus ei ole rekisterinpitäjän tai palvelunjärjestäjän järjestelmäallekirjoitusvarmenteella tehty",
        "A system signature is not made with the custodian's or organiser's system-signature certificate",
        "En systemsignatur är inte gjord med registerhållarens eller anordnarens systemsigneringscertifikat";
    G017 = "G-017", Error, Assumed,
        "Ammattihenkilön allekirjoitus ei ole asiakirjan laatijan varmenteella tehty",
        "A professional signature is not made with the author's certificate",
        "En yrkesutbildad persons signatur är inte gjord med författarens certifikat";
    H001 = "H-001", Error, Assumed,
        "Pakollinen tieto puuttuu",
        "A required element is absent",
        "Ett obligatoriskt element saknas";
    H002 = "H-002", Error, Confirmed,
        "Tunniste ei ole OID",
        "An identifier is not an OID",
        "En identifierare är inte ett OID";
    H003 = "H-003", Error, Assumed,
        "Ensimmäisen version setId ei ole sama kuin asiakirjan tunniste",
        "Version 1 has a setId different from the document id",
        "Version 1 har ett annat setId än handlingens id";
    H004 = "H-004", Error, Confirmed,
        "Versionumero ei ole positiivinen kokonaisluku",
        "The version number is not a positive integer",
        "Versionsnumret är inte ett positivt heltal";
    H005 = "H-005", Warning, Assumed,
        "Asiakirjaryhmälle ei ole simulaattorissa profiilia; vain yhteiset otsikkosäännöt tarkistettiin",
        "kanta-sim has no profile for the document group; only the common header rules were checked",
        "kanta-sim har ingen profil för handlingsgruppen; endast de gemensamma reglerna för huvudet kontrollerades";
    H006 = "H-006", Error, Confirmed,
        "Koodi on väärästä koodistosta",
        "A code is from the wrong code system",
        "En kod kommer från fel kodsystem";
    H007 = "H-007", Error, Confirmed,
        "nonXMLBody-elementin ID ei ole OID + asiakirjan tunniste",
        "The nonXMLBody ID is not OID + the document id",
        "nonXMLBody-elementets ID är inte OID + handlingens id";
    H008 = "H-008", Error, Confirmed,
        "Aikaleima ei ole muotoa VVVVKKPPTTMMSS±AAAA",
        "A timestamp is not YYYYMMDDHHMMSS±ZZZZ",
        "En tidsstämpel är inte YYYYMMDDHHMMSS±ZZZZ";
    H009 = "H-009", Error, Confirmed,
        "Siirtokehyksen ja asiakirjan tiedot eivät täsmää",
        "The frame and the document disagree",
        "Ramen och handlingen stämmer inte överens";
    H010 = "H-010", Warning, Assumed,
        "Koodi ei ole simulaattorin (osittaisessa) koodistossa",
        "The code is not in the simulator's (partial) code list snapshot",
        "Koden finns inte i simulatorns (ofullständiga) ögonblicksbild av kodlistorna";
    H011 = "H-011", Warning, Confirmed,
        "Siirtokehyksen rekisterinpitäjä on polussa custodian/assignedEntity; julkaistut kehykset käyttävät polkua custodian/assignedCustodian/representedOrganization/id",
        "The frame's custodian is under custodian/assignedEntity; published frames put it at custodian/assignedCustodian/representedOrganization/id",
        "Ramens registerhållare ligger under custodian/assignedEntity; publicerade ramar har den i custodian/assignedCustodian/representedOrganization/id";
    H012 = "H-012", Warning, Assumed,
        "Tunnisteella on sekä root että nullFlavor",
        "An identifier carries both a root and a nullFlavor",
        "En identifierare har både root och nullFlavor";
    H013 = "H-013", Warning, Assumed,
        "Siirtokehyksen ja asiakirjan laatimisaika (effectiveTime) eroavat",
        "The frame's and the document's effectiveTime differ",
        "Ramens och handlingens effectiveTime skiljer sig";
    L001 = "L-001", Error, Assumed,
        "Asiakirjan versio on jo arkistoitu",
        "This document version is already archived",
        "Denna version av handlingen är redan arkiverad";
    L002 = "L-002", Error, Assumed,
        "Uuden version setId:tä ei löydy arkistosta",
        "A new version's setId is not archived",
        "En ny versions setId finns inte i arkivet";
    L003 = "L-003", Error, Assumed,
        "Versionumero ei ole nykyinen versio + 1",
        "The version number is not the current version + 1",
        "Versionsnumret är inte den gällande versionen + 1";
    L004 = "L-004", Error, Assumed,
        "Uudesta versiosta puuttuu relatedDocument typeCode=\"RPLC\"",
        "A new version lacks relatedDocument typeCode=\"RPLC\"",
        "En ny version saknar relatedDocument typeCode=\"RPLC\"";
    L005 = "L-005", Error, Assumed,
        "relatedDocument ei osoita asiakirjan nykyiseen versioon",
        "relatedDocument does not point at the current version",
        "relatedDocument pekar inte på den gällande versionen";
    L006 = "L-006", Error, Assumed,
        "Mitätöidystä asiakirjasta ei voi arkistoida uutta versiota",
        "An invalidated document cannot get a new version",
        "En ogiltigförklarad handling kan inte få en ny version";
    L007 = "L-007", Error, Assumed,
        "Uuden version rekisterinpitäjä (custodian) poikkeaa aiemmasta",
        "A new version's custodian differs from the earlier version's",
        "En ny versions registerhållare skiljer sig från den tidigare versionens";
    L008 = "L-008", Error, Assumed,
        "Uusi versio menisi eri rekisteriin kuin aiempi",
        "A new version would go to another register than the earlier version",
        "En ny version skulle hamna i ett annat register än den tidigare versionen";
    L009 = "L-009", Error, Assumed,
        "Asiakirja ei ole rekisterissä, johon lähettäjä saa tallentaa",
        "The document is not in a register the sender may write to",
        "Handlingen finns inte i ett register som avsändaren får skriva i";
    L010 = "L-010", Error, Assumed,
        "Versionumero ei sovi sanomaan (versio 1 arkistointina, myöhemmät uutena versiona)",
        "The version does not fit the interaction (version 1 is archived, later ones are new versions)",
        "Versionen passar inte interaktionen (version 1 arkiveras, senare är nya versioner)";
    L020 = "L-020", Error, Assumed,
        "Mitätöitävää asiakirjaa ei löydy",
        "The document to invalidate is not archived",
        "Handlingen som ska ogiltigförklaras är inte arkiverad";
    L021 = "L-021", Error, Assumed,
        "Mitätöitävä asiakirja kuuluu toisen organisaation rekisteriin",
        "The document to invalidate is in another organisation's register",
        "Handlingen som ska ogiltigförklaras finns i en annan organisations register";
    L022 = "L-022", Error, Assumed,
        "Asiakirja on jo mitätöity",
        "The document is already invalidated",
        "Handlingen är redan ogiltigförklarad";
    L023 = "L-023", Error, Assumed,
        "Mitätöinnin syy puuttuu",
        "The invalidation gives no reason",
        "Ogiltigförklaringen anger ingen orsak";
    L024 = "L-024", Error, Assumed,
        "Mitätöitävä versio on korvattu uudemmalla",
        "The version to invalidate has been replaced by a newer one",
        "Versionen som ska ogiltigförklaras har ersatts av en nyare";
    L025 = "L-025", Error, Assumed,
        "Mitätöintisanoma ei yksilöi asiakirjaa",
        "The invalidation names no document",
        "Ogiltigförklaringen anger ingen handling";
    M001 = "M-001", Error, Assumed,
        "MIME-kokonaisuudelta puuttuu Content-Type",
        "The MIME entity has no Content-Type",
        "MIME-entiteten saknar Content-Type";
    M002 = "M-002", Error, Confirmed,
        "MIME-kokonaisuus ei ole multipart/related",
        "The MIME entity is not multipart/related",
        "MIME-entiteten är inte multipart/related";
    M003 = "M-003", Error, Assumed,
        "MIME-rajamerkki puuttuu",
        "The multipart boundary parameter is missing",
        "Parametern boundary saknas";
    M004 = "M-004", Error, Assumed,
        "MIME-osien rajamerkinnät ovat virheelliset",
        "The MIME delimiters are missing or unclosed",
        "MIME-avgränsarna saknas eller är inte avslutade";
    M005 = "M-005", Error, Confirmed,
        "MIME-osan base64-koodaus on virheellinen",
        "A MIME part is not valid base64",
        "En MIME-del är inte giltig base64";
    M006 = "M-006", Error, Assumed,
        "MIME-osan siirtokoodausta ei tueta",
        "A MIME part's transfer encoding is not supported",
        "En MIME-dels överföringskodning stöds inte";
    M007 = "M-007", Error, Assumed,
        "MIME-kokonaisuus on liian suuri",
        "The MIME entity is too large",
        "MIME-entiteten är för stor";
    M008 = "M-008", Error, Assumed,
        "MIME-osan Content-ID ei ole asiakirjan tunniste",
        "The MIME part's Content-ID is not the document id",
        "MIME-delens Content-ID är inte handlingens id";
    M009 = "M-009", Error, Assumed,
        "MIME-osaan ei viitata asiakirjasta",
        "A MIME part is not referenced by the document",
        "Handlingen hänvisar inte till en MIME-del";
    P001 = "P-001", Error, Confirmed,
        "Henkilötunnus on virheellinen",
        "The personal identity code is invalid",
        "Personbeteckningen är ogiltig";
    P002 = "P-002", Error, Confirmed,
        "Testiympäristössä saa käyttää vain 900-sarjan testihenkilötunnuksia",
        "Only 900-series test identity codes may be used in test environments",
        "Endast testpersonbeteckningar i 900-serien får användas i testmiljöer";
    P003 = "P-003", Error, Assumed,
        "Tilapäisen tunnisteen juuri tai muoto on virheellinen",
        "A temporary identifier's root or form is wrong",
        "En tillfällig identifierares rot eller form är felaktig";
    P004 = "P-004", Error, Assumed,
        "Asiakkaan tunnisteen juuri on tuntematon",
        "The client identifier's root is unknown",
        "Klientidentifierarens rot är okänd";
    P005 = "P-005", Warning, Assumed,
        "Henkilötunnus on annettu testitunnusrekisterissä toiselle organisaatiolle",
        "The identity code was issued to another organisation in the test-identity ledger",
        "Personbeteckningen gavs till en annan organisation enligt testbeteckningsboken";
    P006 = "P-006", Warning, Assumed,
        "Henkilötunnus kuuluu toiseen tunnusjoukkoon (testiympäristö / käyttöönottokoe)",
        "The identity code belongs to another pool (test environment / deployment test)",
        "Personbeteckningen hör till en annan pool (testmiljö / ibruktagningsprov)";
    Q001 = "Q-001", Error, Assumed,
        "Kyselystä puuttuu pakollinen hakuehto",
        "The query lacks a parameter it needs",
        "Förfrågan saknar en parameter den behöver";
    Q002 = "Q-002", Error, Assumed,
        "Hakuehdon arvo on virheellinen",
        "A query parameter's value is invalid",
        "Värdet av en parameter i förfrågan är ogiltigt";
    S001 = "S-001", Error, Confirmed,
        "Palvelupyyntöjä on oltava täsmälleen yksi",
        "Exactly one service request is required",
        "Exakt en tjänstebegäran krävs";
    S002 = "S-002", Error, Assumed,
        "Palvelupyyntö ei sovi sanomaan",
        "The service request does not fit the interaction",
        "Tjänstebegäran passar inte interaktionen";
    S003 = "S-003", Error, Assumed,
        "Palvelupyyntö ei vastaa asiakirjaryhmää",
        "The service request does not match the document group",
        "Tjänstebegäran motsvarar inte handlingsgruppen";
    S004 = "S-004", Error, Confirmed,
        "Käyttötilanne puuttuu",
        "The usage situation is absent",
        "Användningssituationen saknas";
    S005 = "S-005", Error, Assumed,
        "palveluPyynto ei vastaa siirtokehyksen palvelupyyntöä",
        "palveluPyynto differs from the frame's service request",
        "palveluPyynto skiljer sig från ramens tjänstebegäran";
    T001 = "T-001", Error, Assumed,
        "Asiakasvarmennetta ei esitetty (kaksisuuntainen TLS vaaditaan)",
        "No client certificate presented (mutual TLS is required)",
        "Inget klientcertifikat (ömsesidig TLS krävs)";
    T002 = "T-002", Error, Confirmed,
        "Varmenteen myöntäjä ei ole luotettu",
        "The certificate's issuer is not trusted",
        "Certifikatets utfärdare är inte betrodd";
    T003 = "T-003", Error, Confirmed,
        "Varmenne on vanhentunut",
        "The certificate has expired",
        "Certifikatet har gått ut";
    T004 = "T-004", Error, Confirmed,
        "Varmenne ei ole vielä voimassa",
        "The certificate is not yet valid",
        "Certifikatet är ännu inte giltigt";
    T005 = "T-005", Error, Confirmed,
        "Varmenne on sulkulistalla",
        "The certificate is revoked",
        "Certifikatet är spärrat";
    T006 = "T-006", Error, Assumed,
        "Varmenteen käyttötarkoitus ei salli asiakastunnistusta",
        "The certificate's key usage does not allow client authentication",
        "Certifikatets nyckelanvändning tillåter inte klientautentisering";
    T007 = "T-007", Error, Assumed,
        "Varmenteen avain on liian heikko",
        "The certificate's key is too weak",
        "Certifikatets nyckel är för svag";
    T008 = "T-008", Error, Confirmed,
        "Varmenteen allekirjoitus ei täsmää myöntäjän avaimeen",
        "The certificate is not signed by its issuer's key",
        "Certifikatet är inte signerat med utfärdarens nyckel";
    T009 = "T-009", Error, Confirmed,
        "Varmennetta ei voi jäsentää",
        "The certificate cannot be parsed",
        "Certifikatet kan inte tolkas";
    T010 = "T-010", Error, Assumed,
        "TLS-versio ei kelpaa (vain TLS 1.2 ja 1.3)",
        "Unacceptable TLS version (TLS 1.2 and 1.3 only)",
        "TLS-versionen godtas inte (endast TLS 1.2 och 1.3)";
    T011 = "T-011", Error, Confirmed,
        "Yhteys ei ole TLS-yhteys",
        "The connection is not TLS",
        "Anslutningen är inte TLS";
    T012 = "T-012", Error, Confirmed,
        "Asiakas keskeytti kättelyn hälytyksellä",
        "The client aborted the handshake with an alert",
        "Klienten avbröt handskakningen med ett larm";
    T013 = "T-013", Warning, Assumed,
        "Sulkulista on vanhentunut",
        "The CRL is past its next update",
        "Spärrlistans nästa uppdatering har passerats";
    T014 = "T-014", Error, Assumed,
        "Kättely ei valmistunut määräajassa",
        "The handshake did not complete in time",
        "Handskakningen blev inte klar i tid";
    T015 = "T-015", Error, Assumed,
        "Asiakas ei lähettänyt välivarmenteita",
        "The client did not send its intermediate CA certificate",
        "Klienten skickade inte sitt mellanliggande CA-certifikat";
    T016 = "T-016", Error, Confirmed,
        "Varmenneketju hylättiin polkuvalidoinnissa",
        "The certificate chain failed path validation",
        "Certifikatkedjan klarade inte valideringen";
    T017 = "T-017", Error, Assumed,
        "Yhteys katkesi kättelyn aikana",
        "The connection closed during the handshake",
        "Anslutningen stängdes under handskakningen";
    T018 = "T-018", Error, Assumed,
        "Asiakkaan TLS-asetukset eivät sovi arkistolle",
        "The client's TLS parameters are incompatible with the archive",
        "Klientens TLS-parametrar är oförenliga med arkivets";
    T019 = "T-019", Error, Confirmed,
        "Asiakas ei osoittanut hallitsevansa varmenteen avainta",
        "The client did not prove possession of its certificate's key",
        "Klienten bevisade inte att den innehar certifikatets nyckel";
    W001 = "W-001", Error, Confirmed,
        "Sanoma ei ole hyvin muodostettua XML:ää",
        "The message is not well-formed XML",
        "Meddelandet är inte välformad XML";
    W002 = "W-002", Error, Assumed,
        "Sanoma ei ole SOAP-kirjekuori",
        "The message is not a SOAP envelope",
        "Meddelandet är inte ett SOAP-kuvert";
    W003 = "W-003", Error, Assumed,
        "DTD:t ja entiteetit on kielletty",
        "DTDs and entity declarations are refused",
        "DTD:er och entitetsdeklarationer avvisas";
    W004 = "W-004", Error, Assumed,
        "Sanoma on liian suuri",
        "The message is too large",
        "Meddelandet är för stort";
    W005 = "W-005", Error, Assumed,
        "Pyyntö ei ole validointipalvelun JSON-muotoa",
        "The request is not the validation service's JSON",
        "Begäran är inte valideringstjänstens JSON";
    W006 = "W-006", Error, Assumed,
        "XML-rajoitus ylittyi (syvyys, attribuutit, nimiavaruudet, tekstin tai nimen pituus, solmujen määrä)",
        "An XML limit was exceeded (depth, attributes, namespace declarations, text or name length, node count)",
        "En XML-gräns överskreds (djup, attribut, namnrymdsdeklarationer, text- eller namnlängd, antal noder)";
    W007 = "W-007", Error, Assumed,
        "Pyynnön käsittely ylitti aikabudjettinsa",
        "The request's processing exceeded its time budget",
        "Behandlingen av begäran överskred sin tidsbudget";
    W008 = "W-008", Error, Assumed,
        "Pyynnön runko saapui liian hitaasti tai pysähtyi",
        "The request body arrived too slowly or stalled",
        "Begärans innehåll kom för långsamt eller avstannade";
    W009 = "W-009", Error, Assumed,
        "Arkisto on varattu; yritä uudelleen Retry-After-ajan kuluttua",
        "The archive is busy; retry after the Retry-After time",
        "Arkivet är upptaget; försök igen efter Retry-After-tiden";
    W010 = "W-010", Error, Confirmed,
        "Sanoman juurielementti ja interactionId eivät täsmää",
        "The root element and interactionId disagree",
        "Rotelementet och interactionId stämmer inte överens";
    W011 = "W-011", Error, Assumed,
        "Sanomatyyppiä ei hyväksytä tässä",
        "The interaction is not accepted here",
        "Interaktionen godtas inte här";
    W012 = "W-012", Error, Confirmed,
        "Vastaanottajan laitetunniste ei ole arkisto",
        "The receiver device is not the archive",
        "Mottagarenheten är inte arkivet";
    W014 = "W-014", Error, Assumed,
        "Sanoman luontiaika puuttuu",
        "The message creation time is absent",
        "Meddelandets skapelsetid saknas";
    W015 = "W-015", Error, Assumed,
        "Sanoman tunniste puuttuu",
        "The message id is absent",
        "Meddelandets id saknas";
    W016 = "W-016", Error, Assumed,
        "Sanoman tunniste on jo käytetty",
        "The message id has been used before",
        "Meddelandets id har använts tidigare";
    W017 = "W-017", Error, Assumed,
        "processingCode ei sovi ympäristöön",
        "The processingCode does not fit this environment",
        "processingCode passar inte denna miljö";
    X001 = "X-001", Error, Confirmed,
        "Elementti ei kuulu CDA R2 -asiakirjaan",
        "The element is not part of a CDA R2 document",
        "Elementet hör inte till en CDA R2-handling";
    X002 = "X-002", Error, Confirmed,
        "Elementit ovat väärässä järjestyksessä",
        "The elements are out of order",
        "Elementen är i fel ordning";
    X003 = "X-003", Error, Confirmed,
        "realmCode ei ole FI",
        "realmCode is not FI",
        "realmCode är inte FI";
    X004 = "X-004", Error, Confirmed,
        "typeId ei ole CDA R2:n",
        "typeId is not CDA R2's",
        "typeId är inte CDA R2:s";
}

impl RuleId {
    /// The catalogue's entry for this id.
    pub fn rule(self) -> &'static Rule {
        // The macro writes CATALOGUE in the enum's declaration order, so the discriminant is
        // the index (a unit test checks every variant).
        &CATALOGUE[self as usize]
    }

    /// The class letter (`'H'` for `H-009`).
    pub fn class(self) -> char {
        // Every id starts with its ASCII class letter (a unit test checks the shape).
        char::from(self.as_str().as_bytes()[0])
    }

    /// Ids separated by spaces, as logs and summaries show them.
    pub fn join(ids: &[RuleId]) -> String {
        ids.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// The catalogue's severity.
    pub fn severity(self) -> Severity {
        self.rule().severity
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.as_str()
    }
}

/// An id that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule id {seen:?}: ids look like H-009 (run `kanta-sim rules` for the catalogue)")]
pub struct UnknownRuleId {
    /// What was given.
    pub seen: String,
}

impl FromStr for RuleId {
    type Err = UnknownRuleId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        rule_by_id(s)
            .map(|r| r.id)
            .ok_or_else(|| UnknownRuleId { seen: s.to_owned() })
    }
}

impl<'de> serde::Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One finding: a rule broken (or warned about) at a place, with what was expected and
/// what was seen. It appears the same in faults, acknowledgements, logs and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id.
    pub code: RuleId,
    /// Severity from the catalogue.
    pub severity: Severity,
    /// Where (element path or protocol layer).
    pub location: String,
    /// What was expected and what was seen.
    pub message: String,
}

impl Finding {
    /// A finding for rule `code` (its severity comes from the catalogue).
    pub fn new(code: RuleId, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            location: location.into(),
            message: message.into(),
        }
    }

    /// The same finding with a severity a profile setting chose (for rules whose real
    /// behaviour is not public: the catalogue's severity is the default).
    #[must_use]
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Whether it refuses the request.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Findings on one line, `CODE message; CODE message`: for logs, summaries and the
    /// progress of a run.
    pub fn one_line(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(|f| format!("{} {}", f.code, f.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The rule with `id` (written as in faults, e.g. `"H-009"`).
pub fn rule_by_id(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().find(|r| r.id.as_str() == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_and_well_formed() {
        for pair in CATALOGUE.windows(2) {
            assert!(
                pair[0].id.as_str() < pair[1].id.as_str(),
                "{} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        for r in CATALOGUE {
            let (class, num) = r.id.as_str().split_once('-').unwrap();
            assert_eq!(class.len(), 1);
            assert_eq!(num.len(), 3);
            assert!(num.bytes().all(|b| b.is_ascii_digit()));
            assert!(!r.fi.is_empty() && !r.en.is_empty());
            // The variant's name is the id without its hyphen.
            assert_eq!(format!("{:?}", r.id), r.id.as_str().replace('-', ""));
        }
    }

    #[test]
    fn every_variant_indexes_its_own_entry() {
        for (i, r) in CATALOGUE.iter().enumerate() {
            assert_eq!(r.id as usize, i);
            assert_eq!(r.id.rule().id, r.id);
        }
    }

    #[test]
    fn ids_parse_and_unknown_ids_are_named() {
        assert_eq!("H-009".parse::<RuleId>(), Ok(RuleId::H009));
        let e = "H-999".parse::<RuleId>().unwrap_err();
        assert!(e.to_string().contains("\"H-999\""), "{e}");
        assert_eq!(RuleId::H009, "H-009");
        assert_eq!(serde_json::to_string(&RuleId::G016).unwrap(), "\"G-016\"");
    }

    #[test]
    fn the_classes_are_complete() {
        let classes = [
            ("G", 17),
            ("M", 9),
            ("H", 13),
            ("B", 4),
            ("P", 6),
            ("C", 4),
            ("X", 4),
            ("L", 10),
            ("Q", 2),
            ("T", 19),
            ("A", 3),
        ];
        for (class, n) in classes
            .iter()
            .flat_map(|(c, max)| (1..=*max).map(move |n| (c, n)))
        {
            let code = format!("{class}-{n:03}");
            assert!(rule_by_id(&code).is_some(), "{code}");
        }
    }
}
