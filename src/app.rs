//! Boot: composes what the configuration asks for into a running archive. It opens the
//! data directory (lock, check, exchange log, document store, identity ledger), loads the
//! certificates and the register, builds the archiving profile, starts the listeners
//! (`server`), and beside them the archivist's view (`web`) with its deployment-test case;
//! then announces readiness. `serve`, `run`, `train` and `demo` all start here, so they
//! cannot start different archives.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use time::OffsetDateTime;

use crate::archive::{ArchiveStore, ExchangeLog, LogError, StoreError, StoredExchange};
use crate::config::Config;
use crate::ledger::{Ledger, LedgerError};
use crate::pipeline::ArchiveProfile;
use crate::rules::codes::{CodeListError, CodeLists};
use crate::server::{Bound, ServeError, Served, ServerHandle};
use crate::testcase::run::{RunError, RunOptions, RunResult};
use crate::tls::{ServerMaterial, StartupError};
use crate::web::{WebError, WebState};

/// Why the archive could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// Certificates, keys, trust material or register.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The data directory could not be made or its lock file opened.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
    /// The database could not even be checked (not a database, say).
    #[error(
        "the database {path} is damaged ({check}: {source}); restore it from a copy, or move it away to start with an empty archive"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// `quick_check` or `integrity_check`.
        check: &'static str,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The exchange log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The archive store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The test-identity ledger.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The code lists.
    #[error(transparent)]
    CodeLists(#[from] CodeListError),
    /// The listeners.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The fault plan.
    #[error("fault plan: {0}")]
    Faults(#[from] crate::faults::FaultPlanError),
    /// The onboarding data cannot be read.
    #[error("onboarding: {0}")]
    Onboarding(String),
    /// The fault plan serves a certificate the kit lacks.
    #[error("fault plan: {0}")]
    FaultCertificate(String),
    /// The archivist's view.
    #[error(transparent)]
    Web(#[from] WebError),
    /// `archivist.deployment_case` names no shipped case.
    #[error("archivist.deployment_case {id:?} is not a shipped case (shipped: {shipped})")]
    DeploymentCase {
        /// The id asked for.
        id: String,
        /// The shipped ids.
        shipped: String,
    },
    /// The shipped cases could not be read.
    #[error(transparent)]
    Cases(#[from] crate::cases::CaseError),
    /// The ready file could not be written.
    #[error("cannot write ready file {path}: {source}")]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A running archive: the listeners, the archivist's view beside them, and the data
/// directory's lock, held until shutdown.
pub struct App {
    /// Bound addresses (the archivist's view included).
    pub bound: Bound,
    /// The exchange log.
    pub log: ExchangeLog,
    /// The document store.
    pub store: ArchiveStore,
    server: ServerHandle,
    _lock: std::fs::File,
}

impl App {
    /// Every exchange from now on, as it is logged.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<StoredExchange>> {
        self.server.subscribe()
    }

    /// The fault plan in force (set or cleared while serving).
    pub fn faults(&self) -> &Arc<crate::faults::ActivePlan> {
        self.server.faults()
    }

    /// Puts a fault plan in force from now (see [`ServerHandle::set_fault_plan`]).
    pub fn set_fault_plan(&self, plan: crate::faults::FaultPlan) -> Result<(), String> {
        self.server.set_fault_plan(plan)
    }

    /// The listeners, for whoever drives or watches them (test-case runs).
    pub fn server(&self) -> &ServerHandle {
        &self.server
    }

    /// Stops accepting and waits for every listener to end, then empties the WAL into the
    /// database; the lock goes last.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "final checkpoint failed"),
            Err(e) => tracing::warn!(error = %e, "final checkpoint failed"),
        }
    }
}

/// Takes the data directory's lock (`kanta-sim.lock`), writing who holds it; a second
/// `serve` on the same directory is refused with the holder named.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, BootError> {
    use std::io::{Read as _, Seek as _, Write as _};
    std::fs::create_dir_all(dir).map_err(|source| BootError::DataDir {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join("kanta-sim.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| BootError::DataDir {
            path: path.clone(),
            source,
        })?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(BootError::DataInUse {
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

/// `PRAGMA quick_check` (or `integrity_check`) of the archive's file and the ledger's before
/// serving: a damaged file refuses to start instead of failing every request later.
fn check_database(
    dir: &std::path::Path,
    how: crate::config::IntegrityCheck,
) -> Result<(), BootError> {
    let check = match how {
        crate::config::IntegrityCheck::Off => return Ok(()),
        crate::config::IntegrityCheck::Quick => "quick_check",
        crate::config::IntegrityCheck::Full => "integrity_check",
    };
    for file in [crate::archive::DB_FILE, crate::ledger::LEDGER_FILE] {
        check_file(&dir.join(file), check)?;
    }
    Ok(())
}

fn check_file(path: &std::path::Path, check: &'static str) -> Result<(), BootError> {
    if !path.is_file() {
        return Ok(());
    }
    let unreadable = |source| BootError::Unreadable {
        path: path.to_owned(),
        check,
        source,
    };
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(unreadable)?;
    let mut stmt = conn
        .prepare(&format!("PRAGMA {check}(20)"))
        .map_err(unreadable)?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(unreadable)?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(BootError::Damaged {
            path: path.to_owned(),
            check,
            problems: rows.join("; "),
        })
    }
}

/// Opens the data directory and everything the archive serves from, then starts the
/// listeners and the archivist's view. Returns once every listener is bound, after the
/// ready file (if asked for) is written.
pub async fn start(config: Config) -> Result<App, BootError> {
    let material = ServerMaterial::load(&config)?;
    // Checked before anything is opened, so a bad plan leaves no trace.
    let plan = match &config.faults.plan {
        Some(p) => Some(crate::faults::FaultPlan::load(p)?),
        None => None,
    };
    if let Some(why) = plan
        .as_ref()
        .and_then(|p| material.missing_alternate(p.server_roles()))
    {
        return Err(BootError::FaultCertificate(why));
    }
    // Also read before anything is opened.
    let onboarding = crate::onboarding::Onboarding::load(config.onboarding.file.as_deref())
        .map_err(|e| BootError::Onboarding(e.to_string()))?;
    let lock = lock_data_dir(&config.data.dir)?;
    check_database(&config.data.dir, config.data.integrity_check)?;
    let log = ExchangeLog::open(&config.data.dir)?;
    let store = ArchiveStore::open(&config.data.dir)?;
    store.gather_commits(std::time::Duration::from_micros(
        config.data.commit_gather_us,
    ));
    let ledger = Ledger::open(&config.data.dir)?;
    let code_lists = CodeLists::for_profile(&config.archive)?;
    let profile = ArchiveProfile::new(&config, (*material.register).clone(), code_lists);
    let archivist = match config.archivist.listen {
        Some(addr) => Some((
            addr,
            archivist_view(&config, &material, &log, &store, &profile, onboarding)?,
        )),
        None => None,
    };
    let web_tls = match (&archivist, config.archivist.mtls) {
        (Some(_), true) => Some(crate::web::tls_config(&material)?),
        _ => None,
    };
    let ready_file = config.server.ready_file.clone();
    let mut server = crate::server::start(Served {
        config,
        material,
        log: log.clone(),
        store: store.clone(),
        ledger,
        profile,
        faults: Arc::new(crate::faults::ActivePlan::new(plan)),
    })
    .await?;
    let mut bound = server.bound.clone();
    if let Some((addr, view)) = archivist {
        let (at, task) =
            crate::web::start(addr, web_tls, Arc::new(view), server.stop_signal()).await?;
        bound.archivist = Some(at);
        server.adopt(task);
    }
    // Announced only once everything listens, so a harness never talks to a half-started
    // archive.
    if let Some(path) = &ready_file {
        write_ready_file(path, &bound).map_err(|source| BootError::ReadyFile {
            path: path.clone(),
            source,
        })?;
    }
    Ok(App {
        bound,
        log,
        store,
        server,
        _lock: lock,
    })
}

/// What the archivist's view reads, from the same stores and profile the listeners use.
fn archivist_view(
    config: &Config,
    material: &ServerMaterial,
    log: &ExchangeLog,
    store: &ArchiveStore,
    profile: &ArchiveProfile,
    onboarding: crate::onboarding::Onboarding,
) -> Result<WebState, BootError> {
    let id = &config.archivist.deployment_case;
    let shipped = crate::cases::embedded()?;
    let deployment_case = shipped
        .iter()
        .find(|c| &c.id == id)
        .cloned()
        .ok_or_else(|| BootError::DeploymentCase {
            id: id.clone(),
            shipped: shipped
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok(WebState {
        store: store.clone(),
        log: log.clone(),
        register: material.register.clone(),
        code_lists: Arc::new(profile.code_lists.clone()),
        trust: material.trust.clone(),
        deployment_case,
        count_saturdays: config.archivist.count_saturdays,
        reason_required: config.archive.invalidation_reason_required,
        data_dir: config.data.dir.display().to_string(),
        roles: config.archivist.roles.clone(),
        host_names: config.archivist.host_names.clone(),
        timeouts: crate::server::http::ConnectionTimeouts::of(&config.server),
        max_connections: config.server.max_connections,
        client_system_export: config.archivist.client_system_export.clone(),
        onboarding: Arc::new(onboarding),
        kit: Some(config.tls.certs_dir.clone()),
    })
}

fn write_ready_file(path: &Path, bound: &Bound) -> std::io::Result<()> {
    // Written whole then renamed, so a watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(bound).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Why a test-case run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    /// The archive could not start.
    #[error(transparent)]
    Boot(#[from] BootError),
    /// The run itself.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Runs test cases against an archive started for them from `opts.config` (making the
/// certificate kit first when there is none), then stops it.
pub async fn run_cases(opts: RunOptions) -> Result<RunResult, RunFailure> {
    if opts.cases.is_empty() {
        return Err(RunError::NoCases(opts.suite.clone()).into());
    }
    crate::testcase::run::ensure_kit(&opts.config.tls.certs_dir)?;
    let app = start(opts.config.clone()).await?;
    let result = crate::testcase::run::run(opts, app.server()).await;
    app.shutdown().await;
    Ok(result?)
}
