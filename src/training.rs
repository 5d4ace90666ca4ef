//! The deployment test, step by step, for trainers: what happens in reality, who does it,
//! and what to look at in the simulator now (process.md §2.3). Shared by
//! `kanta-sim train deployment-test` and the archivist view's training page.

use serde::Serialize;

use crate::lang::Tr;

/// One step of the rehearsal.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingStep {
    /// Title.
    pub title: Tr,
    /// Who does it in reality.
    pub who: Tr,
    /// What happens in reality.
    pub reality: Tr,
    /// What to look at in kanta-sim.
    pub simulator: Tr,
    /// The archivist-view page that shows it, when one does.
    pub link: Option<&'static str>,
}

/// Ways to make the rehearsal fail the way it would in reality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Break {
    /// The client system connects with an expired certificate.
    ExpiredCertificate,
    /// The client document never reaches the archive.
    MissingDocument,
    /// The client system's record differs from the archived document in one field.
    MismatchingField,
    /// The report goes to Kela after the two working days.
    LateReport,
}

impl Break {
    /// Every switch with what it shows.
    pub const ALL: [(Self, &'static str, &'static str); 4] = [
        (
            Self::ExpiredCertificate,
            "expired-certificate",
            "the connection point's client certificate has expired: the archive refuses the TLS handshake (T-003) and nothing is archived",
        ),
        (
            Self::MissingDocument,
            "missing-document",
            "the client document is never sent: checklist (a) fails for it",
        ),
        (
            Self::MismatchingField,
            "mismatching-field",
            "the client system recorded another time than it archived: checklist (b) shows the field",
        ),
        (
            Self::LateReport,
            "late-report",
            "the report is sent five days after the test: the report page warns that it is late",
        ),
    ];
}

