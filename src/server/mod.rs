//! The archive's network edge: listeners, the TLS accept loop with handshake diagnostics,
//! and HTTP routing (hyper, HTTP/1.1 and h2 by ALPN). It serves what the boot part (`app`)
//! opened for it ([`Served`]); the archivist's view (`web`) shares its HTTP layer
//! ([`http`]).

mod admission;
pub mod http;
mod repeats;
mod routes;

pub use http::Reply;
use http::{Activity, Busy, ConnectionTimeouts, OpenConnections, serve_until_idle};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::archive::{
    ArchiveStore, DocumentStore, ExchangeKind, ExchangeLog, ExchangeRecord, Keep, StoredExchange,
};
use crate::config::Config;
use crate::faults::{ActivePlan, FaultKind, Injected, Stage};
use crate::pipeline::ArchiveProfile;
use crate::tls::{
    HandshakeProblem, ListenerMode, Peer, ServerMaterial, VerdictSlot, classify_handshake_error,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A plain-HTTP listener asked for on the network without saying so.
    #[error(
        "the validation service would listen on {addr}, which is not a loopback address; it is plain HTTP without client authentication: set validation.allow_network = true only on a closed network"
    )]
    NotLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// The fault admin listener asked for on the network.
    #[error(
        "the fault admin listener would listen on {addr}, which is not a loopback address; it is plain HTTP without authentication"
    )]
    AdminNotLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the archive serves from: the configuration and what the boot part opened from it.
pub struct Served {
    /// The configuration.
    pub config: Config,
    /// Certificates, keys, trust and register.
    pub material: ServerMaterial,
    /// The exchange log.
    pub log: ExchangeLog,
    /// The document store.
    pub store: ArchiveStore,
    /// The test-identity ledger.
    pub ledger: crate::ledger::Ledger,
    /// The archiving profile (register and code lists included).
    pub profile: ArchiveProfile,
    /// The fault plan in force (empty unless one was given).
    pub faults: Arc<ActivePlan>,
}

/// Shared by every connection.
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) material: ServerMaterial,
    pub(crate) log: ExchangeLog,
    pub(crate) store: Arc<dyn DocumentStore>,
    /// What the blocking archive pipeline needs, shareable with its worker threads.
    pub(crate) shared: Arc<Judging>,
    /// Every exchange once logged, for whoever watches (the test-case engine).
    pub(crate) events: tokio::sync::broadcast::Sender<Arc<StoredExchange>>,
    /// The test-identity ledger.
    pub(crate) ledger: crate::ledger::Ledger,
    /// Request slots and the body budget.
    pub(crate) admission: admission::Admission,
    /// Refused handshakes, counted per peer and reason.
    pub(crate) handshakes: repeats::RepeatCounter,
    /// Successful health checks, counted per peer and organisation.
    pub(crate) health: repeats::RepeatCounter,
    /// The fault plan in force.
    pub(crate) faults: Arc<ActivePlan>,
}

impl State {
    /// Logs an exchange (its request body cut to `log.refused_body_bytes`) and tells the
    /// watchers, who get the whole record. Returns the row id.
    pub(crate) async fn record(&self, record: ExchangeRecord) -> Option<i64> {
        let keep = Keep::Truncated(self.config.log.refused_body_bytes);
        // Only a watcher needs the record in memory; a plain `serve` has none.
        let watched = (self.events.receiver_count() > 0).then(|| record.clone());
        match self.log.append_async(record, keep).await {
            Ok(id) => {
                if let Some(r) = watched {
                    self.broadcast(id, r);
                }
                Some(id)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not write the exchange log");
                None
            }
        }
    }

    /// Tells the watchers about an exchange already written (row `id`).
    pub(crate) fn broadcast(&self, id: i64, record: ExchangeRecord) {
        let _ = self.events.send(Arc::new(StoredExchange {
            id,
            record,
            repeats: 0,
            last_at: None,
        }));
    }
}

/// The archive pipeline's inputs that outlive one request.
pub(crate) struct Judging {
    pub(crate) profile: ArchiveProfile,
    pub(crate) trust: Arc<crate::pki::TrustStore>,
}

