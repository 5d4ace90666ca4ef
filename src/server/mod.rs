//! The archive's network edge: listeners, the TLS accept loop with handshake diagnostics,
//! and HTTP routing (hyper, HTTP/1.1 and h2 by ALPN).

mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::archive::{
    ArchiveStore, DocumentStore, ExchangeKind, ExchangeLog, ExchangeRecord, LogError, StoreError,
    StoredExchange,
};
use crate::config::Config;
use crate::tls::{
    HandshakeProblem, ListenerMode, Peer, ServerMaterial, StartupError, VerdictSlot,
    classify_handshake_error,
};
use crate::validate::ArchiveProfile;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Certificates, keys, trust material or register.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The data directory or the log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The archive store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The test-identity ledger.
    #[error("{0}")]
    Ledger(String),
    /// The archivist view.
    #[error("{0}")]
    Web(String),
    /// The code lists.
    #[error(transparent)]
    CodeLists(#[from] crate::rules::codes::CodeListError),
    /// A plain-HTTP listener asked for on the network without saying so.
    #[error(
        "the validation service would listen on {addr}, which is not a loopback address; it is plain HTTP without client authentication: set validation.allow_network = true only on a closed network"
    )]
    NotLoopback {
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
    /// The ready file could not be written.
    #[error("cannot write ready file {path}: {source}")]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
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
}

impl State {
    /// Logs an exchange and tells the watchers.
    pub(crate) async fn record(&self, record: ExchangeRecord) {
        match self.log.append_async(record.clone()).await {
            Ok(id) => {
                // No watcher is the normal case for a plain `serve`.
                let _ = self.events.send(Arc::new(StoredExchange { id, record }));
            }
            Err(e) => tracing::error!(error = %e, "could not write the exchange log"),
        }
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
}

impl ServerHandle {
    /// Every exchange from now on, as it is logged.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<StoredExchange>> {
        self.events.subscribe()
    }

    /// Stops accepting and waits for the accept loops to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Loads everything, binds the listeners and starts serving. Returns once listening.
pub async fn start(config: Config) -> Result<ServerHandle, ServeError> {
    let material = ServerMaterial::load(&config)?;
    let log = ExchangeLog::open(&config.data.dir)?;
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
    let bound = Bound {
        listen: listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.server.listen,
            source,
        })?,
        diagnostic: diag.as_ref().and_then(|l| l.local_addr().ok()),
        data_dir: config.data.dir.clone(),
        archivist: None,
        validation: None,
    };
    let store = ArchiveStore::open(&config.data.dir)?;
    let ledger = crate::ledger::Ledger::open(&config.data.dir)
        .map_err(|e| ServeError::Ledger(e.to_string()))?;
    let shared = Arc::new(Judging {
        profile: ArchiveProfile::new(
            &config,
            (*material.register).clone(),
            crate::rules::codes::CodeLists::for_profile(&config.archive)?,
        ),
        trust: material.trust.clone(),
    });
    // Generous: a watcher that falls this far behind is told so (Lagged), never blocks us.
    let (events, _) = tokio::sync::broadcast::channel(4096);
    let state = Arc::new(State {
        config,
        material,
        log: log.clone(),
        store: Arc::new(store.clone()),
        shared,
        events: events.clone(),
        ledger,
    });
    let (tx, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut bound = bound;
    if let Some(addr) = state.config.archivist.listen {
        let case_id = &state.config.archivist.deployment_case;
        let deployment_case = crate::testcase::model::embedded()
            .map_err(|e| ServeError::Web(e.to_string()))?
            .into_iter()
            .find(|c| &c.id == case_id)
            .ok_or_else(|| {
                ServeError::Web(format!(
                    "archivist.deployment_case {case_id:?} is not a shipped case"
                ))
            })?;
        let web = Arc::new(crate::web::WebState {
            store: store.clone(),
            log: log.clone(),
            register: state.material.register.clone(),
            code_lists: Arc::new(state.shared.profile.code_lists.clone()),
            trust: state.material.trust.clone(),
            deployment_case,
            count_saturdays: state.config.archivist.count_saturdays,
            reason_required: state.config.archive.invalidation_reason_required,
            data_dir: state.config.data.dir.display().to_string(),
            roles: state.config.archivist.roles.clone(),
        });
        let tls = if state.config.archivist.mtls {
            Some(
                crate::web::tls_config(&state.material)
                    .map_err(|e| ServeError::Web(e.to_string()))?,
            )
        } else {
            None
        };
        let (at, task) = crate::web::start(addr, tls, web, rx.clone())
            .await
            .map_err(|e| ServeError::Web(e.to_string()))?;
        bound.archivist = Some(at);
        tasks.spawn(async move {
            let _ = task.await;
        });
    }
    if let Some(addr) = state.config.validation.listen {
        if !addr.ip().is_loopback() && !state.config.validation.allow_network {
            return Err(ServeError::NotLoopback { addr });
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        bound.validation = Some(
            listener
                .local_addr()
                .map_err(|source| ServeError::Bind { addr, source })?,
        );
        tasks.spawn(plain_validation_loop(state.clone(), listener, rx.clone()));
    }
    // Announced only once the stores are open, so a harness never talks to a half-started archive.
    if let Some(path) = &state.config.server.ready_file {
        write_ready_file(path, &bound).map_err(|source| ServeError::ReadyFile {
            path: path.clone(),
            source,
        })?;
    }
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
    })
}

