//! HTTP routes. Every outcome is a response (no dropped connections), and every request is
//! written to the exchange log with the rule codes of its findings.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use time::OffsetDateTime;

use super::State;
use crate::archive::Invalidation;
use crate::archive::StoreError;
use crate::archive::{ExchangeKind, ExchangeRecord};
use crate::message::ack::{Ack, AckCode};
use crate::message::query::{QueryResponse, QueryResult, execute};
use crate::message::soap::{Fault, SoapVersion, summarise_envelope};
use crate::message::usecase::{QueryKind, UseCase};
use crate::rules::Finding;
use crate::rules::access::{AccessProblem, check_organisation};
use crate::rules::lifecycle::Actor;
use crate::tls::{CertVerdict, ListenerMode, Peer};
use crate::validate::{MessageOutcome, process_message};

/// A response before it becomes hyper's, so that the exchange log can keep its body.
struct Resp {
    status: u16,
    content_type: &'static str,
    body: Bytes,
    /// The HL7 acknowledgement code, sent as `x-kanta-sim-ack` for quick scripting.
    ack: Option<&'static str>,
}

impl Resp {
    fn into_hyper(self) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(self.body));
        *r.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Ok(v) = self.content_type.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        if let Some(Ok(v)) = self.ack.map(str::parse) {
            r.headers_mut().insert("x-kanta-sim-ack", v);
        }
        r
    }
}

struct Outcome {
    response: Resp,
    codes: Vec<String>,
    summary: String,
    detail: serde_json::Value,
}

fn respond(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    Resp {
        status,
        content_type,
        body: body.into(),
        ack: None,
    }
}

fn json(status: u16, v: &serde_json::Value) -> Resp {
    respond(status, "application/json", format!("{v:#}\n"))
}

fn looked_in(state: &State) -> String {
    let mut s: Vec<String> = state
        .config
        .identity
        .org_oid_sources
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    if !state.config.identity.fingerprint_map.is_empty() {
        s.insert(0, "fingerprint_map".into());
    }
    s.join(", ")
}

/// Entry point for one request.
pub(super) async fn handle(
    state: Arc<State>,
    mode: ListenerMode,
    peer: Arc<Peer>,
    verdict: Arc<CertVerdict>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let mut request_body = None;
    let outcome = match mode {
        ListenerMode::Diagnostic => diagnose(&state, &peer, &verdict, &req),
        ListenerMode::Strict => strict(&state, &peer, req, &mut request_body).await,
    };
    let status = outcome.response.status;
    if !outcome.codes.is_empty() {
        tracing::info!(peer = %peer.addr, %method, %path, status, codes = %outcome.codes.join(" "), "{}", outcome.summary);
    }
    // The HL7 message id links the exchange to the document history (acknowledgements and
    // query responses put it in their detail).
    let message_id = outcome.detail.get("message_id").and_then(|m| {
        let root = m.get(0)?.as_str()?.to_owned();
        let ext = m
            .get(1)
            .and_then(|e| e.as_str())
            .unwrap_or_default()
            .to_owned();
        Some((root, ext))
    });
    let record = ExchangeRecord {
        message_id,
        at: OffsetDateTime::now_utc(),
        listener: mode.as_str().to_owned(),
        peer: peer.addr.clone(),
        kind: ExchangeKind::Http,
        outcome: if status < 400 {
            "accepted".into()
        } else {
            "rejected".into()
        },
        codes: outcome.codes,
        summary: outcome.summary,
        detail: outcome.detail,
        cert_subject: peer.cert.as_ref().map(|c| c.subject.clone()),
        cert_sha256: peer.cert.as_ref().map(|c| c.sha256.clone()),
        org_oid: peer.organisation.as_ref().map(|o| o.oid.clone()),
        method: Some(method),
        path: Some(path),
        status: Some(status),
        request: request_body.map(|b: Bytes| b.to_vec()),
        response: Some(outcome.response.body.to_vec()),
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    };
    state.record(record).await;
    Ok(outcome.response.into_hyper())
}

