//! HTTP routes. Every outcome is a response (no dropped connections), and every request is
//! written to the exchange log with the rule codes of its findings: an archived request in
//! the archive's own transaction, anything else with its body truncated
//! (`log.refused_body_bytes`).

use crate::finding::RuleId;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use time::OffsetDateTime;

use super::State;
use super::admission::BodyError;
use super::http::{AnyBody, Dropped, Reply};
use crate::archive::StoreError;
use crate::archive::{Coming, Invalidation};
use crate::archive::{DocumentQuery, execute};
use crate::archive::{ExchangeKind, ExchangeRecord};
use crate::faults::{FaultKind, Injected, Stage, UseCaseName};
use crate::finding::Finding;
use crate::message::ack::{Ack, AckCode};
use crate::message::query::{QueryResponse, QueryResult};
use crate::message::soap::{Envelope, Fault, FaultCode, SoapVersion};
use crate::message::usecase::{QueryKind, UseCase};
use crate::pipeline::{MessageOutcome, process_message};
use crate::rules::access::{AccessProblem, check_organisation};
use crate::rules::lifecycle::Actor;
use crate::tls::{CertVerdict, ListenerMode, Peer};
use http_body_util::Either;
use std::time::Duration;

struct Outcome {
    response: Reply,
    codes: Vec<RuleId>,
    summary: String,
    detail: serde_json::Value,
    /// The exchange row, when it was already written (in the archive's transaction).
    logged: Option<i64>,
    /// The request's HL7 message id (root, extension), linking the exchange row to the
    /// document history.
    message_id: Option<(String, String)>,
    /// The fault the plan injected into this exchange.
    injected: Option<Injected>,
}

impl Outcome {
    fn new(
        response: Reply,
        codes: Vec<RuleId>,
        summary: String,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            response,
            codes,
            summary,
            detail,
            logged: None,
            message_id: None,
            injected: None,
        }
    }

    /// The same, marked as carrying an injected fault.
    fn injected(mut self, injected: Option<&Injected>) -> Self {
        self.injected = injected.cloned();
        self
    }

    /// The same, linked to the request's HL7 message id.
    fn for_message(mut self, outcome: &MessageOutcome) -> Self {
        self.message_id = outcome
            .message_id
            .as_ref()
            .map(|(root, ext)| (root.clone(), ext.clone().unwrap_or_default()));
        self
    }
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

/// How far a request got, for the row of one whose client went away first (hyper drops the
/// handler then, at whatever it was waiting for).
#[derive(Debug, Default)]
struct Progress {
    /// Its row is written, or handed to the store with its write.
    accounted: bool,
    /// What it was waiting for.
    stage: &'static str,
    /// The body, once read in full.
    body: Option<Bytes>,
    /// The HL7 message id, once judged.
    message_id: Option<(String, String)>,
    /// The fault the plan injected into it, if any: as described, and its plan entry.
    injected: Option<(String, serde_json::Value)>,
}

/// Who asked what, for the exchange record.
struct RequestMeta {
    started: std::time::Instant,
    progress: std::sync::Mutex<Progress>,
    listener: &'static str,
    peer: String,
    method: String,
    path: String,
    cert_subject: Option<String>,
    cert_sha256: Option<String>,
    org_oid: Option<String>,
}

