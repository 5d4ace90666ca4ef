//! The road to production (käyttöönotto, införande): what an organisation must have before
//! the deployment test, in the order the public Kanta pages give it, who is responsible for
//! each prerequisite, which page says so, what a missing one blocks, and an organisation's
//! readiness as typed data (`data/onboarding.toml`, or `onboarding.file`). Shared by
//! `kanta-sim train onboarding` and the archivist view's onboarding page.
//!
//! The pages give times for the whole road only: about six months, about a year when the
//! system is certified on the way; the report within two working days of the test; use
//! within a year of registering for the deployment. Per-step times are not published and
//! are not invented here.

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::identity::SoteRegister;
use crate::lang::{Lang, Tr};

/// Who is responsible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Party {
    /// The social-welfare organisation (palvelunantaja, tjänstetillhandahållare).
    Organisation,
    /// The client-data system's supplier.
    Supplier,
    /// Kela, which runs the Kanta services.
    Kela,
    /// THL: the SOTE organisation register, the code service, preparatory meetings.
    Thl,
    /// DVV: the certificate services.
    Dvv,
    /// Valvira: the register of client-data systems.
    Valvira,
}

impl Party {
    /// Its name.
    pub fn name(self, lang: Lang) -> &'static str {
        let t = match self {
            Self::Organisation => Tr {
                fi: "organisaatio",
                sv: "organisationen",
                en: "organisation",
            },
            Self::Supplier => Tr {
                fi: "järjestelmätoimittaja",
                sv: "systemleverantören",
                en: "system supplier",
            },
            Self::Kela => Tr {
                fi: "Kela",
                sv: "FPA",
                en: "Kela",
            },
            Self::Thl => Tr {
                fi: "THL",
                sv: "THL",
                en: "THL",
            },
            Self::Dvv => Tr {
                fi: "DVV",
                sv: "MDB",
                en: "DVV",
            },
            Self::Valvira => Tr {
                fi: "Valvira",
                sv: "Valvira",
                en: "Valvira",
            },
        };
        t.get(lang)
    }
}

/// The public pages the road comes from (../shared/domain/seeds/), by their titles.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "customer-relationship",
        "Kundrelation och ibruktagningsprov (Kanta.fi)",
    ),
    (
        "deployment",
        "Införande av Klientdataarkivet för socialvården (Kanta.fi)",
    ),
    (
        "deployment-fi",
        "Sosiaalihuollon asiakastiedon arkiston käyttöönotto (Kanta.fi)",
    ),
    (
        "prerequisites",
        "Förutsättningar för ibruktagande (Kanta.fi)",
    ),
];

/// One prerequisite on the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Item {
    /// A valid Kanta customer relationship, Extranet login, roles held by named people.
    CustomerRelationship,
    /// The organisation and its units in THL's SOTE organisation register.
    SoteRegister,
    /// DVV certificates: the connection point's server certificate, system signature,
    /// professional cards.
    Certificates,
    /// A certified client-data system (joint-tested by the first organisation to deploy it),
    /// notified to Valvira.
    CertifiedSystem,
    /// The service description accepted, administrative and technical data given in Kanta
    /// Extranet, and Kela's approval message with the archivist view's address.
    ServiceDescription,
    /// Self-monitoring plan, data protection, national operating models, trained staff,
    /// production-time operating models, the preparatory meeting.
    Readiness,
    /// A person in the Kanta archivist role.
    Archivist,
    /// The deployment test agreed with the supplier and the people taking part.
    TestAgreed,
    /// The deployment test itself, then the report to Kela.
    DeploymentTest,
}

/// What the road says about one item.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Step {
    /// Which.
    pub item: Item,
    /// Its key (`--break` and the page anchor).
    pub key: &'static str,
    /// Title.
    pub title: Tr,
    /// Who is responsible.
    pub responsible: &'static [Party],
    /// Keys of [`SOURCES`].
    pub sources: &'static [&'static str],
    /// What it takes, in reality.
    pub reality: Tr,
    /// How long it takes, as far as the pages say.
    pub time: Tr,
    /// What a missing one blocks.
    pub blocks: Tr,
    /// What kanta-sim shows at this step.
    pub simulator: Tr,
    /// What to do in reality when it is missing.
    pub todo: Tr,
}

const NO_FIGURE: Tr = Tr {
    fi: "sivut eivät anna vaiheelle omaa kestoa (koko käyttöönotto noin 6 kk, sertifioitaessa noin vuosi)",
    sv: "sidorna anger ingen tid för steget (hela införandet cirka 6 månader, omkring ett år med certifiering)",
    en: "the pages give no figure for this step (the whole road about 6 months, about a year with certification)",
};

