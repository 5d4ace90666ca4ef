//! The archive store. For now it holds the exchange log: every handshake and request the
//! endpoint sees, accepted or not, with the reasons. Documents, versions and registers join
//! it in the same SQLite file (one transaction per accepted request).

mod exchange_log;

use std::path::{Path, PathBuf};

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
    std::fs::create_dir_all(dir).map_err(|e| DbOpenError::Dir(dir.to_owned(), e))?;
    let path = dir.join(exchange_log::DB_FILE);
    let sql = |e| DbOpenError::Sqlite(path.clone(), e);
    let conn = rusqlite::Connection::open(&path).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    conn.execute_batch(schema).map_err(sql)?;
    Ok((conn, path))
}
mod store;

pub use exchange_log::{ExchangeKind, ExchangeLog, ExchangeRecord, LogError, StoredExchange};
pub use store::{ArchiveStore, StoreError, StoredDocument};

use crate::validate::ArchivedDocument;

/// What the archive needs from a document store. SQLite ([`ArchiveStore`]) is the embedded
/// default; a shared PostgreSQL store for multi-instance test environments can implement the
/// same trait.
pub trait DocumentStore: Send + Sync {
    /// Stores a document with its message in one transaction; refuses a replayed message id
    /// or an already archived document version.
    fn archive(
        &self,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The newest version of a document.
    fn get(&self, document_oid: &str) -> Result<Option<StoredDocument>, StoreError>;
    /// How many documents are archived.
    fn count(&self) -> Result<u64, StoreError>;
}