/// Where the server listens, written to the ready file as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Bound {
    /// The strict archive endpoint.
    pub listen: SocketAddr,
    /// The diagnostic endpoint, when enabled.
    pub diagnostic: Option<SocketAddr>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The archivist's view, when enabled.
    pub archivist: Option<SocketAddr>,
    /// The plain-HTTP validation service, when enabled.
    pub validation: Option<SocketAddr>,
    /// The fault plan's admin listener, when enabled.
    pub admin: Option<SocketAddr>,
}

/// A running server.
pub struct ServerHandle {
    /// Bound addresses.
    pub bound: Bound,
    /// The exchange log.
    pub log: ExchangeLog,
    /// The document store.
    pub store: ArchiveStore,
    events: tokio::sync::broadcast::Sender<Arc<StoredExchange>>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    faults: Arc<ActivePlan>,
    alternates: Vec<String>,
}

impl ServerHandle {
    /// Puts `plan` in force from now, unless it serves an alternate server certificate the
    /// kit lacks (then the reason, and the plan in force stays).
    pub fn set_fault_plan(&self, plan: crate::faults::FaultPlan) -> Result<(), String> {
        if let Some(r) = plan
            .server_roles()
            .find(|r| !self.alternates.iter().any(|a| a == r))
        {
            return Err(format!(
                "the certificate kit has no {r} certificate; regenerate the kit with `kanta-sim certs generate --force`"
            ));
        }
        self.faults.set(plan);
        Ok(())
    }

    /// The fault plan in force (set or cleared while serving).
    pub fn faults(&self) -> &Arc<ActivePlan> {
        &self.faults
    }

    /// Every exchange from now on, as it is logged.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<StoredExchange>> {
        self.events.subscribe()
    }

    /// The signal every task of this server stops on (for a listener composed beside it).
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Keeps a task composed beside the server (the archivist's view) until shutdown.
    pub fn adopt(&mut self, task: tokio::task::JoinHandle<()>) {
        self.tasks.spawn(async move {
            let _ = task.await;
        });
    }

    /// Stops accepting and waits for the accept loops to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Binds the listeners and starts serving what `served` holds. Returns once listening.
pub async fn start(served: Served) -> Result<ServerHandle, ServeError> {
    let Served {
        config,
        material,
        log,
        store,
        ledger,
        profile,
        faults,
    } = served;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let diag = match config.server.diagnostic_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?,
        ),
        None => None,
    };
    let mut bound = Bound {
        listen: listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.server.listen,
            source,
        })?,
        diagnostic: diag.as_ref().and_then(|l| l.local_addr().ok()),
        data_dir: config.data.dir.clone(),
        archivist: None,
        validation: None,
        admin: None,
    };
    let shared = Arc::new(Judging {
        profile,
        trust: material.trust.clone(),
    });
    // Generous: a watcher that falls this far behind is told so (Lagged), never blocks us.
    let (events, _) = tokio::sync::broadcast::channel(4096);
    let alternates = material.alternates.keys().cloned().collect();
    let state = Arc::new(State {
        admission: admission::Admission::new(&config.server),
        handshakes: repeats::RepeatCounter::new(Duration::from_secs(
            config.log.handshake_window_secs,
        )),
        health: repeats::RepeatCounter::new(Duration::from_secs(config.log.health_window_secs)),
        config,
        material,
        log: log.clone(),
        store: Arc::new(store.clone()),
        shared,
        events: events.clone(),
        ledger,
        faults: faults.clone(),
    });
    let (tx, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    if let Some(addr) = state.config.validation.listen {
        if !addr.ip().is_loopback() && !state.config.validation.allow_network {
            return Err(ServeError::NotLoopback { addr });
        }
        let (listener, at) = bind(addr).await?;
        bound.validation = Some(at);
        tasks.spawn(plain_loop(
            state.clone(),
            listener,
            rx.clone(),
            Plain::Validation,
        ));
    }
    if let Some(addr) = state.config.faults.admin_listen {
        // Checked by the configuration too; refused here as well since a caller can build
        // a Config by hand.
        if !addr.ip().is_loopback() {
            return Err(ServeError::AdminNotLoopback { addr });
        }
        let (listener, at) = bind(addr).await?;
        bound.admin = Some(at);
        tasks.spawn(plain_loop(
            state.clone(),
            listener,
            rx.clone(),
            Plain::Admin,
        ));
    }
    tasks.spawn(maintenance(state.clone(), rx.clone()));
    tasks.spawn(accept_loop(
        state.clone(),
        listener,
        ListenerMode::Strict,
        rx.clone(),
    ));
    if let Some(d) = diag {
        tasks.spawn(accept_loop(state, d, ListenerMode::Diagnostic, rx));
    }
    Ok(ServerHandle {
        bound,
        log,
        store,
        events,
        shutdown: tx,
        tasks,
        faults,
        alternates,
    })
}

