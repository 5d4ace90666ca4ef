//! Judging one exchange against the step a case expects, and the archive-state checks
//! after it. Plain functions over the logged exchange (what the archive saw and answered)
//! and a read-only view of the store: the same whether the exchange came from the reference
//! client or from a supplier's system in a live run.

use crate::finding::RuleId;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::archive::{DocumentQuery, DocumentStore, ExchangeKind, StoredExchange};
use crate::cases::{Action, Check, Expect, Step};
use crate::document::DocStatus;
use crate::finding::Finding;
use crate::identity::SoteRegister;
use crate::pki::TrustStore;

/// What a label stands for: one archived version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labelled {
    /// Document OID.
    pub document_oid: String,
    /// setId.
    pub set_id: String,
    /// Version.
    pub version: u32,
    /// Client id.
    pub client_id: String,
}

/// Labels bound so far in one case.
pub type Labels = BTreeMap<String, Labelled>;

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything as expected.
    Passed,
    /// Something differed (see the reasons).
    Failed,
    /// The system under test did not act in time.
    TimedOut,
    /// An earlier step failed, so this one was not run.
    NotRun,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// What was checked, in words.
    pub description: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found.
    pub found: String,
}

/// The evidence of one step: the exchange behind the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Exchange-log id.
    pub exchange_id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Handshake or HTTP.
    pub kind: String,
    /// The archive's one-line summary.
    pub summary: String,
    /// HTTP status (none for a refused handshake).
    pub status: Option<u16>,
    /// AA, AE, AR, when an acknowledgement was sent.
    pub ack: Option<String>,
    /// Rule ids the archive reported.
    pub codes: Vec<RuleId>,
    /// The request body.
    #[serde(skip)]
    pub request: Vec<u8>,
    /// The response body.
    #[serde(skip)]
    pub response: Vec<u8>,
}

/// What the engine concluded about one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed: the engine's C findings and the archive's own findings that caused it.
    pub reasons: Vec<Finding>,
    /// Every finding the archive reported for the exchange.
    pub findings: Vec<Finding>,
    /// Archive-state checks.
    pub checks: Vec<CheckResult>,
    /// The exchange.
    pub evidence: Option<Evidence>,
}

/// Read-only access to what the checks look at.
#[derive(Clone, Copy)]
pub struct StateView<'a> {
    /// The store.
    pub store: &'a dyn DocumentStore,
    /// The register (for visibility).
    pub register: &'a SoteRegister,
    /// Trust for signature checks.
    pub trust: Option<&'a TrustStore>,
    /// Today.
    pub today: time::Date,
}

impl std::fmt::Debug for StateView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateView")
            .field("today", &self.today)
            .finish()
    }
}

/// Whether `ex` is something the step waiting in `org`'s session must judge: a refused
/// handshake by the organisation's certificate, or an archive request; for `connect`
/// steps also any request at all.
pub fn relevant(step: &Step, org: &str, ex: &StoredExchange) -> bool {
    let r = &ex.record;
    if step.action == Action::FaultPlan {
        return false;
    }
    if r.listener != "strict" || r.org_oid.as_deref() != Some(org) {
        return false;
    }
    match r.kind {
        ExchangeKind::Handshake => true,
        ExchangeKind::Http => {
            step.action == Action::Connect
                || (r.method.as_deref() == Some("POST") && r.path.as_deref() == Some("/archive"))
        }
    }
}

fn use_case_of(detail: &serde_json::Value) -> Option<(String, Option<String>)> {
    let u = detail.get("use_case")?;
    let name = u.get("use_case")?.as_str()?.to_owned();
    Some((
        name,
        u.get("query").and_then(|q| q.as_str()).map(str::to_owned),
    ))
}

fn evidence(ex: &StoredExchange) -> Evidence {
    let r = &ex.record;
    Evidence {
        exchange_id: ex.id,
        at: r
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        kind: match r.kind {
            ExchangeKind::Handshake => "handshake".into(),
            ExchangeKind::Http => "http".into(),
        },
        summary: r.summary.clone(),
        status: r.status,
        ack: r
            .detail
            .get("ack")
            .and_then(|a| a.as_str())
            .map(str::to_owned),
        codes: r.codes.clone(),
        request: r.request.as_deref().map(<[u8]>::to_vec).unwrap_or_default(),
        response: r
            .response
            .as_deref()
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
    }
}

