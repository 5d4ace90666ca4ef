//! The typed metadata of a Kanta social-welfare document (interface.md §3): what the
//! builder writes and, later, what the parser reads back. Code systems are named constants
//! so that rules and builder cannot disagree on them.

use serde::{Deserialize, Serialize};

/// Code system OIDs of the metadata (interface.md §7).
pub mod code_systems {
    /// Sosiaalihuolto - Asiakirjaryhmä (1 client-relationship document, 5 phase-II client document).
    pub const DOCUMENT_GROUP: &str = "1.2.246.537.6.1505.201601";
    /// Sosiaalihuolto - Asiakasasiakirjatyyppi.
    pub const DOCUMENT_TYPE: &str = "1.2.246.537.6.1506.201701";
    /// KanTa-palvelut - Asiakirjan luottamuksellisuus (6 = social welfare, confidential).
    pub const CONFIDENTIALITY: &str = "1.2.246.777.5.99902.2006";
    /// Sosiaalihuolto - Asiakirjan rekisteritunnus (1 = social welfare client register).
    pub const REGISTER: &str = "1.2.246.537.6.1264.201701";
    /// Sosiaalihuolto - Palvelutehtävä.
    pub const SERVICE_TASK: &str = "1.2.246.537.6.1221.201601";
    /// Sosiaalihuollon palveluprosessi.
    pub const SERVICE_PROCESS: &str = "1.2.246.537.6.1277.201701";
    /// Näyttömuodon formaatti (2 = XHTML 1.1).
    pub const DISPLAY_FORMAT: &str = "1.2.246.537.6.1502.201601";
    /// eArkisto - Asiakirjan tiedostomuoto (5 = JSON).
    pub const STRUCTURED_FORMAT: &str = "1.2.246.537.5.40179.2008";
    /// Asiakirjan valmistumisen tila (3 = ready for archiving).
    pub const RECORD_STATUS: &str = "1.2.246.537.5.40154.2008";
    /// Asiakirjan kokonaissäilytysaika.
    pub const RETENTION: &str = "1.2.246.537.6.1258.201601";
}

/// A coded value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The code.
    pub code: String,
    /// Its code system OID.
    pub code_system: String,
    /// Display name, where known.
    pub display_name: Option<String>,
}

impl Code {
    /// A code with a display name.
    pub fn new(code: &str, code_system: &str, display_name: &str) -> Self {
        Self {
            code: code.to_owned(),
            code_system: code_system.to_owned(),
            display_name: Some(display_name.to_owned()),
        }
    }
}

/// Which of Kanta's document profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// Asiakkuusasiakirja: documentGroup 1, archived with service request SP1, system
    /// signature, no author, no case.
    ClientRelationship,
    /// Phase-II asiakasasiakirja: documentGroup 5, archived with SP17, professional
    /// signature, author, case, document type, service task and process.
    ClientDocument,
}

impl Profile {
    /// The documentGroup code.
    pub fn document_group(self) -> Code {
        match self {
            Self::ClientRelationship => {
                Code::new("1", code_systems::DOCUMENT_GROUP, "Asiakkuusasiakirja")
            }
            Self::ClientDocument => Code::new(
                "5",
                code_systems::DOCUMENT_GROUP,
                "Toisen tai myöhemmän vaiheen asiakasasiakirja",
            ),
        }
    }

    /// The service request that archives it.
    pub fn service_request(self) -> &'static str {
        match self {
            Self::ClientRelationship => "SP1",
            Self::ClientDocument => "SP17",
        }
    }
}

/// Who the document is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientId {
    /// A personal identity code (root 1.2.246.21).
    Hetu(String),
    /// An organisation's temporary identifier, root `<org OID>.22.<year>`.
    Temporary {
        /// `<org OID>.22.<year>`.
        root: String,
        /// The 11-character identifier.
        extension: String,
    },
}