/// Binds a plain-HTTP listener; returns it with the address it got.
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let at = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok((listener, at))
}

/// Every few seconds: writes the counts of repeated refused handshakes; every minute (and
/// at the start): prunes the exchange log (`[log]` retention). Flushes once more on stop.
async fn maintenance(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let flush = |state: &State| {
        for (id, repeats, last) in state.health.flush() {
            if let Err(e) = state.log.set_repeats(id, repeats, last) {
                tracing::error!(error = %e, "could not write health-check counts");
            }
        }
        for (id, repeats, last) in state.handshakes.flush() {
            tracing::warn!(
                repeats,
                "{repeats} further refused handshakes counted on exchange-log row {id} (log.handshake_window_secs)"
            );
            if let Err(e) = state.log.set_repeats(id, repeats, last) {
                tracing::error!(error = %e, "could not write handshake counts");
            }
        }
    };
    let prune = |state: &State| {
        let (days, rows) = (state.config.log.retention_days, state.config.log.max_rows);
        match state.log.prune(days, rows, OffsetDateTime::now_utc()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "exchange log pruned (log.retention_days, log.max_rows)"
            ),
            Err(e) => tracing::error!(error = %e, "could not prune the exchange log"),
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                let s = state.clone();
                let prune_now = n.is_multiple_of(30);
                n += 1;
                let _ = tokio::task::spawn_blocking(move || {
                    flush(&s);
                    if prune_now {
                        prune(&s);
                    }
                })
                .await;
            }
        }
    }
    let _ = tokio::task::spawn_blocking(move || flush(&state)).await;
}