impl RequestMeta {
    fn of(
        req: &Request<Incoming>,
        listener: &'static str,
        peer: Option<&Peer>,
        addr: String,
    ) -> Self {
        Self {
            started: std::time::Instant::now(),
            progress: std::sync::Mutex::new(Progress {
                stage: "reading the request",
                ..Progress::default()
            }),
            listener,
            peer: addr,
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            cert_subject: peer.and_then(|p| p.cert.as_ref().map(|c| c.subject.clone())),
            cert_sha256: peer.and_then(|p| p.cert.as_ref().map(|c| c.sha256.clone())),
            org_oid: peer.and_then(|p| p.organisation.as_ref().map(|o| o.oid.clone())),
        }
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        // Plain fields: a panic while holding the lock leaves them consistent.
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes what the request now waits for.
    fn at(&self, stage: &'static str) {
        self.progress().stage = stage;
    }

    /// Notes that the request's row is written, or handed to the store with its write: a
    /// client going away from now on leaves nothing to record.
    fn accounted(&self) {
        self.progress().accounted = true;
    }

    /// The row of a request whose client closed the connection before the answer, or
    /// `None` when its row is accounted for.
    fn abandoned(&self) -> Option<ExchangeRecord> {
        let p = self.progress();
        if p.accounted {
            return None;
        }
        let after = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut summary = format!(
            "the client closed the connection after {after} ms, before the answer, while the archive was {}; nothing was stored for it",
            p.stage
        );
        let mut detail =
            serde_json::json!({ "abandoned": { "after_ms": after, "stage": p.stage } });
        let mut codes = Vec::new();
        if let Some((described, entry)) = &p.injected {
            codes.push(RuleId::F001);
            detail["injected"] = entry.clone();
            summary = format!("{described}; {summary}");
        }
        Some(ExchangeRecord {
            message_id: p.message_id.clone(),
            outcome: "abandoned".into(),
            codes,
            summary,
            detail,
            request: p.body.clone(),
            duration_ms: Some(after),
            ..self.exchange()
        })
    }

    /// An HTTP exchange of this request, now: who asked what (the rest for the caller).
    fn exchange(&self) -> ExchangeRecord {
        ExchangeRecord {
            message_id: None,
            at: OffsetDateTime::now_utc(),
            listener: self.listener.to_owned(),
            peer: self.peer.clone(),
            kind: ExchangeKind::Http,
            outcome: String::new(),
            codes: Vec::new(),
            summary: String::new(),
            detail: serde_json::Value::Null,
            cert_subject: self.cert_subject.clone(),
            cert_sha256: self.cert_sha256.clone(),
            org_oid: self.org_oid.clone(),
            method: Some(self.method.clone()),
            path: Some(self.path.clone()),
            status: None,
            request: None,
            response: None,
            duration_ms: None,
        }
    }

    /// The exchange record of `outcome`, with the request body as received.
    fn record(&self, outcome: &Outcome, request: Option<&Bytes>) -> ExchangeRecord {
        let status = outcome.response.status;
        // An injected fault is marked on its row: F-001 among the codes, the plan entry in
        // the detail.
        let mut codes = outcome.codes.clone();
        let mut detail = outcome.detail.clone();
        let mut summary = outcome.summary.clone();
        if let Some(inj) = &outcome.injected {
            if !codes.contains(&RuleId::F001) {
                codes.insert(0, RuleId::F001);
            }
            match &mut detail {
                serde_json::Value::Object(m) => {
                    m.insert("injected".into(), inj.to_json());
                }
                other => {
                    *other =
                        serde_json::json!({ "injected": inj.to_json(), "detail": other.take() });
                }
            }
            summary = format!("{}; {summary}", inj.describe());
        }
        // The HL7 message id links the exchange to the document history (acknowledgements
        // and query responses put it in their detail).
        ExchangeRecord {
            message_id: outcome.message_id.clone(),
            outcome: if status < 400 {
                "accepted".into()
            } else {
                "rejected".into()
            },
            codes,
            summary,
            detail,
            status: Some(status),
            request: request.cloned(),
            response: Some(outcome.response.body.clone()),
            duration_ms: Some(
                u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ),
            ..self.exchange()
        }
    }
}

/// Writes the row of a request whose handler hyper dropped because the client closed the
/// connection first (unless its row is accounted for): a supplier whose client timed out
/// (against a delay the fault plan injected, say) finds the request in the exchange log,
/// with how far it got.
struct Abandoned {
    state: Arc<State>,
    meta: Arc<RequestMeta>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some(record) = self.meta.abandoned() else {
            return;
        };
        tracing::info!(peer = %self.meta.peer, method = %self.meta.method, path = %self.meta.path, "{}", record.summary);
        // Dropped by hyper on a runtime worker; without a runtime (shutting down) there is
        // nobody left to write the row.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let state = self.state.clone();
            rt.spawn(async move {
                state.record(record).await;
            });
        }
    }
}

/// Logs (unless already logged) and answers.
async fn finish(
    state: &State,
    meta: &RequestMeta,
    outcome: Outcome,
    request: Option<Bytes>,
) -> Result<Response<AnyBody>, Dropped> {
    // From here the row is written (or was, by the store); a client leaving now is seen
    // in it as a failed answer, not as an abandoned request.
    meta.accounted();
    let status = outcome.response.status;
    if !outcome.codes.is_empty() {
        tracing::info!(peer = %meta.peer, method = %meta.method, path = %meta.path, status, codes = %RuleId::join(&outcome.codes), "{}", outcome.summary);
    }
    let watched = state.events.receiver_count() > 0;
    // A polling monitor's health checks are counted onto one row per window.
    let health = (meta.path == "/health"
        && status == 200
        && !watched
        && state.config.log.health_window_secs > 0)
        .then(|| {
            let ip = meta.peer.parse::<std::net::SocketAddr>().ok()?.ip();
            Some((ip, meta.org_oid.clone().unwrap_or_default()))
        })
        .flatten();
    match (outcome.logged, &health) {
        (Some(id), _) => {
            if watched {
                state.broadcast(id, meta.record(&outcome, request.as_ref()));
            }
        }
        (None, Some((ip, org))) => {
            if state.health.seen(*ip, org) == super::repeats::Decision::Log
                && let Some(id) = state.record(meta.record(&outcome, request.as_ref())).await
            {
                state.health.logged(*ip, org, id);
            }
        }
        (None, None) => {
            state.record(meta.record(&outcome, request.as_ref())).await;
        }
    }
    match outcome
        .injected
        .as_ref()
        .map(|i| (i.entry.kind, i.entry.delay_ms))
    {
        Some((FaultKind::DropAck, _)) => Err(Dropped),
        Some((FaultKind::SlowDrip, ms)) => {
            // Ten pieces over the entry's time: the client sees the first byte a tenth in.
            const PIECES: u32 = 10;
            Ok(outcome
                .response
                .into_dripping(PIECES as usize, Duration::from_millis(ms) / PIECES)
                .map(Either::Right))
        }
        _ => Ok(outcome.response.into_hyper().map(Either::Left)),
    }
}

