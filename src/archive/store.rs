//! The document store: SQLite in the data directory (WAL). Every lifecycle operation
//! re-reads the set inside its transaction and runs the L rules there, so two racing new
//! versions cannot both win, a replay is refused, and nothing is ever half-written.
//!
//! Writes go through one writer thread that commits whatever is waiting as one transaction
//! (group commit): each operation runs in its own savepoint, so a refusal undoes only its
//! own writes, and every caller is answered only after the commit (`synchronous = FULL`),
//! so an AA never precedes its document's durability. The WAL is checkpointed by a thread
//! of its own, off the commit path. Reads use their own connection.
//!
//! An archived message is kept once: the document's CDA is taken from the stored message
//! when read (its MIME part, decoded) and checked against the SHA-256 recorded at archiving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params, params_from_iter};
use time::OffsetDateTime;

use super::DocumentStore;
use super::bodies::{self, BodyAt, BodyError, BodyWriter};
use super::exchange_log::{ExchangeRecord, Keep};
use super::query::{DocumentQuery, HistoryEvent};
use crate::document::model::hl7_ts_utc;
use crate::document::{ArchivedDocument, DocStatus};
use crate::finding::Finding;
use crate::message::results::{DocumentMeta, Group, Page, Summary};
use crate::message::usecase::UseCase;
use crate::pki::sha256_hex;
use crate::rules::lifecycle::{Actor, SetState, VersionState, check_invalidation, check_version};

/// Why an operation was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The message id was used before (W-016).
    #[error("message id {root} / {extension} has already been received")]
    DuplicateMessage {
        /// Root.
        root: String,
        /// Extension.
        extension: String,
    },
    /// The document version is already archived (L-001).
    #[error("document {document_oid} version {version} is already archived")]
    DuplicateDocument {
        /// Document OID.
        document_oid: String,
        /// Version.
        version: u32,
    },
    /// A lifecycle rule refused the operation (L-…); nothing was written.
    #[error("refused: {}", Finding::one_line(.0))]
    Refused(Vec<Finding>),
    /// SQLite failed.
    #[error("archive store {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The commit of a batch failed: nothing of it was written.
    #[error("archive store {path}: the commit failed: {source}")]
    Commit {
        /// The file.
        path: PathBuf,
        /// SQLite's error (shared by every operation of the batch).
        source: Arc<rusqlite::Error>,
    },
    /// The writer thread is gone (the store is shutting down, or it failed).
    #[error("archive store {path}: the writer has stopped")]
    WriterGone {
        /// The file.
        path: PathBuf,
    },
    /// An operation panicked; its writes were undone.
    #[error("archive store {path}: internal error in a write (undone)")]
    Panicked {
        /// The file.
        path: PathBuf,
    },
    /// The message bodies' file could not be written (the whole batch's archivings are
    /// undone) or a body not read back.
    #[error("archive store: {0}")]
    Body(Arc<BodyError>),
    /// A document's CDA could not be taken from its stored message.
    #[error("archive store: the CDA of {document_oid} cannot be read from its message: {why}")]
    CdaUnreadable {
        /// The document.
        document_oid: String,
        /// Why.
        #[source]
        why: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A CDA taken from its message is not the one archived.
    #[error(
        "archive store: the CDA of {document_oid} read from its message has {algorithm} {computed}, not the {recorded} recorded at archiving"
    )]
    CdaIntegrity {
        /// The document.
        document_oid: String,
        /// The digest's algorithm (`XXH3-128`; `SHA-256` for documents archived before).
        algorithm: &'static str,
        /// Recorded at archiving.
        recorded: String,
        /// Computed now.
        computed: String,
    },
}

/// An invalidation to apply.
#[derive(Debug, Clone)]
pub struct Invalidation<'a> {
    /// The version named (must be the current one).
    pub document_oid: &'a str,
    /// Why.
    pub reason: Option<&'a str>,
    /// Who asks.
    pub actor: Actor<'a>,
    /// Whether a reason is required (the interface checks it before; the view here).
    pub reason_required: bool,
    /// The message behind it (root, extension, sender, raw), when it came through the
    /// interface.
    pub message: Option<(&'a str, &'a str, &'a str, &'a [u8])>,
    /// The exchange to log in the same transaction.
    pub exchange: Option<&'a ExchangeRecord>,
}

/// [`Invalidation`], owned, for the writer thread.
struct OwnedInvalidation {
    document_oid: String,
    reason: Option<String>,
    actor: (String, bool),
    reason_required: bool,
    /// The message's id and sender (its body goes to the body file before the batch).
    message: Option<(String, String, String)>,
    exchange: Option<ExchangeRecord>,
}

impl OwnedInvalidation {
    /// The owned invalidation, and its message's body for the body file.
    fn of(inv: &Invalidation<'_>) -> (Self, Option<Body>) {
        let body = inv.message.map(|(r, e, _, raw)| {
            (
                (r.to_owned(), e.to_owned()),
                bytes::Bytes::copy_from_slice(raw),
            )
        });
        let owned = Self {
            document_oid: inv.document_oid.to_owned(),
            reason: inv.reason.map(str::to_owned),
            actor: match inv.actor {
                Actor::Organisation(o) => (o.to_owned(), false),
                Actor::Archivist(o) => (o.to_owned(), true),
            },
            reason_required: inv.reason_required,
            message: inv
                .message
                .map(|(r, e, s, _)| (r.to_owned(), e.to_owned(), s.to_owned())),
            exchange: inv.exchange.cloned(),
        };
        (owned, body)
    }

    fn actor(&self) -> Actor<'_> {
        if self.actor.1 {
            Actor::Archivist(&self.actor.0)
        } else {
            Actor::Organisation(&self.actor.0)
        }
    }
}

// Uniqueness lives in indexes, not table constraints, so that a data directory written by
// an older kanta-sim gains them on opening (see `migrate`).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS document (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_oid TEXT NOT NULL,
    set_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    custodian TEXT NOT NULL,
    organiser TEXT,
    register TEXT,
    document_group TEXT,
    document_type TEXT,
    case_id TEXT,
    client_relationship TEXT,
    effective_time TEXT,
    status TEXT NOT NULL,
    sender TEXT NOT NULL,
    message_root TEXT NOT NULL,
    message_extension TEXT NOT NULL,
    archived_at TEXT NOT NULL,
    cda BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS lifecycle_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    set_id TEXT NOT NULL,
    document_oid TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    message_root TEXT,
    message_extension TEXT,
    reason TEXT
);
";

/// Columns added after schema 1 (2: the lifecycle; 3: the CDA kept inside its message, one
/// stored copy, checked by hash; 4: that hash is XXH3-128, see [`CdaDigest`]), with their
/// type and how to fill them for older rows.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("producer", "TEXT", "sender"),
    ("register_owner", "TEXT", "COALESCE(organiser, sender)"),
    ("effective_utc", "TEXT", "substr(effective_time, 1, 14)"),
    ("replaces", "TEXT", "NULL"),
    ("reason_of_correction", "TEXT", "NULL"),
    ("status_changed_at", "TEXT", "NULL"),
    ("invalidation_reason", "TEXT", "NULL"),
    ("cda_in_message", "INTEGER", "0"),
    ("cda_sha256", "TEXT", "NULL"),
    ("cda_xxh3", "TEXT", "NULL"),
];

const INDEXES: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS document_oid_unique ON document(document_oid);
CREATE UNIQUE INDEX IF NOT EXISTS document_set_version ON document(set_id, version);
CREATE INDEX IF NOT EXISTS document_client_time ON document(client_id, register_owner, effective_utc);
CREATE INDEX IF NOT EXISTS document_case ON document(case_id) WHERE case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS document_relationship ON document(client_relationship) WHERE client_relationship IS NOT NULL;
CREATE INDEX IF NOT EXISTS event_set ON lifecycle_event(set_id);
";

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let have: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('document')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (col, ty, fill) in ADDED_COLUMNS {
        if !have.iter().any(|h| h == col) {
            conn.execute_batch(&format!(
                "ALTER TABLE document ADD COLUMN {col} {ty}; UPDATE document SET {col} = {fill};"
            ))?;
        }
    }
    conn.execute_batch(INDEXES)?;
    conn.pragma_update(None, "user_version", 4)
}