/// The road, in order.
pub const STEPS: &[Step] = &[
    Step {
        item: Item::CustomerRelationship,
        key: "customer-relationship",
        title: Tr {
            fi: "Kanta-asiakkuus ja Ekstranet-roolit",
            sv: "Kundrelation till Kanta och roller i Extranätet",
            en: "Kanta customer relationship and Extranet roles",
        },
        responsible: &[Party::Organisation, Party::Kela],
        sources: &["customer-relationship", "deployment-fi"],
        reality: Tr {
            fi: "Voimassa oleva Kanta-asiakkuus. Ekstranetiin kirjaudutaan organisaatiotunnisteella; palvelukuvauksen hyväksymiseen tarvitaan pääkäyttäjän tai hallinnollisen yhteyshenkilön rooli. Muut roolit: Kanta-arkistonhoitaja, lukija, tekninen yhteyshenkilö, tietoliikenteen ja ohjelmistojen toteuttaja, tietosuojavastaava.",
            sv: "En giltig kundrelation till Kanta. Man loggar in i Extranätet med organisationens identifierare; för att godkänna tjänstebeskrivningen behövs rollen huvudanvändare eller administrativ kontaktperson. Övriga roller: Kanta-arkivarie, läsare, teknisk kontaktperson, genomförare av datakommunikation och program, dataskyddsombud.",
            en: "A valid Kanta customer relationship. Kanta Extranet is entered with the organisation's identifier; accepting the service description needs the master-user or administrative-contact role. Other roles: Kanta archivist, reader, technical contact, network and software implementer, data-protection officer.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "Ekstranetin toimet: palvelukuvaus, hallinnolliset ja tekniset tiedot",
            sv: "åtgärderna i Extranätet: tjänstebeskrivningen, administrativa och tekniska uppgifter",
            en: "the Extranet actions: service description, administrative and technical data",
        },
        simulator: Tr {
            fi: "perehdytystiedot (data/onboarding.toml) kertovat asiakkuuden ja roolit nimettyine henkilöineen",
            sv: "införandeuppgifterna (data/onboarding.toml) visar kundrelationen och rollerna med namngivna personer",
            en: "the readiness data (data/onboarding.toml) shows the relationship and the roles with their named people",
        },
        todo: Tr {
            fi: "Hae Kanta-asiakkuutta Kelalta ja nimeä Katso-tunnisteeseen pääkäyttäjä tai hallinnollinen yhteyshenkilö.",
            sv: "Ansök om kundrelation hos FPA och ge en huvudanvändare eller administrativ kontaktperson roller i Katso-identifieraren.",
            en: "Apply to Kela for a Kanta customer relationship and give a master user or administrative contact their role on the organisation identifier.",
        },
    },
    Step {
        item: Item::SoteRegister,
        key: "sote-register",
        title: Tr {
            fi: "THL:n SOTE-organisaatiorekisteri",
            sv: "THL:s SOTE-organisationsregister",
            en: "THL's SOTE organisation register",
        },
        responsible: &[Party::Organisation, Party::Thl],
        sources: &["prerequisites", "deployment-fi"],
        reality: Tr {
            fi: "Organisaatio ja sen palveluyksiköt ovat SOTE-organisaatiorekisterissä ajan tasalla. Julkinen sosiaalihuolto ilmoittaa tiedot suoraan THL:lle; yksityisen palveluntuottajan lupatiedot viedään Valveriin, josta ne välittyvät THL:n koodistopalveluun. Ilman rekisteritietoja Ekstranetiin ei pääse.",
            sv: "Organisationen och dess serviceenheter är uppdaterade i SOTE-organisationsregistret. Den offentliga socialvården anmäler uppgifterna direkt till THL; en privat tjänsteproducents tillståndsuppgifter förs in i Valveri, varifrån de förmedlas till THL:s kodtjänst. Utan registeruppgifter kommer man inte in i Extranätet.",
            en: "The organisation and its service units are up to date in the SOTE organisation register. Public social welfare reports them to THL directly; a private provider's permit data go into Valveri and from there to THL's code service. Without them Kanta Extranet cannot be entered.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "Ekstranet-kirjautuminen ja jokainen yhteys arkistoon (A-002)",
            sv: "inloggning i Extranätet och varje anslutning till arkivet (A-002)",
            en: "the Extranet login and every connection to the archive (A-002)",
        },
        simulator: Tr {
            fi: "arkisto hakee liittymispisteen varmenteen organisaation rekisteristä ja torjuu tuntemattoman (A-002)",
            sv: "arkivet söker anslutningspunktens certifikats organisation i registret och avvisar en okänd (A-002)",
            en: "the archive looks up the connection point certificate's organisation in the register and refuses an unknown one (A-002)",
        },
        todo: Tr {
            fi: "Ilmoita organisaatio ja sen yksiköt THL:n SOTE-organisaatiorekisteriin (yksityinen: päivitä lupatiedot Valveriin); ilman sitä arkisto torjuu liittymispisteen varmenteen (A-002).",
            sv: "Anmäl organisationen och dess enheter till THL:s SOTE-organisationsregister (privat: uppdatera tillståndsuppgifterna i Valveri); utan det avvisar arkivet anslutningspunktens certifikat (A-002).",
            en: "Report the organisation and its units to THL's SOTE organisation register (private providers: update the permit data in Valveri); until then the archive refuses the connection point's certificate (A-002).",
        },
    },
    Step {
        item: Item::Certificates,
        key: "certificates",
        title: Tr {
            fi: "DVV:n varmenteet",
            sv: "MDB:s certifikat",
            en: "DVV certificates",
        },
        responsible: &[Party::Organisation, Party::Dvv],
        sources: &["prerequisites"],
        reality: Tr {
            fi: "Kanta-liittymispisteen palvelinvarmenne, järjestelmäallekirjoitusvarmenne ja ammattilaisten sosiaali- ja terveydenhuollon varmennekortit; kehitykseen testivarmenteet.",
            sv: "Servercertifikat för Kanta-anslutningspunkten, systemsigneringscertifikat och certifikatkort för yrkesutbildade; testcertifikat för utvecklingen.",
            en: "The Kanta connection point's server certificate, the system-signature certificate and professionals' certificate cards; test certificates for development.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "yhteyden arkistoon (TLS) ja asiakirjojen allekirjoittamisen",
            sv: "anslutningen till arkivet (TLS) och signeringen av handlingar",
            en: "the connection to the archive (TLS) and signing documents",
        },
        simulator: Tr {
            fi: "kanta-simin testivarmenteet korvaavat DVV:n varmenteet; vanhentunut liittymispisteen varmenne torjutaan kättelyssä (T-003)",
            sv: "kanta-sims testcertifikat ersätter MDB:s; ett utgånget certifikat i anslutningspunkten avvisas i handskakningen (T-003)",
            en: "kanta-sim's test PKI stands in for DVV's; an expired connection-point certificate is refused in the handshake (T-003)",
        },
        todo: Tr {
            fi: "Tilaa DVV:ltä uusi palvelinvarmenne liittymispisteeseen ja asenna se ennen vanhan vanhenemista; vanhentuneella varmenteella arkisto torjuu yhteyden (T-003).",
            sv: "Beställ ett nytt servercertifikat för anslutningspunkten av MDB och installera det innan det gamla går ut; med ett utgånget certifikat avvisar arkivet anslutningen (T-003).",
            en: "Order a new server certificate for the connection point from DVV and install it before the old one expires; with an expired certificate the archive refuses the connection (T-003).",
        },
    },
    Step {
        item: Item::CertifiedSystem,
        key: "certified-system",
        title: Tr {
            fi: "Sertifioitu asiakastietojärjestelmä",
            sv: "Certifierat klientdatasystem",
            en: "A certified client-data system",
        },
        responsible: &[Party::Supplier, Party::Kela, Party::Valvira],
        sources: &["prerequisites", "deployment"],
        reality: Tr {
            fi: "Järjestelmä on sertifioitu; Kelan yhteistestauksen tekee ensimmäinen järjestelmän käyttöön ottava organisaatio. Toimittaja ilmoittaa tuotantokäyttöön otettavan järjestelmän Valviralle.",
            sv: "Systemet är certifierat; FPA:s samtestning görs av den första organisationen som tar systemet i bruk. Leverantören anmäler systemet till Valvira.",
            en: "The system is certified; Kela's joint testing is run by the first organisation to deploy it. The supplier notifies Valvira of the system.",
        },
        time: Tr {
            fi: "sertifioitaessa käyttöönottoon valmistautuminen kestää noin vuoden",
            sv: "certifieras systemet under införandet tar förberedelserna omkring ett år",
            en: "certifying on the way makes the preparation about a year",
        },
        blocks: Tr {
            fi: "käyttöönottokokeen (se tehdään sertifioidulla järjestelmällä)",
            sv: "ibruktagningsprovet (det görs med ett certifierat system)",
            en: "the deployment test (it is done with a certified system)",
        },
        simulator: Tr {
            fi: "esitestaus- ja yhteistestaustapaukset (kanta-sim run) harjoittavat yhteistestausta; niiden läpäisy ei ole sertifiointi",
            sv: "förtest- och samtestningsfallen (kanta-sim run) övar samtestningen; att klara dem är ingen certifiering",
            en: "the pre-test and joint-test suites (kanta-sim run) rehearse joint testing; passing them is not certification",
        },
        todo: Tr {
            fi: "Käyttöönottokoe tehdään sertifioidulla järjestelmällä: sovi toimittajan kanssa sertifioinnista ja Kelan yhteistestauksesta (noin vuosi) ja varmista Valvira-ilmoitus.",
            sv: "Ibruktagningsprovet görs med ett certifierat system: kom överens med leverantören om certifieringen och FPA:s samtestning (omkring ett år) och se till att systemet anmäls till Valvira.",
            en: "The deployment test needs a certified system: agree with the supplier on certification and Kela's joint testing (about a year) and make sure Valvira is notified.",
        },
    },
    Step {
        item: Item::ServiceDescription,
        key: "service-description",
        title: Tr {
            fi: "Palvelukuvaus hyväksytty, tiedot annettu Ekstranetissä",
            sv: "Tjänstebeskrivningen godkänd, uppgifter lämnade i Extranätet",
            en: "Service description accepted, data given in Kanta Extranet",
        },
        responsible: &[Party::Organisation, Party::Kela],
        sources: &["customer-relationship", "deployment"],
        reality: Tr {
            fi: "Organisaatio hyväksyy palvelukuvauksen ja antaa hallinnolliset ja tekniset tiedot Ekstranetissä. Kela lähettää hyväksymisviestin, jossa on Arkistonhoitajan käyttöliittymän osoite.",
            sv: "Organisationen godkänner tjänstebeskrivningen och lämnar administrativa och tekniska uppgifter i Extranätet. FPA skickar ett meddelande om godkännande med adressen till Arkivariens användargränssnitt.",
            en: "The organisation accepts the service description and gives the administrative and technical data in Kanta Extranet. Kela sends an approval message with the address of the Archivist's user interface.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "käyttöönottokokeen (ehto) ja arkistonhoitajan käyttöliittymän osoitteen",
            sv: "ibruktagningsprovet (ett villkor) och adressen till arkivariens gränssnitt",
            en: "the deployment test (a condition) and the archivist view's address",
        },
        simulator: Tr {
            fi: "arkistonhoitajan näkymän osoite annetaan, kun hyväksymisviesti on saatu",
            sv: "adressen till arkivariens vy ges när meddelandet om godkännande har kommit",
            en: "the archivist view's address is given once the approval message has come",
        },
        todo: Tr {
            fi: "Hyväksy palvelukuvaus ja anna hallinnolliset ja tekniset tiedot Kanta Ekstranetissä; koe voidaan tehdä vasta Kelan hyväksymisviestin jälkeen.",
            sv: "Godkänn tjänstebeskrivningen och lämna administrativa och tekniska uppgifter i Kanta Extranätet; provet kan göras först efter FPA:s meddelande om godkännande.",
            en: "Accept the service description and give the administrative and technical data in Kanta Extranet; the test can be run only after Kela's approval message.",
        },
    },
    Step {
        item: Item::Readiness,
        key: "readiness",
        title: Tr {
            fi: "Omavalvonta, tietosuoja, koulutus ja toimintamallit",
            sv: "Egenkontroll, dataskydd, utbildning och verksamhetsmodeller",
            en: "Self-monitoring, data protection, training and operating models",
        },
        responsible: &[
            Party::Organisation,
            Party::Supplier,
            Party::Thl,
            Party::Kela,
        ],
        sources: &["prerequisites"],
        reality: Tr {
            fi: "Omavalvontasuunnitelma päivitetty, tietosuoja- ja tietoturvakäytännöt toteutettu, kansalliset toimintamallit käytössä, henkilöstö koulutettu, tuotantoajan toimintamalleista sovittu; THL:n ja Kelan valmistelevat tapaamiset, joihin toimittaja osallistuu.",
            sv: "Planen för egenkontroll uppdaterad, dataskydds- och informationssäkerhetsrutiner genomförda, nationella verksamhetsmodeller i bruk, personalen utbildad, verksamhetsmodellerna under produktionstiden överenskomna; THL:s och FPA:s förberedande möten, där leverantören deltar.",
            en: "The self-monitoring plan updated, data-protection and security routines in place, the national operating models in use, staff trained, production-time operating models agreed; the preparatory meetings THL and Kela hold, with the supplier taking part.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "Kanta-asiakkaaksi tulemisen ehdot",
            sv: "villkoren för att bli kund hos Kanta",
            en: "the conditions for becoming a Kanta customer",
        },
        simulator: Tr {
            fi: "tarkistuslista perehdytyssivulla; simulaattori ei voi todentaa näitä",
            sv: "en checklista på införandesidan; simulatorn kan inte verifiera dessa",
            en: "a checklist on the onboarding page; the simulator cannot verify these",
        },
        todo: Tr {
            fi: "Päivitä omavalvontasuunnitelma, toteuta tietosuojakäytännöt, kouluta henkilöstö ja sovi tuotantoajan toimintamalleista; osallistu THL:n ja Kelan valmistelevaan tapaamiseen.",
            sv: "Uppdatera planen för egenkontroll, genomför dataskyddsrutinerna, utbilda personalen och kom överens om verksamhetsmodellerna under produktionstiden; delta i THL:s och FPA:s förberedande möte.",
            en: "Update the self-monitoring plan, put the data-protection routines in place, train the staff and agree the production-time operating models; attend THL and Kela's preparatory meeting.",
        },
    },
    Step {
        item: Item::Archivist,
        key: "archivist",
        title: Tr {
            fi: "Kanta-arkistonhoitaja nimetty",
            sv: "Kanta-arkivarie utsedd",
            en: "A Kanta archivist named",
        },
        responsible: &[Party::Organisation],
        sources: &["customer-relationship", "deployment-fi"],
        reality: Tr {
            fi: "Kanta-arkistonhoitajan roolissa toimiva henkilö tarkastaa käyttöönottokokeessa arkistonhoitajan käyttöliittymässä, että asiakirjat ovat arkistossa ja rekisterinpitäjän rekisterissä ja vastaavat asiakastietojärjestelmää.",
            sv: "Personen med behörigheten Kanta-arkivarie kontrollerar vid ibruktagningsprovet i arkivariens gränssnitt att handlingarna finns i arkivet och i den personuppgiftsansvariges register och motsvarar klientdatasystemet.",
            en: "The person in the Kanta archivist role checks, during the deployment test and in the Archivist's user interface, that the documents are in the archive and the controller's register and match the client-data system.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "arkistonhoitajan käyttöliittymän ja käyttöönottokokeen tarkastukset",
            sv: "arkivariens gränssnitt och provets kontroller",
            en: "the archivist's view and the deployment test's checks",
        },
        simulator: Tr {
            fi: "arkistonhoitajan näkymä on käytettävissä vasta, kun rooli on nimetty",
            sv: "arkivariens vy är tillgänglig först när rollen är utsedd",
            en: "the archivist's view is available only once the role is named",
        },
        todo: Tr {
            fi: "Nimeä Kanta-arkistonhoitajan rooli Katso-tunnisteeseen; ilman sitä arkistonhoitajan käyttöliittymää ei voi käyttää eikä kokeen tarkastuksia tehdä.",
            sv: "Ge behörigheten Kanta-arkivarie på Katso-identifieraren; utan den kan arkivariens gränssnitt inte användas och provets kontroller inte göras.",
            en: "Give someone the Kanta archivist role on the organisation identifier; without it the Archivist's user interface cannot be used and the test's checks cannot be made.",
        },
    },
    Step {
        item: Item::TestAgreed,
        key: "test-agreed",
        title: Tr {
            fi: "Käyttöönottokoe sovittu",
            sv: "Ibruktagningsprovet överenskommet",
            en: "The deployment test agreed",
        },
        responsible: &[Party::Organisation, Party::Supplier],
        sources: &["customer-relationship", "deployment", "deployment-fi"],
        reality: Tr {
            fi: "Käyttöönottokokeesta on sovittu järjestelmätoimittajan sekä kokeen suorittavan henkilön, sovellus- ja tietoliikennetuen ja Kanta-arkistonhoitajan kanssa; Kelan testihenkilötunnukset tulevat toimittajan kautta.",
            sv: "Ibruktagningsprovet är överenskommet med systemleverantören och med personen som utför provet, applikations- och datakommunikationssupporten och Kanta-arkivarien; FPA:s testpersonbeteckningar kommer via leverantören.",
            en: "The deployment test is agreed with the system supplier and with the tester, application and network support and the Kanta archivist; Kela's test identity codes come through the supplier.",
        },
        time: NO_FIGURE,
        blocks: Tr {
            fi: "käyttöönottokokeen",
            sv: "ibruktagningsprovet",
            en: "the deployment test",
        },
        simulator: Tr {
            fi: "kanta-sim ids issue --pool deployment-test jakaa koetunnukset ja kirjaa kenelle",
            sv: "kanta-sim ids issue --pool deployment-test delar ut provbeteckningar och bokför till vem",
            en: "kanta-sim ids issue --pool deployment-test issues the test's codes and records to whom",
        },
        todo: Tr {
            fi: "Sovi kokeen ajankohta järjestelmätoimittajan, kokeen suorittajan, sovellus- ja tietoliikennetuen ja Kanta-arkistonhoitajan kanssa; pyydä toimittajalta Kelan koetunnukset.",
            sv: "Kom överens om tidpunkten för provet med systemleverantören, personen som utför provet, applikations- och datakommunikationssupporten och Kanta-arkivarien; be leverantören om FPA:s provbeteckningar.",
            en: "Agree the time of the test with the system supplier, the tester, application and network support and the Kanta archivist; ask the supplier for Kela's test identity codes.",
        },
    },
    Step {
        item: Item::DeploymentTest,
        key: "deployment-test",
        title: Tr {
            fi: "Käyttöönottokoe ja raportti Kelaan",
            sv: "Ibruktagningsprovet och rapporten till FPA",
            en: "The deployment test and the report to Kela",
        },
        responsible: &[Party::Organisation, Party::Supplier, Party::Kela],
        sources: &["customer-relationship", "deployment"],
        reality: Tr {
            fi: "Koe tehdään sovittuna aikana tuotantoympäristössä; onnistuneesta kokeesta raportoidaan Kelaan kahden arkipäivän kuluessa, ja tuotantokäyttö voi alkaa heti. Palvelu on otettava käyttöön vuoden kuluessa käyttöönottoon ilmoittautumisesta.",
            sv: "Provet görs vid överenskommen tidpunkt i produktionsmiljön; ett lyckat prov rapporteras till FPA inom två vardagar och produktionen kan börja genast. Tjänsten ska tas i bruk inom ett år från anmälan till införandet.",
            en: "The test is run at the agreed time in production; a successful test is reported to Kela within two working days and production use may start at once. The service must be in use within a year of registering for the deployment.",
        },
        time: Tr {
            fi: "raportti kahden arkipäivän kuluessa; käyttö vuoden kuluessa ilmoittautumisesta",
            sv: "rapporten inom två vardagar; användning inom ett år från anmälan",
            en: "the report within two working days; use within a year of registering",
        },
        blocks: Tr {
            fi: "tuotantokäytön",
            sv: "produktionsanvändningen",
            en: "production use",
        },
        simulator: Tr {
            fi: "kanta-sim train deployment-test: koe, arkistonhoitajan tarkastukset ja raportti",
            sv: "kanta-sim train deployment-test: provet, arkivariens kontroller och rapporten",
            en: "kanta-sim train deployment-test: the test, the archivist's checks and the report",
        },
        todo: Tr {
            fi: "Korjaa koetta estänyt asia, toista koe sovittuna aikana ja raportoi onnistunut koe Kelaan kahden arkipäivän kuluessa.",
            sv: "Rätta det som hindrade provet, gör om provet vid en överenskommen tidpunkt och rapportera ett lyckat prov till FPA inom två vardagar.",
            en: "Fix what stopped the test, run it again at an agreed time, and report the successful test to Kela within two working days.",
        },
    },
];