/// Entry point for one request on a TLS listener.
pub(super) async fn handle(
    state: Arc<State>,
    mode: ListenerMode,
    peer: Arc<Peer>,
    verdict: Arc<CertVerdict>,
    req: Request<Incoming>,
) -> Result<Response<AnyBody>, Dropped> {
    let meta = Arc::new(RequestMeta::of(
        &req,
        mode.as_str(),
        Some(&peer),
        peer.addr.clone(),
    ));
    let _abandoned = Abandoned {
        state: state.clone(),
        meta: meta.clone(),
    };
    let (outcome, body) = match mode {
        ListenerMode::Diagnostic => (diagnose(&state, &peer, &verdict, &req), None),
        ListenerMode::Strict => strict(&state, &meta, &peer, req).await,
    };
    finish(&state, &meta, outcome, body).await
}

/// Entry point for one request on the plain-HTTP validation listener: Kela's validation
/// service contract and nothing else (no client certificate, so no archive).
pub(super) async fn handle_validation(
    state: Arc<State>,
    peer_addr: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let meta = RequestMeta::of(&req, "validation", None, peer_addr);
    let (outcome, body) = match (req.method().as_str(), req.uri().path()) {
        ("POST", VALIDATION_SERVICE) => validation_service(&state, req).await,
        (m, p) => (
            Outcome::new(
                Reply::json(
                    404,
                    &serde_json::json!({
                        "error": format!("no route {m} {p}"),
                        "routes": [format!("POST {VALIDATION_SERVICE} (Kela's validation service contract)")],
                    }),
                ),
                vec![],
                format!("no route {m} {p}"),
                serde_json::Value::Null,
            ),
            None,
        ),
    };
    Ok(whole(finish(&state, &meta, outcome, body).await))
}

/// A plain listener's answer. Faults are injected into archive requests only, so its
/// outcomes never carry one; were one to, the answer would still be whole.
fn whole(answer: Result<Response<AnyBody>, Dropped>) -> Response<Full<Bytes>> {
    match answer {
        Ok(r) => r.map(|b| match b {
            Either::Left(full) => full,
            Either::Right(_) => Full::new(Bytes::new()),
        }),
        Err(Dropped) => Reply::plain(500, "").into_hyper(),
    }
}

async fn strict(
    state: &State,
    meta: &RequestMeta,
    peer: &Peer,
    req: Request<Incoming>,
) -> (Outcome, Option<Bytes>) {
    let access = check_organisation(peer.claimant(), &state.material.register, &looked_in(state));
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/health") => (
            match access {
                Ok(org) => Outcome::new(
                    Reply::json(
                        200,
                        &serde_json::json!({
                            "status": "ok",
                            "organisation": { "oid": org.oid, "name": org.name },
                            "tls_version": peer.tls_version,
                            "alpn": peer.alpn,
                        }),
                    ),
                    vec![],
                    format!("health check by {}", org.oid),
                    serde_json::Value::Null,
                ),
                Err(problem) => access_refused_json(&problem),
            },
            None,
        ),
        ("POST", "/archive") => archive(state, meta, access, req).await,
        ("POST", VALIDATION_SERVICE) => match access {
            Ok(_) => validation_service(state, req).await,
            Err(problem) => (access_refused_json(&problem), None),
        },
        (m, p) => (
            Outcome::new(
                Reply::json(
                    404,
                    &serde_json::json!({
                        "error": format!("no route {m} {p}"),
                        "routes": ["POST /archive (SOAP 1.1 or 1.2 carrying HL7 V3)", format!("POST {VALIDATION_SERVICE} (Kela's validation service contract)"), "GET /health".to_owned()],
                    }),
                ),
                vec![],
                format!("no route {m} {p}"),
                serde_json::Value::Null,
            ),
            None,
        ),
    }
}

fn access_refused_json(problem: &AccessProblem) -> Outcome {
    Outcome::new(
        Reply::json(
            403,
            &serde_json::json!({ "code": problem.code(), "error": problem.to_string(), "detail": problem }),
        ),
        vec![problem.code()],
        problem.to_string(),
        serde_json::json!({ "access": problem }),
    )
}

