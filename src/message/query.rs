//! The five queries (Hae asiakkuus, asia, asiakirjan metatiedot, asiakirja, kooste): the
//! request read into a typed [`QueryRequest`] once, the reference client's writer for it,
//! and the response (*vastaussanoma*) writer and reader.
//!
//! Kanta's query messages are not public [U]. The shape chosen is HL7 V3's
//! query-by-parameter: `controlActProcess/queryByParameter` with a `queryId`, a page size
//! (`initialQuantity`), a start (`startResultNumber`) and a `parameterList`; the response
//! carries an `acknowledgement`, a `queryAck` with the counts, and one `subject` per result.
//! Each result is a `clinicalDocument` frame like the archiving message's, so a client that
//! builds one can read the other; retrieval adds the MIME-carried CDA exactly as archived.

use crate::finding::RuleId;
use roxmltree::Node;
use serde::{Deserialize, Serialize};

use super::ack::AckCode;
use super::results::{DocumentMeta, Group, Page, Summary};
use super::usecase::QueryKind;
use crate::document::model::hl7_ts_utc;
use crate::document::parse::{child, path, text};
use crate::document::{HL7_NS, HL7FI_NS};
use crate::finding::Finding;
use crate::identity::HETU_OID;
use crate::xml::{XmlWriter as W, path_of};

const V3: &str = HL7_NS;

/// Which statuses a query returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// The current version of every set that is not invalidated (the normal query).
    #[default]
    Current,
    /// Replaced versions only.
    Replaced,
    /// Invalidated versions only.
    Invalidated,
    /// Everything.
    All,
}

impl StatusFilter {
    /// As written in the request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Replaced => "replaced",
            Self::Invalidated => "invalidated",
            Self::All => "all",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Current, Self::Replaced, Self::Invalidated, Self::All]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// Whose registers a query searches, within what the caller may read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterScope {
    /// Own register and every organiser's register reachable through a use right.
    #[default]
    All,
    /// The caller's own register.
    Own,
    /// Organisers' registers reachable through a register use right.
    Organiser,
}

impl RegisterScope {
    /// As written in the request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Own => "own",
            Self::Organiser => "organiser",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::All, Self::Own, Self::Organiser]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// A query, as read from a request or as the reference client wants to send it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryRequest {
    /// The query's own id (root, extension).
    pub query_id: Option<(String, Option<String>)>,
    /// Client id root (HETU root 1.2.246.21 or `1.2.246.10.<business id>.22.<year>` for a temporary id).
    pub client_root: Option<String>,
    /// Client id (the HETU or the temporary id).
    pub client_id: Option<String>,
    /// Case (asia) id.
    pub case_id: Option<String>,
    /// Client relationship (asiakkuus) id.
    pub client_relationship: Option<String>,
    /// One version by document OID.
    pub document_oid: Option<String>,
    /// One set.
    pub set_id: Option<String>,
    /// Document group code.
    pub document_group: Option<String>,
    /// Specific document type code.
    pub document_type: Option<String>,
    /// Earliest effectiveTime (HL7 TS).
    pub from: Option<String>,
    /// Latest effectiveTime (HL7 TS).
    pub to: Option<String>,
    /// Statuses.
    pub status: StatusFilter,
    /// Also earlier (replaced) versions of the matching sets.
    pub include_history: bool,
    /// Registers.
    pub register: RegisterScope,
    /// Page size (`None`: the profile's default).
    pub page_size: Option<u32>,
    /// Index of the first result.
    pub start: u32,
}

impl QueryRequest {
    /// A query for one client by HETU.
    pub fn for_client(hetu: &str) -> Self {
        Self {
            client_root: Some(HETU_OID.into()),
            client_id: Some(hetu.into()),
            ..Self::default()
        }
    }

    /// A query for one document by OID.
    pub fn for_document(document_oid: &str) -> Self {
        Self {
            document_oid: Some(document_oid.into()),
            ..Self::default()
        }
    }
}

fn value_attr(list: Node<'_, '_>, name: &str, attr: &str) -> Option<(String, String)> {
    let p = child(list, V3, name)?;
    let v = child(p, V3, "value")?;
    v.attribute(attr).map(|a| (a.to_owned(), path_of(v)))
}

