//! The archive's network edge: listeners, the TLS accept loop with handshake diagnostics,
//! and HTTP routing (hyper, HTTP/1.1 and h2 by ALPN).

mod admission;
mod handshakes;
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
    ArchiveStore, DocumentStore, ExchangeKind, ExchangeLog, ExchangeRecord, Keep, LogError,
    StoreError, StoredExchange,
};
use crate::config::Config;
use crate::pipeline::ArchiveProfile;
use crate::tls::{
    HandshakeProblem, ListenerMode, Peer, ServerMaterial, StartupError, VerdictSlot,
    classify_handshake_error,
};

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
    /// Another `serve` holds the data directory.
    #[error(
        "the data directory {dir} is in use by another kanta-sim ({holder}); stop it or give --data another directory"
    )]
    DataInUse {
        /// The directory.
        dir: PathBuf,
        /// What the lock file says about the holder.
        holder: String,
    },
    /// The database failed its check before serving.
    #[error(
        "the database {path} is damaged ({check}: {problems}); restore it from a copy, or move it away to start with an empty archive"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// `quick_check` or `integrity_check`.
        check: &'static str,
        /// What SQLite reported.
        problems: String,
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
    /// Request slots and the body budget.
    pub(crate) admission: admission::Admission,
    /// Refused handshakes, counted per peer and reason.
    pub(crate) handshakes: handshakes::HandshakeCounter,
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
}

/// A running server.
pub struct ServerHandle {
    /// Bound addresses.
    pub bound: Bound,
    /// The data directory's lock, held while serving.
    _lock: Option<std::fs::File>,
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

/// Takes the data directory's lock (`kanta-sim.lock`), writing who holds it; a second
/// `serve` on the same directory is refused with the holder named.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, ServeError> {
    use std::io::{Read as _, Seek as _, Write as _};
    std::fs::create_dir_all(dir).map_err(|source| {
        ServeError::Log(LogError::Dir {
            path: dir.to_owned(),
            source,
        })
    })?;
    let path = dir.join("kanta-sim.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| {
            ServeError::Log(LogError::Dir {
                path: path.clone(),
                source,
            })
        })?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(ServeError::DataInUse {
            dir: dir.to_owned(),
            holder: if holder.trim().is_empty() {
                "holder unknown".into()
            } else {
                holder.trim().to_owned()
            },
        });
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(
        file,
        "pid {} since {}",
        std::process::id(),
        OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let _ = file.flush();
    Ok(file)
}

/// `PRAGMA quick_check` (or `integrity_check`) before serving: a damaged file refuses to
/// start instead of failing every request later.
fn check_database(
    dir: &std::path::Path,
    how: crate::config::IntegrityCheck,
) -> Result<(), ServeError> {
    let check = match how {
        crate::config::IntegrityCheck::Off => return Ok(()),
        crate::config::IntegrityCheck::Quick => "quick_check",
        crate::config::IntegrityCheck::Full => "integrity_check",
    };
    let path = dir.join(crate::archive::DB_FILE);
    if !path.is_file() {
        return Ok(());
    }
    let damaged = |problems: String| ServeError::Damaged {
        path: path.clone(),
        check,
        problems,
    };
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| damaged(e.to_string()))?;
    let mut stmt = conn
        .prepare(&format!("PRAGMA {check}(20)"))
        .map_err(|e| damaged(e.to_string()))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(damaged(rows.join("; ")))
    }
}

/// Loads everything, binds the listeners and starts serving. Returns once listening.
pub async fn start(config: Config) -> Result<ServerHandle, ServeError> {
    let material = ServerMaterial::load(&config)?;
    let lock = lock_data_dir(&config.data.dir)?;
    check_database(&config.data.dir, config.data.integrity_check)?;
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
        admission: admission::Admission::new(&config.server),
        handshakes: handshakes::HandshakeCounter::new(Duration::from_secs(
            config.log.handshake_window_secs,
        )),
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
        let deployment_case = crate::cases::embedded()
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
            host_names: state.config.archivist.host_names.clone(),
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
    tasks.spawn(maintenance(state.clone(), rx.clone()));
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
        _lock: Some(lock),
        log,
        store,
        events,
        shutdown: tx,
        tasks,
    })
}

/// Every few seconds: writes the counts of repeated refused handshakes; every minute (and
/// at the start): prunes the exchange log (`[log]` retention). Flushes once more on stop.
async fn maintenance(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let flush = |state: &State| {
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

fn write_ready_file(path: &std::path::Path, bound: &Bound) -> std::io::Result<()> {
    // Written whole then renamed, so a watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(bound).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Counts open connections of one listener; a guard decrements on drop.
#[derive(Debug, Default)]
struct OpenConnections(std::sync::atomic::AtomicUsize);

struct ConnectionGuard(Arc<OpenConnections>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl OpenConnections {
    /// A guard, unless `max` are open already.
    fn admit(self: &Arc<Self>, max: usize) -> Option<ConnectionGuard> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n >= max {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        Some(ConnectionGuard(self.clone()))
    }
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
                        if state.handshakes.refused(peer.ip(), "T-020") == handshakes::Decision::Log {
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

/// When a connection last finished a request, and how many it has in progress.
#[derive(Debug)]
struct Activity {
    in_progress: std::sync::atomic::AtomicUsize,
    last: Mutex<std::time::Instant>,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            in_progress: std::sync::atomic::AtomicUsize::new(0),
            last: Mutex::new(std::time::Instant::now()),
        })
    }

    fn idle_for(&self) -> Option<Duration> {
        (self.in_progress.load(std::sync::atomic::Ordering::Relaxed) == 0).then(|| {
            self.last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
        })
    }
}

/// Serves one accepted connection until it ends, or until it has had no request in
/// progress for `server.idle_timeout_secs` (then it is shut down gracefully, and cut if it
/// does not go within a few seconds more).
async fn serve_until_idle<I, S>(
    state: &State,
    io: I,
    service: S,
    activity: Arc<Activity>,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<http_body_util::Full<bytes::Bytes>>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let idle = Duration::from_secs(state.config.server.idle_timeout_secs);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(state.config.server.header_timeout_secs));
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut closing: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tick.tick() => {
                match closing {
                    Some(since) if since.elapsed() > Duration::from_secs(5) => {
                        tracing::debug!(peer = %peer, "idle connection cut");
                        return;
                    }
                    Some(_) => {}
                    None if activity.idle_for().is_some_and(|d| d > idle) => {
                        tracing::debug!(peer = %peer, "closing an idle connection (server.idle_timeout_secs)");
                        conn.as_mut().graceful_shutdown();
                        closing = Some(std::time::Instant::now());
                    }
                    None => {}
                }
            }
        }
    }
}

/// The plain-HTTP listener of Kela's validation service contract.
async fn plain_validation_loop(
    state: Arc<State>,
    listener: TcpListener,
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
                                    routes::handle_validation(state, peer.to_string(), req).await
                                }
                            })
                        };
                        serve_until_idle(&state, TokioIo::new(tcp), service, activity, peer).await;
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

/// Marks a request in progress on its connection for as long as it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(a: &Arc<Activity>) -> Self {
        a.in_progress
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
        self.0
            .in_progress
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn connection(
    state: Arc<State>,
    mode: ListenerMode,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    _guard: ConnectionGuard,
) {
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
    serve_until_idle(&state, TokioIo::new(tls), service, activity, peer_addr).await;
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
    if state.handshakes.refused(peer.ip(), &joined) == handshakes::Decision::Count {
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