fn fault_outcome(fault: Fault) -> Outcome {
    let codes = fault.findings.iter().map(|f| f.code).collect();
    Outcome::new(
        Reply::new(
            fault.http_status(),
            fault.version.content_type(),
            fault.to_xml(),
        ),
        codes,
        fault.reason.clone(),
        serde_json::json!({ "fault": fault }),
    )
}

/// A 503 fault with `Retry-After` (W-009): the archive is at its budget.
fn busy_outcome(state: &State, version: SoapVersion, why: String) -> Outcome {
    busy_for(version, why, state.admission.retry_after_secs)
}

fn busy_for(version: SoapVersion, why: String, retry_after_secs: u64) -> Outcome {
    let mut o = fault_outcome(Fault::receiver(
        version,
        vec![Finding::new(RuleId::W009, "HTTP request", why)],
    ));
    o.response.status = 503;
    o.response
        .set_header("retry-after", retry_after_secs.to_string());
    o
}

fn body_refused(state: &State, version: SoapVersion, e: &BodyError) -> Outcome {
    let (code, message) = e.finding();
    if code == RuleId::W009 {
        return busy_outcome(state, version, message);
    }
    fault_outcome(Fault::sender(
        version,
        vec![Finding::new(code, "HTTP body", message)],
    ))
}

async fn archive(
    state: &State,
    meta: &RequestMeta,
    access: Result<&crate::identity::Organisation, AccessProblem>,
    req: Request<Incoming>,
) -> (Outcome, Option<Bytes>) {
    let version = SoapVersion::from_content_type(
        req.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
    );
    if let Err(problem) = access {
        return (
            fault_outcome(Fault::sender(
                version,
                vec![Finding::new(
                    problem.code(),
                    "TLS client certificate",
                    problem.to_string(),
                )],
            )),
            None,
        );
    }
    meta.at("waiting for a processing slot (server.max_concurrent_requests)");
    let Some(slot) = state.admission.slot().await else {
        return (
            busy_outcome(
                state,
                version,
                format!(
                    "the archive is processing as many requests as it may ({}; server.max_concurrent_requests); retry later",
                    state.config.server.concurrent_requests()
                ),
            ),
            None,
        );
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    meta.at("reading the request body");
    let (body, mut held) = match state
        .admission
        .read_body(slot, declared, req.into_body())
        .await
    {
        Ok(b) => b,
        Err(e) => return (body_refused(state, version, &e), None),
    };
    {
        let mut p = meta.progress();
        p.body = Some(body.clone());
        p.stage = "waiting for working memory (server.request_memory_bytes)";
    }
    if let Err(e) = state.admission.for_work(&mut held, body.len()).await {
        return (body_refused(state, version, &e), Some(body));
    }
    let org = state_org(meta);
    let now = OffsetDateTime::now_utc();
    meta.at("judging the message");
    // Until its document is handed over (or it turns out there is none), the store may
    // wait a little for it before committing others (data.commit_gather_us).
    let coming = state.store.coming();
    // Parsing (once: limits first, then the DOM), canonicalization and RSA are CPU work,
    // linear in the message's size: a large message's goes to the blocking pool, so that no
    // async worker is held long.
    let judged = {
        let body = body.clone();
        let org = org.clone();
        let shared = state.shared.clone();
        let inline = body.len() <= state.config.server.inline_judging_bytes;
        let judge = move || {
            let ctx = shared.profile.context(Some(&shared.trust), Some(&org), now);
            process_message(&body, &ctx)
        };
        // A small message costs less to judge here than to hand to the pool and back
        // (server.inline_judging_bytes).
        if inline {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge)).map_err(|_| "panicked")
        } else {
            tokio::task::spawn_blocking(judge)
                .await
                .map_err(|_| "panicked or was cancelled")
        }
    };
    let outcome = match judged {
        Ok(Ok(o)) => o,
        Ok(Err(refusal)) => {
            return (
                fault_outcome(Fault::sender(
                    refusal.version.unwrap_or(version),
                    vec![refusal.finding],
                )),
                Some(body),
            );
        }
        Err(e) => {
            tracing::error!(error = e, "the archive pipeline failed");
            return (
                fault_outcome(Fault {
                    version,
                    code: FaultCode::Receiver,
                    reason: "internal error while processing the message".into(),
                    findings: vec![],
                }),
                Some(body),
            );
        }
    };
    // Only waiting is left (the commit, a planned delay, the answer's sending): the slot
    // and the working memory go back, the body and the document stay accounted for.
    held.judged(body.len().saturating_mul(2));
    // The answer goes out in the request's SOAP version; a bare interaction's by its
    // Content-Type.
    let version = match outcome.envelope {
        Envelope::Soap(v) => v,
        Envelope::Bare => version,
    };
    if outcome.findings.iter().any(|f| f.code == RuleId::W007) {
        return (
            fault_outcome(Fault::receiver(version, outcome.findings)),
            Some(body),
        );
    }
    // The fault plan, now that organisation and use case are known.
    let injected = state.faults.pick(
        Stage::Request,
        Some(&org),
        outcome.use_case.map(use_case_name),
    );
    let mut outcome = outcome;
    {
        let mut p = meta.progress();
        p.message_id = outcome
            .message_id
            .clone()
            .map(|(root, ext)| (root, ext.unwrap_or_default()));
        p.injected = injected.as_ref().map(|i| (i.describe(), i.to_json()));
        p.stage = "answering";
    }
    if let Some(inj) = &injected {
        tracing::warn!(peer = %meta.peer, org = %org, "{}", inj.describe());
        let marked = |o: Outcome| (o.injected(injected.as_ref()), Some(body.clone()));
        match inj.entry.kind {
            FaultKind::Busy => {
                return marked(busy_for(
                    version,
                    format!(
                        "the archive is unavailable; retry later ({})",
                        inj.describe()
                    ),
                    u64::from(inj.entry.retry_after_secs),
                ));
            }
            FaultKind::SoapFault => {
                return marked(fault_outcome(Fault::receiver(
                    version,
                    vec![Finding::new(RuleId::F001, "archive", inj.describe())],
                )));
            }
            FaultKind::Ae => {
                outcome.ack = AckCode::AE;
                outcome.document = None;
                outcome.invalidation = None;
                outcome.query = None;
                if let Some(rule) = inj.entry.rule {
                    outcome.findings.push(Finding::new(
                        rule,
                        "(injected by the fault plan)",
                        inj.describe(),
                    ));
                }
                return marked(ack_outcome(state, &outcome, version, now));
            }
            FaultKind::Delay => {
                meta.at("holding the answer back, as the fault plan says");
                tokio::time::sleep(Duration::from_millis(inj.entry.delay_ms)).await;
            }
            // Answered as usual, then dropped or dripped by `finish`.
            _ => {}
        }
    }
    let inj = injected.as_ref();
    let how = Answering {
        version,
        now,
        injected: inj,
    };
    let done = match (outcome.ack, outcome.use_case) {
        (AckCode::AA, Some(u @ (UseCase::Archive | UseCase::NewVersion))) => {
            archive_document(state, meta, outcome, u, &body, how, coming).await
        }
        (AckCode::AA, Some(UseCase::Invalidate)) => {
            drop(coming);
            invalidate_document(state, meta, outcome, &body, &org, how).await
        }
        (ack, Some(UseCase::Query(kind))) if ack != AckCode::AR => {
            drop(coming);
            run_query(state, outcome, kind, &org, version, now).await
        }
        _ => Ok(ack_outcome(state, &outcome, version, now)),
    };
    match done {
        Ok(o) => (o.injected(inj), Some(body)),
        Err(reason) => (
            fault_outcome(Fault {
                version,
                code: FaultCode::Receiver,
                reason,
                findings: vec![],
            }),
            Some(body),
        ),
    }
}