/// Entry point for one request on the plain-HTTP validation listener: Kela's validation
/// service contract and nothing else (no client certificate, so no archive).
pub(super) async fn handle_validation(
    state: Arc<State>,
    peer_addr: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let mut request_body = None;
    let outcome = match (req.method().as_str(), req.uri().path()) {
        ("POST", VALIDATION_SERVICE) => validation_service(&state, req, &mut request_body).await,
        (m, p) => Outcome {
            response: json(
                404,
                &serde_json::json!({
                    "error": format!("no route {m} {p}"),
                    "routes": [format!("POST {VALIDATION_SERVICE} (Kela's validation service contract)")],
                }),
            ),
            codes: vec![],
            summary: format!("no route {m} {p}"),
            detail: serde_json::Value::Null,
        },
    };
    let status = outcome.response.status;
    let record = ExchangeRecord {
        message_id: None,
        at: OffsetDateTime::now_utc(),
        listener: "validation".to_owned(),
        peer: peer_addr,
        kind: ExchangeKind::Http,
        outcome: if status < 400 {
            "accepted".into()
        } else {
            "rejected".into()
        },
        codes: outcome.codes,
        summary: outcome.summary,
        detail: outcome.detail,
        cert_subject: None,
        cert_sha256: None,
        org_oid: None,
        method: Some(method),
        path: Some(path),
        status: Some(status),
        request: request_body.map(|b: Bytes| b.to_vec()),
        response: Some(outcome.response.body.to_vec()),
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    };
    state.record(record).await;
    Ok(outcome.response.into_hyper())
}

async fn strict(
    state: &State,
    peer: &Peer,
    req: Request<Incoming>,
    request_body: &mut Option<Bytes>,
) -> Outcome {
    let access = check_organisation(peer, &state.material.register, &looked_in(state));
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/health") => match access {
            Ok(org) => Outcome {
                response: json(
                    200,
                    &serde_json::json!({
                        "status": "ok",
                        "organisation": { "oid": org.oid, "name": org.name },
                        "tls_version": peer.tls_version,
                        "alpn": peer.alpn,
                    }),
                ),
                codes: vec![],
                summary: format!("health check by {}", org.oid),
                detail: serde_json::Value::Null,
            },
            Err(problem) => access_refused_json(&problem),
        },
        ("POST", "/archive") => archive(state, peer, access, req, request_body).await,
        ("POST", VALIDATION_SERVICE) => match access {
            Ok(_) => validation_service(state, req, request_body).await,
            Err(problem) => access_refused_json(&problem),
        },
        (m, p) => Outcome {
            response: json(
                404,
                &serde_json::json!({
                    "error": format!("no route {m} {p}"),
                    "routes": ["POST /archive (SOAP 1.1 or 1.2 carrying HL7 V3)", format!("POST {VALIDATION_SERVICE} (Kela's validation service contract)"), "GET /health".to_owned()],
                }),
            ),
            codes: vec![],
            summary: format!("no route {m} {p}"),
            detail: serde_json::Value::Null,
        },
    }
}

fn access_refused_json(problem: &AccessProblem) -> Outcome {
    Outcome {
        response: json(
            403,
            &serde_json::json!({ "code": problem.code(), "error": problem.to_string(), "detail": problem }),
        ),
        codes: vec![problem.code().to_owned()],
        summary: problem.to_string(),
        detail: serde_json::json!({ "access": problem }),
    }
}

fn fault_outcome(fault: Fault) -> Outcome {
    let codes = fault.findings.iter().map(|f| f.code.clone()).collect();
    Outcome {
        response: respond(
            fault.http_status(),
            fault.version.content_type(),
            fault.to_xml(),
        ),
        codes,
        summary: fault.reason.clone(),
        detail: serde_json::json!({ "fault": fault }),
    }
}