const META_COLUMNS: &str = "document_oid, set_id, version, status, client_id, custodian, producer, register_owner, organiser, register,
    document_group, document_type, case_id, client_relationship, effective_time, archived_at, replaces, reason_of_correction,
    status_changed_at, invalidation_reason, message_root, message_extension";

fn meta_row(r: &rusqlite::Row<'_>, with_content: bool) -> rusqlite::Result<DocumentMeta> {
    let status: String = r.get(3)?;
    Ok(DocumentMeta {
        document_oid: r.get(0)?,
        set_id: r.get(1)?,
        version: r.get(2)?,
        status: DocStatus::parse(&status).unwrap_or(DocStatus::Active),
        client_id: r.get(4)?,
        custodian: r.get(5)?,
        producer: r.get(6)?,
        register_owner: r.get(7)?,
        organiser: r.get(8)?,
        register: r.get(9)?,
        document_group: r.get(10)?,
        document_type: r.get(11)?,
        case_id: r.get(12)?,
        client_relationship: r.get(13)?,
        effective_time: r.get(14)?,
        archived_at: r.get(15)?,
        replaces: r.get(16)?,
        reason_of_correction: r.get(17)?,
        status_changed_at: r.get(18)?,
        invalidation_reason: r.get(19)?,
        message: (r.get(20)?, r.get(21)?),
        cda: if with_content { r.get(22)? } else { None },
    })
}

/// The content columns after [`META_COLUMNS`]: the CDA as stored (empty when it is in the
/// message), whether it is in the message, and its digests.
const CONTENT_COLUMNS: &str = "cda, cda_in_message, cda_sha256, cda_xxh3";

/// The digest a CDA kept inside its message is checked against when it is read back: the
/// message must still carry exactly the CDA that was archived. The check guards against a
/// message read back differently (a reader that changed) or damaged at rest, not against
/// someone who can write the database, who could rewrite the digest as well: a fast
/// 128-bit hash serves it, at a twentieth of SHA-256's cost on every archived document.
/// Documents archived before schema 4 keep their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CdaDigest {
    /// XXH3-128, lowercase hex (as `xxhsum -H2` prints it).
    Xxh3(String),
    /// SHA-256, lowercase hex.
    Sha256(String),
}

impl CdaDigest {
    /// The digest recorded for a CDA archived now.
    fn of(cda: &[u8]) -> Self {
        Self::Xxh3(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(cda)))
    }

    fn algorithm(&self) -> &'static str {
        match self {
            Self::Xxh3(_) => "XXH3-128",
            Self::Sha256(_) => "SHA-256",
        }
    }

    fn recorded(&self) -> &str {
        match self {
            Self::Xxh3(h) | Self::Sha256(h) => h,
        }
    }

    /// The same algorithm's digest of `cda`.
    fn computed(&self, cda: &[u8]) -> Self {
        match self {
            Self::Xxh3(_) => Self::of(cda),
            Self::Sha256(_) => Self::Sha256(sha256_hex(cda)),
        }
    }
}

/// A document whose CDA is in its message: the CDA's digest recorded at archiving, and
/// where the message's body lies (none: in `meta.cda`, from the row).
struct InMessage {
    digest: CdaDigest,
    body: Option<BodyAt>,
}

/// A content row's CDA: as stored, or its message (from the row, or where it lies in the
/// body file).
fn content_row(
    conn: &Connection,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(DocumentMeta, Option<InMessage>)> {
    let mut meta = meta_row(r, true)?;
    let in_message: i64 = r.get(23)?;
    let sha: Option<String> = r.get(24)?;
    let xxh3: Option<String> = r.get(25)?;
    if in_message == 0 {
        return Ok((meta, None));
    }
    let message = conn
        .query_row(
            "SELECT raw, body_offset, body_len FROM message WHERE root = ?1 AND extension = ?2",
            params![meta.message.0, meta.message.1],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<u64>>(1)?,
                    r.get::<_, Option<u64>>(2)?,
                ))
            },
        )
        .optional()?;
    let mut body = None;
    meta.cda = match message {
        Some((_, Some(offset), Some(len))) => {
            body = Some(BodyAt { offset, len });
            None
        }
        Some((raw, _, _)) => Some(raw),
        None => None,
    };
    Ok((
        meta,
        Some(InMessage {
            digest: xxh3
                .map(CdaDigest::Xxh3)
                .unwrap_or_else(|| CdaDigest::Sha256(sha.unwrap_or_default())),
            body,
        }),
    ))
}

/// Replaces a stored message (in `meta.cda`) by the CDA it carries, checked against the
/// digest recorded at archiving.
fn cda_from_message(meta: &mut DocumentMeta, recorded: &CdaDigest) -> Result<(), StoreError> {
    let unreadable = |why: Box<dyn std::error::Error + Send + Sync>| StoreError::CdaUnreadable {
        document_oid: meta.document_oid.clone(),
        why,
    };
    let Some(raw) = meta.cda.take() else {
        return Err(unreadable("its message is not stored".into()));
    };
    // The message was accepted under the profile's limits; our own copy is read back with
    // room for whatever those allowed.
    let text = std::str::from_utf8(&raw).map_err(|e| unreadable(Box::new(e)))?;
    let limits = crate::xml::Limits {
        max_bytes: usize::MAX,
        max_nodes: u32::MAX,
        max_depth: usize::MAX,
        max_attributes: usize::MAX,
        max_namespace_declarations: usize::MAX,
        max_namespaces_in_scope: usize::MAX,
        max_text_bytes: usize::MAX,
        max_attribute_value_bytes: usize::MAX,
        max_name_bytes: usize::MAX,
    };
    let mime = crate::message::mime::MimeLimits {
        max_parts: usize::MAX,
        max_headers: usize::MAX,
        max_header_bytes: usize::MAX,
    };
    let prepared = crate::xml::Prepared::new(text, &limits, crate::message::CARRIED_TEXT)
        .map_err(|e| unreadable(Box::new(e)))?;
    let doc = prepared
        .parse(&limits)
        .map_err(|e| unreadable(Box::new(e)))?;
    let carried = crate::message::carried_cda(&doc, prepared.lifted(), &mime)
        .map_err(|e| unreadable(Box::new(e)))?
        .ok_or_else(|| unreadable("its message carries no CDA".into()))?;
    let computed = recorded.computed(&carried.bytes);
    if computed != *recorded {
        return Err(StoreError::CdaIntegrity {
            document_oid: meta.document_oid.clone(),
            algorithm: recorded.algorithm(),
            recorded: recorded.recorded().to_owned(),
            computed: computed.recorded().to_owned(),
        });
    }
    meta.cda = Some(carried.bytes);
    Ok(())
}

/// A content row with its CDA in place (its message's body read from the body file in
/// `dir` when it lies there).
fn with_cda(
    dir: &Path,
    (mut meta, in_message): (DocumentMeta, Option<InMessage>),
) -> Result<DocumentMeta, StoreError> {
    if let Some(m) = in_message {
        if let Some(at) = m.body {
            let id = (meta.message.0.as_str(), meta.message.1.as_str());
            meta.cda = Some(bodies::read(dir, id, at).map_err(|e| StoreError::Body(Arc::new(e)))?);
        }
        cda_from_message(&mut meta, &m.digest)?;
    }
    Ok(meta)
}

/// The SQLite document store.
#[derive(Clone)]
pub struct ArchiveStore {
    read: Arc<Mutex<Connection>>,
    checkpointer: Arc<Mutex<Connection>>,
    writer: Sender<Job>,
    /// How the writer gathers a batch (shared with its thread).
    gathering: Arc<Gathering>,
    path: PathBuf,
    /// The data directory (the body file's).
    dir: PathBuf,
}

/// A write handed to the writer thread: its result, once the batch holding it has
/// committed (or failed). Await it with [`Pending::done`] on an async task, or block on it
/// with [`Pending::wait`] elsewhere; nothing is lost by dropping it (the write still runs).
#[must_use = "the write's result (a refusal among them) is only known through it"]
pub struct Pending<R> {
    rx: tokio::sync::oneshot::Receiver<Result<R, StoreError>>,
    path: PathBuf,
}