/// How an accepted message is answered: in its SOAP version, stamped `now`, marked with
/// the fault the plan injected (if any).
#[derive(Clone, Copy)]
struct Answering<'a> {
    version: SoapVersion,
    now: OffsetDateTime,
    injected: Option<&'a Injected>,
}

/// The fault plan's name of a use case.
fn use_case_name(u: UseCase) -> UseCaseName {
    match u {
        UseCase::Archive => UseCaseName::Archive,
        UseCase::NewVersion => UseCaseName::NewVersion,
        UseCase::Invalidate => UseCaseName::Invalidate,
        UseCase::Query(_) => UseCaseName::Query,
    }
}

fn state_org(meta: &RequestMeta) -> String {
    meta.org_oid.clone().unwrap_or_default()
}

/// A store refusal as AE findings; `Err` is an internal failure (a Receiver fault, nothing
/// written).
fn refusal(outcome: &mut MessageOutcome, e: StoreError) -> Result<(), String> {
    let f = match e {
        StoreError::DuplicateMessage { root, extension } => Finding::new(
            RuleId::W016,
            "/*/id",
            format!("message id {root} / {extension} has been received before"),
        ),
        StoreError::DuplicateDocument {
            document_oid,
            version,
        } => Finding::new(
            RuleId::L001,
            "/ClinicalDocument/id",
            format!(
                "document {document_oid} version {version} is already archived; a new version needs its own id and versionNumber + 1"
            ),
        ),
        StoreError::Refused(findings) => {
            outcome.ack = AckCode::AE;
            outcome.findings.extend(findings);
            outcome.findings.sort_by_key(|a| a.code);
            return Ok(());
        }
        e => {
            tracing::error!(error = %e, "archive store failed");
            return Err(format!("the archive could not complete the request: {e}"));
        }
    };
    outcome.ack = AckCode::AE;
    outcome.findings.push(f);
    Ok(())
}