/// Reads `controlActProcess/queryByParameter`. Findings: Q-001 (a parameter the query
/// needs is absent), Q-002 (a value is unreadable or out of bounds), and P-001/P-002 on the
/// client's identity code.
pub fn parse_query(
    root: Node<'_, '_>,
    kind: QueryKind,
    max_page_size: u32,
    test_identities_only: bool,
) -> (QueryRequest, Vec<Finding>) {
    let mut q = QueryRequest::default();
    let mut out = Vec::new();
    let Some(qbp) = path(root, &[(V3, "controlActProcess"), (V3, "queryByParameter")]) else {
        out.push(Finding::new(
            RuleId::Q001,
            path_of(root),
            "controlActProcess/queryByParameter is absent",
        ));
        return (q, out);
    };
    let at = path_of(qbp);
    q.query_id = child(qbp, V3, "queryId").and_then(|n| {
        n.attribute("root")
            .map(|r| (r.to_owned(), n.attribute("extension").map(str::to_owned)))
    });
    if let Some(n) = child(qbp, V3, "initialQuantity") {
        match n.attribute("value").and_then(|v| v.parse::<u32>().ok()) {
            Some(v) if (1..=max_page_size).contains(&v) => q.page_size = Some(v),
            _ => out.push(Finding::new(
                RuleId::Q002,
                path_of(n),
                format!(
                    "initialQuantity {:?} is not a page size from 1 to {max_page_size} (archive.max_page_size)",
                    n.attribute("value").unwrap_or("")
                ),
            )),
        }
    }
    if let Some(n) = child(qbp, V3, "startResultNumber") {
        match n.attribute("value").and_then(|v| v.parse::<u32>().ok()) {
            Some(v) => q.start = v,
            None => out.push(Finding::new(
                RuleId::Q002,
                path_of(n),
                format!(
                    "startResultNumber {:?} is not a number",
                    n.attribute("value").unwrap_or("")
                ),
            )),
        }
    }
    if let Some(list) = child(qbp, V3, "parameterList") {
        if let Some(p) = child(list, V3, "clientId").and_then(|p| child(p, V3, "value")) {
            q.client_root = p.attribute("root").map(str::to_owned);
            q.client_id = p.attribute("extension").map(str::to_owned);
            if q.client_id.is_none() {
                out.push(Finding::new(
                    RuleId::Q002,
                    path_of(p),
                    "clientId/value has no @extension (the identity code)",
                ));
            }
        }
        let root_of = |name: &str| value_attr(list, name, "root").map(|v| v.0);
        let code_of = |name: &str| value_attr(list, name, "code");
        q.case_id = root_of("caseId");
        q.client_relationship = root_of("clientRelationshipId");
        q.document_oid = root_of("documentId");
        q.set_id = root_of("setId");
        q.document_group = code_of("documentGroup").map(|v| v.0);
        q.document_type = code_of("documentType").map(|v| v.0);
        if let Some(v) = child(list, V3, "effectiveTime").and_then(|p| child(p, V3, "value")) {
            for (bound, slot) in [("low", &mut q.from), ("high", &mut q.to)] {
                if let Some(n) = child(v, V3, bound) {
                    let ts = n.attribute("value").unwrap_or("");
                    if hl7_ts_utc(ts).is_some() {
                        *slot = Some(ts.to_owned());
                    } else {
                        out.push(Finding::new(
                            RuleId::Q002,
                            path_of(n),
                            format!(
                                "{bound} {ts:?} is not an HL7 timestamp (YYYYMMDD[HHMMSS][±ZZZZ])"
                            ),
                        ));
                    }
                }
            }
            if let (Some(f), Some(t)) = (
                q.from.as_deref().and_then(hl7_ts_utc),
                q.to.as_deref().and_then(hl7_ts_utc),
            ) && f > t
            {
                out.push(Finding::new(
                    RuleId::Q002,
                    path_of(v),
                    format!(
                        "the time range is empty: low {} is after high {}",
                        q.from.as_deref().unwrap_or(""),
                        q.to.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
        if let Some((s, p)) = code_of("documentStatus") {
            match StatusFilter::parse(&s) {
                Some(f) => q.status = f,
                None => out.push(Finding::new(
                    RuleId::Q002,
                    p,
                    format!("documentStatus {s:?} is not current, replaced, invalidated or all"),
                )),
            }
        }
        if let Some((v, p)) = value_attr(list, "includeHistory", "value") {
            match v.as_str() {
                "true" => q.include_history = true,
                "false" => {}
                _ => out.push(Finding::new(
                    RuleId::Q002,
                    p,
                    format!("includeHistory {v:?} is not true or false"),
                )),
            }
        }
        if let Some((s, p)) = code_of("register") {
            match RegisterScope::parse(&s) {
                Some(r) => q.register = r,
                None => out.push(Finding::new(
                    RuleId::Q002,
                    p,
                    format!("register {s:?} is not all, own or organiser"),
                )),
            }
        }
    }
    let needs = |ok: bool, what: &str, out: &mut Vec<Finding>| {
        if !ok {
            out.push(Finding::new(
                RuleId::Q001,
                &at,
                format!("{} needs {what}", kind.finnish()),
            ));
        }
    };
    let selector = q.client_id.is_some()
        || q.case_id.is_some()
        || q.client_relationship.is_some()
        || q.document_oid.is_some()
        || q.set_id.is_some();
    match kind {
        QueryKind::ClientRelationships | QueryKind::Cases | QueryKind::Summary => {
            needs(q.client_id.is_some(), "parameterList/clientId", &mut out);
        }
        QueryKind::Metadata => needs(
            selector,
            "a clientId, caseId, clientRelationshipId, documentId or setId",
            &mut out,
        ),
        QueryKind::Document => needs(
            q.document_oid.is_some() || q.set_id.is_some(),
            "parameterList/documentId or setId",
            &mut out,
        ),
    }
    if let (Some(id), Some(root)) = (&q.client_id, &q.client_root)
        && root == HETU_OID
    {
        match id.parse::<crate::identity::Hetu>() {
            Err(e) => out.push(Finding::new(
                RuleId::P001,
                &at,
                format!("clientId {id:?}: {e}"),
            )),
            Ok(h) if test_identities_only && !h.is_test_or_temporary() => out.push(Finding::new(
                RuleId::P002,
                &at,
                format!("clientId {id} is outside the 900–999 test series"),
            )),
            Ok(_) => {}
        }
    }
    (q, out)
}

/// What goes into a query request's wrapper.
pub type QueryMessage<'a> = super::RequestWrapper<'a>;

/// Writes a query request.
pub fn build_query(m: &QueryMessage<'_>, q: &QueryRequest) -> String {
    let mut w = W::new();
    m.open(&mut w, "AL");
    w.start(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    );
    w.start("queryByParameter", &[]);
    match &q.query_id {
        Some((r, Some(e))) => w.empty("queryId", &[("root", r), ("extension", e)]),
        Some((r, None)) => w.empty("queryId", &[("root", r)]),
        None => w.empty("queryId", &[("root", m.id.0), ("extension", m.id.1)]),
    }
    w.empty("statusCode", &[("code", "new")]);
    if let Some(n) = q.page_size {
        w.empty("initialQuantity", &[("value", &n.to_string())]);
    }
    if q.start > 0 {
        w.empty("startResultNumber", &[("value", &q.start.to_string())]);
    }
    w.start("parameterList", &[]);
    let param = |w: &mut W, name: &str, attrs: &[(&str, &str)]| {
        w.start(name, &[]);
        w.empty("value", attrs);
        w.end(name);
    };
    if let Some(id) = &q.client_id {
        let root = q.client_root.as_deref().unwrap_or(HETU_OID);
        param(&mut w, "clientId", &[("root", root), ("extension", id)]);
    }
    for (name, v) in [
        ("caseId", &q.case_id),
        ("clientRelationshipId", &q.client_relationship),
        ("documentId", &q.document_oid),
        ("setId", &q.set_id),
    ] {
        if let Some(v) = v {
            param(&mut w, name, &[("root", v)]);
        }
    }
    if let Some(v) = &q.document_group {
        param(
            &mut w,
            "documentGroup",
            &[
                ("code", v),
                (
                    "codeSystem",
                    crate::document::model::code_systems::DOCUMENT_GROUP,
                ),
            ],
        );
    }
    if let Some(v) = &q.document_type {
        param(
            &mut w,
            "documentType",
            &[
                ("code", v),
                (
                    "codeSystem",
                    crate::document::model::code_systems::DOCUMENT_TYPE,
                ),
            ],
        );
    }
    if q.from.is_some() || q.to.is_some() {
        w.start("effectiveTime", &[]);
        w.start("value", &[]);
        if let Some(f) = &q.from {
            w.empty("low", &[("value", f)]);
        }
        if let Some(t) = &q.to {
            w.empty("high", &[("value", t)]);
        }
        w.end("value");
        w.end("effectiveTime");
    }
    if q.status != StatusFilter::Current {
        param(&mut w, "documentStatus", &[("code", q.status.as_str())]);
    }
    if q.include_history {
        param(&mut w, "includeHistory", &[("value", "true")]);
    }
    if q.register != RegisterScope::All {
        param(&mut w, "register", &[("code", q.register.as_str())]);
    }
    w.end("parameterList");
    w.end("queryByParameter");
    w.end("controlActProcess");
    super::close_transmission(&mut w, m.interaction);
    w.finish()
}

/// What a query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// Documents (metadata, or with their bytes for retrieval).
    Documents(Page<DocumentMeta>),
    /// Client relationships or cases.
    Groups(Page<Group>),
    /// A summary.
    Summary(Summary),
}

/// Everything a query response says.
#[derive(Debug, Clone)]
pub struct QueryResponse<'a> {
    /// The wrapper and acknowledgement (AA or AE with the findings), as for any message.
    pub ack: super::ack::Ack<'a>,
    /// The query's id.
    pub query_id: Option<(&'a str, Option<&'a str>)>,
    /// Which query.
    pub kind: QueryKind,
    /// The results (`None` with AE).
    pub result: Option<&'a QueryResult>,
}

fn write_document(w: &mut W, d: &DocumentMeta, boundary: &str) {
    w.start("subject", &[("typeCode", "SUBJ")]);
    w.start(
        "clinicalDocument",
        &[("classCode", "DOCCLIN"), ("moodCode", "EVN")],
    );
    w.empty("id", &[("root", &d.document_oid)]);
    if let Some(r) = &d.register {
        w.empty(
            "code",
            &[
                ("code", r),
                ("codeSystem", crate::document::model::code_systems::REGISTER),
            ],
        );
    }
    if let Some(cda) = &d.cda {
        w.start("text", &[("mediaType", "multipart/related")]);
        w.chars(&super::mime::encode_related(cda, &d.document_oid, boundary));
        w.end("text");
    }
    w.empty("statusCode", &[("code", d.status.hl7())]);
    if let Some(t) = &d.effective_time {
        w.empty("effectiveTime", &[("value", t)]);
    }
    w.empty("versionNumber", &[("value", &d.version.to_string())]);
    w.empty("setId", &[("root", &d.set_id)]);
    w.start("recordTarget", &[("typeCode", "RCT")]);
    w.start("patient", &[]);
    w.empty("id", &[("extension", &d.client_id)]);
    w.end("patient");
    w.end("recordTarget");
    super::write_frame_custodian(w, &d.custodian);
    w.start("hl7fi:localSocialHeader", &[("xmlns:hl7fi", HL7FI_NS)]);
    if let Some(g) = &d.document_group {
        w.empty(
            "hl7fi:documentGroup",
            &[
                ("code", g),
                (
                    "codeSystem",
                    crate::document::model::code_systems::DOCUMENT_GROUP,
                ),
            ],
        );
    }
    if let Some(t) = &d.document_type {
        w.empty(
            "hl7fi:specificDocumentType",
            &[
                ("code", t),
                (
                    "codeSystem",
                    crate::document::model::code_systems::DOCUMENT_TYPE,
                ),
            ],
        );
    }
    w.empty("hl7fi:registerOwner", &[("root", &d.register_owner)]);
    if let Some(c) = &d.case_id {
        w.empty("hl7fi:case", &[("root", c)]);
    }
    if let Some(r) = &d.client_relationship {
        w.empty("hl7fi:encompassingClientRelationship", &[("root", r)]);
    }
    if let Some(r) = &d.replaces {
        w.empty("hl7fi:replaces", &[("root", r)]);
    }
    if let Some(reason) = &d.invalidation_reason {
        w.text("hl7fi:invalidationReason", &[], reason);
    }
    w.empty("hl7fi:archivedAt", &[("value", &d.archived_at)]);
    w.end("hl7fi:localSocialHeader");
    w.end("clinicalDocument");
    w.end("subject");
}

fn write_group(w: &mut W, kind: QueryKind, g: &Group) {
    let name = if kind == QueryKind::Cases {
        "case"
    } else {
        "clientRelationship"
    };
    w.start("subject", &[("typeCode", "SUBJ")]);
    w.start(name, &[]);
    w.empty("id", &[("root", &g.id)]);
    w.empty("registerOwner", &[("root", &g.register_owner)]);
    w.empty("documentCount", &[("value", &g.documents.to_string())]);
    if let (Some(f), Some(l)) = (&g.first, &g.last) {
        w.start("effectiveTime", &[]);
        w.empty("low", &[("value", f)]);
        w.empty("high", &[("value", l)]);
        w.end("effectiveTime");
    }
    w.end(name);
    w.end("subject");
}

fn write_summary(w: &mut W, s: &Summary) {
    w.start("subject", &[("typeCode", "SUBJ")]);
    w.start("summary", &[]);
    w.empty("documentCount", &[("value", &s.documents.to_string())]);
    w.empty(
        "clientRelationshipCount",
        &[("value", &s.client_relationships.to_string())],
    );
    w.empty("caseCount", &[("value", &s.cases.to_string())]);
    if let (Some(f), Some(l)) = (&s.first, &s.last) {
        w.start("effectiveTime", &[]);
        w.empty("low", &[("value", f)]);
        w.empty("high", &[("value", l)]);
        w.end("effectiveTime");
    }
    for (dimension, counts) in [
        ("status", &s.by_status),
        ("documentGroup", &s.by_group),
        ("documentType", &s.by_type),
    ] {
        for (code, n) in counts {
            w.empty(
                "count",
                &[
                    ("dimension", dimension),
                    ("code", code),
                    ("value", &n.to_string()),
                ],
            );
        }
    }
    w.end("summary");
    w.end("subject");
}

impl QueryResponse<'_> {
    /// The SOAP envelope with the response.
    pub fn to_xml(&self) -> String {
        let mut w = W::new();
        self.ack.open(&mut w);
        w.start(
            "controlActProcess",
            &[("classCode", "CACT"), ("moodCode", "EVN")],
        );
        w.start("queryAck", &[]);
        if let Some((root, ext)) = self.query_id {
            match ext {
                Some(e) => w.empty("queryId", &[("root", root), ("extension", e)]),
                None => w.empty("queryId", &[("root", root)]),
            }
        }
        let (total, current, remaining) = match self.result {
            Some(QueryResult::Documents(p)) => (p.total, p.items.len() as u64, p.remaining()),
            Some(QueryResult::Groups(p)) => (p.total, p.items.len() as u64, p.remaining()),
            Some(QueryResult::Summary(s)) => (s.documents, u64::from(s.documents > 0), 0),
            None => (0, 0, 0),
        };
        let code = match (self.ack.code, total) {
            (AckCode::AA, 0) => "NF",
            (AckCode::AA, _) => "OK",
            _ => "QE",
        };
        w.empty("queryResponseCode", &[("code", code)]);
        w.empty("resultTotalQuantity", &[("value", &total.to_string())]);
        w.empty("resultCurrentQuantity", &[("value", &current.to_string())]);
        w.empty(
            "resultRemainingQuantity",
            &[("value", &remaining.to_string())],
        );
        w.end("queryAck");
        match self.result {
            Some(QueryResult::Documents(p)) => {
                for (i, d) in p.items.iter().enumerate() {
                    write_document(&mut w, d, &format!("----=_Part_{i}_kanta_sim_response"));
                }
            }
            Some(QueryResult::Groups(p)) => {
                for g in &p.items {
                    write_group(&mut w, self.kind, g);
                }
            }
            Some(QueryResult::Summary(s)) if s.documents > 0 => write_summary(&mut w, s),
            _ => {}
        }
        w.end("controlActProcess");
        super::close_transmission(&mut w, self.ack.interaction);
        w.finish()
    }
}

/// One document in a response, as the reference client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultDocument {
    /// Document OID.
    pub document_oid: String,
    /// setId.
    pub set_id: String,
    /// Version.
    pub version: u32,
    /// HL7 status (`completed`, `obsolete`, `nullified`).
    pub status: String,
    /// Client id.
    pub client_id: String,
    /// Whose register.
    pub register_owner: String,
    /// The CDA bytes, for retrieval.
    #[serde(skip)]
    pub cda: Option<Vec<u8>>,
}

/// A query response, as the reference client reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParsedResponse {
    /// AA, AE or AR.
    pub ack: String,
    /// Rule codes of the details.
    pub codes: Vec<String>,
    /// `queryResponseCode` (OK, NF, QE).
    pub response_code: String,
    /// Total results.
    pub total: u64,
    /// Results in this page.
    pub current: u64,
    /// Results after this page.
    pub remaining: u64,
    /// Documents.
    pub documents: Vec<ResultDocument>,
    /// Client relationship or case ids with their document counts.
    pub groups: Vec<(String, u64)>,
    /// Summary counts (dimension, code, count), with `documentCount` first.
    pub summary: Vec<(String, String, u64)>,
}

