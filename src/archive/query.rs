//! The typed query the store takes, built from a query message and the registers the
//! caller may read (`rules::access::readable_registers`), and [`execute`], which runs it.
//! The answers are `message::results`, which the query response writes.

use serde::Serialize;

use super::{DocumentStore, StoreError};
use crate::document::DocStatus;
use crate::document::model::hl7_ts_utc;
use crate::message::query::{QueryRequest, QueryResult, StatusFilter};
use crate::message::usecase::QueryKind;

/// A query over archived documents, already scoped: only `registers` are searched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentQuery {
    /// Register owners whose registers are searched (never empty in a real query; an empty
    /// list finds nothing).
    pub registers: Vec<String>,
    /// Client id (HETU or temporary id extension).
    pub client_id: Option<String>,
    /// Case (asia) id.
    pub case_id: Option<String>,
    /// Client relationship (asiakkuus) id.
    pub client_relationship: Option<String>,
    /// One version by its document OID.
    pub document_oid: Option<String>,
    /// One set.
    pub set_id: Option<String>,
    /// Document group code.
    pub document_group: Option<String>,
    /// Specific document type code.
    pub document_type: Option<String>,
    /// Earliest effectiveTime, UTC `YYYYMMDDHHMMSS`.
    pub from_utc: Option<String>,
    /// Latest effectiveTime, UTC `YYYYMMDDHHMMSS`.
    pub to_utc: Option<String>,
    /// Statuses to include (empty: active only).
    pub statuses: Vec<DocStatus>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
    /// Load the CDA bytes too.
    pub with_content: bool,
}

/// One step of a document's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEvent {
    /// `archived`, `replaced` or `invalidated`.
    pub kind: String,
    /// The version it concerns.
    pub document_oid: String,
    /// Its version number.
    pub version: u32,
    /// When (RFC 3339).
    pub at: String,
    /// The organisation that caused it.
    pub actor: String,
    /// `organisation` (through the interface) or `archivist` (through the archivist's view).
    pub actor_role: String,
    /// The message behind it (root, extension), when there was one.
    pub message: Option<(String, String)>,
    /// Reason (invalidation) or reason-of-correction code (new version).
    pub reason: Option<String>,
}

impl DocumentQuery {
    /// The store query `q` of `kind` stands for, searching only `registers` (the ones the
    /// caller may read, narrowed by the message's register scope). The normal status filter
    /// hides replaced and invalidated versions.
    pub fn for_request(
        q: &QueryRequest,
        kind: QueryKind,
        registers: Vec<String>,
        default_page_size: u32,
    ) -> Self {
        use DocStatus::{Active, Invalidated, Replaced};
        let statuses = match q.status {
            // A version named by its OID is found even when replaced: retrieval by id is
            // how a client reads the history it was told about.
            StatusFilter::Current if q.include_history || q.document_oid.is_some() => {
                vec![Active, Replaced]
            }
            StatusFilter::Current => vec![Active],
            StatusFilter::Replaced => vec![Replaced],
            StatusFilter::Invalidated => vec![Invalidated],
            StatusFilter::All => vec![Active, Replaced, Invalidated],
        };
        Self {
            registers,
            client_id: q.client_id.clone(),
            case_id: q.case_id.clone(),
            client_relationship: q.client_relationship.clone(),
            document_oid: q.document_oid.clone(),
            set_id: q.set_id.clone(),
            document_group: q.document_group.clone(),
            document_type: q.document_type.clone(),
            from_utc: q.from.as_deref().and_then(hl7_ts_utc),
            to_utc: q.to.as_deref().and_then(hl7_ts_utc),
            statuses,
            limit: q.page_size.unwrap_or(default_page_size),
            offset: q.start,
            with_content: kind == QueryKind::Document,
        }
    }
}

/// Runs a scoped query of `kind` against `store`.
pub fn execute(
    store: &dyn DocumentStore,
    kind: QueryKind,
    q: &DocumentQuery,
) -> Result<QueryResult, StoreError> {
    Ok(match kind {
        QueryKind::Metadata | QueryKind::Document => QueryResult::Documents(store.query(q)?),
        QueryKind::ClientRelationships => QueryResult::Groups(store.groups(q, false)?),
        QueryKind::Cases => QueryResult::Groups(store.groups(q, true)?),
        QueryKind::Summary => QueryResult::Summary(store.summary(q)?),
    })
}