/// The metadata of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Profile.
    pub profile: Profile,
    /// Document OID (`ClinicalDocument/id/@root`).
    pub document_oid: String,
    /// setId (equals the document OID for version 1).
    pub set_id: String,
    /// Version, 1 on first archiving.
    pub version: u32,
    /// HL7 TS, e.g. `20261123100000+0200`.
    pub effective_time: String,
    /// Title.
    pub title: String,
    /// General document type (NA for a client-relationship document).
    pub document_type: Option<Code>,
    /// Specific document type.
    pub specific_document_type: Option<Code>,
    /// Confidentiality.
    pub confidentiality: Code,
    /// Language, `fi` or `sv`.
    pub language: String,
    /// The client.
    pub client: ClientId,
    /// Client's given and family name.
    pub client_name: (String, String),
    /// Author's registration number (none for a client-relationship document).
    pub author: Option<String>,
    /// Controller (custodian) organisation OID.
    pub custodian: String,
    /// Controller's name.
    pub custodian_name: String,
    /// Register.
    pub register: Code,
    /// Service organiser whose register receives the document, when the custodian produces
    /// on its behalf (register use right).
    pub organiser: Option<String>,
    /// Case (asia) id (none for a client-relationship document).
    pub case_id: Option<String>,
    /// Client relationship (asiakkuus) id.
    pub client_relationship: Option<String>,
    /// Service task.
    pub service_task: Option<Code>,
    /// Service process.
    pub service_process: Option<Code>,
    /// Software (moderator, product, version).
    pub software: (String, String, String),
}

impl Metadata {
    /// A client-relationship document (SP1) of the bundled register's first organisation.
    pub fn client_relationship_example(document_oid: &str, client_hetu: &str) -> Self {
        Self {
            profile: Profile::ClientRelationship,
            document_oid: document_oid.to_owned(),
            set_id: document_oid.to_owned(),
            version: 1,
            effective_time: "20261123100000+0200".into(),
            title: "Asiakkuusasiakirja".into(),
            document_type: None,
            specific_document_type: None,
            confidentiality: Code::new(
                "6",
                code_systems::CONFIDENTIALITY,
                "Sosiaalihuollon salassapidettävä",
            ),
            language: "fi".into(),
            client: ClientId::Hetu(client_hetu.to_owned()),
            client_name: ("Testi".into(), "Henkilö".into()),
            author: None,
            custodian: "1.2.246.10.99900016.10.0".into(),
            custodian_name: "Testilän hyvinvointialue".into(),
            register: Code::new(
                "1",
                code_systems::REGISTER,
                "Sosiaalihuollon asiakasrekisteri",
            ),
            organiser: None,
            case_id: None,
            client_relationship: Some(format!("{document_oid}.1")),
            service_task: Some(Code::new(
                "24",
                code_systems::SERVICE_TASK,
                "Lapsiperheiden palvelut",
            )),
            service_process: None,
            software: (
                "KANTA-SIM".into(),
                "kanta-sim reference client".into(),
                env!("CARGO_PKG_VERSION").into(),
            ),
        }
    }

    /// A phase-II client document (SP17) written by a professional.
    pub fn client_document_example(document_oid: &str, client_hetu: &str, author: &str) -> Self {
        Self {
            profile: Profile::ClientDocument,
            title: "Lapsiperheiden palvelujen asiakassuunnitelma".into(),
            document_type: Some(Code::new("15", code_systems::DOCUMENT_TYPE, "Suunnitelma")),
            specific_document_type: Some(Code::new(
                "15007",
                code_systems::DOCUMENT_TYPE,
                "Lapsiperheiden palvelujen asiakassuunnitelma",
            )),
            author: Some(author.to_owned()),
            case_id: Some(format!("{document_oid}.2")),
            service_process: Some(Code::new(
                "3",
                code_systems::SERVICE_PROCESS,
                "Asiakkuuden suunnittelu",
            )),
            ..Self::client_relationship_example(document_oid, client_hetu)
        }
    }
}
