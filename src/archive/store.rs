//! The document store: SQLite in the data directory (WAL), one transaction per accepted
//! message. Every lifecycle operation re-reads the set inside its transaction and runs the
//! L rules there, so two racing new versions cannot both win, a replay is refused, and
//! nothing is ever half-written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params, params_from_iter};
use time::OffsetDateTime;

use super::DocumentStore;
use super::exchange_log::{ExchangeRecord, Keep};
use super::query::{DocumentQuery, HistoryEvent};
use crate::document::model::hl7_ts_utc;
use crate::document::{ArchivedDocument, DocStatus};
use crate::finding::Finding;
use crate::message::results::{DocumentMeta, Group, Page, Summary};
use crate::message::usecase::UseCase;
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

/// Columns added in schema 2 (the lifecycle), with how to fill them for older rows.
const V2_COLUMNS: &[(&str, &str)] = &[
    ("producer", "sender"),
    ("register_owner", "COALESCE(organiser, sender)"),
    ("effective_utc", "substr(effective_time, 1, 14)"),
    ("replaces", "NULL"),
    ("reason_of_correction", "NULL"),
    ("status_changed_at", "NULL"),
    ("invalidation_reason", "NULL"),
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
    for (col, fill) in V2_COLUMNS {
        if !have.iter().any(|h| h == col) {
            conn.execute_batch(&format!(
                "ALTER TABLE document ADD COLUMN {col} TEXT; UPDATE document SET {col} = {fill};"
            ))?;
        }
    }
    conn.execute_batch(INDEXES)?;
    conn.pragma_update(None, "user_version", 2)
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

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

fn set_state(tx: &Transaction<'_>, set_id: &str) -> rusqlite::Result<Option<SetState>> {
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
    tx: &Transaction<'_>,
    set_id: &str,
    document_oid: &str,
    version: u32,
    kind: &str,
    at: &str,
    actor: (&str, &str),
    message: Option<(&str, &str)>,
    reason: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO lifecycle_event (set_id, document_oid, version, kind, at, actor, actor_role, message_root, message_extension, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![set_id, document_oid, version, kind, at, actor.0, actor.1, message.map(|m| m.0), message.map(|m| m.1), reason],
    )?;
    Ok(())
}

fn insert_message(
    tx: &Transaction<'_>,
    message: (&str, &str),
    at: &str,
    sender: &str,
    raw: &[u8],
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO message (root, extension, received_at, sender, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![message.0, message.1, at, sender, raw],
    )
    .map(|_| ())
}

fn insert_document(
    tx: &Transaction<'_>,
    doc: &ArchivedDocument,
    sender: &str,
    message: (&str, &str),
    at: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO document (document_oid, set_id, version, client_id, custodian, producer, register_owner, organiser, register,
                               document_group, document_type, case_id, client_relationship, effective_time, effective_utc, status,
                               replaces, reason_of_correction, sender, message_root, message_extension, archived_at, cda)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'active', ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
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
        doc.cda,
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
    /// Opens (creating when needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // FULL: an acknowledged AA survives power loss, not only a process crash.
        let (conn, path) =
            super::open_db(dir, "FULL", &format!("{}{SCHEMA}", super::MESSAGE_TABLE)).map_err(
                |e| match e {
                    super::DbOpenError::Dir(path, source) => StoreError::Dir { path, source },
                    super::DbOpenError::Sqlite(path, source) => StoreError::Sqlite { path, source },
                },
            )?;
        migrate(&conn).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
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

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock drops the open transaction, which rolls back, so
        // the connection is consistent for the next caller.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads documents straight into the store, bypassing messages and rules, in one
    /// transaction: for benchmarks and seeding large archives. Returns how many were
    /// written.
    pub fn bulk_load(
        &self,
        docs: impl IntoIterator<Item = ArchivedDocument>,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut conn = self.lock();
        let at = rfc3339(at);
        let tx = conn.transaction().map_err(self.sql())?;
        let mut n = 0;
        for d in docs {
            insert_document(&tx, &d, &d.producer, ("bulk", &d.document_oid), &at)
                .map_err(self.sql())?;
            n += 1;
        }
        tx.commit().map_err(self.sql())?;
        Ok(n)
    }
}

impl DocumentStore for ArchiveStore {
    fn archive(
        &self,
        use_case: UseCase,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: OffsetDateTime,
        exchange: Option<&ExchangeRecord>,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.lock();
        let at = rfc3339(at);
        let tx = conn.transaction().map_err(self.sql())?;
        if let Err(e) = insert_message(&tx, message, &at, sender, raw) {
            return Err(if is_unique_violation(&e) {
                StoreError::DuplicateMessage {
                    root: message.0.to_owned(),
                    extension: message.1.to_owned(),
                }
            } else {
                (self.sql())(e)
            });
        }
        let set = set_state(&tx, &doc.set_id).map_err(self.sql())?;
        let findings = check_version(use_case, set.as_ref(), doc, &doc.producer);
        if !findings.is_empty() {
            return Err(StoreError::Refused(findings));
        }
        if let Err(e) = insert_document(&tx, doc, sender, message, &at) {
            return Err(if is_unique_violation(&e) {
                StoreError::DuplicateDocument {
                    document_oid: doc.document_oid.clone(),
                    version: doc.version,
                }
            } else {
                (self.sql())(e)
            });
        }
        let actor = (doc.producer.as_str(), "organisation");
        if let Some(current) = set.as_ref().and_then(SetState::current) {
            tx.execute(
                "UPDATE document SET status = 'replaced', status_changed_at = ?1 WHERE document_oid = ?2",
                params![at, current.document_oid],
            )
            .map_err(self.sql())?;
            record_event(
                &tx,
                &doc.set_id,
                &current.document_oid,
                current.version,
                "replaced",
                &at,
                actor,
                Some(message),
                doc.reason_of_correction.as_deref(),
            )
            .map_err(self.sql())?;
        }
        record_event(
            &tx,
            &doc.set_id,
            &doc.document_oid,
            doc.version,
            "archived",
            &at,
            actor,
            Some(message),
            doc.reason_of_correction.as_deref(),
        )
        .map_err(self.sql())?;
        let id = exchange
            .map(|r| super::exchange_log::insert(&tx, r, Keep::Archived))
            .transpose()
            .map_err(self.sql())?;
        tx.commit().map_err(self.sql())?;
        Ok(id)
    }

    fn invalidate(
        &self,
        inv: &Invalidation<'_>,
        at: OffsetDateTime,
    ) -> Result<(DocumentMeta, Option<i64>), StoreError> {
        let mut conn = self.lock();
        let at = rfc3339(at);
        let tx = conn.transaction().map_err(self.sql())?;
        if let Some((root, ext, sender, raw)) = inv.message
            && let Err(e) = insert_message(&tx, (root, ext), &at, sender, raw)
        {
            return Err(if is_unique_violation(&e) {
                StoreError::DuplicateMessage {
                    root: root.to_owned(),
                    extension: ext.to_owned(),
                }
            } else {
                (self.sql())(e)
            });
        }
        let set_id: Option<String> = tx
            .query_row(
                "SELECT set_id FROM document WHERE document_oid = ?1",
                [inv.document_oid],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?;
        let set = match &set_id {
            Some(s) => set_state(&tx, s).map_err(self.sql())?,
            None => None,
        };
        let findings = check_invalidation(
            set.as_ref(),
            inv.document_oid,
            inv.actor,
            inv.reason,
            inv.reason_required,
        );
        if !findings.is_empty() {
            return Err(StoreError::Refused(findings));
        }
        tx.execute(
            "UPDATE document SET status = 'invalidated', status_changed_at = ?1, invalidation_reason = ?2 WHERE document_oid = ?3",
            params![at, inv.reason, inv.document_oid],
        )
        .map_err(self.sql())?;
        let version = set
            .as_ref()
            .and_then(|s| {
                s.versions
                    .iter()
                    .find(|v| v.document_oid == inv.document_oid)
            })
            .map_or(0, |v| v.version);
        let role = match inv.actor {
            Actor::Organisation(_) => "organisation",
            Actor::Archivist(_) => "archivist",
        };
        record_event(
            &tx,
            set_id.as_deref().unwrap_or_default(),
            inv.document_oid,
            version,
            "invalidated",
            &at,
            (inv.actor.org(), role),
            inv.message.map(|m| (m.0, m.1)),
            inv.reason,
        )
        .map_err(self.sql())?;
        let meta = tx
            .query_row(
                &format!("SELECT {META_COLUMNS} FROM document WHERE document_oid = ?1"),
                [inv.document_oid],
                |r| meta_row(r, false),
            )
            .map_err(self.sql())?;
        // With a message, its body is stored: the exchange refers to it; an archivist's act
        // (no message) keeps the view's small form body.
        let keep = if inv.message.is_some() {
            Keep::Archived
        } else {
            Keep::Truncated(usize::MAX)
        };
        let id = inv
            .exchange
            .map(|r| super::exchange_log::insert(&tx, r, keep))
            .transpose()
            .map_err(self.sql())?;
        tx.commit().map_err(self.sql())?;
        Ok((meta, id))
    }

    fn get(&self, document_oid: &str) -> Result<Option<DocumentMeta>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {META_COLUMNS}, cda FROM document WHERE document_oid = ?1"),
            [document_oid],
            |r| meta_row(r, true),
        )
        .optional()
        .map_err(self.sql())
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
        let content = if q.with_content { ", cda" } else { "" };
        let sql = format!(
            "SELECT {META_COLUMNS}{content} FROM document{where_}
             ORDER BY effective_utc DESC, set_id, version DESC LIMIT ? OFFSET ?"
        );
        args.push(Value::Integer(i64::from(q.limit)));
        args.push(Value::Integer(i64::from(q.offset)));
        let mut stmt = conn.prepare(&sql).map_err(self.sql())?;
        let items = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                meta_row(r, q.with_content)
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

    #[test]
    fn duplicates_are_refused_and_nothing_half_written_remains() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArchiveStore::open(dir.path()).unwrap();
        s.archive(
            UseCase::Archive,
            ("1.2.3", "1"),
            ORG,
            b"raw",
            &doc("1.2.9", "1.2.9", 1, None),
            now(),
            None,
        )
        .unwrap();
        assert!(matches!(
            s.archive(
                UseCase::Archive,
                ("1.2.3", "1"),
                ORG,
                b"raw",
                &doc("1.2.10", "1.2.10", 1, None),
                now(),
                None
            ),
            Err(StoreError::DuplicateMessage { .. })
        ));
        // A refused document in a new message: the message row must not stay behind.
        assert!(matches!(
            s.archive(
                UseCase::Archive,
                ("1.2.3", "2"),
                ORG,
                b"raw",
                &doc("1.2.9", "1.2.9", 1, None),
                now(),
                None
            ),
            Err(StoreError::Refused(_))
        ));
        s.archive(
            UseCase::Archive,
            ("1.2.3", "2"),
            ORG,
            b"raw",
            &doc("1.2.11", "1.2.11", 1, None),
            now(),
            None,
        )
        .unwrap();
        assert_eq!(s.count().unwrap(), 2);
        drop(s);
        let s = ArchiveStore::open(dir.path()).unwrap();
        let got = s.get("1.2.9").unwrap().unwrap();
        assert_eq!((got.version, got.status), (1, DocStatus::Active));
        assert_eq!(got.cda.as_deref(), Some(&b"<ClinicalDocument/>"[..]));
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