/// The step of `item`.
pub fn step(item: Item) -> &'static Step {
    // Every item has its step (the table is written in item order; a test checks it).
    STEPS.iter().find(|s| s.item == item).unwrap_or(&STEPS[0])
}

/// The usual reasons a deployment slips, each failing at its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Break {
    /// The service description is not accepted (no approval message).
    ServiceDescriptionNotAccepted,
    /// The organisation is missing from the SOTE register.
    NotInSoteRegister,
    /// The connection point's certificate has expired.
    ExpiredServerCertificate,
    /// The client-data system is not certified.
    SystemNotCertified,
    /// Nobody holds the Kanta archivist role.
    NoArchivist,
    /// The deployment test is not agreed with the supplier.
    TestNotAgreed,
}

impl Break {
    /// Every switch, its name and the item it fails.
    pub const ALL: [(Self, &'static str, Item); 6] = [
        (
            Self::ServiceDescriptionNotAccepted,
            "service-description-not-accepted",
            Item::ServiceDescription,
        ),
        (
            Self::NotInSoteRegister,
            "not-in-sote-register",
            Item::SoteRegister,
        ),
        (
            Self::ExpiredServerCertificate,
            "expired-server-certificate",
            Item::Certificates,
        ),
        (
            Self::SystemNotCertified,
            "system-not-certified",
            Item::CertifiedSystem,
        ),
        (Self::NoArchivist, "no-archivist", Item::Archivist),
        (Self::TestNotAgreed, "test-not-agreed", Item::TestAgreed),
    ];

    /// Makes `r` (and the kit role its connection point uses) the way this break says.
    pub fn apply(self, r: &mut Readiness) {
        match self {
            Self::ServiceDescriptionNotAccepted => {
                r.service_description_accepted = false;
                r.approval_received = false;
            }
            Self::NotInSoteRegister => {
                r.connection_certificate = Some("bad:unregistered-org".into())
            }
            Self::ExpiredServerCertificate => r.connection_certificate = Some("bad:expired".into()),
            Self::SystemNotCertified => r.system = System::NotCertified,
            Self::NoArchivist => r.role.retain(|x| x.role != Role::KantaArchivist),
            Self::TestNotAgreed => r.deployment_test_agreed = None,
        }
    }
}

/// An Extranet role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Pääkäyttäjä.
    MasterUser,
    /// Hallinnollinen yhteyshenkilö.
    AdministrativeContact,
    /// Kanta-arkistonhoitaja.
    KantaArchivist,
    /// Lukija.
    Reader,
    /// Tekninen yhteyshenkilö.
    TechnicalContact,
    /// Tietoliikenteen ja ohjelmistojen toteuttaja.
    NetworkAndSoftwareImplementer,
    /// Tietosuojavastaava.
    DataProtectionOfficer,
}