async fn archive(
    state: &State,
    peer: &Peer,
    access: Result<&crate::identity::Organisation, AccessProblem>,
    req: Request<Incoming>,
    request_body: &mut Option<Bytes>,
) -> Outcome {
    let version = SoapVersion::from_content_type(
        req.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
    );
    if let Err(problem) = access {
        return fault_outcome(Fault::sender(
            version,
            vec![Finding::new(
                problem.code(),
                "TLS client certificate",
                problem.to_string(),
            )],
        ));
    }
    let limit = state.config.server.max_body_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => {
            let b = b.to_bytes();
            *request_body = Some(b.clone());
            b
        }
        Err(e) => {
            return fault_outcome(Fault::sender(
                version,
                vec![Finding::new(
                    "W-004",
                    "HTTP body",
                    format!(
                        "request body refused: {e} (limit {limit} bytes, server.max_body_bytes)"
                    ),
                )],
            ));
        }
    };
    let envelope = match summarise_envelope(&body) {
        Ok(e) => e,
        // A bare HL7 interaction (no SOAP) when the profile allows it [U].
        Err(finding) if finding.code == "W-002" && state.config.archive.accept_bare_hl7 => {
            crate::message::soap::EnvelopeSummary {
                version,
                interaction: None,
            }
        }
        Err(finding) => return fault_outcome(Fault::sender(version, vec![finding])),
    };
    let org = peer
        .organisation
        .as_ref()
        .map(|o| o.oid.clone())
        .unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    // Parsing, canonicalization and RSA are CPU work: off the async workers.
    let judged = {
        let body = body.clone();
        let org = org.clone();
        let shared = state.shared.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = shared.profile.context(Some(&shared.trust), Some(&org), now);
            process_message(&body, &ctx)
        })
        .await
    };
    let mut outcome = match judged {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "the archive pipeline panicked");
            return fault_outcome(Fault {
                version: envelope.version,
                code: crate::message::soap::FaultCode::Receiver,
                reason: "internal error while processing the message".into(),
                findings: vec![],
            });
        }
    };
    let result = match apply(state, &mut outcome, body, &org, now).await {
        Ok(r) => r,
        Err(reason) => {
            return fault_outcome(Fault {
                version: envelope.version,
                code: crate::message::soap::FaultCode::Receiver,
                reason,
                findings: vec![],
            });
        }
    };
    if let Some(UseCase::Query(kind)) = outcome.use_case
        && outcome.ack != AckCode::AR
    {
        return query_outcome(
            state,
            &outcome,
            kind,
            result.as_ref(),
            envelope.version,
            now,
        );
    }
    ack_outcome(state, &outcome, envelope.version, now)
}