impl<R> Pending<R> {
    /// Blocks this thread until the result is known. Not on an async worker (tokio refuses
    /// it there): use [`Pending::done`].
    pub fn wait(self) -> Result<R, StoreError> {
        let path = self.path;
        self.rx
            .blocking_recv()
            .map_err(|_| StoreError::WriterGone { path })?
    }

    /// The result, awaited without holding a thread.
    pub async fn done(self) -> Result<R, StoreError> {
        let path = self.path;
        self.rx.await.map_err(|_| StoreError::WriterGone { path })?
    }
}

/// What a write hands back to the writer: whether it succeeded (else what it wrote is
/// undone), and how to answer its caller once the batch's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write's work: run inside the batch's transaction, given where its message's body was
/// put, it says whether it succeeded and how to answer its caller. It may run twice (see
/// [`run_batch`]): a run changes nothing but the database, and an answer is only given
/// by the `Deliver` of the run that counts.
type Work = Box<dyn Fn(&Connection, &Path, Option<BodyAt>) -> (bool, Deliver) + Send>;

/// A message's id and body, for the body file.
type Body = ((String, String), bytes::Bytes);

/// One write, run by the writer thread inside the batch's transaction after its body (if
/// any) is in the body file; `fail` answers the caller when it cannot run (or panicked).
struct Job {
    body: Option<Body>,
    run: Work,
    fail: Box<dyn FnOnce(StoreError) + Send>,
}

/// Most writes one commit covers.
const MAX_BATCH: usize = 256;

/// How the writer gathers a batch: writes on their way (messages being judged that may be
/// handed over), how long it may wait for them, and the writer's thread, which sleeps
/// while they are on their way and is woken when the last of them has been handed over
/// or will not come (not by each write handed over: a batch of fourteen woke it fourteen
/// times, and a poll for refused ones every 100 µs more).
#[derive(Debug, Default)]
struct Gathering {
    coming: AtomicUsize,
    wait_us: AtomicU64,
    writer: std::sync::OnceLock<std::thread::Thread>,
}

/// A write on its way to the store (a message being judged): while any is, the writer may
/// wait up to `data.commit_gather_us` for it before committing, so that one commit (and
/// one flush of each file) covers more documents. Dropped when the write is handed over
/// or will not come.
#[derive(Debug)]
#[must_use = "the writer waits while it is held"]
pub struct Coming(Arc<Gathering>);

impl Drop for Coming {
    fn drop(&mut self) {
        if self.0.coming.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(writer) = self.0.writer.get()
        {
            // A writer not asleep keeps the token: its next sleep returns at once, and it
            // looks again.
            writer.unpark();
        }
    }
}
/// Least time between two checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// One statement of the writer's, its compiled form kept (they run for every write).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(
    conn: Connection,
    path: PathBuf,
    mut bodies: BodyWriter,
    jobs: Receiver<Job>,
    checkpoint: SyncSender<()>,
    gathering: &Gathering,
) {
    let commit_error = |source: &Arc<rusqlite::Error>| StoreError::Commit {
        path: path.clone(),
        source: source.clone(),
    };
    // Only this thread sleeps on it (`std::thread::park_timeout` below).
    let _ = gathering.writer.set(std::thread::current());
    while let Ok(first) = jobs.recv() {
        let opened = Instant::now();
        let mut batch = vec![first];
        // What is waiting, and then, while writes are on their way, what arrives within
        // the gathering time: a lone client waits for nothing.
        loop {
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let wait = Duration::from_micros(gathering.wait_us.load(Ordering::Relaxed));
            let left = wait.saturating_sub(opened.elapsed());
            if batch.len() >= MAX_BATCH
                || left.is_zero()
                || gathering.coming.load(Ordering::Acquire) == 0
            {
                break;
            }
            // Woken when the last write on its way is handed over (each is sent before its
            // `Coming` goes) or will not come, or when the time is up; a wake-up for
            // nothing only makes it look again.
            std::thread::park_timeout(left);
        }
        // The bodies are durable before the transaction that says where they lie commits.
        let items: Vec<((&str, &str), &[u8])> = batch
            .iter()
            .filter_map(|j| j.body.as_ref())
            .map(|((r, e), b)| ((r.as_str(), e.as_str()), &b[..]))
            .collect();
        let placed = if items.is_empty() {
            Ok(Vec::new())
        } else {
            bodies.append(&items).map_err(|e| {
                tracing::error!(error = %e, "archive store: cannot write the batch's message bodies; its archivings are refused");
                Arc::new(e)
            })
        };
        drop(items);
        let mut places = placed.iter().flatten().copied();
        let mut ready: Vec<(Job, Option<BodyAt>)> = Vec::with_capacity(batch.len());
        for job in batch {
            match (&job.body, &placed) {
                (None, _) => ready.push((job, None)),
                (Some(_), Ok(_)) => ready.push((job, places.next())),
                (Some(_), Err(e)) => (job.fail)(StoreError::Body(e.clone())),
            }
        }
        let mut batch = ready;
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "archive store: cannot begin a write transaction");
            let e = Arc::new(e);
            for (job, _) in batch.drain(..) {
                (job.fail)(commit_error(&e));
            }
            continue;
        }
        let delivers = match run_optimistically(&conn, &path, &batch) {
            Ok(Some(delivers)) => delivers,
            Ok(None) => run_with_savepoints(&conn, &path, batch, &commit_error),
            Err(e) => {
                tracing::error!(error = %e, "archive store: cannot start the batch again");
                // Whatever is still open is undone (an error here: nothing was).
                let _ = conn.execute_batch("ROLLBACK");
                let e = Arc::new(e);
                for (job, _) in batch {
                    (job.fail)(commit_error(&e));
                }
                continue;
            }
        };
        let committed = exec(&conn, "COMMIT").map_err(|e| {
            tracing::error!(error = %e, "archive store: commit failed; the batch is undone");
            let _ = conn.execute_batch("ROLLBACK");
            Arc::new(e)
        });
        for deliver in delivers {
            deliver(committed.as_ref().map(|_| ()).map_err(commit_error));
        }
        let _ = checkpoint.try_send(());
    }
}

/// Runs every job of a batch in the open transaction as it is, each write straight into
/// it: the usual batch, where every write succeeds. The first write that does not (a
/// refusal, a panic) rolls the whole transaction back and opens it again, and `Ok(None)`
/// says the batch is to run once more with a savepoint per write
/// ([`run_with_savepoints`]); so a write runs at most twice, and the answers of the first
/// runs are dropped unsent. `Err`: the transaction could not be opened again (nothing is
/// written). A savepoint per write, always, cost a copy of every page each write touched
/// (the sub-journal) and two statements.
fn run_optimistically(
    conn: &Connection,
    path: &Path,
    batch: &[(Job, Option<BodyAt>)],
) -> rusqlite::Result<Option<Vec<Deliver>>> {
    let mut delivers: Vec<Deliver> = Vec::with_capacity(batch.len());
    for (job, at) in batch {
        let ran =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(conn, path, *at)));
        match ran {
            Ok((true, deliver)) => delivers.push(deliver),
            _ => {
                drop(delivers);
                conn.execute_batch("ROLLBACK")?;
                exec(conn, "BEGIN IMMEDIATE")?;
                return Ok(None);
            }
        }
    }
    Ok(Some(delivers))
}

/// Runs every job of a batch in the open transaction, each in a savepoint of its own, so
/// that a write that fails undoes only its own writes.
fn run_with_savepoints(
    conn: &Connection,
    path: &Path,
    batch: Vec<(Job, Option<BodyAt>)>,
    commit_error: &dyn Fn(&Arc<rusqlite::Error>) -> StoreError,
) -> Vec<Deliver> {
    let mut delivers: Vec<Deliver> = Vec::with_capacity(batch.len());
    for (Job { run, fail, .. }, at) in batch {
        if let Err(e) = exec(conn, "SAVEPOINT op") {
            fail(commit_error(&Arc::new(e)));
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(conn, path, at)));
        let (ok, deliver) = match ran {
            Ok(r) => (r.0, Some(r.1)),
            Err(_) => {
                tracing::error!("archive store: a write panicked; it was undone");
                (false, None)
            }
        };
        let undone = if ok {
            Ok(())
        } else {
            conn.execute_batch("ROLLBACK TO op")
        };
        if let Err(e) = undone.and_then(|()| exec(conn, "RELEASE op")) {
            tracing::error!(error = %e, "archive store: savepoint failed");
        }
        match deliver {
            Some(d) => delivers.push(d),
            None => fail(StoreError::Panicked {
                path: path.to_owned(),
            }),
        }
    }
    delivers
}