/// A role held by a named person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleHolder {
    /// The role.
    pub role: Role,
    /// Who.
    pub person: String,
}

/// Where the register entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegisterOrigin {
    /// Public social welfare: reported to THL directly.
    Public,
    /// Private provider: permit data in Valveri, passed to THL's code service.
    Valveri,
}

/// The client-data system's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// Certified.
    Certified,
    /// Certified on the way: joint testing with Kela under way.
    JointTesting,
    /// Not certified.
    NotCertified,
}

/// A DVV certificate kind an organisation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateKind {
    /// The connection point's server certificate.
    Server,
    /// System signature.
    SystemSignature,
    /// Professionals' certificate cards.
    ProfessionalCards,
}

/// One organisation's readiness, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    /// The organisation's OID.
    pub oid: String,
    /// A valid Kanta customer relationship.
    #[serde(default)]
    pub customer_relationship: bool,
    /// The identifier used to log in to Kanta Extranet.
    #[serde(default)]
    pub katso_id: Option<String>,
    /// The service description accepted.
    #[serde(default)]
    pub service_description_accepted: bool,
    /// Administrative data given.
    #[serde(default)]
    pub administrative_data_given: bool,
    /// Technical data given.
    #[serde(default)]
    pub technical_data_given: bool,
    /// Where the register entry comes from.
    #[serde(default)]
    pub register_origin: Option<RegisterOrigin>,
    /// DVV certificates held.
    #[serde(default)]
    pub certificates: Vec<CertificateKind>,
    /// The kit role the connection point presents (default `client:<oid>`).
    #[serde(default)]
    pub connection_certificate: Option<String>,
    /// The system.
    pub system: System,
    /// The supplier has notified Valvira.
    #[serde(default)]
    pub valvira_notified: bool,
    /// Self-monitoring plan updated.
    #[serde(default)]
    pub self_monitoring_plan_updated: bool,
    /// Data-protection and security routines.
    #[serde(default)]
    pub data_protection_routines: bool,
    /// National operating models in use.
    #[serde(default)]
    pub national_operating_models: bool,
    /// Staff trained.
    #[serde(default)]
    pub staff_trained: bool,
    /// Production-time operating models agreed.
    #[serde(default)]
    pub production_operating_models_agreed: bool,
    /// THL and Kela's preparatory meeting attended.
    #[serde(default)]
    pub preparatory_meeting_attended: bool,
    /// The agreed date of the deployment test.
    #[serde(default)]
    pub deployment_test_agreed: Option<Date>,
    /// Kela's approval message received.
    #[serde(default)]
    pub approval_received: bool,
    /// Extranet roles.
    #[serde(default)]
    pub role: Vec<RoleHolder>,
}

