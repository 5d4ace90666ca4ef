//! What the archive keeps of an accepted document besides its bytes: the facts read from
//! the CDA that the store indexes, the lifecycle rules compare and the archivist's view shows.

use serde::Serialize;

/// What the archive keeps of an accepted document besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedDocument {
    /// Document OID.
    pub document_oid: String,
    /// setId.
    pub set_id: String,
    /// Version.
    pub version: u32,
    /// Client id (extension, or root when there is none).
    pub client_id: String,
    /// Custodian OID.
    pub custodian: String,
    /// Organiser OID (register use right), if any.
    pub organiser: Option<String>,
    /// Register code.
    pub register: Option<String>,
    /// Document group code.
    pub document_group: Option<String>,
    /// Specific document type code.
    pub document_type: Option<String>,
    /// Case id.
    pub case_id: Option<String>,
    /// Client relationship id.
    pub client_relationship: Option<String>,
    /// effectiveTime.
    pub effective_time: Option<String>,
    /// The organisation that archived it (the custodian's organisation in the register).
    pub producer: String,
    /// Whose register holds it: the organiser under a register use right, otherwise the
    /// producer.
    pub register_owner: String,
    /// The version it replaces, as `relatedDocument` names it.
    pub replaces: Option<RelatedRef>,
    /// `hl7fi:reasonOfCorrection/@code`.
    pub reason_of_correction: Option<String>,
    /// The CDA exactly as received.
    #[serde(skip)]
    pub cda: Vec<u8>,
    /// The CDA is the document carried by the message it arrived in (its MIME part,
    /// decoded): the store keeps the message once and takes the CDA from it when read,
    /// checked against the CDA's SHA-256.
    #[serde(skip)]
    pub cda_in_message: bool,
}

impl ArchivedDocument {
    /// Everything but the CDA's bytes (for a store that keeps them elsewhere).
    pub fn metadata_only(&self) -> Self {
        Self {
            document_oid: self.document_oid.clone(),
            set_id: self.set_id.clone(),
            version: self.version,
            client_id: self.client_id.clone(),
            custodian: self.custodian.clone(),
            organiser: self.organiser.clone(),
            register: self.register.clone(),
            document_group: self.document_group.clone(),
            document_type: self.document_type.clone(),
            case_id: self.case_id.clone(),
            client_relationship: self.client_relationship.clone(),
            effective_time: self.effective_time.clone(),
            producer: self.producer.clone(),
            register_owner: self.register_owner.clone(),
            replaces: self.replaces.clone(),
            reason_of_correction: self.reason_of_correction.clone(),
            cda: Vec::new(),
            cda_in_message: self.cda_in_message,
        }
    }

    /// A first version of a client-relationship document (group 1, register 1) about
    /// 010190-902S, archived by `org` into its own register, with a placeholder CDA: for
    /// seeding stores in tests and benchmarks, where no message is involved.
    pub fn minimal(document_oid: &str, org: &str) -> Self {
        Self {
            document_oid: document_oid.into(),
            set_id: document_oid.into(),
            version: 1,
            client_id: "010190-902S".into(),
            custodian: org.into(),
            organiser: None,
            register: Some("1".into()),
            document_group: Some("1".into()),
            document_type: None,
            case_id: None,
            client_relationship: None,
            effective_time: Some("20261123100000+0200".into()),
            producer: org.into(),
            register_owner: org.into(),
            replaces: None,
            reason_of_correction: None,
            cda: b"<ClinicalDocument/>".to_vec(),
            cda_in_message: false,
        }
    }
}

/// What `relatedDocument` names, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedRef {
    /// `@typeCode`.
    pub type_code: Option<String>,
    /// `parentDocument/id/@root`.
    pub document_oid: Option<String>,
    /// `parentDocument/setId/@root`.
    pub set_id: Option<String>,
    /// `parentDocument/versionNumber/@value`, when a number.
    pub version: Option<u32>,
}

/// Status of one archived version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatus {
    /// The current version of a set that is not invalidated.
    Active,
    /// Replaced by a newer version.
    Replaced,
    /// Invalidated (*mitätöity*): hidden from normal queries, kept for the archivist.
    Invalidated,
}

impl DocStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Replaced => "replaced",
            Self::Invalidated => "invalidated",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "replaced" => Some(Self::Replaced),
            "invalidated" => Some(Self::Invalidated),
            _ => None,
        }
    }

    /// HL7 ActStatus for query responses: completed, obsolete (replaced), nullified.
    pub fn hl7(self) -> &'static str {
        match self {
            Self::Active => "completed",
            Self::Replaced => "obsolete",
            Self::Invalidated => "nullified",
        }
    }
}