/// Archives an accepted document: the AA acknowledgement is written first, then the
/// document, its message and the exchange (with that acknowledgement) in one transaction,
/// so an AA is never sent for a document that is not durable, and an archived document
/// never lacks its exchange row. A lifecycle refusal turns the answer into AE.
async fn archive_document(
    state: &State,
    meta: &RequestMeta,
    mut outcome: MessageOutcome,
    use_case: UseCase,
    body: &Bytes,
    how: Answering<'_>,
    coming: Coming,
) -> Result<Outcome, String> {
    let Answering {
        version,
        now,
        injected,
    } = how;
    // Borrowed, not cloned: the document holds the whole CDA.
    let Some(doc) = outcome.document.as_ref() else {
        return Ok(ack_outcome(state, &outcome, version, now));
    };
    // The identity ledger's warnings (P-005/P-006) travel in the AA itself.
    match state.ledger.warnings(
        &doc.client_id,
        &doc.producer,
        state.config.archive.identity_pool,
        crate::ledger::LedgerPolicy {
            org_check: state.config.archive.ledger_org_check,
            pool_check: state.config.archive.ledger_pool_check,
        },
    ) {
        Ok(w) => outcome.findings.extend(w),
        Err(e) => tracing::warn!(error = %e, "identity ledger lookup failed"),
    }
    // Marked before the row is written, in the archive's own transaction.
    let mut answer = ack_outcome(state, &outcome, version, now).injected(injected);
    let record = meta.record(&answer, Some(body));
    let (root, ext) = outcome.message_id.clone().unwrap_or_default();
    let ext = ext.unwrap_or_default();
    let sender = outcome.sender.clone().unwrap_or_default();
    // The store writes the row with the document, whether or not the client waits for it.
    meta.accounted();
    // Hashing the CDA and handing the write over are quick; the commit is awaited without
    // holding a thread. Given up just after the hand-over: the writer, asleep while writes
    // are on their way, is woken when the last one goes and must find this one sent.
    let pending = state.store.archive_later(
        use_case,
        (&root, &ext),
        &sender,
        body.clone(),
        doc,
        now,
        Some(record),
    );
    drop(coming);
    let stored = pending.done().await;
    match stored {
        Ok(id) => {
            answer.logged = id;
            Ok(answer)
        }
        Err(e) => {
            outcome.document = None;
            refusal(&mut outcome, e)?;
            Ok(ack_outcome(state, &outcome, version, now))
        }
    }
}

/// Invalidates as an accepted message asks, in one transaction with its exchange row.
async fn invalidate_document(
    state: &State,
    meta: &RequestMeta,
    mut outcome: MessageOutcome,
    body: &Bytes,
    org: &str,
    how: Answering<'_>,
) -> Result<Outcome, String> {
    let Answering {
        version,
        now,
        injected,
    } = how;
    let Some(inv) = outcome.invalidation.clone() else {
        return Ok(ack_outcome(state, &outcome, version, now));
    };
    let mut answer = ack_outcome(state, &outcome, version, now).injected(injected);
    let record = meta.record(&answer, Some(body));
    let (root, ext) = outcome.message_id.clone().unwrap_or_default();
    let ext = ext.unwrap_or_default();
    let sender = outcome.sender.clone().unwrap_or_default();
    let store = state.store.clone();
    let raw = body.clone();
    let org = org.to_owned();
    // The store writes the row with the invalidation, whether or not the client waits.
    meta.accounted();
    let stored = tokio::task::spawn_blocking(move || {
        let oid = inv.document_oid.map(|d| d.value).unwrap_or_default();
        store.invalidate(
            &Invalidation {
                document_oid: &oid,
                reason: inv.reason.as_deref(),
                actor: Actor::Organisation(&org),
                // Checked when the message was read (L-023).
                reason_required: false,
                message: Some((&root, &ext, &sender, &raw)),
                exchange: Some(&record),
            },
            now,
        )
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "archive store task failed");
        "internal error in the archive store".to_owned()
    })?;
    match stored {
        Ok((_, id)) => {
            answer.logged = id;
            Ok(answer)
        }
        Err(e) => {
            refusal(&mut outcome, e)?;
            Ok(ack_outcome(state, &outcome, version, now))
        }
    }
}