impl Readiness {
    /// Who holds `role`.
    pub fn holder(&self, role: Role) -> Option<&str> {
        self.role
            .iter()
            .find(|r| r.role == role)
            .map(|r| r.person.as_str())
    }

    /// The kit role of the connection point's certificate.
    pub fn connection_role(&self) -> String {
        self.connection_certificate
            .clone()
            .unwrap_or_else(|| format!("client:{}", self.oid))
    }
}

/// Every modelled organisation's readiness.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Onboarding {
    /// Per organisation.
    #[serde(default)]
    pub organisation: Vec<Readiness>,
}

/// Why the readiness data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid readiness data.
    #[error("{origin}: {source}")]
    Parse {
        /// Where.
        origin: String,
        /// What the reader said (with line and column).
        source: toml::de::Error,
    },
}

/// The bundled example data.
pub const BUNDLED: &str = include_str!("../data/onboarding.toml");

impl Onboarding {
    /// Reads `text`.
    pub fn parse(text: &str, origin: &str) -> Result<Self, OnboardingError> {
        toml::from_str(text).map_err(|source| OnboardingError::Parse {
            origin: origin.to_owned(),
            source,
        })
    }

    /// The bundled data.
    pub fn bundled() -> Result<Self, OnboardingError> {
        Self::parse(BUNDLED, "(bundled) data/onboarding.toml")
    }

