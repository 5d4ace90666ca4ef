//! The document store: SQLite in the data directory (WAL), one transaction per accepted
//! message. The message id and the document id/version are unique, so a replay is refused
//! and nothing is ever half-written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ErrorCode, params};
use time::OffsetDateTime;

use super::DocumentStore;
use crate::validate::ArchivedDocument;

/// Why a document was not stored.
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
}

/// One stored document, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The metadata and bytes.
    pub document: ArchivedDocument,
    /// Who sent it.
    pub sender: String,
    /// When it was archived (RFC 3339).
    pub archived_at: String,
    /// `active` (later also `replaced`, `invalidated`).
    pub status: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS message (
    root TEXT NOT NULL,
    extension TEXT NOT NULL,
    received_at TEXT NOT NULL,
    sender TEXT NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (root, extension)
);
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
    cda BLOB NOT NULL,
    UNIQUE (document_oid, version)
);
CREATE INDEX IF NOT EXISTS document_client ON document(client_id);
CREATE INDEX IF NOT EXISTS document_set ON document(set_id);
";

/// The SQLite document store.
#[derive(Clone)]
pub struct ArchiveStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for ArchiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveStore")
            .field("path", &self.path)
            .finish()
    }
}

impl ArchiveStore {
    /// Opens (creating when needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // FULL: an acknowledged AA survives power loss, not only a process crash.
        let (conn, path) = super::open_db(dir, "FULL", SCHEMA).map_err(|e| match e {
            super::DbOpenError::Dir(path, source) => StoreError::Dir { path, source },
            super::DbOpenError::Sqlite(path, source) => StoreError::Sqlite { path, source },
        })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

impl DocumentStore for ArchiveStore {
    /// Archives one document with its message, in one transaction.
    fn archive(
        &self,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // A panic while holding the lock rolls the open transaction back, so the connection
        // is still consistent for the next caller.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let at = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let tx = conn.transaction().map_err(self.sql())?;
        let unique = |e: &rusqlite::Error| matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation);
        if let Err(e) = tx.execute(
            "INSERT INTO message (root, extension, received_at, sender, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![message.0, message.1, at, sender, raw],
        ) {
            return Err(if unique(&e) {
                StoreError::DuplicateMessage {
                    root: message.0.to_owned(),
                    extension: message.1.to_owned(),
                }
            } else {
                (self.sql())(e)
            });
        }
        if let Err(e) = tx.execute(
            "INSERT INTO document (document_oid, set_id, version, client_id, custodian, organiser, register, document_group, document_type,
                                   case_id, client_relationship, effective_time, status, sender, message_root, message_extension, archived_at, cda)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'active', ?13, ?14, ?15, ?16, ?17)",
            params![
                doc.document_oid,
                doc.set_id,
                doc.version,
                doc.client_id,
                doc.custodian,
                doc.organiser,
                doc.register,
                doc.document_group,
                doc.document_type,
                doc.case_id,
                doc.client_relationship,
                doc.effective_time,
                sender,
                message.0,
                message.1,
                at,
                doc.cda,
            ],
        ) {
            return Err(if unique(&e) {
                StoreError::DuplicateDocument {
                    document_oid: doc.document_oid.clone(),
                    version: doc.version,
                }
            } else {
                (self.sql())(e)
            });
        }
        tx.commit().map_err(self.sql())
    }

    /// The newest version of `document_oid`.
    fn get(&self, document_oid: &str) -> Result<Option<StoredDocument>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare(
                "SELECT document_oid, set_id, version, client_id, custodian, organiser, register, document_group, document_type,
                        case_id, client_relationship, effective_time, cda, sender, archived_at, status
                 FROM document WHERE document_oid = ?1 ORDER BY version DESC LIMIT 1",
            )
            .map_err(self.sql())?;
        let mut rows = stmt.query([document_oid]).map_err(self.sql())?;
        let Some(r) = rows.next().map_err(self.sql())? else {
            return Ok(None);
        };
        let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<StoredDocument> {
            Ok(StoredDocument {
                document: ArchivedDocument {
                    document_oid: r.get(0)?,
                    set_id: r.get(1)?,
                    version: r.get(2)?,
                    client_id: r.get(3)?,
                    custodian: r.get(4)?,
                    organiser: r.get(5)?,
                    register: r.get(6)?,
                    document_group: r.get(7)?,
                    document_type: r.get(8)?,
                    case_id: r.get(9)?,
                    client_relationship: r.get(10)?,
                    effective_time: r.get(11)?,
                    cda: r.get(12)?,
                },
                sender: r.get(13)?,
                archived_at: r.get(14)?,
                status: r.get(15)?,
            })
        };
        get(r).map(Some).map_err(self.sql())
    }

    /// How many documents are archived.
    fn count(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT COUNT(*) FROM document", [], |r| r.get(0))
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(oid: &str, version: u32) -> ArchivedDocument {
        ArchivedDocument {
            document_oid: oid.into(),
            set_id: oid.into(),
            version,
            client_id: "010190-902S".into(),
            custodian: "1.2.246.10.99900016.10.0".into(),
            organiser: None,
            register: Some("1".into()),
            document_group: Some("1".into()),
            document_type: None,
            case_id: None,
            client_relationship: None,
            effective_time: None,
            cda: b"<ClinicalDocument/>".to_vec(),
        }
    }

    #[test]
    fn duplicates_are_refused_and_nothing_half_written_remains() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        let now = OffsetDateTime::now_utc();
        s.archive(
            ("1.2.3", "1"),
            "1.2.246.10.99900016.10.0",
            b"raw",
            &doc("1.2.9", 1),
            now,
        )
        .unwrap();
        assert!(matches!(
            s.archive(("1.2.3", "1"), "x", b"raw", &doc("1.2.10", 1), now),
            Err(StoreError::DuplicateMessage { .. })
        ));
        // A duplicate document in a new message: the message row must not stay behind either.
        assert!(matches!(
            s.archive(("1.2.3", "2"), "x", b"raw", &doc("1.2.9", 1), now),
            Err(StoreError::DuplicateDocument { .. })
        ));
        s.archive(("1.2.3", "2"), "x", b"raw", &doc("1.2.11", 1), now)
            .unwrap();
        assert_eq!(s.count().unwrap(), 2);
        drop(s);
        let s = ArchiveStore::open(dir.path()).unwrap();
        let got = s.get("1.2.9").unwrap().unwrap();
        assert_eq!(got.document, doc("1.2.9", 1));
        assert_eq!(got.status, "active");
    }
}