/// Copies the WAL into the database off the commit path: after writes, at most every
/// [`CHECKPOINT_EVERY`]. A passive checkpoint never waits for the writer, and the writer
/// starts the WAL over only when it finds it wholly copied, which a steady stream of
/// commits never lets happen: the WAL would only grow. Past [`RESTART_FRAMES`] the
/// checkpointer therefore waits for the current batch, copies the rest (little, just after
/// a passive one) and has the next batch start the WAL from the beginning.
fn checkpoint_loop(conn: Arc<Mutex<Connection>>, signals: Receiver<()>) {
    let checkpoint = |mode: &str| -> rusqlite::Result<(i64, i64)> {
        // Shared with `ArchiveStore::checkpoint`: SQLite answers a checkpoint that meets
        // another with SQLITE_BUSY at once, without its busy handler.
        lock(&conn).query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })
    };
    let mut last = Instant::now();
    while signals.recv().is_ok() {
        let wait = CHECKPOINT_EVERY.saturating_sub(last.elapsed());
        std::thread::sleep(wait);
        while signals.try_recv().is_ok() {}
        let done = checkpoint("PASSIVE").and_then(|(frames, copied)| {
            tracing::debug!(frames, copied, "archive store: passive checkpoint");
            if frames > RESTART_FRAMES {
                checkpoint("RESTART").map(|_| ())
            } else {
                Ok(())
            }
        });
        if let Err(e) = done {
            tracing::warn!(error = %e, "archive store: checkpoint failed (retried after the next write)");
        }
        last = Instant::now();
    }
    // The writer is gone: the WAL is emptied, so the next start reads a small one.
    let _ = checkpoint("TRUNCATE");
}

/// WAL frames (pages) past which a checkpoint waits for the writer.
const RESTART_FRAMES: i64 = 4096;

/// Reads and checkpoints only hold these locks: a panic while holding one leaves nothing
/// to undo.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for ArchiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveStore")
            .field("path", &self.path)
            .finish()
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

fn set_state(tx: &Connection, set_id: &str) -> rusqlite::Result<Option<SetState>> {
    let mut stmt = tx.prepare_cached(
        "SELECT document_oid, version, status, custodian, producer, register_owner, register
         FROM document WHERE set_id = ?1 ORDER BY version",
    )?;
    let versions = stmt
        .query_map([set_id], |r| {
            let status: String = r.get(2)?;
            Ok(VersionState {
                document_oid: r.get(0)?,
                version: r.get(1)?,
                status: DocStatus::parse(&status).unwrap_or(DocStatus::Active),
                custodian: r.get(3)?,
                producer: r.get(4)?,
                register_owner: r.get(5)?,
                register: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!versions.is_empty()).then(|| SetState {
        set_id: set_id.to_owned(),
        versions,
    }))
}

#[allow(clippy::too_many_arguments)]
fn record_event(
    tx: &Connection,
    set_id: &str,
    document_oid: &str,
    version: u32,
    kind: &str,
    at: &str,
    actor: (&str, &str),
    message: Option<(&str, &str)>,
    reason: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO lifecycle_event (set_id, document_oid, version, kind, at, actor, actor_role, message_root, message_extension, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![set_id, document_oid, version, kind, at, actor.0, actor.1, message.map(|m| m.0), message.map(|m| m.1), reason])?;
    Ok(())
}

/// Records a message whose body lies in the body file `at` (the row's `raw` stays empty).
fn insert_message(
    tx: &Connection,
    message: (&str, &str),
    at: &str,
    sender: &str,
    body: BodyAt,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO message (root, extension, received_at, sender, raw, body_offset, body_len) VALUES (?1, ?2, ?3, ?4, X'', ?5, ?6)",
    )?
    .execute(params![message.0, message.1, at, sender, body.offset, body.len])
    .map(|_| ())
}

/// A write that records a message was handed no place in the body file: a defect.
fn unplaced(path: &Path) -> StoreError {
    tracing::error!("archive store: a message reached its transaction without its body's place");
    StoreError::Panicked {
        path: path.to_owned(),
    }
}

/// Inserts a document row; with `cda_in_message` (the CDA's digest) the CDA is not stored
/// again but taken from the message when read.
fn insert_document(
    tx: &Connection,
    doc: &ArchivedDocument,
    sender: &str,
    message: (&str, &str),
    at: &str,
    cda_in_message: Option<&CdaDigest>,
) -> rusqlite::Result<usize> {
    let empty: &[u8] = &[];
    tx.prepare_cached(
        "INSERT INTO document (document_oid, set_id, version, client_id, custodian, producer, register_owner, organiser, register,
                               document_group, document_type, case_id, client_relationship, effective_time, effective_utc, status,
                               replaces, reason_of_correction, sender, message_root, message_extension, archived_at, cda,
                               cda_in_message, cda_sha256, cda_xxh3)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'active', ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )?
    .execute(params![
        doc.document_oid,
        doc.set_id,
        doc.version,
        doc.client_id,
        doc.custodian,
        doc.producer,
        doc.register_owner,
        doc.organiser,
        doc.register,
        doc.document_group,
        doc.document_type,
        doc.case_id,
        doc.client_relationship,
        doc.effective_time,
        doc.effective_time.as_deref().and_then(hl7_ts_utc),
        doc.replaces.as_ref().and_then(|r| r.document_oid.clone()),
        doc.reason_of_correction,
        sender,
        message.0,
        message.1,
        at,
        if cda_in_message.is_some() {
            empty
        } else {
            &doc.cda[..]
        },
        i64::from(cda_in_message.is_some()),
        match cda_in_message {
            Some(CdaDigest::Sha256(h)) => Some(h),
            _ => None,
        },
        match cda_in_message {
            Some(CdaDigest::Xxh3(h)) => Some(h),
            _ => None,
        },
    ])
}

/// Appends the WHERE clause and parameters of `q` (without paging).
fn filter(q: &DocumentQuery, sql: &mut String, args: &mut Vec<Value>) {
    let placeholders = |n: usize| vec!["?"; n].join(", ");
    sql.push_str(&format!(
        " WHERE register_owner IN ({})",
        placeholders(q.registers.len().max(1))
    ));
    if q.registers.is_empty() {
        // Nothing is readable: match no register.
        args.push(Value::Null);
    }
    args.extend(q.registers.iter().cloned().map(Value::Text));
    let statuses: Vec<DocStatus> = if q.statuses.is_empty() {
        vec![DocStatus::Active]
    } else {
        q.statuses.clone()
    };
    sql.push_str(&format!(
        " AND status IN ({})",
        placeholders(statuses.len())
    ));
    args.extend(statuses.iter().map(|s| Value::Text(s.as_str().into())));
    for (col, v) in [
        ("client_id", &q.client_id),
        ("case_id", &q.case_id),
        ("client_relationship", &q.client_relationship),
        ("document_oid", &q.document_oid),
        ("set_id", &q.set_id),
        ("document_group", &q.document_group),
        ("document_type", &q.document_type),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(Value::Text(v.clone()));
        }
    }
    if let Some(f) = &q.from_utc {
        sql.push_str(" AND effective_utc >= ?");
        args.push(Value::Text(f.clone()));
    }
    if let Some(t) = &q.to_utc {
        sql.push_str(" AND effective_utc <= ?");
        args.push(Value::Text(t.clone()));
    }
}