/// The steps of the deployment test, in order.
pub const STEPS: &[TrainingStep] = &[
    TrainingStep {
        title: Tr {
            fi: "1. Edellytykset",
            sv: "1. Förutsättningar",
            en: "1. Preconditions",
        },
        who: Tr {
            fi: "organisaatio, Kela",
            sv: "organisationen, FPA",
            en: "organisation, Kela",
        },
        reality: Tr {
            fi: "Voimassa oleva Kanta-asiakkuus, palvelukuvaus hyväksytty Kanta Ekstranetissä, organisaatio ja sen yksiköt SOTE-rekisterissä, liittymispiste DVV:n palvelinvarmenteella, ja koe sovittu toimittajan, sovellus- ja tietoliikennetuen ja Kanta-arkistonhoitajan kanssa.",
            sv: "En giltig kundrelation till Kanta, tjänstebeskrivningen godkänd i Kanta Extranätet, organisationen och dess enheter i SOTE-registret, en anslutningspunkt med MDB:s servercertifikat, och provet överenskommet med leverantören, applikations- och datakommunikationssupporten och Kanta-arkivarien.",
            en: "A valid Kanta client relationship, an accepted service description in Kanta Ekstranet, the organisation and its units in the SOTE register, a registered connection point with a DVV server certificate, and the test agreed with the supplier, application and network support and the Kanta archivist.",
        },
        simulator: Tr {
            fi: "mallinnettu SOTE-rekisteri ja luotu testivarmenteisto korvaavat nämä; `kanta-sim certs show` selittää minkä tahansa varmenteen; `kanta-sim train onboarding` käy koko tien läpi.",
            sv: "det simulerade SOTE-registret och det genererade test-PKI:t ersätter dessa; `kanta-sim certs show` förklarar vilket certifikat som helst; `kanta-sim train onboarding` går igenom hela vägen.",
            en: "the mock SOTE register and the generated test PKI stand in for these; `kanta-sim certs show` explains any certificate; `kanta-sim train onboarding` walks the whole road.",
        },
        link: Some("/onboarding"),
    },
    TrainingStep {
        title: Tr {
            fi: "2. Käyttöönottokokeen testihenkilötunnukset",
            sv: "2. Testpersonbeteckningar för ibruktagningsprovet",
            en: "2. Deployment-test identity codes",
        },
        who: Tr {
            fi: "järjestelmätoimittaja, Kela",
            sv: "systemleverantören, FPA",
            en: "system supplier, Kela",
        },
        reality: Tr {
            fi: "Kela antaa kokeen 900-sarjan testitunnukset järjestelmätoimittajalle, joka jakaa ne asiakkailleen ja pitää kirjaa siitä, mikä tunnus meni kenelle ja mihin palveluun; Kelalla tunnukset ovat palvelujen yhteisiä.",
            sv: "FPA ger provets testbeteckningar i 900-serien till systemleverantören, som delar ut dem till sina kunder och bokför vilken beteckning som gick till vem och för vilken tjänst; hos FPA är beteckningarna gemensamma för tjänsterna.",
            en: "Kela gives the test's 900-series codes to the system supplier, who hands them to its customers and keeps a ledger of which code went to which customer and service; at Kela the codes are shared between services.",
        },
        simulator: Tr {
            fi: "`kanta-sim ids issue --pool deployment-test` (tai `ids import` Kelan listasta) kirjaa jokaisen luovutuksen; arkisto varoittaa toisen poolin tai organisation tunnuksesta vain, jos käytäntö niin sanoo (P-005, P-006).",
            sv: "`kanta-sim ids issue --pool deployment-test` (eller `ids import` från FPA:s lista) bokför varje överlåtelse; arkivet varnar för en beteckning från en annan pool eller organisation endast om policyn säger så (P-005, P-006).",
            en: "`kanta-sim ids issue --pool deployment-test` (or `ids import` from Kela's list) records every grant; the archive warns about a code of another pool or organisation only where the policy says so (P-005, P-006).",
        },
        link: None,
    },
    TrainingStep {
        title: Tr {
            fi: "3. Testaaja kirjaa ennalta määritellyn tapauksen",
            sv: "3. Testaren registrerar det fördefinierade fallet",
            en: "3. The tester records the predefined case",
        },
        who: Tr {
            fi: "testaaja (sovellus- ja tietoliikennetuki saatavilla)",
            sv: "testaren (applikations- och datakommunikationssupport till hands)",
            en: "tester (with application and network support on call)",
        },
        reality: Tr {
            fi: "Testaaja kirjaa tapauksen tiedot sertifioituun järjestelmään tuotannossa; järjestelmä arkistoi asiakirjat liittymispisteen kautta.",
            sv: "Testaren för in fallets uppgifter i det certifierade systemet i produktionen; systemet arkiverar handlingarna via anslutningspunkten.",
            en: "With the certified system in production, the tester enters the data of the predefined test case; the system archives the documents over the connection point.",
        },
        simulator: Tr {
            fi: "viitejärjestelmä arkistoi tapauksen asiakirjat kaksisuuntaisella TLS:llä; jokainen vaihto on lokissa.",
            sv: "referensklienten arkiverar fallets handlingar över ömsesidig TLS; varje utbyte finns i loggen.",
            en: "the reference client archives the case's documents over mutual TLS; every exchange is in the log.",
        },
        link: None,
    },
    TrainingStep {
        title: Tr {
            fi: "4. (a) Kaikki päätyi arkistoon ja rekisterinpitäjän rekisteriin",
            sv: "4. (a) Allt kom till arkivet och den personuppgiftsansvariges register",
            en: "4. (a) Everything reached the archive and the controller's register",
        },
        who: Tr {
            fi: "Kanta-arkistonhoitaja",
            sv: "Kanta-arkivarien",
            en: "Kanta archivist",
        },
        reality: Tr {
            fi: "Arkistonhoitajan käyttöliittymästä arkistonhoitaja löytää tapauksen jokaisen asiakirjan rekisterinpitäjän rekisteristä.",
            sv: "I arkivariens användargränssnitt hittar arkivarien varje handling i fallet, i den personuppgiftsansvariges register.",
            en: "In the Archivist's user interface the archivist finds every document of the case, in the controller's register.",
        },
        simulator: Tr {
            fi: "käyttöönottokoesivu laskee tarkistuslistan (a); haku- ja asiakirjasivut näyttävät asiakirjat, allekirjoitukset ja versiot.",
            sv: "provsidan räknar ut checklista (a); sök- och handlingssidorna visar handlingarna, deras signaturer och versioner.",
            en: "the deployment page computes checklist (a) for the case; search and the document pages show the documents, their signatures and versions.",
        },
        link: Some("/deployment"),
    },
    TrainingStep {
        title: Tr {
            fi: "5. (b) Arkistoidut tiedot vastaavat asiakastietojärjestelmää",
            sv: "5. (b) De arkiverade uppgifterna motsvarar klientdatasystemet",
            en: "5. (b) The archived data match the client system",
        },
        who: Tr {
            fi: "Kanta-arkistonhoitaja, testaaja",
            sv: "Kanta-arkivarien, testaren",
            en: "Kanta archivist, tester",
        },
        reality: Tr {
            fi: "Arkistonhoitaja vertaa arkistoituja asiakirjoja siihen, mitä asiakastietojärjestelmä näyttää.",
            sv: "Arkivarien jämför de arkiverade handlingarna med det klientdatasystemet visar.",
            en: "The archivist compares the archived documents with what the client system shows.",
        },
        simulator: Tr {
            fi: "liitä järjestelmän vienti käyttöönottokoesivulle: tarkistuslista (b) vertaa kentät yksitellen.",
            sv: "klistra in systemets export på provsidan: checklista (b) jämför fält för fält.",
            en: "paste the client system's export into the deployment page: checklist (b) compares it field by field.",
        },
        link: Some("/deployment"),
    },
    TrainingStep {
        title: Tr {
            fi: "6. Raportti Kelaan kahden arkipäivän kuluessa",
            sv: "6. Rapport till FPA inom två vardagar",
            en: "6. Report to Kela within two working days",
        },
        who: Tr {
            fi: "organisaatio",
            sv: "organisationen",
            en: "organisation",
        },
        reality: Tr {
            fi: "Onnistuneen kokeen jälkeen organisaatio raportoi siitä Kelaan kahden arkipäivän kuluessa; tuotantokäyttö voi alkaa heti.",
            sv: "Efter ett lyckat prov rapporterar organisationen det till FPA inom två vardagar; produktionen kan börja genast.",
            en: "After a successful test the organisation reports it to Kela within two working days; production use may start right away.",
        },
        simulator: Tr {
            fi: "raporttisivu täyttää raportin ja laskee määräpäivän arkipyhät huomioiden (`kanta-sim due-date` tulostaa sen myös).",
            sv: "rapportsidan fyller i rapporten och räknar ut sista dagen med finska helgdagar (`kanta-sim due-date` skriver också ut den).",
            en: "the report page fills in the report and computes the due date with Finnish public holidays (`kanta-sim due-date` prints it too).",
        },
        link: Some("/report"),
    },
];
