//! The archive store: the exchange log (every handshake and request the endpoint sees,
//! accepted or not, with the reasons) and the documents, versions and registers, in one
//! SQLite file (one transaction per accepted request); the archived messages' bodies lie
//! beside it in an append-only file ([`bodies`]).

mod bodies;
mod exchange_log;

use std::path::{Path, PathBuf};

/// The archived messages, exactly as received: written by the store, read by the exchange
/// log too (an archived request's exchange row refers to its message instead of copying it).
/// Keyed by the message id alone (`WITHOUT ROWID`: one B-tree, not a table and an index;
/// a data directory from before keeps its table as it was).
pub(crate) const MESSAGE_TABLE: &str = "
CREATE TABLE IF NOT EXISTS message (
    root TEXT NOT NULL,
    extension TEXT NOT NULL,
    received_at TEXT NOT NULL,
    sender TEXT NOT NULL,
    raw BLOB NOT NULL,
    body_offset INTEGER,
    body_len INTEGER,
    PRIMARY KEY (root, extension)
) WITHOUT ROWID;
";

/// Where a message's body lies in the body file ([`bodies`]); without them (a row written
/// before the file existed) the body is the row's `raw`.
pub(crate) fn migrate_message_table(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let have: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('message')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for col in ["body_offset", "body_len"] {
        if !have.iter().any(|h| h == col) {
            conn.execute_batch(&format!("ALTER TABLE message ADD COLUMN {col} INTEGER"))?;
        }
    }
    Ok(())
}

/// Why the data directory's database could not be opened.
#[derive(Debug)]
pub(crate) enum DbOpenError {
    Dir(PathBuf, std::io::Error),
    Sqlite(PathBuf, rusqlite::Error),
}

/// Opens (creating when needed) the data directory's SQLite file in WAL mode with the given
/// `synchronous` level, and applies `schema`. The exchange log and the document store share
/// the file, so a later transaction can cover both.
pub(crate) fn open_db(
    dir: &Path,
    synchronous: &str,
    schema: &str,
) -> Result<(rusqlite::Connection, PathBuf), DbOpenError> {
    open_db_file(dir, exchange_log::DB_FILE, synchronous, schema)
}

/// [`open_db`] for another database file of the data directory.
pub(crate) fn open_db_file(
    dir: &Path,
    file: &str,
    synchronous: &str,
    schema: &str,
) -> Result<(rusqlite::Connection, PathBuf), DbOpenError> {
    std::fs::create_dir_all(dir).map_err(|e| DbOpenError::Dir(dir.to_owned(), e))?;
    let path = dir.join(file);
    let sql = |e| DbOpenError::Sqlite(path.clone(), e);
    let conn = rusqlite::Connection::open(&path).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(sql)?;
    // The writer gives each write of a batch its own savepoint, and SQLite keeps the pages
    // a savepoint may have to restore in a temporary file unless told otherwise: four bytes
    // and a page written for every page every write touched (measured: 53 KB and 26 write
    // calls per archived document, three quarters of all the store's writes). They matter
    // only until the savepoint is released, so memory holds them; the commit's durability
    // is the WAL's and unchanged.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    conn.execute_batch(schema).map_err(sql)?;
    Ok((conn, path))
}
mod query;
mod store;

pub use crate::message::results::{DocumentMeta, Group, Page, Summary};
pub use bodies::{BODY_FILE, BodyError};
pub use exchange_log::{
    DB_FILE, ExchangeKind, ExchangeLog, ExchangeRecord, Keep, LogError, StoredExchange,
};
pub use query::{DocumentQuery, HistoryEvent, execute};
pub use store::{ArchiveStore, Coming, Invalidation, Pending, StoreError};

use crate::document::ArchivedDocument;
use crate::message::usecase::UseCase;

/// What the archive needs from a document store. SQLite ([`ArchiveStore`]) is the embedded
/// default; a shared PostgreSQL store for multi-instance test environments can implement the
/// same trait. Every write is one transaction that re-checks the lifecycle rules.
pub trait DocumentStore: Send + Sync {
    /// Announces a write on its way (a message being judged that may be handed over):
    /// while one is, the writer may wait a little for it so that one commit covers more
    /// documents. Drop it when the write is handed over or will not come.
    fn coming(&self) -> Coming;
    /// Stores a first version ([`UseCase::Archive`]) or a new version
    /// ([`UseCase::NewVersion`], which marks the current one replaced) with its message and,
    /// when given, the exchange that brought it, all in one transaction (so an archived
    /// document never lacks its audit row); refuses a replayed message id, an archived
    /// version, or a lifecycle rule's breach. Returns the exchange row's id.
    ///
    /// The result is known once the write's transaction has committed: await it (an async
    /// caller holds no thread meanwhile) or wait for it.
    #[expect(clippy::too_many_arguments, reason = "the one transaction's inputs")]
    fn archive_later(
        &self,
        use_case: UseCase,
        message: (&str, &str),
        sender: &str,
        raw: bytes::Bytes,
        doc: &ArchivedDocument,
        at: time::OffsetDateTime,
        exchange: Option<ExchangeRecord>,
    ) -> Pending<Option<i64>>;
    /// [`DocumentStore::archive_later`], waited for on this thread (not on an async worker).
    #[expect(clippy::too_many_arguments, reason = "the one transaction's inputs")]
    fn archive(
        &self,
        use_case: UseCase,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: time::OffsetDateTime,
        exchange: Option<&ExchangeRecord>,
    ) -> Result<Option<i64>, StoreError> {
        let raw = bytes::Bytes::copy_from_slice(raw);
        self.archive_later(use_case, message, sender, raw, doc, at, exchange.cloned())
            .wait()
    }
    /// Invalidates the current version of a set (with its exchange row in the same
    /// transaction when `inv.exchange` is given; its id is returned beside the version).
    fn invalidate(
        &self,
        inv: &Invalidation<'_>,
        at: time::OffsetDateTime,
    ) -> Result<(DocumentMeta, Option<i64>), StoreError>;
    /// One version by document OID, with its bytes, regardless of status or register (the
    /// caller scopes).
    fn get(&self, document_oid: &str) -> Result<Option<DocumentMeta>, StoreError>;
    /// Documents matching a scoped query, newest first, one page.
    fn query(&self, q: &DocumentQuery) -> Result<Page<DocumentMeta>, StoreError>;
    /// Client relationships (or, with `by_case`, cases) of matching documents, one page.
    fn groups(&self, q: &DocumentQuery, by_case: bool) -> Result<Page<Group>, StoreError>;
    /// Counts over matching documents.
    fn summary(&self, q: &DocumentQuery) -> Result<Summary, StoreError>;
    /// The lifecycle of one set, oldest first.
    fn history(&self, set_id: &str) -> Result<Vec<HistoryEvent>, StoreError>;
    /// How many document versions are archived.
    fn count(&self) -> Result<u64, StoreError>;
}