/// Carries out what an accepted message asks of the store. A lifecycle refusal turns the
/// verdict into AE with its L findings; `Err` is an internal failure (answered with a
/// Receiver fault, nothing written).
async fn apply(
    state: &State,
    outcome: &mut MessageOutcome,
    body: Bytes,
    org: &str,
    now: OffsetDateTime,
) -> Result<Option<QueryResult>, String> {
    if outcome.ack != AckCode::AA {
        return Ok(None);
    }
    let Some(use_case) = outcome.use_case else {
        return Ok(None);
    };
    let (root, ext) = outcome.message_id.clone().unwrap_or_default();
    let ext = ext.unwrap_or_default();
    let sender = outcome.sender.clone().unwrap_or_default();
    let store = state.store.clone();
    let org = org.to_owned();
    let shared = state.shared.clone();
    let default_page = state.config.archive.default_page_size;
    let doc = outcome.document.clone();
    let inv = outcome.invalidation.clone();
    let query = outcome.query.clone();
    let done = tokio::task::spawn_blocking(move || -> Result<Option<QueryResult>, StoreError> {
        match use_case {
            UseCase::Archive | UseCase::NewVersion => {
                if let Some(doc) = doc {
                    store.archive(use_case, (&root, &ext), &sender, &body, &doc, now)?;
                }
                Ok(None)
            }
            UseCase::Invalidate => {
                let Some(inv) = inv else { return Ok(None) };
                let oid = inv.document_oid.map(|d| d.value).unwrap_or_default();
                store.invalidate(
                    &Invalidation {
                        document_oid: &oid,
                        reason: inv.reason.as_deref(),
                        actor: Actor::Organisation(&org),
                        // Checked when the message was read (L-023).
                        reason_required: false,
                        message: Some((&root, &ext, &sender, &body)),
                    },
                    now,
                )?;
                Ok(None)
            }
            UseCase::Query(kind) => {
                let Some(q) = query else { return Ok(None) };
                let scoped = q.scoped(
                    kind,
                    &org,
                    &shared.profile.register,
                    now.date(),
                    default_page,
                );
                execute(store.as_ref(), kind, &scoped).map(Some)
            }
        }
    })
    .await;
    let refuse = |outcome: &mut MessageOutcome, f: Finding| {
        outcome.ack = AckCode::AE;
        outcome.findings.push(f);
    };
    match done {
        Ok(Ok(r)) => {
            if let (Some(doc), Some(pool)) = (
                &outcome.document,
                crate::ledger::Pool::parse(&state.config.archive.identity_pool),
            ) {
                match state.ledger.warnings(&doc.client_id, &doc.producer, pool) {
                    Ok(w) => outcome.findings.extend(w),
                    Err(e) => tracing::warn!(error = %e, "identity ledger lookup failed"),
                }
            }
            Ok(r)
        }
        Ok(Err(StoreError::DuplicateMessage { root, extension })) => {
            refuse(
                outcome,
                Finding::new(
                    "W-016",
                    "/*/id",
                    format!("message id {root} / {extension} has been received before"),
                ),
            );
            Ok(None)
        }
        Ok(Err(StoreError::DuplicateDocument {
            document_oid,
            version,
        })) => {
            refuse(
                outcome,
                Finding::new(
                    "L-001",
                    "/ClinicalDocument/id",
                    format!(
                        "document {document_oid} version {version} is already archived; a new version needs its own id and versionNumber + 1"
                    ),
                ),
            );
            Ok(None)
        }
        Ok(Err(StoreError::Refused(findings))) => {
            outcome.ack = AckCode::AE;
            outcome.findings.extend(findings);
            outcome.findings.sort_by(|a, b| a.code.cmp(&b.code));
            Ok(None)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "archive store failed");
            Err(format!("the archive could not complete the request: {e}"))
        }
        Err(e) => {
            tracing::error!(error = %e, "archive store task failed");
            Err("internal error in the archive store".into())
        }
    }
}

fn query_outcome(
    state: &State,
    outcome: &MessageOutcome,
    kind: QueryKind,
    result: Option<&QueryResult>,
    version: SoapVersion,
    now: OffsetDateTime,
) -> Outcome {
    let query_id = outcome
        .query
        .as_ref()
        .and_then(|q| q.query_id.as_ref())
        .map(|(r, e)| (r.as_str(), e.as_deref()));
    let (stamp, response_id) = response_stamp(now);
    let xml = QueryResponse {
        ack: ack_of(
            state,
            outcome,
            version,
            &state.config.archive.interactions.query_response,
            (&stamp, &response_id),
        ),
        query_id,
        kind,
        result,
    }
    .to_xml();
    let total = match result {
        Some(QueryResult::Documents(p)) => Some(p.total),
        Some(QueryResult::Groups(p)) => Some(p.total),
        Some(QueryResult::Summary(s)) => Some(s.documents),
        None => None,
    };
    let found = match result {
        Some(QueryResult::Documents(p)) => format!("{} of {} documents", p.items.len(), p.total),
        Some(QueryResult::Groups(p)) => format!("{} of {}", p.items.len(), p.total),
        Some(QueryResult::Summary(s)) => format!("summary over {} documents", s.documents),
        None => "nothing".into(),
    };
    let summary = format!(
        "{}: {} ({}) {}",
        outcome.ack.as_str(),
        kind.finnish(),
        kind.as_str(),
        if outcome.ack == AckCode::AA {
            found
        } else {
            Finding::one_line(&outcome.findings)
        }
    );
    let mut response = respond(200, version.content_type(), xml);
    response.ack = Some(outcome.ack.as_str());
    Outcome {
        response,
        codes: outcome.findings.iter().map(|f| f.code.clone()).collect(),
        summary,
        detail: serde_json::json!({
            "ack": outcome.ack,
            "use_case": outcome.use_case,
            "findings": outcome.findings,
            "message_id": outcome.message_id,
            "query": outcome.query,
            "total": total,
        }),
    }
}