impl ArchiveStore {
    /// Opens (creating when needed) the store in `dir`, with its writer and checkpoint
    /// threads (they end when the last handle is dropped).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, BodyWriter::open)
    }

    /// [`Self::open`], with the body file opened by `bodies` (a test's failing one).
    fn open_with(
        dir: &Path,
        bodies: fn(&Path) -> Result<BodyWriter, BodyError>,
    ) -> Result<Self, StoreError> {
        let opened = |e| match e {
            super::DbOpenError::Dir(path, source) => StoreError::Dir { path, source },
            super::DbOpenError::Sqlite(path, source) => StoreError::Sqlite { path, source },
        };
        // FULL: an acknowledged AA survives power loss, not only a process crash.
        let (conn, path) =
            super::open_db(dir, "FULL", &format!("{}{SCHEMA}", super::MESSAGE_TABLE))
                .map_err(opened)?;
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        migrate(&conn).map_err(sql)?;
        super::migrate_message_table(&conn).map_err(sql)?;
        let needed: u64 = conn
            .query_row(
                &format!(
                    "SELECT COALESCE(MAX({}), 0) FROM message",
                    bodies::RECORD_END_SQL
                ),
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let body_error = |e| StoreError::Body(Arc::new(e));
        bodies::check_length(dir, needed).map_err(body_error)?;
        let body_writer = bodies(dir).map_err(body_error)?;
        // Checkpoints happen on their own thread, not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql)?;
        let (read, _) = super::open_db(dir, "FULL", "").map_err(opened)?;
        let (checkpointer, _) = super::open_db(dir, "FULL", "").map_err(opened)?;
        let checkpointer = Arc::new(Mutex::new(checkpointer));
        let checkpoint_conn = checkpointer.clone();
        let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<Job>();
        let (cp_tx, cp_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|source| StoreError::Dir {
                    path: path.clone(),
                    source,
                })
        };
        let writer_path = path.clone();
        let gathering = Arc::new(Gathering::default());
        let writer_gathering = gathering.clone();
        spawn(
            "archive-writer",
            Box::new(move || {
                writer_loop(
                    conn,
                    writer_path,
                    body_writer,
                    jobs_rx,
                    cp_tx,
                    &writer_gathering,
                );
            }),
        )?;
        spawn(
            "archive-checkpoint",
            Box::new(move || checkpoint_loop(checkpoint_conn, cp_rx)),
        )?;
        Ok(Self {
            read: Arc::new(Mutex::new(read)),
            checkpointer,
            writer: jobs_tx,
            gathering,
            path,
            dir: dir.to_owned(),
        })
    }

    /// How long the writer may wait for writes on their way ([`Coming`]) before it commits
    /// (`data.commit_gather_us`; none until set).
    pub fn gather_commits(&self, wait: Duration) {
        let us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.gathering.wait_us.store(us, Ordering::Relaxed);
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.read)
    }

    /// Copies the whole WAL into the database and empties it (at a clean stop, so the data
    /// directory holds the archive in one file).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        lock(&self.checkpointer)
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.sql())
    }

    /// Hands `work` to the writer thread, to run inside the next batch's transaction (in a
    /// savepoint of its own) once `body` (a message's, if any) is durable in the body file,
    /// with where it lies; its result is answered once that transaction has committed.
    fn enqueue<R: Send + 'static>(
        &self,
        body: Option<Body>,
        work: impl Fn(&Connection, &Path, Option<BodyAt>) -> Result<R, StoreError> + Send + 'static,
    ) -> Pending<R> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<R, StoreError>>();
        // Exactly one of `run` and `fail` is called; both answer on the same channel.
        let answer = Arc::new(Mutex::new(Some(tx)));
        let fail_answer = answer.clone();
        let send = |answer: &Mutex<Option<tokio::sync::oneshot::Sender<_>>>, r| {
            if let Some(tx) = answer.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(r);
            }
        };
        let job = Job {
            body,
            run: Box::new(move |conn, path, at| {
                let r = work(conn, path, at);
                let ok = r.is_ok();
                let answer = answer.clone();
                let deliver: Deliver = Box::new(move |commit: Result<(), StoreError>| {
                    send(&answer, commit.and(r));
                });
                (ok, deliver)
            }),
            fail: Box::new(move |e| send(&fail_answer, Err(e))),
        };
        // A refused send drops the job and with it the channel's sender: `Pending` then
        // answers that the writer is gone.
        let _ = self.writer.send(job);
        Pending {
            rx,
            path: self.path.clone(),
        }
    }

    /// [`Self::enqueue`], waited for on this thread.
    fn submit<R: Send + 'static>(
        &self,
        body: Option<Body>,
        work: impl Fn(&Connection, &Path, Option<BodyAt>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.enqueue(body, work).wait()
    }

    /// Loads documents straight into the store, bypassing messages and rules, in one
    /// transaction: for benchmarks and seeding large archives. Returns how many were
    /// written.
    pub fn bulk_load(
        &self,
        docs: impl IntoIterator<Item = ArchivedDocument>,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let at = rfc3339(at);
        let docs: Vec<ArchivedDocument> = docs.into_iter().collect();
        self.submit(None, move |conn, path, _| {
            let sql = |source| StoreError::Sqlite {
                path: path.to_owned(),
                source,
            };
            let mut n = 0;
            for d in &docs {
                insert_document(conn, d, &d.producer, ("bulk", &d.document_oid), &at, None)
                    .map_err(sql)?;
                n += 1;
            }
            Ok(n)
        })
    }
}

/// An archiving, owned, for the writer thread.
struct ArchiveJob {
    use_case: UseCase,
    message: (String, String),
    sender: String,
    doc: ArchivedDocument,
    /// When the message carries the CDA: its digest (the CDA itself is not stored again).
    cda_digest: Option<CdaDigest>,
    at: String,
    exchange: Option<ExchangeRecord>,
}

fn archive_in(
    conn: &Connection,
    path: &Path,
    j: &ArchiveJob,
    body: Option<BodyAt>,
) -> Result<Option<i64>, StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let (doc, at, sender) = (&j.doc, &j.at, j.sender.as_str());
    let message = (j.message.0.as_str(), j.message.1.as_str());
    let body = body.ok_or_else(|| unplaced(path))?;
    if let Err(e) = insert_message(conn, message, at, sender, body) {
        return Err(if is_unique_violation(&e) {
            StoreError::DuplicateMessage {
                root: message.0.to_owned(),
                extension: message.1.to_owned(),
            }
        } else {
            sql(e)
        });
    }
    let set = set_state(conn, &doc.set_id).map_err(sql)?;
    let findings = check_version(j.use_case, set.as_ref(), doc, &doc.producer);
    if !findings.is_empty() {
        return Err(StoreError::Refused(findings));
    }
    if let Err(e) = insert_document(conn, doc, sender, message, at, j.cda_digest.as_ref()) {
        return Err(if is_unique_violation(&e) {
            StoreError::DuplicateDocument {
                document_oid: doc.document_oid.clone(),
                version: doc.version,
            }
        } else {
            sql(e)
        });
    }
    let actor = (doc.producer.as_str(), "organisation");
    if let Some(current) = set.as_ref().and_then(SetState::current) {
        conn.prepare_cached(
            "UPDATE document SET status = 'replaced', status_changed_at = ?1 WHERE document_oid = ?2",
        )
        .and_then(|mut st| st.execute(params![at, current.document_oid]))
        .map_err(sql)?;
        record_event(
            conn,
            &doc.set_id,
            &current.document_oid,
            current.version,
            "replaced",
            at,
            actor,
            Some(message),
            doc.reason_of_correction.as_deref(),
        )
        .map_err(sql)?;
    }
    record_event(
        conn,
        &doc.set_id,
        &doc.document_oid,
        doc.version,
        "archived",
        at,
        actor,
        Some(message),
        doc.reason_of_correction.as_deref(),
    )
    .map_err(sql)?;
    j.exchange
        .as_ref()
        .map(|r| super::exchange_log::insert(conn, r, Keep::Archived))
        .transpose()
        .map_err(sql)
}