/// Runs an accepted query, scoped to the registers the caller may read.
async fn run_query(
    state: &State,
    outcome: MessageOutcome,
    kind: QueryKind,
    org: &str,
    version: SoapVersion,
    now: OffsetDateTime,
) -> Result<Outcome, String> {
    let result = match (outcome.ack, outcome.query.clone()) {
        (AckCode::AA, Some(q)) => {
            let store = state.store.clone();
            let shared = state.shared.clone();
            let org = org.to_owned();
            let default_page = state.config.archive.default_page_size;
            tokio::task::spawn_blocking(move || {
                let registers = crate::rules::access::readable_registers(
                    q.register,
                    &org,
                    &shared.profile.register,
                    now.date(),
                );
                let scoped = DocumentQuery::for_request(&q, kind, registers, default_page);
                execute(store.as_ref(), kind, &scoped)
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "archive store task failed");
                "internal error in the archive store".to_owned()
            })?
            .map(Some)
            .map_err(|e| {
                tracing::error!(error = %e, "archive store failed");
                format!("the archive could not complete the request: {e}")
            })?
        }
        _ => None,
    };
    Ok(query_outcome(
        state,
        &outcome,
        kind,
        result.as_ref(),
        version,
        now,
    ))
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
    let mut response = Reply::new(200, version.content_type(), xml);
    response.set_header("x-kanta-sim-ack", outcome.ack.as_str());
    Outcome::new(
        response,
        outcome.findings.iter().map(|f| f.code).collect(),
        summary,
        serde_json::json!({
            "ack": outcome.ack,
            "use_case": outcome.use_case,
            "findings": outcome.findings,
            "message_id": outcome.message_id,
            "query": outcome.query,
            "total": total,
        }),
    )
    .for_message(outcome)
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
        // The environment's own code (P under the deployment-test profile).
        processing_code: state
            .config
            .archive
            .processing_codes
            .first()
            .map_or("D", String::as_str),
    }
}

/// Kela's validation service path.
const VALIDATION_SERVICE: &str = "/shark-validointi/validoi/asiakirja/tulos";