/// The creation time and id of an answer made at `now`.
fn response_stamp(now: OffsetDateTime) -> (String, String) {
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day][hour][minute][second]+0000"
        ))
        .unwrap_or_default();
    (stamp, now.unix_timestamp_nanos().to_string())
}

/// The acknowledgement answering `outcome` (alone, or inside a query response).
fn ack_of<'a>(
    state: &'a State,
    outcome: &'a MessageOutcome,
    version: SoapVersion,
    interaction: &'a str,
    (stamp, id): (&'a str, &'a str),
) -> Ack<'a> {
    Ack {
        soap: version,
        interaction,
        id: (&state.config.archive.receiver_device, id),
        creation_time: stamp,
        archive_device: &state.config.archive.receiver_device,
        requester_device: outcome.sender.as_deref(),
        target: outcome
            .message_id
            .as_ref()
            .map(|(r, e)| (r.as_str(), e.as_deref())),
        code: outcome.ack,
        findings: &outcome.findings,
    }
}

/// Kela's validation service path.
const VALIDATION_SERVICE: &str = "/shark-validointi/validoi/asiakirja/tulos";

/// The validation-service clone: an empty 200 when valid, otherwise 400 with a JSON
/// `description` of numbered findings (and, beyond Kela's contract, the findings themselves).
async fn validation_service(
    state: &State,
    req: Request<Incoming>,
    request_body: &mut Option<Bytes>,
) -> Outcome {
    let limit = state.config.server.max_body_bytes;
    let refuse = |code: &str, message: String| {
        let f = vec![Finding::new(code, "request body", message)];
        Outcome {
            response: json(
                400,
                &serde_json::json!({ "description": crate::validate::kela_description(&f), "findings": f }),
            ),
            codes: vec![code.to_owned()],
            summary: f[0].message.clone(),
            detail: serde_json::json!({ "findings": f }),
        }
    };
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => {
            let b = b.to_bytes();
            *request_body = Some(b.clone());
            b
        }
        Err(e) => {
            return refuse(
                "W-004",
                format!("request body refused: {e} (limit {limit} bytes)"),
            );
        }
    };
    let request: crate::validate::ValidationServiceRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                "W-005",
                format!(
                    "expected {{messageId, palveluPyynto, level, siirtokehysXml, asiakirjaXml}}: {e}"
                ),
            );
        }
    };
    let shared = state.shared.clone();
    let now = OffsetDateTime::now_utc();
    let findings = tokio::task::spawn_blocking(move || {
        let ctx = shared.profile.context(Some(&shared.trust), None, now);
        crate::validate::validate_pair(&request, &ctx)
    })
    .await
    .unwrap_or_else(|_| {
        vec![Finding::new(
            "W-001",
            "request",
            "internal error while validating",
        )]
    });
    let codes: Vec<String> = findings.iter().map(|f| f.code.clone()).collect();
    if findings.iter().any(Finding::is_error) {
        let description = crate::validate::kela_description(&findings);
        Outcome {
            response: json(
                400,
                &serde_json::json!({ "description": description, "findings": findings }),
            ),
            codes,
            summary: description.clone(),
            detail: serde_json::json!({ "findings": findings }),
        }
    } else {
        Outcome {
            response: respond(200, "application/json", Bytes::new()),
            codes,
            summary: "validation service: valid".into(),
            detail: serde_json::json!({ "findings": findings }),
        }
    }
}