async fn accept_loop(
    state: Arc<State>,
    listener: TcpListener,
    mode: ListenerMode,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let open = Arc::new(OpenConnections::default());
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Some(guard) = open.admit(state.config.server.max_connections) else {
                        // Closed at once: counted like a refused handshake.
                        if state.handshakes.seen(peer.ip(), "T-020") == repeats::Decision::Log {
                            tracing::warn!(listener = mode.as_str(), peer = %peer, "connection refused: {} connections open (server.max_connections)", state.config.server.max_connections);
                        }
                        drop(tcp);
                        continue;
                    };
                    conns.spawn(connection(state.clone(), mode, tcp, peer, guard));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(listener = mode.as_str(), error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

/// What a plain-HTTP listener serves.
#[derive(Clone, Copy)]
enum Plain {
    /// Kela's validation service contract.
    Validation,
    /// The fault plan's admin interface.
    Admin,
}

/// A plain-HTTP listener: Kela's validation service contract, or the fault admin.
async fn plain_loop(
    state: Arc<State>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    what: Plain,
) {
    let mut conns = JoinSet::new();
    let open = Arc::new(OpenConnections::default());
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Some(guard) = open.admit(state.config.server.max_connections) else {
                        drop(tcp);
                        continue;
                    };
                    let state = state.clone();
                    conns.spawn(async move {
                        let _guard = guard;
                        let activity = Activity::new();
                        let service = {
                            let state = state.clone();
                            let activity = activity.clone();
                            service_fn(move |req| {
                                let state = state.clone();
                                let activity = activity.clone();
                                async move {
                                    let _busy = Busy::start(&activity);
                                    match what {
                                        Plain::Validation => routes::handle_validation(state, peer.to_string(), req).await,
                                        Plain::Admin => routes::handle_admin(state, peer.to_string(), req).await,
                                    }
                                }
                            })
                        };
                        serve_until_idle(ConnectionTimeouts::of(&state.config.server), TokioIo::new(tcp), service, activity, peer).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed on a plain-HTTP listener");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

async fn connection(
    state: Arc<State>,
    mode: ListenerMode,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    _guard: http::ConnectionGuard,
) {
    let mut certificate_fault = None;
    if mode == ListenerMode::Strict
        && state.faults.has(Stage::Accept)
        && let Some(inj) = state.faults.pick(Stage::Accept, None, None)
    {
        if inj.entry.kind.server_role().is_none() {
            inject_before_tls(&state, tcp, peer_addr, inj).await;
            return;
        }
        tracing::warn!(peer = %peer_addr, "{}", inj.describe());
        certificate_fault = Some(inj);
    }
    let slot: VerdictSlot = Arc::new(Mutex::new(None));
    let alternate = certificate_fault
        .as_ref()
        .and_then(|i| i.entry.kind.server_role());
    let config = match state
        .material
        .server_config_as(mode, slot.clone(), alternate)
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the TLS configuration for a connection");
            return;
        }
    };
    let timeout = Duration::from_secs(state.config.server.handshake_timeout_secs);
    let mut hello = vec![0u8; 2048];
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let accepted = tokio::time::timeout(timeout, async {
        // Peek (not read) at the ClientHello so that a refusal can name the versions offered.
        let n = tcp.peek(&mut hello).await.unwrap_or(0);
        hello.truncate(n);
        acceptor.accept(tcp).await
    })
    .await;
    let verdict = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    let tls = match accepted {
        Ok(Ok(tls)) => tls,
        // The client refused the alternate certificate (as it should): one row, the
        // injected fault, with what the client said.
        Ok(Err(e)) if certificate_fault.is_some() => {
            if let Some(inj) = &certificate_fault {
                record_injected_with(&state, peer_addr, None, inj, Some(&e.to_string())).await;
            }
            return;
        }
        Ok(Err(e)) => {
            let offered = crate::tls::offered_tls_versions(&hello);
            let problems = classify_handshake_error(&e, verdict.as_ref(), offered.as_deref());
            record_handshake_failure(&state, mode, peer_addr, verdict.as_ref(), problems).await;
            return;
        }
        Err(_) => {
            let problems = vec![HandshakeProblem::Timeout {
                seconds: state.config.server.handshake_timeout_secs,
            }];
            record_handshake_failure(&state, mode, peer_addr, verdict.as_ref(), problems).await;
            return;
        }
    };
    let (_, conn) = tls.get_ref();
    let verdict = verdict.unwrap_or_default();
    // The verifier parsed the leaf; only a connection it did not see (a resumed session)
    // needs it parsed here.
    let leaf = verdict.leaf.clone().or_else(|| {
        conn.peer_certificates()
            .and_then(|c| c.first())
            .and_then(|d| crate::pki::CertInfo::from_der(d).ok())
    });
    let peer = Arc::new(Peer::identify(
        peer_addr.to_string(),
        leaf,
        &state.config.identity,
        conn.protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        conn.alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    ));
    // A client that accepted the alternate certificate is served as usual, the acceptance
    // itself on the fault's row (a finding for its supplier).
    if let Some(inj) = &certificate_fault {
        record_injected_with(
            &state,
            peer_addr,
            Some(&peer),
            inj,
            Some("the client accepted the certificate and went on"),
        )
        .await;
    }
    if mode == ListenerMode::Strict
        && state.faults.has(Stage::Handshake)
        && let Some(inj) = state.faults.pick(
            Stage::Handshake,
            peer.organisation.as_ref().map(|o| o.oid.as_str()),
            None,
        )
    {
        // SO_LINGER 0: closing sends a TCP reset, not an orderly end.
        if let Err(e) = tls.get_ref().0.set_zero_linger() {
            tracing::warn!(error = %e, "could not arm the reset");
        }
        record_injected(&state, peer_addr, Some(&peer), &inj).await;
        drop(tls);
        return;
    }
    let verdict = Arc::new(verdict);
    let activity = Activity::new();
    let service = {
        let state = state.clone();
        let activity = activity.clone();
        service_fn(move |req| {
            let state = state.clone();
            let peer = peer.clone();
            let verdict = verdict.clone();
            let activity = activity.clone();
            async move {
                let _busy = Busy::start(&activity);
                routes::handle(state, mode, peer, verdict, req).await
            }
        })
    };
    serve_until_idle(
        ConnectionTimeouts::of(&state.config.server),
        TokioIo::new(tls),
        service,
        activity,
        peer_addr,
    )
    .await;
}

/// A fault before TLS: the connection closed at once with a reset (refuse), or the
/// ClientHello answered with a fatal alert (tls-alert).
async fn inject_before_tls(state: &State, tcp: TcpStream, peer: SocketAddr, inj: Injected) {
    tracing::warn!(peer = %peer, "{}", inj.describe());
    match inj.entry.kind {
        FaultKind::TlsAlert => {
            // Wait for the ClientHello (bounded) so the alert answers it.
            let mut hello = [0u8; 5];
            let wait = Duration::from_secs(state.config.server.handshake_timeout_secs);
            let _ = tokio::time::timeout(wait, tcp.peek(&mut hello)).await;
            // A TLS record: alert (21), TLS 1.2 record version, length 2, fatal (2),
            // handshake_failure (40). TLS 1.3 clients accept this record version too.
            let mut tcp = tcp;
            let _ = tokio::io::AsyncWriteExt::write_all(&mut tcp, &[21, 3, 3, 0, 2, 2, 40]).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut tcp).await;
        }
        _ => {
            if let Err(e) = tcp.set_zero_linger() {
                tracing::warn!(error = %e, "could not arm the reset");
            }
            drop(tcp);
        }
    }
    record_injected(state, peer, None, &inj).await;
}

/// The exchange row of a fault injected at connection level.
async fn record_injected(state: &State, peer: SocketAddr, who: Option<&Peer>, inj: &Injected) {
    record_injected_with(state, peer, who, inj, None).await;
}

/// As [`record_injected`], with what the client did about it (a certificate fault: the
/// alert it sent, or that it accepted the certificate).
async fn record_injected_with(
    state: &State,
    peer: SocketAddr,
    who: Option<&Peer>,
    inj: &Injected,
    client: Option<&str>,
) {
    let cert = who.and_then(|p| p.cert.as_ref());
    let mut detail = serde_json::json!({ "injected": inj.to_json() });
    let mut summary = inj.describe();
    if let Some(c) = client {
        detail["client"] = serde_json::Value::from(c);
        summary = format!("{summary}; client: {c}");
    }
    let record = ExchangeRecord {
        message_id: None,
        at: OffsetDateTime::now_utc(),
        listener: ListenerMode::Strict.as_str().to_owned(),
        peer: peer.to_string(),
        kind: ExchangeKind::Handshake,
        outcome: "injected".into(),
        codes: vec![crate::finding::RuleId::F001],
        summary,
        detail,
        cert_subject: cert.map(|c| c.subject.clone()),
        cert_sha256: cert.map(|c| c.sha256.clone()),
        org_oid: who.and_then(|p| p.organisation.as_ref().map(|o| o.oid.clone())),
        method: None,
        path: None,
        status: None,
        request: None,
        response: None,
        duration_ms: None,
    };
    state.record(record).await;
}

async fn record_handshake_failure(
    state: &State,
    mode: ListenerMode,
    peer: SocketAddr,
    verdict: Option<&crate::tls::CertVerdict>,
    problems: Vec<HandshakeProblem>,
) {
    let codes: Vec<crate::finding::RuleId> = problems.iter().map(|p| p.code()).collect();
    let joined = crate::finding::RuleId::join(&codes);
    // A storm of the same refusal from one address is counted, not logged row by row.
    if state.handshakes.seen(peer.ip(), &joined) == repeats::Decision::Count {
        return;
    }
    let leaf = verdict.and_then(|v| v.leaf.as_ref());
    let summary = problems
        .iter()
        .map(|p| format!("{}: {p}", p.code()))
        .collect::<Vec<_>>()
        .join("; ");
    tracing::warn!(
        listener = mode.as_str(),
        peer = %peer,
        certificate = leaf.as_ref().map_or("(none)", |c| c.subject.as_str()),
        codes = %joined,
        "handshake refused: {summary}"
    );
    let org = leaf
        .as_ref()
        .and_then(|c| c.organisation_oid(&state.config.identity.org_oid_sources))
        .map(|(o, _)| o);
    let record = ExchangeRecord {
        message_id: None,
        at: OffsetDateTime::now_utc(),
        listener: mode.as_str().to_owned(),
        peer: peer.to_string(),
        kind: ExchangeKind::Handshake,
        outcome: "rejected".into(),
        codes,
        summary,
        detail: serde_json::json!({ "problems": problems }),
        cert_subject: leaf.as_ref().map(|c| c.subject.clone()),
        cert_sha256: leaf.as_ref().map(|c| c.sha256.clone()),
        org_oid: org,
        method: None,
        path: None,
        status: None,
        request: None,
        response: None,
        duration_ms: None,
    };
    if let Some(id) = state.record(record).await {
        state.handshakes.logged(peer.ip(), &joined, id);
    }
}