/// The validation-service clone: an empty 200 when valid, otherwise 400 with a JSON
/// `description` of numbered findings (and, beyond Kela's contract, the findings themselves).
async fn validation_service(state: &State, req: Request<Incoming>) -> (Outcome, Option<Bytes>) {
    let refuse = |code: RuleId, message: String, status: u16| {
        let f = vec![Finding::new(code, "request body", message)];
        let mut response = Reply::json(
            status,
            &serde_json::json!({ "description": crate::pipeline::kela_description(&f), "findings": f }),
        );
        if status == 503 {
            response.set_header("retry-after", state.admission.retry_after_secs.to_string());
        }
        Outcome::new(
            response,
            vec![code],
            f[0].message.clone(),
            serde_json::json!({ "findings": f }),
        )
    };
    let Some(slot) = state.admission.slot().await else {
        return (
            refuse(
                RuleId::W009,
                "the validation service is processing as many requests as it may (server.max_concurrent_requests); retry later".into(),
                503,
            ),
            None,
        );
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (body, _held) = match state
        .admission
        .read_body(slot, declared, req.into_body())
        .await
    {
        Ok(b) => b,
        Err(e) => {
            let (code, message) = e.finding();
            return (
                refuse(code, message, if code == RuleId::W009 { 503 } else { 400 }),
                None,
            );
        }
    };
    let request: crate::pipeline::ValidationServiceRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                refuse(
                    RuleId::W005,
                    format!(
                        "expected {{messageId, palveluPyynto, level, siirtokehysXml, asiakirjaXml}}: {e}"
                    ),
                    400,
                ),
                Some(body),
            );
        }
    };
    let shared = state.shared.clone();
    let now = OffsetDateTime::now_utc();
    let findings = tokio::task::spawn_blocking(move || {
        let ctx = shared.profile.context(Some(&shared.trust), None, now);
        crate::pipeline::validate_pair(&request, &ctx)
    })
    .await
    .unwrap_or_else(|_| {
        vec![Finding::new(
            RuleId::W001,
            "request",
            "internal error while validating",
        )]
    });
    let codes: Vec<RuleId> = findings.iter().map(|f| f.code).collect();
    let outcome = if findings.iter().any(Finding::is_error) {
        let description = crate::pipeline::kela_description(&findings);
        Outcome::new(
            Reply::json(
                400,
                &serde_json::json!({ "description": description, "findings": findings }),
            ),
            codes,
            description.clone(),
            serde_json::json!({ "findings": findings }),
        )
    } else {
        Outcome::new(
            Reply::new(200, "application/json", Bytes::new()),
            codes,
            "validation service: valid".into(),
            serde_json::json!({ "findings": findings }),
        )
    };
    (outcome, Some(body))
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
    let codes = outcome.findings.iter().map(|f| f.code).collect();
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
    let mut response = Reply::new(200, version.content_type(), xml);
    response.set_header("x-kanta-sim-ack", outcome.ack.as_str());
    Outcome::new(
        response,
        codes,
        summary,
        serde_json::json!({
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
    )
    .for_message(outcome)
}

fn diagnose(state: &State, peer: &Peer, verdict: &CertVerdict, req: &Request<Incoming>) -> Outcome {
    let mut findings: Vec<(RuleId, String)> = verdict
        .problems
        .iter()
        .map(|p| (p.code(), p.to_string()))
        .collect();
    let mut refused = verdict.refused();
    if peer.cert.is_none() {
        findings.push((
            RuleId::T001,
            crate::pki::CertProblem::NoCertificate.to_string(),
        ));
        refused = true;
    } else if let Err(p) =
        check_organisation(peer.claimant(), &state.material.register, &looked_in(state))
    {
        findings.push((p.code(), p.to_string()));
        refused = true;
    }
    let accepted = !refused;
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
        || req.uri().query().is_some_and(|q| q.contains("format=json"));
    let codes: Vec<RuleId> = findings.iter().map(|(c, _)| *c).collect();
    let detail = serde_json::json!({
        "listener": "diagnostic",
        "strict_listener_would_accept": accepted,
        "certificate": peer.cert,
        "organisation": peer.organisation,
        "tls_version": peer.tls_version,
        "findings": findings.iter().map(|(c, m)| serde_json::json!({"code": c, "message": m})).collect::<Vec<_>>(),
    });
    let response = if wants_json {
        Reply::json(200, &detail)
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
        Reply::new(200, "text/plain; charset=utf-8", s)
    };
    Outcome::new(
        response,
        codes,
        if accepted {
            "diagnosis: acceptable".into()
        } else {
            "diagnosis: would be refused".into()
        },
        detail,
    )
}

/// The largest fault plan the admin listener reads.
const MAX_PLAN_BYTES: usize = 1 << 20;

/// Entry point for one request on the fault admin listener (loopback, plain HTTP):
/// `GET /faults` lists the plan in force with its counts, `PUT /faults` (a TOML plan) puts
/// one in force from now, `DELETE /faults` clears it. Every change is logged.
pub(super) async fn handle_admin(
    state: Arc<State>,
    peer_addr: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt as _;
    let meta = RequestMeta::of(&req, "admin", None, peer_addr);
    let json = |status, v: serde_json::Value, summary: String| {
        Outcome::new(Reply::json(status, &v), vec![], summary, v)
    };
    let outcome = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/faults") => {
            let v = match state.faults.status() {
                Some((source, entries)) => {
                    serde_json::json!({ "plan": source, "entries": entries })
                }
                None => serde_json::json!({ "plan": null, "entries": [] }),
            };
            json(200, v, "fault plan listed".into())
        }
        ("DELETE", "/faults") => {
            state.faults.clear();
            tracing::warn!("fault plan cleared through the admin listener");
            json(
                200,
                serde_json::json!({ "cleared": true }),
                "fault plan cleared".into(),
            )
        }
        ("PUT", "/faults") => {
            let query = req.uri().query().map(str::to_owned);
            let body = http_body_util::Limited::new(req.into_body(), MAX_PLAN_BYTES)
                .collect()
                .await
                .map(|c| c.to_bytes());
            match body {
                Err(e) => json(
                    413,
                    serde_json::json!({ "error": format!("the plan could not be read (at most {MAX_PLAN_BYTES} bytes): {e}") }),
                    "fault plan refused".into(),
                ),
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    // `?source=NAME` names the plan (its file) in errors and the log.
                    let source = query
                        .as_deref()
                        .and_then(|q| {
                            form_urlencoded::parse(q.as_bytes())
                                .find(|(k, _)| k == "source")
                                .map(|(_, v)| format!("admin:{v}"))
                        })
                        .unwrap_or_else(|| "admin".into());
                    match crate::faults::FaultPlan::parse(&text, &source) {
                        Ok(plan)
                            if let Some(why) =
                                state.material.missing_alternate(plan.server_roles()) =>
                        {
                            json(
                                409,
                                serde_json::json!({ "error": why }),
                                format!("fault plan refused: {why}"),
                            )
                        }
                        Ok(plan) => {
                            let n = plan.entries.len();
                            tracing::warn!(
                                entries = n,
                                "fault plan set through the admin listener"
                            );
                            state.faults.set(plan);
                            json(
                                200,
                                serde_json::json!({ "set": n }),
                                format!("fault plan set ({n} entries)"),
                            )
                        }
                        Err(e) => json(
                            400,
                            serde_json::json!({ "error": e.to_string() }),
                            format!("fault plan refused: {e}"),
                        ),
                    }
                }
            }
        }
        (m, p) => json(
            404,
            serde_json::json!({
                "error": format!("no route {m} {p}"),
                "routes": ["GET /faults", "PUT /faults (a TOML fault plan)", "DELETE /faults"],
            }),
            format!("no route {m} {p}"),
        ),
    };
    Ok(whole(finish(&state, &meta, outcome, None).await))
}