fn ack_outcome(
    state: &State,
    outcome: &MessageOutcome,
    version: SoapVersion,
    now: OffsetDateTime,
) -> Outcome {
    let (stamp, ack_id) = response_stamp(now);
    let xml = ack_of(
        state,
        outcome,
        version,
        &state.config.archive.ack_interaction,
        (&stamp, &ack_id),
    )
    .to_xml();
    let codes = outcome.findings.iter().map(|f| f.code.clone()).collect();
    let invalidated = outcome
        .invalidation
        .as_ref()
        .and_then(|i| i.document_oid.as_ref())
        .map(|d| d.value.as_str());
    let summary = match (&outcome.document, invalidated, outcome.ack) {
        (Some(d), _, AckCode::AA) if d.version > 1 => format!(
            "AA: archived {} as version {} of {}, replacing {}",
            d.document_oid,
            d.version,
            d.set_id,
            d.replaces
                .as_ref()
                .and_then(|r| r.document_oid.as_deref())
                .unwrap_or("?")
        ),
        (Some(d), _, AckCode::AA) => {
            format!("AA: archived {} version {}", d.document_oid, d.version)
        }
        (None, Some(oid), AckCode::AA) => format!("AA: invalidated {oid}"),
        _ => format!(
            "{}: {}",
            outcome.ack.as_str(),
            Finding::one_line(&outcome.findings)
        ),
    };
    // HL7-level outcomes travel as HTTP 200 (interface.md §1.8); the verdict is in the ack.
    let mut response = respond(200, version.content_type(), xml);
    response.ack = Some(outcome.ack.as_str());
    Outcome {
        response,
        codes,
        summary,
        detail: serde_json::json!({
            "ack": outcome.ack,
            "use_case": outcome.use_case,
            "findings": outcome.findings,
            "message_id": outcome.message_id,
            "document": outcome.document.as_ref().map(|d| serde_json::json!({
                "oid": d.document_oid,
                "set_id": d.set_id,
                "version": d.version,
                "client_id": d.client_id,
                "document_group": d.document_group,
                "register_owner": d.register_owner,
            })),
            "invalidated": invalidated,
        }),
    }
}

fn diagnose(state: &State, peer: &Peer, verdict: &CertVerdict, req: &Request<Incoming>) -> Outcome {
    let mut findings: Vec<(String, String)> = verdict
        .problems
        .iter()
        .map(|p| (p.code().to_owned(), p.to_string()))
        .collect();
    let mut refused = verdict.refused();
    if peer.cert.is_none() {
        findings.push((
            "T-001".into(),
            crate::pki::CertProblem::NoCertificate.to_string(),
        ));
        refused = true;
    } else if let Err(p) = check_organisation(peer, &state.material.register, &looked_in(state)) {
        findings.push((p.code().to_owned(), p.to_string()));
        refused = true;
    }
    let accepted = !refused;
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
        || req.uri().query().is_some_and(|q| q.contains("format=json"));
    let codes: Vec<String> = findings.iter().map(|(c, _)| c.clone()).collect();
    let detail = serde_json::json!({
        "listener": "diagnostic",
        "strict_listener_would_accept": accepted,
        "certificate": peer.cert,
        "organisation": peer.organisation,
        "tls_version": peer.tls_version,
        "findings": findings.iter().map(|(c, m)| serde_json::json!({"code": c, "message": m})).collect::<Vec<_>>(),
    });
    let response = if wants_json {
        json(200, &detail)
    } else {
        let mut s = String::new();
        let _ = writeln!(s, "kanta-sim diagnostic listener ({})", peer.tls_version);
        match &peer.cert {
            Some(c) => {
                let _ = writeln!(s, "\nYour certificate:\n{}", c.describe());
            }
            None => {
                let _ = writeln!(s, "\nYou presented no client certificate.");
            }
        }
        if let Some(o) = &peer.organisation {
            let _ = writeln!(s, "Organisation OID: {} (from {})", o.oid, o.source);
        }
        if accepted {
            let _ = writeln!(
                s,
                "\nVERDICT: the strict archive listener would ACCEPT this certificate."
            );
        } else {
            let _ = writeln!(
                s,
                "\nVERDICT: the strict archive listener would REFUSE this certificate:"
            );
        }
        for (code, msg) in &findings {
            let _ = writeln!(s, "  {code}  {msg}");
        }
        respond(200, "text/plain; charset=utf-8", s)
    };
    Outcome {
        response,
        codes,
        summary: if accepted {
            "diagnosis: acceptable".into()
        } else {
            "diagnosis: would be refused".into()
        },
        detail,
    }
}