fn invalidate_in(
    conn: &Connection,
    path: &Path,
    inv: &OwnedInvalidation,
    at: &str,
    body: Option<BodyAt>,
) -> Result<(DocumentMeta, Option<i64>), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    if let Some((root, ext, sender)) = &inv.message
        && let Err(e) = insert_message(
            conn,
            (root, ext),
            at,
            sender,
            body.ok_or_else(|| unplaced(path))?,
        )
    {
        return Err(if is_unique_violation(&e) {
            StoreError::DuplicateMessage {
                root: root.clone(),
                extension: ext.clone(),
            }
        } else {
            sql(e)
        });
    }
    let set_id: Option<String> = conn
        .query_row(
            "SELECT set_id FROM document WHERE document_oid = ?1",
            [&inv.document_oid],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    let set = match &set_id {
        Some(s) => set_state(conn, s).map_err(sql)?,
        None => None,
    };
    let findings = check_invalidation(
        set.as_ref(),
        &inv.document_oid,
        inv.actor(),
        inv.reason.as_deref(),
        inv.reason_required,
    );
    if !findings.is_empty() {
        return Err(StoreError::Refused(findings));
    }
    conn.execute(
        "UPDATE document SET status = 'invalidated', status_changed_at = ?1, invalidation_reason = ?2 WHERE document_oid = ?3",
        params![at, inv.reason, inv.document_oid],
    )
    .map_err(sql)?;
    let version = set
        .as_ref()
        .and_then(|s| {
            s.versions
                .iter()
                .find(|v| v.document_oid == inv.document_oid)
        })
        .map_or(0, |v| v.version);
    let role = if inv.actor.1 {
        "archivist"
    } else {
        "organisation"
    };
    record_event(
        conn,
        set_id.as_deref().unwrap_or_default(),
        &inv.document_oid,
        version,
        "invalidated",
        at,
        (&inv.actor.0, role),
        inv.message.as_ref().map(|m| (m.0.as_str(), m.1.as_str())),
        inv.reason.as_deref(),
    )
    .map_err(sql)?;
    let meta = conn
        .query_row(
            &format!("SELECT {META_COLUMNS} FROM document WHERE document_oid = ?1"),
            [&inv.document_oid],
            |r| meta_row(r, false),
        )
        .map_err(sql)?;
    // With a message, its body is stored: the exchange refers to it; an archivist's act
    // (no message) keeps the view's small form body.
    let keep = if inv.message.is_some() {
        Keep::Archived
    } else {
        Keep::Truncated(usize::MAX)
    };
    let id = inv
        .exchange
        .as_ref()
        .map(|r| super::exchange_log::insert(conn, r, keep))
        .transpose()
        .map_err(sql)?;
    Ok((meta, id))
}

impl DocumentStore for ArchiveStore {
    fn coming(&self) -> Coming {
        self.gathering.coming.fetch_add(1, Ordering::AcqRel);
        Coming(self.gathering.clone())
    }

    fn archive_later(
        &self,
        use_case: UseCase,
        message: (&str, &str),
        sender: &str,
        raw: bytes::Bytes,
        doc: &ArchivedDocument,
        at: OffsetDateTime,
        exchange: Option<ExchangeRecord>,
    ) -> Pending<Option<i64>> {
        // The CDA is not copied to the writer when the message carries it: only its hash.
        let (doc, cda_digest) = if doc.cda_in_message {
            (doc.metadata_only(), Some(CdaDigest::of(&doc.cda)))
        } else {
            (doc.clone(), None)
        };
        let message = (message.0.to_owned(), message.1.to_owned());
        let body = Some((message.clone(), raw));
        let job = ArchiveJob {
            use_case,
            message,
            sender: sender.to_owned(),
            doc,
            cda_digest,
            at: rfc3339(at),
            exchange,
        };
        self.enqueue(body, move |conn, path, at| archive_in(conn, path, &job, at))
    }

    fn invalidate(
        &self,
        inv: &Invalidation<'_>,
        at: OffsetDateTime,
    ) -> Result<(DocumentMeta, Option<i64>), StoreError> {
        let (inv, body) = OwnedInvalidation::of(inv);
        let at = rfc3339(at);
        self.submit(body, move |conn, path, place| {
            invalidate_in(conn, path, &inv, &at, place)
        })
    }

    fn get(&self, document_oid: &str) -> Result<Option<DocumentMeta>, StoreError> {
        let row = {
            let conn = self.lock();
            conn.query_row(
                &format!(
                    "SELECT {META_COLUMNS}, {CONTENT_COLUMNS} FROM document WHERE document_oid = ?1"
                ),
                [document_oid],
                |r| content_row(&conn, r),
            )
            .optional()
            .map_err(self.sql())?
        };
        // The message is read and parsed outside the lock.
        row.map(|r| with_cda(&self.dir, r)).transpose()
    }

    fn query(&self, q: &DocumentQuery) -> Result<Page<DocumentMeta>, StoreError> {
        let conn = self.lock();
        let mut where_ = String::new();
        let mut args = Vec::new();
        filter(q, &mut where_, &mut args);
        let total: u64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM document{where_}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        let content = if q.with_content {
            format!(", {CONTENT_COLUMNS}")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {META_COLUMNS}{content} FROM document{where_}
             ORDER BY effective_utc DESC, set_id, version DESC LIMIT ? OFFSET ?"
        );
        args.push(Value::Integer(i64::from(q.limit)));
        args.push(Value::Integer(i64::from(q.offset)));
        let mut stmt = conn.prepare(&sql).map_err(self.sql())?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                if q.with_content {
                    content_row(&conn, r)
                } else {
                    meta_row(r, false).map(|m| (m, None))
                }
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        drop(stmt);
        drop(conn);
        let items = rows
            .into_iter()
            .map(|r| with_cda(&self.dir, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            total,
            offset: q.offset,
            items,
        })
    }

