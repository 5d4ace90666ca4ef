use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};
use serde::Serialize;
use time::OffsetDateTime;

/// File name of the store inside the data directory.
pub const DB_FILE: &str = "kanta-sim.sqlite";

/// Why the log cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("exchange log {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The writer task died.
    #[error("exchange log writer stopped unexpectedly")]
    WriterGone,
    /// An archived request's body could not be read from the body file.
    #[error("exchange log: {source}")]
    Body {
        /// Why.
        source: super::bodies::BodyError,
    },
    /// An export could not be written.
    #[error("exchange log export: {source}")]
    Export {
        /// The serialiser's or the output's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What kind of exchange a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// A TLS handshake that failed (successful ones are logged with their requests).
    Handshake,
    /// An HTTP request and its response.
    Http,
}

impl ExchangeKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Handshake => "handshake",
            Self::Http => "http",
        }
    }
}

/// One exchange, as the server hands it to the log.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeRecord {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `strict` or `diagnostic`.
    pub listener: String,
    /// Peer socket address.
    pub peer: String,
    /// Handshake or HTTP.
    pub kind: ExchangeKind,
    /// `accepted`, `rejected`, `error`, …
    pub outcome: String,
    /// Rule codes of every finding, in order.
    pub codes: Vec<crate::finding::RuleId>,
    /// One line a person can read.
    pub summary: String,
    /// Structured detail (every finding with its context).
    pub detail: serde_json::Value,
    /// Client certificate subject, where one was presented.
    pub cert_subject: Option<String>,
    /// Client certificate fingerprint.
    pub cert_sha256: Option<String>,
    /// Organisation OID found in the certificate.
    pub org_oid: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Request body, where there was one (evidence; not serialised into JSON output).
    /// Shared, not copied: a 30 MB request is held once.
    #[serde(skip)]
    pub request: Option<bytes::Bytes>,
    /// Response body.
    #[serde(skip)]
    pub response: Option<bytes::Bytes>,
    /// Time from request to response, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The HL7 message id (root, extension) of the request, linking it to the document
    /// history.
    pub message_id: Option<(String, String)>,
}

/// A record read back, with its id.
#[derive(Debug, Clone, Serialize)]
pub struct StoredExchange {
    /// Sequence number.
    pub id: i64,
    /// The record.
    #[serde(flatten)]
    pub record: ExchangeRecord,
    /// How many more exchanges like it (the same refused handshake from the same peer
    /// address) came within its window and were counted instead of logged one by one.
    #[serde(skip_serializing_if = "is_zero")]
    pub repeats: u64,
    /// When the last of those came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a record is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The request was archived (its message row holds the body): the row refers to it,
    /// is written in the archive's transaction and is exempt from retention.
    Archived,
    /// Anything else: the request body kept up to this many bytes.
    Truncated(usize),
}

/// The exchange log: an SQLite table in the data directory, WAL mode, one row per exchange.
#[derive(Clone)]
pub struct ExchangeLog {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// The data directory (the body file's).
    dir: PathBuf,
}

impl std::fmt::Debug for ExchangeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeLog")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS exchange (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    listener TEXT NOT NULL,
    peer TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    codes TEXT NOT NULL,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL,
    cert_subject TEXT,
    cert_sha256 TEXT,
    org_oid TEXT,
    method TEXT,
    path TEXT,
    status INTEGER,
    request BLOB,
    response BLOB,
    duration_ms INTEGER
);
";

/// Schema 2 links exchanges to HL7 message ids; schema 3 counts repeats and marks archived
/// exchanges. Older logs gain the columns on opening.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let have: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('exchange')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (col, ty) in [
        ("message_root", "TEXT"),
        ("message_extension", "TEXT"),
        ("repeats", "INTEGER NOT NULL DEFAULT 0"),
        ("last_at", "TEXT"),
        ("archived", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        if !have.iter().any(|h| h == col) {
            conn.execute_batch(&format!("ALTER TABLE exchange ADD COLUMN {col} {ty}"))?;
        }
    }
    // No query reads the exchanges by organisation: an index on it only cost every row a
    // B-tree insert (older logs had one).
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS exchange_message ON exchange(message_root, message_extension);
         CREATE INDEX IF NOT EXISTS exchange_at ON exchange(at);
         DROP INDEX IF EXISTS exchange_org",
    )
}

