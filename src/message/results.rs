//! What a query finds: the typed answer the archive store returns and the query response
//! writes (`query::QueryResponse`). Plain data, so the codec and the store share it
//! without either importing the other.

use serde::Serialize;

use crate::document::DocStatus;

/// One archived version's metadata (and, on request, its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentMeta {
    /// Document OID.
    pub document_oid: String,
    /// setId.
    pub set_id: String,
    /// Version.
    pub version: u32,
    /// Status.
    pub status: DocStatus,
    /// Client id.
    pub client_id: String,
    /// Custodian OID as written.
    pub custodian: String,
    /// Organisation that archived it.
    pub producer: String,
    /// Whose register holds it.
    pub register_owner: String,
    /// Organiser named in the document.
    pub organiser: Option<String>,
    /// Register code.
    pub register: Option<String>,
    /// Document group.
    pub document_group: Option<String>,
    /// Specific document type.
    pub document_type: Option<String>,
    /// Case id.
    pub case_id: Option<String>,
    /// Client relationship id.
    pub client_relationship: Option<String>,
    /// effectiveTime as written.
    pub effective_time: Option<String>,
    /// When archived (RFC 3339).
    pub archived_at: String,
    /// Document OID of the version it replaced.
    pub replaces: Option<String>,
    /// Reason-of-correction code.
    pub reason_of_correction: Option<String>,
    /// When it was replaced or invalidated (RFC 3339).
    pub status_changed_at: Option<String>,
    /// Why it was invalidated.
    pub invalidation_reason: Option<String>,
    /// The message that archived it (root, extension).
    pub message: (String, String),
    /// The CDA exactly as archived, when asked for.
    #[serde(skip)]
    pub cda: Option<Vec<u8>>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// How many match in all.
    pub total: u64,
    /// Index of the first item in the whole result.
    pub offset: u32,
    /// This page.
    pub items: Vec<T>,
}

impl<T> Page<T> {
    /// How many remain after this page.
    pub fn remaining(&self) -> u64 {
        self.total
            .saturating_sub(u64::from(self.offset) + self.items.len() as u64)
    }
}

/// A client relationship or a case, with what the archive holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The relationship or case id.
    pub id: String,
    /// Whose register.
    pub register_owner: String,
    /// Documents (matching the status filter) in it.
    pub documents: u64,
    /// Earliest effectiveTime (UTC `YYYYMMDDHHMMSS`).
    pub first: Option<String>,
    /// Latest effectiveTime (UTC `YYYYMMDDHHMMSS`).
    pub last: Option<String>,
}

/// Hae kooste: counts over the client's documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Documents (matching the status filter).
    pub documents: u64,
    /// Count by status.
    pub by_status: Vec<(String, u64)>,
    /// Count by document group.
    pub by_group: Vec<(String, u64)>,
    /// Count by specific document type.
    pub by_type: Vec<(String, u64)>,
    /// Distinct client relationships.
    pub client_relationships: u64,
    /// Distinct cases.
    pub cases: u64,
    /// Earliest effectiveTime (UTC).
    pub first: Option<String>,
    /// Latest effectiveTime (UTC).
    pub last: Option<String>,
}