fn write_ready_file(path: &std::path::Path, bound: &Bound) -> std::io::Result<()> {
    // Written whole then renamed, so a watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(bound).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(&tmp, path)
}

async fn accept_loop(
    state: Arc<State>,
    listener: TcpListener,
    mode: ListenerMode,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    conns.spawn(connection(state.clone(), mode, tcp, peer));
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

/// The plain-HTTP listener of Kela's validation service contract.
async fn plain_validation_loop(
    state: Arc<State>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let state = state.clone();
                    conns.spawn(async move {
                        let service = {
                            let state = state.clone();
                            service_fn(move |req| {
                                routes::handle_validation(state.clone(), peer.to_string(), req)
                            })
                        };
                        let mut builder = hyper::server::conn::http1::Builder::new();
                        builder
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(
                                state.config.server.header_timeout_secs,
                            ));
                        if let Err(e) = builder.serve_connection(TokioIo::new(tcp), service).await {
                            tracing::debug!(peer = %peer, error = %e, "validation connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(listener = "validation", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

async fn connection(state: Arc<State>, mode: ListenerMode, tcp: TcpStream, peer_addr: SocketAddr) {
    let slot: VerdictSlot = Arc::new(Mutex::new(None));
    let config = match state.material.server_config(mode, slot.clone()) {
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
    let chain = conn
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.clone().into_owned()).collect::<Vec<_>>());
    let peer = Arc::new(Peer::identify(
        peer_addr.to_string(),
        chain.as_deref(),
        &state.config.identity,
        conn.protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        conn.alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    ));
    let verdict = Arc::new(verdict.unwrap_or_default());
    let service = {
        let state = state.clone();
        service_fn(move |req| {
            routes::handle(state.clone(), mode, peer.clone(), verdict.clone(), req)
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(state.config.server.header_timeout_secs));
    builder.http2().timer(TokioTimer::new());
    if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
        tracing::debug!(peer = %peer_addr, error = %e, "connection ended with an error");
    }
}

async fn record_handshake_failure(
    state: &State,
    mode: ListenerMode,
    peer: SocketAddr,
    verdict: Option<&crate::tls::CertVerdict>,
    problems: Vec<HandshakeProblem>,
) {
    let leaf = verdict
        .and_then(|v| v.chain.first())
        .and_then(|d| crate::pki::CertInfo::from_der(d).ok());
    let codes: Vec<String> = problems.iter().map(|p| p.code().to_owned()).collect();
    let summary = problems
        .iter()
        .map(|p| format!("{}: {p}", p.code()))
        .collect::<Vec<_>>()
        .join("; ");
    tracing::warn!(
        listener = mode.as_str(),
        peer = %peer,
        certificate = leaf.as_ref().map_or("(none)", |c| c.subject.as_str()),
        codes = %codes.join(" "),
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
    state.record(record).await;
}