    fn groups(&self, q: &DocumentQuery, by_case: bool) -> Result<Page<Group>, StoreError> {
        let conn = self.lock();
        let col = if by_case {
            "case_id"
        } else {
            "client_relationship"
        };
        let mut where_ = String::new();
        let mut args = Vec::new();
        filter(q, &mut where_, &mut args);
        where_.push_str(&format!(" AND {col} IS NOT NULL"));
        let total: u64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM (SELECT 1 FROM document{where_} GROUP BY {col}, register_owner)"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        args.push(Value::Integer(i64::from(q.limit)));
        args.push(Value::Integer(i64::from(q.offset)));
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {col}, register_owner, COUNT(*), MIN(effective_utc), MAX(effective_utc) FROM document{where_}
                 GROUP BY {col}, register_owner ORDER BY MAX(effective_utc) DESC, {col} LIMIT ? OFFSET ?"
            ))
            .map_err(self.sql())?;
        let items = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(Group {
                    id: r.get(0)?,
                    register_owner: r.get(1)?,
                    documents: r.get(2)?,
                    first: r.get(3)?,
                    last: r.get(4)?,
                })
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        Ok(Page {
            total,
            offset: q.offset,
            items,
        })
    }

    fn summary(&self, q: &DocumentQuery) -> Result<Summary, StoreError> {
        let conn = self.lock();
        let mut where_ = String::new();
        let mut args = Vec::new();
        filter(q, &mut where_, &mut args);
        let (documents, client_relationships, cases, first, last) = conn
            .query_row(
                &format!("SELECT COUNT(*), COUNT(DISTINCT client_relationship), COUNT(DISTINCT case_id), MIN(effective_utc), MAX(effective_utc) FROM document{where_}"),
                params_from_iter(args.iter()),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map_err(self.sql())?;
        let count_by = |col: &str| -> Result<Vec<(String, u64)>, StoreError> {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT COALESCE({col}, ''), COUNT(*) FROM document{where_} GROUP BY {col} ORDER BY {col}"
                ))
                .map_err(self.sql())?;
            stmt.query_map(params_from_iter(args.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())
        };
        Ok(Summary {
            documents,
            by_status: count_by("status")?,
            by_group: count_by("document_group")?,
            by_type: count_by("document_type")?,
            client_relationships,
            cases,
            first,
            last,
        })
    }

    fn history(&self, set_id: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT kind, document_oid, version, at, actor, actor_role, message_root, message_extension, reason
                 FROM lifecycle_event WHERE set_id = ?1 ORDER BY id",
            )
            .map_err(self.sql())?;
        stmt.query_map([set_id], |r| {
            let root: Option<String> = r.get(6)?;
            let ext: Option<String> = r.get(7)?;
            Ok(HistoryEvent {
                kind: r.get(0)?,
                document_oid: r.get(1)?,
                version: r.get(2)?,
                at: r.get(3)?,
                actor: r.get(4)?,
                actor_role: r.get(5)?,
                message: root.zip(ext),
                reason: r.get(8)?,
            })
        })
        .map_err(self.sql())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(self.sql())
    }

    fn count(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM document", [], |r| r.get(0))
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::RelatedRef;

    const ORG: &str = "1.2.246.10.99900016.10.0";

    fn doc(oid: &str, set: &str, version: u32, replaces: Option<&str>) -> ArchivedDocument {
        ArchivedDocument {
            set_id: set.into(),
            version,
            replaces: replaces.map(|r| RelatedRef {
                type_code: Some("RPLC".into()),
                document_oid: Some(r.into()),
                set_id: Some(set.into()),
                version: Some(version - 1),
            }),
            ..ArchivedDocument::minimal(oid, ORG)
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// Archives version 1 of set `oid` in message 1.2.3 / `ext`.
    fn first_version(s: &ArchiveStore, ext: &str, oid: &str) -> Result<Option<i64>, StoreError> {
        s.archive(
            UseCase::Archive,
            ("1.2.3", ext),
            ORG,
            b"raw",
            &doc(oid, oid, 1, None),
            now(),
            None,
        )
    }

    /// While a write is on its way the writer waits (up to the gathering time) so that one
    /// commit covers it too; with none on its way it commits at once. The gathering time is
    /// made long (10 s) so that which of the two happened cannot be mistaken.
    #[test]
    fn the_writer_waits_for_writes_on_their_way_and_only_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        s.gather_commits(Duration::from_secs(10));
        let write = |n: u32| {
            let oid = format!("{ORG}.9.{n}");
            s.archive_later(
                UseCase::Archive,
                ("1.2.3", &n.to_string()),
                ORG,
                bytes::Bytes::from_static(b"raw"),
                &doc(&oid, &oid, 1, None),
                now(),
                None,
            )
        };
        // Nothing on its way: committed at once.
        let started = Instant::now();
        write(1).wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        // One on its way: the first write waits for it…
        let coming = s.coming();
        let first = write(2);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            s.count().unwrap(),
            1,
            "committed while a write was on its way"
        );
        // …and is committed as soon as that one is handed over (here: will not come).
        let started = Instant::now();
        drop(coming);
        let second = write(3);
        first.wait().unwrap();
        second.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(s.count().unwrap(), 3);
    }

    #[test]
    fn a_batch_with_refusals_and_a_panic_answers_each_write_alone_and_runs_none_thrice() {
        use std::sync::atomic::AtomicUsize;
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        first_version(&s, "0", &format!("{ORG}.9.0")).unwrap();
        // Writes counting their runs, each archiving one document.
        let counted = |s: &ArchiveStore, runs: &Arc<AtomicUsize>, ext: &str, oid: &str| {
            let runs = runs.clone();
            let (ext, oid) = (ext.to_owned(), oid.to_owned());
            s.enqueue(
                Some((
                    ("1.2.3".into(), ext.clone()),
                    bytes::Bytes::from_static(b"raw"),
                )),
                move |conn, path, at| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let job = ArchiveJob {
                        use_case: UseCase::Archive,
                        message: ("1.2.3".into(), ext.clone()),
                        sender: ORG.into(),
                        doc: doc(&oid, &oid, 1, None),
                        cda_digest: None,
                        at: rfc3339(now()),
                        exchange: None,
                    };
                    archive_in(conn, path, &job, at)
                },
            )
        };
        let batch = |writes: &[(&str, &str)], panic_at: Option<usize>| {
            s.gather_commits(Duration::from_secs(10));
            let coming = s.coming();
            let runs: Vec<Arc<AtomicUsize>> = (0..=writes.len()).map(|_| Arc::default()).collect();
            let mut pending = Vec::new();
            for (i, (ext, oid)) in writes.iter().enumerate() {
                if panic_at == Some(i) {
                    let r = runs[writes.len()].clone();
                    pending.push(s.enqueue(
                        None,
                        move |_, _, _| -> Result<Option<i64>, StoreError> {
                            r.fetch_add(1, Ordering::SeqCst);
                            panic!("a write that panics")
                        },
                    ));
                }
                pending.push(counted(&s, &runs[i], ext, oid));
            }
            // All are waiting: one commit takes them.
            std::thread::sleep(Duration::from_millis(100));
            drop(coming);
            let answers: Vec<_> = pending.into_iter().map(Pending::wait).collect();
            s.gather_commits(Duration::ZERO);
            let runs: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
            (answers, runs)
        };
        // Every write succeeds: each runs once.
        let oid = |n: u32| format!("{ORG}.9.{n}");
        let (answers, runs) = batch(&[("1", &oid(1)), ("2", &oid(2)), ("3", &oid(3))], None);
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(runs, [1, 1, 1, 0]);
        assert_eq!(s.count().unwrap(), 4);
        // A replayed message id, a panic, a document archived before, a document archived
        // earlier in the same batch, between writes that succeed.
        let (answers, runs) = batch(
            &[
                ("4", &oid(4)),
                ("1", &oid(5)),
                ("6", &oid(6)),
                ("7", &oid(0)),
                ("8", &oid(8)),
                ("9", &oid(8)),
                ("10", &oid(10)),
            ],
            Some(2),
        );
        let refused = |r: &Result<Option<i64>, StoreError>| match r {
            Ok(_) => "ok",
            Err(StoreError::DuplicateMessage { .. }) => "duplicate message",
            Err(StoreError::Panicked { .. }) => "panicked",
            Err(StoreError::Refused(_)) => "refused",
            Err(_) => "other",
        };
        assert_eq!(
            answers.iter().map(refused).collect::<Vec<_>>(),
            [
                "ok",
                "duplicate message",
                "panicked",
                "ok",
                "refused",
                "ok",
                "refused",
                "ok"
            ],
            "{answers:?}"
        );
        assert!(runs.iter().all(|&r| (1..=2).contains(&r)), "{runs:?}");
        // What was refused left nothing: four more documents, and only their messages.
        assert_eq!(s.count().unwrap(), 8);
        let conn = Connection::open(dir.path().join(super::super::exchange_log::DB_FILE)).unwrap();
        let messages: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(messages, 8);
        for n in [4, 6, 8, 10] {
            assert!(s.get(&oid(n)).unwrap().is_some());
        }
        assert!(s.get(&oid(5)).unwrap().is_none());
        // A refusal alone (no panic): a new message whose document was archived before
        // leaves no message row behind.
        let (answers, runs) = batch(&[("11", &oid(11)), ("12", &oid(0)), ("13", &oid(13))], None);
        assert_eq!(
            answers.iter().map(refused).collect::<Vec<_>>(),
            ["ok", "refused", "ok"]
        );
        assert!(runs.iter().all(|&r| r <= 2), "{runs:?}");
        let messages: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!((s.count().unwrap(), messages), (10, 10));
    }

    /// The savepoints' journals in memory, not in temporary files (2 = MEMORY).
    #[test]
    fn connections_keep_savepoint_journals_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = crate::archive::open_db(dir.path(), "FULL", "").unwrap();
        let mode: i64 = conn
            .pragma_query_value(None, "temp_store", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 2);
    }

    #[test]
    fn duplicates_are_refused_and_nothing_half_written_remains() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        first_version(&s, "1", "1.2.9").unwrap();
        assert!(matches!(
            first_version(&s, "1", "1.2.10"),
            Err(StoreError::DuplicateMessage { .. })
        ));
        // A refused document in a new message: the message row must not stay behind.
        assert!(matches!(
            first_version(&s, "2", "1.2.9"),
            Err(StoreError::Refused(_))
        ));
        first_version(&s, "2", "1.2.11").unwrap();
        assert_eq!(s.count().unwrap(), 2);
        drop(s);
        let s = ArchiveStore::open(dir.path()).unwrap();
        let got = s.get("1.2.9").unwrap().unwrap();
        assert_eq!((got.version, got.status), (1, DocStatus::Active));
        assert_eq!(got.cda.as_deref(), Some(&b"<ClinicalDocument/>"[..]));
    }

    /// A store holding one document whose CDA (with a display form of `body` bytes) travels
    /// in its message: its directory, the store, the document, the CDA and the message.
    fn one_carried(
        body: usize,
    ) -> (
        tempfile::TempDir,
        ArchiveStore,
        crate::document::Metadata,
        String,
        String,
    ) {
        use crate::document::{Body, Metadata, build_cda};
        use crate::message::build::{MessageSpec, build_archive_message};
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.9.1", "010190-902S");
        let cda = build_cda(&meta, &Body::example(&meta, body));
        let raw = build_archive_message(&MessageSpec::for_document(&meta, "m1"), &meta, &cda);
        let d = ArchivedDocument {
            cda: cda.clone().into_bytes(),
            cda_in_message: true,
            ..ArchivedDocument::minimal(&meta.document_oid, ORG)
        };
        s.archive(
            UseCase::Archive,
            ("m", "1"),
            ORG,
            raw.as_bytes(),
            &d,
            now(),
            None,
        )
        .unwrap();
        (dir, s, meta, cda, raw)
    }

    #[test]
    fn a_carried_cda_is_stored_once_and_read_back_exactly_checked_by_its_hash() {
        use crate::message::build::{MessageSpec, build_archive_message};
        let (dir, s, meta, cda, raw) = one_carried(4000);
        // One copy: the document row holds no CDA bytes.
        let conn = Connection::open(dir.path().join(super::super::exchange_log::DB_FILE)).unwrap();
        let stored: usize = conn
            .query_row("SELECT length(cda) FROM document", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 0);
        let got = s.get(&meta.document_oid).unwrap().unwrap();
        assert_eq!(got.cda.as_deref(), Some(cda.as_bytes()));
        let page = s
            .query(&DocumentQuery {
                registers: vec![ORG.into()],
                statuses: vec![DocStatus::Active],
                limit: 5,
                with_content: true,
                ..DocumentQuery::default()
            })
            .unwrap();
        assert_eq!(page.items[0].cda.as_deref(), Some(cda.as_bytes()));
        // A message changed behind the store's back is not shown as the archived CDA.
        let tampered = raw.replacen("<soap:Body>", "<soap:Body><!-- -->", 1);
        let other = build_archive_message(
            &MessageSpec::for_document(&meta, "m1"),
            &meta,
            &cda.replacen("Asiakkuus", "Asiakkuud", 1),
        );
        // In the body file, where it lies (same length, so the record still frames it).
        assert_eq!(other.len(), raw.len());
        let (offset, len, key): (usize, u64, usize) = conn
            .query_row(
                "SELECT body_offset, body_len, length(CAST(root AS BLOB)) + 1 + length(CAST(extension AS BLOB)) FROM message",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(len, raw.len() as u64);
        let file = dir.path().join(bodies::BODY_FILE);
        let mut bytes = std::fs::read(&file).unwrap();
        // The only record: the body follows its header (magic, key length, key, length),
        // and only padding may follow it.
        assert_eq!(offset, 0);
        let start = offset + 16 + key;
        assert!(&bytes[start..start + raw.len()] == raw.as_bytes());
        assert!(bytes[start + raw.len()..].iter().all(|b| *b == 0));
        bytes[start..start + raw.len()].copy_from_slice(other.as_bytes());
        std::fs::write(&file, &bytes).unwrap();
        let e = s.get(&meta.document_oid);
        assert!(
            matches!(
                e,
                Err(StoreError::CdaIntegrity {
                    algorithm: "XXH3-128",
                    ..
                })
            ),
            "{e:?}"
        );
        // And in the row, as a data directory from before the body file keeps it.
        for bad in [tampered, other] {
            conn.execute(
                "UPDATE message SET raw = ?1, body_offset = NULL, body_len = NULL",
                [bad.as_bytes()],
            )
            .unwrap();
            let e = s.get(&meta.document_oid);
            if bad.contains("<!-- -->") {
                // The carried CDA is unchanged: still exactly what was archived.
                assert_eq!(e.unwrap().unwrap().cda.as_deref(), Some(cda.as_bytes()));
            } else {
                assert!(matches!(e, Err(StoreError::CdaIntegrity { .. })), "{e:?}");
            }
        }
    }

    #[test]
    fn a_body_file_that_cannot_be_written_refuses_archiving_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open_with(dir.path(), BodyWriter::read_only).unwrap();
        let e = first_version(&s, "1", "1.2.9").unwrap_err();
        assert!(
            matches!(e, StoreError::Body(_)) && e.to_string().contains("kanta-sim.messages"),
            "{e}"
        );
        let conn = Connection::open(dir.path().join(super::super::exchange_log::DB_FILE)).unwrap();
        for table in ["message", "document", "lifecycle_event"] {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table} holds a row of the refused archiving");
        }
        // Writes without a message body still go through.
        assert_eq!(
            s.bulk_load([doc("1.2.10", "1.2.10", 1, None)], now())
                .unwrap(),
            1
        );
        assert_eq!(s.count().unwrap(), 1);
    }

    #[test]
    fn racing_new_versions_cannot_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        s.archive(
            UseCase::Archive,
            ("m", "0"),
            ORG,
            b"r",
            &doc("1.1", "1.1", 1, None),
            now(),
            None,
        )
        .unwrap();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    s.archive(
                        UseCase::NewVersion,
                        ("m", &format!("{}", i + 1)),
                        ORG,
                        b"r",
                        &doc(&format!("1.2.{i}"), "1.1", 2, Some("1.1")),
                        now(),
                        None,
                    )
                    .is_ok()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1);
        let page = s
            .query(&DocumentQuery {
                registers: vec![ORG.into()],
                statuses: vec![DocStatus::Active, DocStatus::Replaced],
                limit: 10,
                ..DocumentQuery::default()
            })
            .unwrap();
        assert_eq!(page.total, 2, "exactly one version 2 joined version 1");
        assert_eq!(s.history("1.1").unwrap().len(), 3);
    }

    #[test]
    fn the_cda_digest_is_xxh3_128_as_xxhsum_prints_it() {
        // Known answers printed by `xxhsum -H2` (xxHash's own command), not by our code.
        assert_eq!(
            CdaDigest::of(b""),
            CdaDigest::Xxh3("99aa06d3014798d86001c324468d497f".into())
        );
        assert_eq!(
            CdaDigest::of(b"abc"),
            CdaDigest::Xxh3("06b05ab6733a618578af5f94892f3950".into())
        );
    }

    #[test]
    fn a_cda_archived_before_schema_4_is_still_checked_by_its_sha256() {
        let (dir, s, meta, cda, _) = one_carried(500);
        let conn = Connection::open(dir.path().join(super::super::exchange_log::DB_FILE)).unwrap();
        let (sha, xxh3): (Option<String>, Option<String>) = conn
            .query_row("SELECT cda_sha256, cda_xxh3 FROM document", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(sha, None);
        assert_eq!(
            xxh3.as_deref(),
            Some(CdaDigest::of(cda.as_bytes()).recorded())
        );
        // As schema 3 wrote it: the SHA-256 only.
        let old = |sha: &str| {
            conn.execute(
                "UPDATE document SET cda_sha256 = ?1, cda_xxh3 = NULL",
                [sha],
            )
            .unwrap();
        };
        old(&sha256_hex(cda.as_bytes()));
        let got = s.get(&meta.document_oid).unwrap().unwrap();
        assert_eq!(got.cda.as_deref(), Some(cda.as_bytes()));
        old(&sha256_hex(b"another CDA"));
        match s.get(&meta.document_oid) {
            Err(StoreError::CdaIntegrity {
                algorithm,
                recorded,
                computed,
                ..
            }) => {
                assert_eq!(algorithm, "SHA-256");
                assert_eq!(recorded, sha256_hex(b"another CDA"));
                assert_eq!(computed, sha256_hex(cda.as_bytes()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_data_directory_from_before_the_lifecycle_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn =
                Connection::open(dir.path().join(super::super::exchange_log::DB_FILE)).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO document (document_oid, set_id, version, client_id, custodian, organiser, status, sender, message_root, message_extension, archived_at, cda, effective_time)
                 VALUES ('1.5', '1.5', 1, '010190-902S', ?1, NULL, 'active', ?1, 'm', '1', 'x', x'00', '20261123100000+0200')",
                [ORG],
            )
            .unwrap();
        }
        let s = ArchiveStore::open(dir.path()).unwrap();
        let got = s.get("1.5").unwrap().unwrap();
        assert_eq!(
            (got.producer.as_str(), got.register_owner.as_str()),
            (ORG, ORG)
        );
        let found = s
            .query(&DocumentQuery {
                registers: vec![ORG.into()],
                client_id: Some("010190-902S".into()),
                limit: 5,
                ..DocumentQuery::default()
            })
            .unwrap();
        assert_eq!(found.total, 1);
    }
}
