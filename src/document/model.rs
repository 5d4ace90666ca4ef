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
    /// Sosiaalihuolto - Arkistosanomien palvelupyynnöt (the frame's service request: SP1,
    /// SP17, …).
    pub const SERVICE_REQUEST: &str = "1.2.246.537.6.1503.201601";
    /// Sosiaalihuolto - Asiakastiedon arkiston käyttötilanne (the frame's usage situation).
    pub const USAGE_SITUATION: &str = "1.2.246.537.6.1289.201901";
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
    /// An organisation's temporary identifier, root `1.2.246.10.<business id>.22.<year>`
    /// (recommended) or `<org OID>.22.<year>`.
    Temporary {
        /// `1.2.246.10.<business id>.22.<year>` or `<org OID>.22.<year>`.
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
    /// The version this one replaces (`relatedDocument typeCode="RPLC"`); `None` for
    /// version 1.
    pub replaces: Option<DocumentRef>,
    /// Why the earlier version was corrected (`hl7fi:reasonOfCorrection`), optional.
    pub reason_of_correction: Option<Code>,
}

/// One archived version: what `relatedDocument/parentDocument` points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// The version's document OID.
    pub document_oid: String,
    /// Its setId.
    pub set_id: String,
    /// Its version number.
    pub version: u32,
}

/// Code system of the reason of correction (*korjauksen syy*). [U] the social-welfare code
/// system is not public; this is PTA's "Asiakirjan korjauksen syy" by analogy.
pub const REASON_OF_CORRECTION_SYSTEM: &str = "1.2.246.537.5.40171.2008";

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
            replaces: None,
            reason_of_correction: None,
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

    /// This version as a reference for the next one.
    pub fn reference(&self) -> DocumentRef {
        DocumentRef {
            document_oid: self.document_oid.clone(),
            set_id: self.set_id.clone(),
            version: self.version,
        }
    }

    /// The next version of this document: a new document OID, the same setId, version + 1,
    /// and `relatedDocument RPLC` pointing at this one.
    pub fn next_version(&self, document_oid: &str, effective_time: &str) -> Self {
        Self {
            document_oid: document_oid.to_owned(),
            version: self.version + 1,
            effective_time: effective_time.to_owned(),
            replaces: Some(self.reference()),
            reason_of_correction: Some(Code::new(
                "1",
                REASON_OF_CORRECTION_SYSTEM,
                "Asiakirjan tiedot korjattu",
            )),
            ..self.clone()
        }
    }
}

/// An HL7 TS (`YYYYMMDD[HH[MM[SS]]][±ZZZZ]`) as UTC `YYYYMMDDHHMMSS`, which sorts and
/// compares as text. A timestamp without a zone is taken as UTC. `None` when unreadable.
pub fn hl7_ts_utc(ts: &str) -> Option<String> {
    let (local, zone) = match ts.find(['+', '-']) {
        Some(i) => (&ts[..i], Some(&ts[i..])),
        None => (ts, None),
    };
    // Fractional seconds (".123") carry no meaning for ordering here.
    let local = local.split('.').next().unwrap_or(local);
    let well_formed = (8..=14).contains(&local.len())
        && local.len() % 2 == 0
        && local.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let num = |r: std::ops::Range<usize>, default: u8| -> Option<u8> {
        local.get(r).map_or(Some(default), |s| s.parse().ok())
    };
    let year: i32 = local.get(0..4)?.parse().ok()?;
    let month = time::Month::try_from(num(4..6, 1)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(6..8, 1)?).ok()?;
    let t = time::Time::from_hms(num(8..10, 0)?, num(10..12, 0)?, num(12..14, 0)?).ok()?;
    let offset = match zone {
        None => time::UtcOffset::UTC,
        Some(z) if z.len() == 5 && z[1..].bytes().all(|b| b.is_ascii_digit()) => {
            let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
            let h: i8 = z[1..3].parse().ok()?;
            let m: i8 = z[3..5].parse().ok()?;
            time::UtcOffset::from_hms(sign * h, sign * m, 0).ok()?
        }
        Some(_) => return None,
    };
    let utc = time::PrimitiveDateTime::new(date, t)
        .assume_offset(offset)
        .to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_timestamps_become_comparable_utc() {
        assert_eq!(
            hl7_ts_utc("20261123100000+0200").as_deref(),
            Some("20261123080000")
        );
        assert_eq!(
            hl7_ts_utc("20260101003000+0200").as_deref(),
            Some("20251231223000")
        );
        assert_eq!(hl7_ts_utc("20261123").as_deref(), Some("20261123000000"));
        assert_eq!(
            hl7_ts_utc("202611231015-0130").as_deref(),
            Some("20261123114500")
        );
        assert_eq!(hl7_ts_utc("2026-11-23"), None);
        assert_eq!(hl7_ts_utc("20261323"), None);
        assert_eq!(hl7_ts_utc("20261123+02"), None);
    }

    #[test]
    fn a_next_version_points_at_its_predecessor() {
        let v1 = Metadata::client_relationship_example("1.2.3.1", "010190-902S");
        let v2 = v1.next_version("1.2.3.2", "20261124100000+0200");
        assert_eq!((v2.version, v2.set_id.as_str()), (2, "1.2.3.1"));
        assert_eq!(v2.replaces, Some(v1.reference()));
    }
}