/// Why a query response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// Not XML we read.
    #[error("the response: {0}")]
    Xml(#[from] crate::xml::XmlError),
    /// No interaction in it.
    #[error("no HL7 interaction in the response")]
    NoInteraction,
    /// A returned document's MIME entity.
    #[error("a returned document: {0}")]
    Mime(#[from] super::mime::MimeError),
}

/// Reads a query response (SOAP envelope or bare).
pub fn parse_response(xml: &str) -> Result<ParsedResponse, ResponseError> {
    let doc = crate::xml::parse(xml, &crate::xml::Limits::default())?;
    let root = super::hl7::interaction_element(&doc).ok_or(ResponseError::NoInteraction)?;
    let mut r = ParsedResponse::default();
    let attr_of =
        |n: Option<Node<'_, '_>>, a: &str| n.and_then(|n| n.attribute(a)).unwrap_or("").to_owned();
    let num = |n: Option<Node<'_, '_>>| attr_of(n, "value").parse::<u64>().unwrap_or(0);
    let ack = child(root, V3, "acknowledgement");
    r.ack = attr_of(ack, "typeCode");
    if let Some(a) = ack {
        r.codes = a
            .children()
            .filter(|c| c.tag_name().name() == "acknowledgementDetail")
            .filter_map(|d| {
                child(d, V3, "code")
                    .and_then(|c| c.attribute("code"))
                    .map(str::to_owned)
            })
            .collect();
    }
    let cap = child(root, V3, "controlActProcess");
    let qack = cap.and_then(|c| child(c, V3, "queryAck"));
    r.response_code = attr_of(qack.and_then(|q| child(q, V3, "queryResponseCode")), "code");
    r.total = num(qack.and_then(|q| child(q, V3, "resultTotalQuantity")));
    r.current = num(qack.and_then(|q| child(q, V3, "resultCurrentQuantity")));
    r.remaining = num(qack.and_then(|q| child(q, V3, "resultRemainingQuantity")));
    for s in cap
        .into_iter()
        .flat_map(|c| c.children())
        .filter(|n| n.tag_name().name() == "subject")
    {
        let Some(item) = s.first_element_child() else {
            continue;
        };
        match item.tag_name().name() {
            "clinicalDocument" => {
                let header = child(item, HL7FI_NS, "localSocialHeader");
                let cda = match child(item, V3, "text") {
                    Some(t) => super::cda_in_mime(&text(t), &super::mime::MimeLimits::default())?
                        .map(|c| c.bytes),
                    None => None,
                };
                r.documents.push(ResultDocument {
                    document_oid: attr_of(child(item, V3, "id"), "root"),
                    set_id: attr_of(child(item, V3, "setId"), "root"),
                    version: attr_of(child(item, V3, "versionNumber"), "value")
                        .parse()
                        .unwrap_or(0),
                    status: attr_of(child(item, V3, "statusCode"), "code"),
                    client_id: attr_of(
                        path(item, &[(V3, "recordTarget"), (V3, "patient"), (V3, "id")]),
                        "extension",
                    ),
                    register_owner: attr_of(
                        header.and_then(|h| child(h, HL7FI_NS, "registerOwner")),
                        "root",
                    ),
                    cda,
                });
            }
            "clientRelationship" | "case" => r.groups.push((
                attr_of(child(item, V3, "id"), "root"),
                num(child(item, V3, "documentCount")),
            )),
            "summary" => {
                r.summary.push((
                    "documentCount".into(),
                    String::new(),
                    num(child(item, V3, "documentCount")),
                ));
                for c in item.children().filter(|c| c.tag_name().name() == "count") {
                    r.summary.push((
                        attr_of(Some(c), "dimension"),
                        attr_of(Some(c), "code"),
                        num(Some(c)),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(r)
}