// An archived request's body is its message's (in the body file, or in the message row
// for one archived before the file existed); the exchange row refers to it.
const COLUMNS: &str = "id, at, listener, peer, kind, outcome, codes, summary, detail, cert_subject, cert_sha256, org_oid, method, path, status,
    request, response, duration_ms, message_root, message_extension, repeats, last_at, m.raw, m.body_offset, m.body_len";

const FROM: &str = "exchange LEFT JOIN message m
    ON exchange.archived = 1 AND m.root = exchange.message_root AND m.extension = exchange.message_extension";

/// Inserts one record on `conn` (inside whatever transaction is open there).
pub(crate) fn insert(conn: &Connection, r: &ExchangeRecord, keep: Keep) -> rusqlite::Result<i64> {
    let at =
        r.at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    let request = match keep {
        Keep::Archived => None,
        Keep::Truncated(n) => r.request.as_deref().map(|b| &b[..b.len().min(n)]),
    };
    let mut detail = std::borrow::Cow::Borrowed(&r.detail);
    if let (Keep::Truncated(n), Some(body)) = (keep, &r.request)
        && body.len() > n
        && let Some(obj) = detail.to_mut().as_object_mut()
    {
        obj.insert(
            "request_truncated".into(),
            serde_json::json!({
                "kept_bytes": n,
                "bytes": body.len(),
                "sha256": crate::pki::sha256_hex(body),
                "setting": "log.refused_body_bytes",
            }),
        );
    }
    // Straight into a buffer: `Value`'s `Display` (what `to_string` used) writes through
    // the formatting machinery piece by piece. Serialising a `Value` cannot fail (its map
    // keys are strings), and the text is the same.
    let detail = serde_json::to_string(&*detail).unwrap_or_else(|_| detail.to_string());
    conn.prepare_cached(
        "INSERT INTO exchange (at, listener, peer, kind, outcome, codes, summary, detail, cert_subject, cert_sha256, org_oid, method, path, status, request, response, duration_ms,
                               message_root, message_extension, archived)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        at,
        r.listener,
        r.peer,
        r.kind.as_str(),
        r.outcome,
        r.codes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        r.summary,
        detail,
        r.cert_subject,
        r.cert_sha256,
        r.org_oid,
        r.method,
        r.path,
        r.status,
        request,
        r.response.as_deref(),
        r.duration_ms,
        r.message_id.as_ref().map(|m| &m.0),
        r.message_id.as_ref().map(|m| &m.1),
        i64::from(keep == Keep::Archived),
    ])?;
    Ok(conn.last_insert_rowid())
}