fn archive_findings(ex: &StoredExchange) -> Vec<Finding> {
    let d = &ex.record.detail;
    let from = d
        .get("findings")
        .or_else(|| d.get("fault").and_then(|f| f.get("findings")));
    let mut out: Vec<Finding> = from
        .and_then(|f| serde_json::from_value::<Vec<FindingIn>>(f.clone()).ok())
        .map(|v| {
            v.into_iter()
                .map(|f| Finding::new(f.code, f.location, f.message))
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        // Handshakes and access refusals carry codes and a summary only: `CODE: text; …`,
        // each code's own text is its finding's message.
        let summary = &ex.record.summary;
        out = ex
            .record
            .codes
            .iter()
            .map(|c| {
                let prefix = format!("{c}: ");
                let message = summary
                    .split("; ")
                    .find_map(|part| part.strip_prefix(&prefix))
                    .unwrap_or(summary);
                Finding::new(*c, "connection", message)
            })
            .collect();
    }
    out
}

#[derive(serde::Deserialize)]
struct FindingIn {
    code: RuleId,
    location: String,
    message: String,
}

fn expected_use_case(step: &Step) -> Option<(String, Option<String>)> {
    match step.action {
        Action::Archive => Some(("archive".into(), None)),
        Action::NewVersion => Some(("new-version".into(), None)),
        Action::Invalidate => Some(("invalidate".into(), None)),
        Action::Query => Some(("query".into(), step.query.clone())),
        Action::Connect | Action::FaultPlan => None,
    }
}

fn describe_use_case(u: &(String, Option<String>)) -> String {
    match &u.1 {
        Some(q) => format!("{} {q}", u.0),
        None => u.0.clone(),
    }
}

/// Judges `ex` against `step`, binding the step's label on success.
pub fn judge(step: &Step, ex: &StoredExchange, labels: &mut Labels) -> StepOutcome {
    let findings = archive_findings(ex);
    let mut out = StepOutcome {
        verdict: Verdict::Failed,
        reasons: Vec::new(),
        findings: findings.clone(),
        checks: Vec::new(),
        evidence: Some(evidence(ex)),
    };
    let r = &ex.record;
    let codes = &r.codes;
    let rule = step.rule.as_deref().unwrap_or("");
    let fail = |out: &mut StepOutcome, code: RuleId, msg: String| {
        out.reasons
            .push(Finding::new(code, format!("step {}", step.id), msg))
    };
    let errors = || {
        findings
            .iter()
            .filter(|f| f.is_error())
            .cloned()
            .collect::<Vec<_>>()
    };
    if r.kind == ExchangeKind::Handshake {
        match step.expect {
            Expect::Rejected if codes.iter().any(|c| c == rule) => out.verdict = Verdict::Passed,
            Expect::Rejected => fail(
                &mut out,
                RuleId::C004,
                format!(
                    "the handshake was refused with {}, not {rule}",
                    RuleId::join(codes)
                ),
            ),
            Expect::Accepted => {
                out.reasons.extend(errors());
                fail(
                    &mut out,
                    RuleId::C004,
                    format!(
                        "the TLS handshake was refused ({}); the step needs an accepted connection",
                        RuleId::join(codes)
                    ),
                );
            }
        }
        return out;
    }
    let ack = r.detail.get("ack").and_then(|a| a.as_str());
    let accepted = match step.action {
        Action::Connect => r.status == Some(200),
        _ => ack == Some("AA"),
    };
    if let (Some(expected), Some(got)) = (expected_use_case(step), use_case_of(&r.detail))
        && (expected.0 != got.0 || (expected.1.is_some() && expected.1 != got.1))
    {
        fail(
            &mut out,
            RuleId::C001,
            format!(
                "expected a {} message, received {}",
                describe_use_case(&expected),
                describe_use_case(&got)
            ),
        );
        return out;
    }
    match step.expect {
        Expect::Rejected => {
            if accepted {
                fail(
                    &mut out,
                    RuleId::C004,
                    format!(
                        "accepted ({}); the step expects a rejection with {rule}",
                        ack.unwrap_or("HTTP 200")
                    ),
                );
            } else if codes.iter().any(|c| c == rule) {
                out.verdict = Verdict::Passed;
            } else {
                fail(
                    &mut out,
                    RuleId::C004,
                    format!(
                        "rejected with {}, but not with {rule}",
                        if codes.is_empty() {
                            "no rule id".to_owned()
                        } else {
                            RuleId::join(codes)
                        }
                    ),
                );
            }
            return out;
        }
        Expect::Accepted if !accepted => {
            out.reasons.extend(errors());
            let what = match ack {
                Some(a) => format!("the archive answered {a}"),
                None => format!("the archive answered HTTP {}", r.status.unwrap_or(0)),
            };
            fail(
                &mut out,
                RuleId::C004,
                format!("{what}; the step expects acceptance"),
            );
            return out;
        }
        Expect::Accepted => {}
    }
    // Accepted: is it the document the step is about?
    let doc = r.detail.get("document").filter(|d| !d.is_null());
    let field = |name: &str| {
        doc.and_then(|d| d.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match step.action {
        Action::Archive => {
            if let Some(p) = &step.person
                && field("client_id").as_deref() != Some(p.as_str())
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!(
                        "the document is about {:?}, the step asks for {p}",
                        field("client_id").unwrap_or_default()
                    ),
                );
            }
            if let Some(kind) = step.document
                && field("document_group").as_deref() != Some(kind.group())
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!(
                        "the document group is {:?}; the step asks for {}",
                        field("document_group").unwrap_or_default(),
                        kind.describe()
                    ),
                );
            }
        }
        Action::NewVersion => {
            if let Some(l) = step.of.as_ref().and_then(|o| labels.get(o))
                && field("set_id").as_deref() != Some(l.set_id.as_str())
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!(
                        "the new version belongs to setId {:?}, the step is about {}",
                        field("set_id").unwrap_or_default(),
                        l.set_id
                    ),
                );
            }
        }
        Action::Invalidate => {
            let got = r
                .detail
                .get("invalidated")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if let Some(l) = step.of.as_ref().and_then(|o| labels.get(o))
                && got != l.document_oid
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!("invalidated {got:?}; the step is about {}", l.document_oid),
                );
            }
        }
        Action::Query => {
            let q = r.detail.get("query");
            let qf = |name: &str| {
                q.and_then(|q| q.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            if let Some(p) = &step.person
                && qf("client_id").as_deref() != Some(p.as_str())
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!(
                        "the query asks about {:?}, the step about {p}",
                        qf("client_id").unwrap_or_default()
                    ),
                );
            }
            if let Some(l) = step.of.as_ref().and_then(|o| labels.get(o))
                && qf("document_oid").as_deref() != Some(l.document_oid.as_str())
                && qf("set_id").as_deref() != Some(l.set_id.as_str())
            {
                fail(
                    &mut out,
                    RuleId::C001,
                    format!(
                        "the query asks for {:?}, the step for {}",
                        qf("document_oid").unwrap_or_default(),
                        l.document_oid
                    ),
                );
            }
        }
        Action::Connect | Action::FaultPlan => {}
    }
    if !out.reasons.is_empty() {
        return out;
    }
    if let (Some(label), Some(oid), Some(set_id)) = (&step.label, field("oid"), field("set_id")) {
        labels.insert(
            label.clone(),
            Labelled {
                document_oid: oid,
                set_id,
                version: doc
                    .and_then(|d| d.get("version"))
                    .and_then(|v| v.as_u64())
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(1),
                client_id: field("client_id").unwrap_or_default(),
            },
        );
    }
    // A new version makes the label of the version it replaced point at history, not at
    // the newest: checks name the label of the version they mean.
    out.verdict = Verdict::Passed;
    out
}