    /// A file, or the bundled data when none is given.
    pub fn load(path: Option<&Path>) -> Result<Self, OnboardingError> {
        match path {
            None => Self::bundled(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| OnboardingError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }

    /// The organisation's readiness (none: not modelled).
    pub fn get(&self, oid: &str) -> Option<&Readiness> {
        self.organisation.iter().find(|r| r.oid == oid)
    }

    /// Whether the archivist's view is open to `oid`: not modelled, or a Kanta archivist is
    /// named.
    pub fn archivist_named(&self, oid: &str) -> bool {
        self.get(oid)
            .is_none_or(|r| r.holder(Role::KantaArchivist).is_some())
    }
}

/// An item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Done.
    Done,
    /// Under way (e.g. joint testing).
    InProgress,
    /// Missing.
    Missing,
}

/// One item assessed.
#[derive(Debug, Clone, Serialize)]
pub struct Assessed {
    /// The item's step.
    pub step: &'static Step,
    /// Its state.
    pub state: State,
    /// What was found (names, dates, what is missing).
    pub found: String,
}

/// What the simulator can check of a certificate in its kit: its organisation and expiry.
#[derive(Debug, Clone)]
pub struct KitCertificate {
    /// The kit role.
    pub role: String,
    /// The organisation it names.
    pub organisation: Option<String>,
    /// Until when it is valid.
    pub not_after: OffsetDateTime,
    /// From when.
    pub not_before: OffsetDateTime,
}

/// The kit's certificate `role` as the assessment needs it (none when the kit lacks it).
pub fn kit_certificate(kit: &Path, role: &str) -> Option<KitCertificate> {
    let index = crate::pki::Index::load(kit).ok()?;
    let a = index.get(role)?;
    Some(KitCertificate {
        role: role.to_owned(),
        organisation: a.organisation.clone(),
        not_before: a.not_before,
        not_after: a.not_after,
    })
}

/// Assesses every item for `r` against the register and (when known) the connection
/// point's certificate in the kit, at `now`, in `lang`.
pub fn assess(
    r: &Readiness,
    register: &SoteRegister,
    connection: Option<&KitCertificate>,
    now: OffsetDateTime,
    lang: Lang,
) -> Vec<Assessed> {
    let missing = |items: &[(bool, Tr)]| -> Vec<&'static str> {
        items
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, t)| t.get(lang))
            .collect()
    };
    let done_or = |missing: Vec<&str>, done: String| -> (State, String) {
        if missing.is_empty() {
            (State::Done, done)
        } else {
            (
                State::Missing,
                format!(
                    "{}: {}",
                    Tr {
                        fi: "puuttuu",
                        sv: "saknas",
                        en: "missing",
                    }
                    .get(lang),
                    missing.join(", ")
                ),
            )
        }
    };
    // The organisation the connection point's certificate names decides the register step.
    let org = connection
        .and_then(|c| c.organisation.clone())
        .unwrap_or_else(|| r.oid.clone());
    STEPS
        .iter()
        .map(|s| {
            let (state, found) = match s.item {
                Item::CustomerRelationship => {
                    let admin = r.holder(Role::MasterUser).is_some()
                        || r.holder(Role::AdministrativeContact).is_some();
                    done_or(
                        missing(&[
                            (
                                r.customer_relationship,
                                Tr {
                                    fi: "Kanta-asiakkuus",
                                    sv: "kundrelation till Kanta",
                                    en: "a Kanta customer relationship",
                                },
                            ),
                            (
                                r.katso_id.is_some(),
                                Tr {
                                    fi: "Ekstranet-tunniste",
                                    sv: "identifierare för Extranätet",
                                    en: "an Extranet identifier",
                                },
                            ),
                            (
                                admin,
                                Tr {
                                    fi: "pääkäyttäjä tai hallinnollinen yhteyshenkilö",
                                    sv: "huvudanvändare eller administrativ kontaktperson",
                                    en: "a master user or administrative contact",
                                },
                            ),
                        ]),
                        r.role
                            .iter()
                            .map(|h| format!("{}: {}", role_name(h.role, lang), h.person))
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                }
                Item::SoteRegister => match register.resolve(&org) {
                    Some(o) if o.active => (
                        State::Done,
                        format!(
                            "{} ({org}){}",
                            if lang == Lang::Sv {
                                o.name_sv.clone().unwrap_or_else(|| o.name.clone())
                            } else {
                                o.name.clone()
                            },
                            match r.register_origin {
                                Some(RegisterOrigin::Valveri) => " · Valveri → THL",
                                Some(RegisterOrigin::Public) => " · THL",
                                None => "",
                            }
                        ),
                    ),
                    _ => (
                        State::Missing,
                        format!(
                            "{org}: {}",
                            Tr {
                                fi: "ei rekisterissä (tai passiivinen)",
                                sv: "finns inte i registret (eller är passiv)",
                                en: "not in the register (or inactive)",
                            }
                            .get(lang)
                        ),
                    ),
                },
                Item::Certificates => {
                    let held = |k: CertificateKind| r.certificates.contains(&k);
                    let cert_ok =
                        connection.is_none_or(|c| c.not_before <= now && now <= c.not_after);
                    let mut m = missing(&[
                        (
                            held(CertificateKind::Server),
                            Tr {
                                fi: "palvelinvarmenne",
                                sv: "servercertifikat",
                                en: "server certificate",
                            },
                        ),
                        (
                            held(CertificateKind::SystemSignature),
                            Tr {
                                fi: "järjestelmäallekirjoitusvarmenne",
                                sv: "systemsigneringscertifikat",
                                en: "system-signature certificate",
                            },
                        ),
                        (
                            held(CertificateKind::ProfessionalCards),
                            Tr {
                                fi: "varmennekortit",
                                sv: "certifikatkort",
                                en: "certificate cards",
                            },
                        ),
                    ]);
                    let expired;
                    if !cert_ok && let Some(c) = connection {
                        expired = format!(
                            "{} ({}, {})",
                            Tr {
                                fi: "voimassa oleva liittymispisteen varmenne",
                                sv: "ett giltigt certifikat i anslutningspunkten",
                                en: "a valid connection-point certificate",
                            }
                            .get(lang),
                            c.role,
                            c.not_after.date()
                        );
                        m.push(&expired);
                    }
                    done_or(
                        m,
                        connection.map_or_else(String::new, |c| {
                            format!("{} → {}", c.role, c.not_after.date())
                        }),
                    )
                }
                Item::CertifiedSystem => match (r.system, r.valvira_notified) {
                    (System::Certified, true) => (
                        State::Done,
                        Tr {
                            fi: "sertifioitu, ilmoitettu Valviralle",
                            sv: "certifierat, anmält till Valvira",
                            en: "certified, notified to Valvira",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                    (System::JointTesting, _) => (
                        State::InProgress,
                        Tr {
                            fi: "yhteistestaus Kelan kanssa kesken",
                            sv: "samtestningen med FPA pågår",
                            en: "joint testing with Kela under way",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                    (System::Certified, false) => (
                        State::Missing,
                        Tr {
                            fi: "toimittaja ei ole ilmoittanut järjestelmää Valviralle",
                            sv: "leverantören har inte anmält systemet till Valvira",
                            en: "the supplier has not notified Valvira",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                    (System::NotCertified, _) => (
                        State::Missing,
                        Tr {
                            fi: "järjestelmää ei ole sertifioitu",
                            sv: "systemet är inte certifierat",
                            en: "the system is not certified",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                },
                Item::ServiceDescription => done_or(
                    missing(&[
                        (
                            r.service_description_accepted,
                            Tr {
                                fi: "palvelukuvauksen hyväksyntä",
                                sv: "godkänd tjänstebeskrivning",
                                en: "the service description accepted",
                            },
                        ),
                        (
                            r.administrative_data_given,
                            Tr {
                                fi: "hallinnolliset tiedot",
                                sv: "administrativa uppgifter",
                                en: "administrative data",
                            },
                        ),
                        (
                            r.technical_data_given,
                            Tr {
                                fi: "tekniset tiedot",
                                sv: "tekniska uppgifter",
                                en: "technical data",
                            },
                        ),
                        (
                            r.approval_received,
                            Tr {
                                fi: "Kelan hyväksymisviesti",
                                sv: "FPA:s meddelande om godkännande",
                                en: "Kela's approval message",
                            },
                        ),
                    ]),
                    Tr {
                        fi: "hyväksymisviesti saatu",
                        sv: "meddelandet om godkännande har kommit",
                        en: "approval message received",
                    }
                    .get(lang)
                    .to_owned(),
                ),
                Item::Readiness => done_or(
                    missing(&[
                        (
                            r.self_monitoring_plan_updated,
                            Tr {
                                fi: "omavalvontasuunnitelma",
                                sv: "plan för egenkontroll",
                                en: "self-monitoring plan",
                            },
                        ),
                        (
                            r.data_protection_routines,
                            Tr {
                                fi: "tietosuojakäytännöt",
                                sv: "dataskyddsrutiner",
                                en: "data-protection routines",
                            },
                        ),
                        (
                            r.national_operating_models,
                            Tr {
                                fi: "kansalliset toimintamallit",
                                sv: "nationella verksamhetsmodeller",
                                en: "national operating models",
                            },
                        ),
                        (
                            r.staff_trained,
                            Tr {
                                fi: "henkilöstön koulutus",
                                sv: "utbildad personal",
                                en: "staff training",
                            },
                        ),
                        (
                            r.production_operating_models_agreed,
                            Tr {
                                fi: "tuotantoajan toimintamallit",
                                sv: "verksamhetsmodeller under produktionstiden",
                                en: "production-time operating models",
                            },
                        ),
                        (
                            r.preparatory_meeting_attended,
                            Tr {
                                fi: "THL:n ja Kelan valmisteleva tapaaminen",
                                sv: "THL:s och FPA:s förberedande möte",
                                en: "THL and Kela's preparatory meeting",
                            },
                        ),
                    ]),
                    Tr {
                        fi: "organisaatio ilmoittaa kaikki kuusi tehdyiksi",
                        sv: "organisationen anger alla sex som gjorda",
                        en: "the organisation declares all six done",
                    }
                    .get(lang)
                    .to_owned(),
                ),
                Item::Archivist => match r.holder(Role::KantaArchivist) {
                    Some(p) => (State::Done, p.to_owned()),
                    None => (
                        State::Missing,
                        Tr {
                            fi: "kukaan ei toimi Kanta-arkistonhoitajan roolissa",
                            sv: "ingen har behörigheten Kanta-arkivarie",
                            en: "nobody holds the Kanta archivist role",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                },
                Item::TestAgreed => match r.deployment_test_agreed {
                    Some(d) => (State::Done, d.to_string()),
                    None => (
                        State::Missing,
                        Tr {
                            fi: "ajankohtaa ei ole sovittu toimittajan kanssa",
                            sv: "ingen tidpunkt överenskommen med leverantören",
                            en: "no date agreed with the supplier",
                        }
                        .get(lang)
                        .to_owned(),
                    ),
                },
                // The test itself is run, not declared.
                Item::DeploymentTest => (State::InProgress, String::new()),
            };
            Assessed {
                step: s,
                state,
                found,
            }
        })
        .collect()
}

/// A role's name.
pub fn role_name(role: Role, lang: Lang) -> &'static str {
    let t = match role {
        Role::MasterUser => Tr {
            fi: "pääkäyttäjä",
            sv: "huvudanvändare",
            en: "master user",
        },
        Role::AdministrativeContact => Tr {
            fi: "hallinnollinen yhteyshenkilö",
            sv: "administrativ kontaktperson",
            en: "administrative contact",
        },
        Role::KantaArchivist => Tr {
            fi: "Kanta-arkistonhoitaja",
            sv: "Kanta-arkivarie",
            en: "Kanta archivist",
        },
        Role::Reader => Tr {
            fi: "lukija",
            sv: "läsare",
            en: "reader",
        },
        Role::TechnicalContact => Tr {
            fi: "tekninen yhteyshenkilö",
            sv: "teknisk kontaktperson",
            en: "technical contact",
        },
        Role::NetworkAndSoftwareImplementer => Tr {
            fi: "tietoliikenteen ja ohjelmistojen toteuttaja",
            sv: "genomförare av datakommunikation och program",
            en: "network and software implementer",
        },
        Role::DataProtectionOfficer => Tr {
            fi: "tietosuojavastaava",
            sv: "dataskyddsombud",
            en: "data-protection officer",
        },
    };
    t.get(lang)
}

/// The source pages of a step, by title.
pub fn sources(step: &Step) -> Vec<&'static str> {
    step.sources
        .iter()
        .filter_map(|k| SOURCES.iter().find(|(key, _)| key == k).map(|(_, t)| *t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testila() -> Readiness {
        Onboarding::bundled()
            .unwrap()
            .get("1.2.246.10.99900016.10.0")
            .unwrap()
            .clone()
    }

    #[test]
    fn the_road_is_in_item_order_and_every_source_and_break_resolves() {
        for (i, s) in STEPS.iter().enumerate() {
            assert_eq!(step(s.item).key, s.key);
            assert!(!sources(s).is_empty(), "{}", s.key);
            assert_eq!(STEPS.iter().position(|x| x.item == s.item), Some(i));
        }
        for (_, name, item) in Break::ALL {
            assert!(STEPS.iter().any(|s| s.item == item), "{name}");
        }
    }

    #[test]
    fn the_bundled_organisation_is_ready_and_each_break_fails_its_item() {
        let register = SoteRegister::bundled().unwrap();
        let now = OffsetDateTime::now_utc();
        let ready = assess(&testila(), &register, None, now, Lang::En);
        assert!(
            ready
                .iter()
                .filter(|a| a.step.item != Item::DeploymentTest)
                .all(|a| a.state == State::Done),
            "{ready:#?}"
        );
        for (b, name, item) in Break::ALL {
            let mut r = testila();
            b.apply(&mut r);
            // The connection point's certificate as the kit would describe it.
            let cert = r
                .connection_certificate
                .as_deref()
                .map(|role| KitCertificate {
                    role: role.to_owned(),
                    organisation: Some(if role == "bad:unregistered-org" {
                        "1.2.246.10.99999991.10.0".to_owned()
                    } else {
                        r.oid.clone()
                    }),
                    not_before: now - time::Duration::days(400),
                    not_after: if role == "bad:expired" {
                        now - time::Duration::days(1)
                    } else {
                        now + time::Duration::days(100)
                    },
                });
            let a = assess(&r, &register, cert.as_ref(), now, Lang::Sv);
            let failing: Vec<Item> = a
                .iter()
                .filter(|x| x.state == State::Missing)
                .map(|x| x.step.item)
                .collect();
            assert_eq!(failing, vec![item], "{name}: {a:#?}");
        }
    }

    #[test]
    fn the_archivist_view_opens_only_with_a_named_archivist() {
        let mut o = Onboarding::bundled().unwrap();
        assert!(o.archivist_named("1.2.246.10.99900016.10.0"));
        assert!(
            o.archivist_named("1.2.246.10.9990063.10.40"),
            "not modelled"
        );
        Break::NoArchivist.apply(&mut o.organisation[0]);
        assert!(!o.archivist_named("1.2.246.10.99900016.10.0"));
    }
}