/// A row read, and where its archived request's body lies in the body file (read outside
/// the statement by [`ExchangeLog::with_body`]).
fn row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(StoredExchange, Option<super::bodies::BodyAt>)> {
    let at: String = row.get(1)?;
    let kind: String = row.get(4)?;
    let codes: String = row.get(6)?;
    let detail: String = row.get(8)?;
    let root: Option<String> = row.get(18)?;
    let ext: Option<String> = row.get(19)?;
    let mut request: Option<Vec<u8>> = row.get(15)?;
    let mut body = None;
    if request.is_none() {
        match (
            row.get::<_, Option<u64>>(23)?,
            row.get::<_, Option<u64>>(24)?,
        ) {
            (Some(offset), Some(len)) => body = Some(super::bodies::BodyAt { offset, len }),
            _ => request = row.get(22)?,
        }
    }
    let stored = StoredExchange {
        id: row.get(0)?,
        record: ExchangeRecord {
            at: OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            listener: row.get(2)?,
            peer: row.get(3)?,
            kind: if kind == "http" {
                ExchangeKind::Http
            } else {
                ExchangeKind::Handshake
            },
            outcome: row.get(5)?,
            codes: codes
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    // Written from the catalogue; an id this build does not know means the
                    // log came from another version, which must not pass silently.
                    rusqlite::Error::FromSqlConversionFailure(
                        6,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
            summary: row.get(7)?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            cert_subject: row.get(9)?,
            cert_sha256: row.get(10)?,
            org_oid: row.get(11)?,
            method: row.get(12)?,
            path: row.get(13)?,
            status: row.get(14)?,
            request: request.map(bytes::Bytes::from),
            response: row.get::<_, Option<Vec<u8>>>(16)?.map(bytes::Bytes::from),
            duration_ms: row.get(17)?,
            message_id: root.zip(ext),
        },
        repeats: u64::try_from(row.get::<_, i64>(20)?).unwrap_or(0),
        last_at: row.get(21)?,
    };
    Ok((stored, body))
}

impl ExchangeLog {
    /// Opens (creating when needed) the log in `dir`.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        let (conn, path) =
            super::open_db(dir, "NORMAL", &format!("{}{SCHEMA}", super::MESSAGE_TABLE)).map_err(
                |e| match e {
                    super::DbOpenError::Dir(path, source) => LogError::Dir { path, source },
                    super::DbOpenError::Sqlite(path, source) => LogError::Sqlite { path, source },
                },
            )?;
        migrate(&conn)
            .and_then(|()| super::migrate_message_table(&conn))
            .map_err(|source| LogError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            dir: dir.to_owned(),
        })
    }

    /// Every exchange that carried HL7 message `(root, extension)`, oldest first.
    pub fn by_message(&self, root: &str, extension: &str) -> Result<Vec<StoredExchange>, LogError> {
        let conn = self.lock();
        let sql = |source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE message_root = ?1 AND message_extension = ?2 ORDER BY id"
            ))
            .map_err(sql)?;
        let rows = stmt.query_map([root, extension], row).map_err(sql)?;
        let rows = rows.collect::<Result<Vec<_>, _>>().map_err(sql)?;
        drop(stmt);
        drop(conn);
        rows.into_iter().map(|r| self.with_body(r)).collect()
    }

    /// A row with its archived request's body read from the body file, where it lies there.
    fn with_body(
        &self,
        (mut e, body): (StoredExchange, Option<super::bodies::BodyAt>),
    ) -> Result<StoredExchange, LogError> {
        if let (Some(at), Some(id)) = (body, &e.record.message_id) {
            let read = super::bodies::read(&self.dir, (&id.0, &id.1), at)
                .map_err(|source| LogError::Body { source })?;
            e.record.request = Some(bytes::Bytes::from(read));
        }
        Ok(e)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written row (each insert is one
        // statement), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one record (blocking), its request body kept whole.
    pub fn append(&self, r: &ExchangeRecord) -> Result<i64, LogError> {
        self.append_keeping(r, Keep::Truncated(usize::MAX))
    }

    /// Appends one record (blocking), keeping its request body as `keep` says.
    pub fn append_keeping(&self, r: &ExchangeRecord, keep: Keep) -> Result<i64, LogError> {
        let conn = self.lock();
        insert(&conn, r, keep).map_err(|source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Records that `repeats` more exchanges like row `id` came, the last at `last_at`.
    pub fn set_repeats(
        &self,
        id: i64,
        repeats: u64,
        last_at: OffsetDateTime,
    ) -> Result<(), LogError> {
        let conn = self.lock();
        let last = last_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        conn.execute(
            "UPDATE exchange SET repeats = ?1, last_at = ?2 WHERE id = ?3",
            params![i64::try_from(repeats).unwrap_or(i64::MAX), last, id],
        )
        .map(|_| ())
        .map_err(|source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Deletes rows older than `days` days (0: none) and, beyond the newest `max_rows` (0: no
    /// limit), the oldest; rows of archived requests are the archive's audit trail and stay.
    /// Returns how many were deleted.
    pub fn prune(&self, days: u32, max_rows: u64, now: OffsetDateTime) -> Result<usize, LogError> {
        let conn = self.lock();
        let sql = |source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut deleted = 0;
        if days > 0 {
            let cutoff = (now - time::Duration::days(i64::from(days)))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            deleted += conn
                .execute(
                    "DELETE FROM exchange WHERE archived = 0 AND at < ?1",
                    [cutoff],
                )
                .map_err(sql)?;
        }
        if max_rows > 0 {
            deleted += conn
                .execute(
                    "DELETE FROM exchange WHERE archived = 0 AND id IN
                       (SELECT id FROM exchange WHERE archived = 0 ORDER BY id DESC LIMIT -1 OFFSET ?1)",
                    [i64::try_from(max_rows).unwrap_or(i64::MAX)],
                )
                .map_err(sql)?;
        }
        Ok(deleted)
    }

    /// How many rows the log holds.
    pub fn count(&self) -> Result<u64, LogError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM exchange", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|source| LogError::Sqlite {
                path: self.path.clone(),
                source,
            })
    }

    /// Appends from async code without blocking the runtime.
    pub async fn append_async(&self, r: ExchangeRecord, keep: Keep) -> Result<i64, LogError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.append_keeping(&r, keep))
            .await
            .map_err(|_| LogError::WriterGone)?
    }

    /// The newest `limit` records, oldest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<StoredExchange>, LogError> {
        let conn = self.lock();
        let sql = |source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {FROM} ORDER BY id DESC LIMIT ?1"
            ))
            .map_err(sql)?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], row)
            .map_err(sql)?;
        let rows = rows.collect::<Result<Vec<_>, _>>().map_err(sql)?;
        drop(stmt);
        drop(conn);
        let mut out = rows
            .into_iter()
            .map(|r| self.with_body(r))
            .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Writes every row, oldest first, as one JSON object per line: the record as
    /// `kanta-sim log --json` shows it, plus `request_base64` and `response_base64` (an
    /// archived request's body from its stored message). Rows are read one at a time, so a
    /// large log is not held in memory. Returns how many were written.
    pub fn export_jsonl(&self, out: &mut dyn std::io::Write) -> Result<u64, LogError> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let conn = self.lock();
        let sql = |source| LogError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut stmt = conn
            .prepare(&format!("SELECT {COLUMNS} FROM {FROM} ORDER BY id"))
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql)? {
            let e = self.with_body(row(r).map_err(sql)?)?;
            let mut v = serde_json::to_value(&e).map_err(|source| LogError::Export {
                source: Box::new(source),
            })?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "request_base64".into(),
                    e.record.request.as_deref().map(|b| b64.encode(b)).into(),
                );
                obj.insert(
                    "response_base64".into(),
                    e.record.response.as_deref().map(|b| b64.encode(b)).into(),
                );
            }
            serde_json::to_writer(&mut *out, &v)
                .map_err(|source| LogError::Export {
                    source: Box::new(source),
                })
                .and_then(|()| {
                    out.write_all(b"\n").map_err(|source| LogError::Export {
                        source: Box::new(source),
                    })
                })?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(outcome: &str) -> ExchangeRecord {
        ExchangeRecord {
            at: OffsetDateTime::UNIX_EPOCH,
            listener: "strict".into(),
            peer: "127.0.0.1:5".into(),
            kind: ExchangeKind::Handshake,
            outcome: outcome.into(),
            codes: vec![crate::finding::RuleId::T003, crate::finding::RuleId::T005],
            summary: "s".into(),
            detail: serde_json::json!({"a": 1}),
            cert_subject: Some("CN=x".into()),
            cert_sha256: None,
            org_oid: None,
            method: None,
            path: None,
            status: Some(403),
            request: Some(bytes::Bytes::from_static(b"<x/>")),
            response: None,
            duration_ms: Some(3),
            message_id: Some(("1.2.3".into(), "9".into())),
        }
    }

    #[test]
    fn export_writes_every_row_oldest_first_with_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let log = ExchangeLog::open(dir.path()).unwrap();
        log.append(&rec("accepted")).unwrap();
        log.append(&rec("rejected")).unwrap();
        let mut out = Vec::new();
        assert_eq!(log.export_jsonl(&mut out).unwrap(), 2);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["outcome"], "accepted");
        assert_eq!(lines[1]["outcome"], "rejected");
        assert_eq!(lines[0]["request_base64"], "PHgvPg==");
        assert!(lines[0]["response_base64"].is_null());
    }

    #[test]
    fn records_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let log = ExchangeLog::open(dir.path()).unwrap();
        log.append(&rec("rejected")).unwrap();
        log.append(&rec("accepted")).unwrap();
        drop(log);
        let log = ExchangeLog::open(dir.path()).unwrap();
        let all = log.recent(10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].record.outcome, "rejected");
        assert_eq!(all[1].record.codes, vec!["T-003", "T-005"]);
        assert_eq!(all[1].record.detail["a"], 1);
        assert_eq!(all[1].record.status, Some(403));
        assert_eq!(all[1].record.request.as_deref(), Some(&b"<x/>"[..]));
        assert_eq!(all[1].record.duration_ms, Some(3));
        assert_eq!(log.recent(1).unwrap()[0].record.outcome, "accepted");
    }

    #[test]
    fn the_detail_is_stored_as_its_compact_json_text() {
        let dir = tempfile::tempdir().unwrap();
        let log = ExchangeLog::open(dir.path()).unwrap();
        let mut r = rec("accepted");
        r.detail = serde_json::json!({
            "findings": [{ "code": "P-002", "message": "\"quoted\" <ä> \u{1}\n€" }],
            "n": 1.5, "none": null, "yes": true, "list": [[], {}],
        });
        let id = log.append(&r).unwrap();
        let conn = log.lock();
        let stored: String = conn
            .query_row("SELECT detail FROM exchange WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, r.detail.to_string());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored).unwrap(),
            r.detail
        );
    }
}