/// Runs the step's checks after an accepted or rejected exchange; a failed check fails the
/// step with C-003.
pub fn run_checks(step: &Step, labels: &Labels, view: StateView<'_>, out: &mut StepOutcome) {
    if out.verdict != Verdict::Passed {
        return;
    }
    for check in &step.check {
        let result = check_one(check, labels, view, out.evidence.as_ref());
        if !result.passed {
            out.reasons.push(Finding::new(
                RuleId::C003,
                format!("step {} check", step.id),
                format!("{}: {}", result.description, result.found),
            ));
            out.verdict = Verdict::Failed;
        }
        out.checks.push(result);
    }
}

/// Why a check could not be evaluated (it then fails, saying why).
#[derive(Debug, thiserror::Error)]
enum CheckError {
    /// The check names a label no passed step bound.
    #[error("label {0:?} was never bound (its step did not pass)")]
    Unbound(String),
    /// The archive store failed.
    #[error("archive store: {0}")]
    Store(#[from] crate::archive::StoreError),
    /// The step got no response.
    #[error("no response")]
    NoResponse,
    /// The response is not a query response.
    #[error("no readable query response")]
    NoQueryResponse,
    /// The query response could not be read.
    #[error(transparent)]
    Response(#[from] crate::message::query::ResponseError),
    /// The query response carries no document.
    #[error("the response carries no document")]
    NoDocument,
    /// The returned document is not UTF-8.
    #[error("the retrieved document is not UTF-8: {0}")]
    NotUtf8(#[from] std::string::FromUtf8Error),
    /// The returned document is not XML we read.
    #[error("the retrieved document: {0}")]
    Xml(#[from] crate::xml::XmlError),
}

fn check_one(
    check: &Check,
    labels: &Labels,
    view: StateView<'_>,
    ev: Option<&Evidence>,
) -> CheckResult {
    let label = |doc: &str| {
        labels
            .get(doc)
            .ok_or_else(|| CheckError::Unbound(doc.to_owned()))
    };
    let all_statuses = vec![
        DocStatus::Active,
        DocStatus::Replaced,
        DocStatus::Invalidated,
    ];
    let (description, result): (String, Result<(bool, String), CheckError>) = match check {
        Check::Status { doc, status } => (
            format!("{doc} is {status}"),
            label(doc).and_then(|l| {
                let got = view.store.get(&l.document_oid)?;
                Ok(match got {
                    Some(m) => (
                        m.status.as_str() == status,
                        format!("{} is {}", l.document_oid, m.status.as_str()),
                    ),
                    None => (false, format!("{} is not archived", l.document_oid)),
                })
            }),
        ),
        Check::Versions { doc, count } => (
            format!("the set of {doc} has {count} version(s)"),
            label(doc).and_then(|l| {
                let owner = view
                    .store
                    .get(&l.document_oid)?
                    .map(|m| m.register_owner)
                    .unwrap_or_default();
                let page = view.store.query(&DocumentQuery {
                    registers: vec![owner],
                    set_id: Some(l.set_id.clone()),
                    statuses: all_statuses.clone(),
                    limit: 1000,
                    ..DocumentQuery::default()
                })?;
                Ok((
                    page.total == u64::from(*count),
                    format!("setId {} has {} version(s)", l.set_id, page.total),
                ))
            }),
        ),
        Check::Visible { doc, org, visible } => (
            format!(
                "{doc} is {}visible to {org} in a normal query",
                if *visible { "" } else { "not " }
            ),
            label(doc).and_then(|l| {
                let page = view.store.query(&DocumentQuery {
                    registers: view.register.readable_registers(org, view.today),
                    document_oid: Some(l.document_oid.clone()),
                    statuses: vec![DocStatus::Active],
                    limit: 1,
                    ..DocumentQuery::default()
                })?;
                let seen = page.total > 0;
                Ok((
                    seen == *visible,
                    format!(
                        "{} {} by {org}",
                        l.document_oid,
                        if seen { "is found" } else { "is not found" }
                    ),
                ))
            }),
        ),
        Check::QueryTotal { min, equals } => (
            match (min, equals) {
                (_, Some(n)) => format!("the query finds exactly {n}"),
                (Some(n), None) => format!("the query finds at least {n}"),
                (None, None) => "the query answers".into(),
            },
            ev.and_then(|e| {
                crate::message::query::parse_response(&String::from_utf8_lossy(&e.response)).ok()
            })
            .map(|r| {
                (
                    min.is_none_or(|m| r.total >= m) && equals.is_none_or(|n| r.total == n),
                    format!("it found {} ({})", r.total, r.response_code),
                )
            })
            .ok_or(CheckError::NoQueryResponse),
        ),
        Check::History { doc, kinds } => (
            format!("the history of {doc} is {}", kinds.join(" → ")),
            label(doc).and_then(|l| {
                let h = view.store.history(&l.set_id)?;
                let got: Vec<String> = h.iter().map(|e| e.kind.clone()).collect();
                Ok((
                    &got == kinds,
                    if got.is_empty() {
                        "no history".to_owned()
                    } else {
                        got.join(" → ")
                    },
                ))
            }),
        ),
        Check::RetrievedVerifies => (
            "the retrieved document's signatures verify".into(),
            ev.ok_or(CheckError::NoResponse).and_then(|e| {
                let r =
                    crate::message::query::parse_response(&String::from_utf8_lossy(&e.response))?;
                let cda = r
                    .documents
                    .first()
                    .and_then(|d| d.cda.clone())
                    .ok_or(CheckError::NoDocument)?;
                let text = String::from_utf8(cda)?;
                let report = crate::xmldsig::verify_document(
                    &text,
                    &crate::document::kanta_verify_options(view.trust),
                )?;
                Ok((
                    report.is_valid(),
                    if report.is_valid() {
                        "valid".into()
                    } else {
                        RuleId::join(&report.codes())
                    },
                ))
            }),
        ),
    };
    match result {
        Ok((passed, found)) => CheckResult {
            description,
            passed,
            found,
        },
        Err(e) => CheckResult {
            description,
            passed: false,
            found: e.to_string(),
        },
    }
}

/// The outcome of a step the system under test never performed.
pub fn timed_out(step: &Step, waited_secs: u64) -> StepOutcome {
    StepOutcome {
        verdict: Verdict::TimedOut,
        reasons: vec![Finding::new(
            RuleId::C002,
            format!("step {}", step.id),
            if waited_secs == 0 {
                "the step's message was never sent".to_owned()
            } else {
                format!("nothing arrived for this step in {waited_secs} s")
            },
        )],
        findings: Vec::new(),
        checks: Vec::new(),
        evidence: None,
    }
}

/// The outcome of a step after an earlier one failed.
pub fn not_run() -> StepOutcome {
    StepOutcome {
        verdict: Verdict::NotRun,
        reasons: Vec::new(),
        findings: Vec::new(),
        checks: Vec::new(),
        evidence: None,
    }
}
