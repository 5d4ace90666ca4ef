//! The test-identity ledger: which 900-series identity codes went to which customer, for
//! which service, from which pool, and when. Suppliers are advised to keep exactly this
//! record. At Kela the codes are shared between services, and deployment-test codes may be
//! used by several customers, so a code may have several grants (one per customer and
//! service). The archive warns when a code is used by an organisation none of its grants
//! names (P-005) or outside the profile's pool (P-006), each only where the policy says so
//! (`archive.ledger_org_check`, `archive.ledger_pool_check`). Kept in a SQLite file of its
//! own in the data directory ([`LEDGER_FILE`]): the archive looks a code up for every
//! archived document, and in the archive's file, which the writer commits to many times a
//! second, each lookup found its pages stale and read them again (~10 µs against ~2 µs).
//!
//! Pools [I]: test-environment codes take individual numbers 900–949, deployment-test codes
//! 950–999, so that the two never mix (the real allocation is not public).

use crate::finding::RuleId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};
use serde::Serialize;
use time::{Date, Duration, Month, OffsetDateTime};

use crate::finding::Finding;
use crate::identity::Hetu;
pub use crate::identity::Pool;

/// One issued code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issued {
    /// The identity code.
    pub code: String,
    /// Pool.
    pub pool: String,
    /// Customer (organisation name or id, as given).
    pub customer: String,
    /// The organisation OID the codes are for, when given.
    pub org: Option<String>,
    /// The service they are for.
    pub service: String,
    /// When (RFC 3339).
    pub issued_at: String,
}

/// Why the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite.
    #[error("identity ledger {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The directory.
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line of an import that cannot be a grant.
    #[error("{source_name}:{line}: {message}")]
    Import {
        /// The file.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// Why.
        message: String,
    },
    /// Nothing left to issue.
    #[error("the {pool} pool has no unissued codes left")]
    Exhausted {
        /// The pool.
        pool: &'static str,
    },
}

/// The ledger's file in the data directory. Before it, the ledger was a table of the
/// archive's file ([`crate::archive::DB_FILE`]); [`Ledger::open`] carries such a table over.
pub const LEDGER_FILE: &str = "kanta-sim.ledger.sqlite";

// One row per grant.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS identity_grants (
    code TEXT NOT NULL,
    pool TEXT NOT NULL,
    customer TEXT NOT NULL,
    org TEXT,
    service TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    PRIMARY KEY (code, customer, service)
);
CREATE INDEX IF NOT EXISTS identity_grants_code ON identity_grants (code);
";

/// The tables earlier kanta-sims kept the ledger in, inside the archive's file: grants
/// (`identity_grants`), and before them one customer per code (`identity_ledger`).
const EARLIER_TABLES: [&str; 2] = ["identity_grants", "identity_ledger"];

/// Every century sign in use (1800s `+`; 1900s `-YXWVU`; 2000s `A`–`F`).
const SIGNS: &[(char, i32)] = &[
    // The common signs first, so that a handful of codes looks like everyday ones.
    ('-', 1900),
    ('A', 2000),
    ('Y', 1900),
    ('B', 2000),
    ('X', 1900),
    ('C', 2000),
    ('W', 1900),
    ('D', 2000),
    ('V', 1900),
    ('E', 2000),
    ('U', 1900),
    ('F', 2000),
    ('+', 1800),
];

/// The `n`-th candidate code of `pool`: dates spread over a century each, every century
/// sign in turn, individual numbers within the pool. Deterministic, so issuing continues
/// where it left off.
fn candidate(pool: Pool, n: u32, today: Date) -> Option<String> {
    let (sign, century) = SIGNS[(n as usize) % SIGNS.len()];
    let k = n / SIGNS.len() as u32;
    let range = pool.individuals();
    let span = u32::from(range.end() - range.start() + 1);
    let individual = range.start() + u16::try_from(k % span).ok()?;
    // Birth dates spread over the century by a multiplicative step (any collision is
    // skipped by the caller); 2000s births stay in the past.
    let day_index = (i64::from(n) * 7919 + 4_000) + i64::from(k / span) * 97;
    let last_year = if century == 2000 {
        (today.year() - 2001).clamp(0, 99)
    } else {
        99
    };
    let base = Date::from_calendar_date(century, Month::January, 1).ok()?;
    let span_days = i64::from(last_year) * 365;
    let birth = base + Duration::days(day_index % span_days.max(1));
    let (dd, mm, yy) = (
        u32::from(birth.day()),
        u32::from(u8::from(birth.month())),
        u32::try_from(birth.year() % 100).ok()?,
    );
    let check =
        Hetu::check_char(dd * 10_000_000 + mm * 100_000 + yy * 1000 + u32::from(individual));
    let code = format!("{dd:02}{mm:02}{yy:02}{sign}{individual:03}{check}");
    code.parse::<Hetu>().ok().map(|_| code)
}

/// The ledger.
#[derive(Clone)]
pub struct Ledger {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    remembered: Arc<Mutex<Option<Remembered>>>,
}

/// Grants looked up by code, kept while the ledger's file is unchanged. The archive looks
/// the client's code up for every archived document, and a SQLite read transaction takes
/// the WAL's file locks each time; the ledger changes only when someone issues or imports
/// codes, possibly from another process (`kanta-sim ids`).
///
/// Whether it changed is read from the WAL-index header at the start of the `-shm` file
/// (SQLite's "WAL-mode file format", walformat.html: two 48-byte copies of the header,
/// whose change counter, last frame and salts move with every committed transaction and
/// every restart of the WAL). SQLite keeps that layout fixed because processes built with
/// different versions share it. The header is read without a lock, so a lookup trusts the
/// grants it remembers only when both copies agree and equal the header read just before
/// the query that read them (a commit after that read only makes the next lookup read
/// again). A `-shm` file that is gone (the ledger left WAL mode) ends the remembering
/// until one is there again; meanwhile every lookup asks SQLite.
struct Remembered {
    shm: std::fs::File,
    header: WalIndexHeader,
    grants: std::collections::HashMap<String, Vec<Issued>>,
    /// How many lookups asked SQLite (for the tests that the memory is used).
    #[cfg(test)]
    queried: usize,
}

type WalIndexHeader = [u8; 48];

/// Codes remembered before the memory starts over (a ledger is a few hundred codes; a
/// stream of documents with ever new codes must not grow it without bound).
const MAX_REMEMBERED: usize = 4096;

/// What the WAL-index header says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// Both copies agree and it is initialised.
    Now(WalIndexHeader),
    /// Being written, or not initialised yet: nothing can be trusted this time.
    Unsettled,
    /// The file cannot be read, or was unlinked since it was opened: it no longer says
    /// anything about the ledger.
    Gone,
}

fn wal_index_header(shm: &std::fs::File) -> Header {
    use std::os::unix::fs::{FileExt as _, MetadataExt as _};
    let mut both = [0u8; 96];
    if shm.read_exact_at(&mut both, 0).is_err() || shm.metadata().map_or(true, |m| m.nlink() == 0) {
        return Header::Gone;
    }
    let (first, second) = both.split_at(48);
    // isInit is the 13th byte of a copy.
    if first != second || first[12] != 1 {
        return Header::Unsettled;
    }
    let mut h = [0u8; 48];
    h.copy_from_slice(first);
    Header::Now(h)
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Opens (creating when needed) the ledger in `dir`, carrying over a ledger an earlier
    /// kanta-sim kept in the archive's file.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        let (mut conn, path) = crate::archive::open_db_file(dir, LEDGER_FILE, "FULL", SCHEMA)
            .map_err(|e| match e {
                crate::archive::DbOpenError::Dir(path, source) => LedgerError::Dir { path, source },
                crate::archive::DbOpenError::Sqlite(path, source) => {
                    LedgerError::Sqlite { path, source }
                }
            })?;
        let archive = dir.join(crate::archive::DB_FILE);
        if archive.is_file() {
            carry_over(&mut conn, &archive).map_err(|source| LedgerError::Sqlite {
                path: archive,
                source,
            })?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            remembered: Arc::default(),
        })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| LedgerError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Each write is one transaction: a poisoned lock leaves nothing half-written.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues `count` unissued codes of `pool` to `customer` for `service`, in one
    /// transaction.
    pub fn issue(
        &self,
        pool: Pool,
        customer: &str,
        org: Option<&str>,
        service: &str,
        count: u32,
        at: OffsetDateTime,
    ) -> Result<Vec<Issued>, LedgerError> {
        let mut conn = self.lock();
        let at_s = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let tx = conn.transaction().map_err(self.sql())?;
        let mut out = Vec::new();
        let mut n = 0u32;
        // 13 signs × 50 individual numbers × many dates: the bound only guards a full pool.
        while out.len() < count as usize {
            if n > 2_000_000 {
                return Err(LedgerError::Exhausted {
                    pool: pool.as_str(),
                });
            }
            let Some(code) = candidate(pool, n, at.date()) else {
                n += 1;
                continue;
            };
            n += 1;
            // A fresh code: granted to nobody yet.
            let inserted = tx
                .execute(
                    "INSERT INTO identity_grants (code, pool, customer, org, service, issued_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM identity_grants WHERE code = ?1)",
                    params![code, pool.as_str(), customer, org, service, at_s],
                )
                .map_err(self.sql())?;
            if inserted == 1 {
                out.push(Issued {
                    code,
                    pool: pool.as_str().into(),
                    customer: customer.into(),
                    org: org.map(str::to_owned),
                    service: service.into(),
                    issued_at: at_s.clone(),
                });
            }
        }
        tx.commit().map_err(self.sql())?;
        Ok(out)
    }

    /// Every issued code, optionally of one customer, in issue order.
    pub fn list(&self, customer: Option<&str>) -> Result<Vec<Issued>, LedgerError> {
        self.select("?1 IS NULL OR customer = ?1", customer)
    }

    /// Every grant of one code: as remembered while the ledger's file is unchanged (see
    /// [`Remembered`]), else read.
    pub fn grants(&self, code: &str) -> Result<Vec<Issued>, LedgerError> {
        let mut memory = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if memory.is_none() {
            // Opened at the first lookup: the ledger's own connection has the WAL in use.
            let shm = std::fs::File::open(format!("{}-shm", self.path.display()));
            *memory = shm.ok().map(|shm| Remembered {
                shm,
                header: [0; 48],
                grants: Default::default(),
                #[cfg(test)]
                queried: 0,
            });
        }
        let Some(m) = memory.as_mut() else {
            return self.select("code = ?1", Some(code));
        };
        let before = wal_index_header(&m.shm);
        if before == Header::Now(m.header)
            && let Some(g) = m.grants.get(code)
        {
            return Ok(g.clone());
        }
        #[cfg(test)]
        {
            m.queried += 1;
        }
        let read = self.select("code = ?1", Some(code))?;
        match before {
            // Remembered under the header read before the query: a commit since then
            // makes the next lookup find another header and read again.
            Header::Now(b) => {
                if m.header != b || m.grants.len() >= MAX_REMEMBERED {
                    m.grants.clear();
                    m.header = b;
                }
                m.grants.insert(code.to_owned(), read.clone());
            }
            Header::Unsettled => m.grants.clear(),
            Header::Gone => *memory = None,
        }
        Ok(read)
    }

    /// The grants matching `condition` on `?1`, in issue order.
    fn select(&self, condition: &str, arg: Option<&str>) -> Result<Vec<Issued>, LedgerError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT code, pool, customer, org, service, issued_at FROM identity_grants WHERE {condition} ORDER BY issued_at, rowid"))
            .map_err(self.sql())?;
        stmt.query_map([arg], |r| {
            Ok(Issued {
                code: r.get(0)?,
                pool: r.get(1)?,
                customer: r.get(2)?,
                org: r.get(3)?,
                service: r.get(4)?,
                issued_at: r.get(5)?,
            })
        })
        .map_err(self.sql())?
        .collect::<Result<_, _>>()
        .map_err(self.sql())
    }

    /// Records `grants` (codes Kela granted, read by [`read_import`]) in one transaction;
    /// a grant already recorded is kept as it was. How many were new.
    pub fn record(&self, grants: &[Issued]) -> Result<usize, LedgerError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(self.sql())?;
        let mut n = 0;
        for g in grants {
            n += tx
                .execute(
                    "INSERT OR IGNORE INTO identity_grants (code, pool, customer, org, service, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![g.code, g.pool, g.customer, g.org, g.service, g.issued_at],
                )
                .map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())?;
        Ok(n)
    }

    /// P-005 / P-006 warnings for `code` used by `org` under a profile whose pool is `pool`,
    /// as `policy` asks. Codes the ledger never issued get no warning: keeping the ledger is
    /// the supplier's choice.
    pub fn warnings(
        &self,
        code: &str,
        org: &str,
        pool: Pool,
        policy: LedgerPolicy,
    ) -> Result<Vec<Finding>, LedgerError> {
        let grants = self.grants(code)?;
        if grants.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // A grant without an organisation is a customer's record, not a claim about who
        // may use the code.
        let named: Vec<&Issued> = grants.iter().filter(|g| g.org.is_some()).collect();
        if policy.org_check
            && !named.is_empty()
            && !named.iter().any(|g| g.org.as_deref() == Some(org))
        {
            out.push(Finding::new(
                RuleId::P005,
                "recordTarget/patientRole/id",
                format!(
                    "identity code {code} was granted to {}, not to {org}",
                    named
                        .iter()
                        .map(|g| format!(
                            "{} ({}) for {} on {}",
                            g.customer,
                            g.org.as_deref().unwrap_or("-"),
                            g.service,
                            g.issued_at
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ));
        }
        if policy.pool_check && !grants.iter().any(|g| g.pool == pool.as_str()) {
            out.push(Finding::new(
                RuleId::P006,
                "recordTarget/patientRole/id",
                format!(
                    "identity code {code} is from the {} pool; this archive's profile uses the {} pool",
                    grants[0].pool,
                    pool.as_str()
                ),
            ));
        }
        Ok(out)
    }
}

/// Moves the grants an earlier kanta-sim kept in the archive's file (`archive`) into the
/// ledger's own. Copying is one transaction and dropping the old tables another (SQLite
/// makes a transaction over two files in WAL mode atomic per file only): a stop between
/// the two leaves the old tables, and the next opening copies them again, which changes
/// nothing (a grant already recorded is kept as it was) before dropping them.
fn carry_over(conn: &mut Connection, archive: &Path) -> rusqlite::Result<()> {
    let name = archive.to_string_lossy();
    conn.execute("ATTACH DATABASE ?1 AS archive", [name.as_ref()])?;
    let moved = (|| {
        let mut found = Vec::new();
        for table in EARLIER_TABLES {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM archive.sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            if n > 0 {
                found.push(table);
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction()?;
        for table in &found {
            tx.execute_batch(&format!(
                "INSERT OR IGNORE INTO main.identity_grants (code, pool, customer, org, service, issued_at)
                 SELECT code, pool, customer, org, service, issued_at FROM archive.{table} ORDER BY rowid;"
            ))?;
        }
        tx.commit()?;
        let tx = conn.transaction()?;
        for table in &found {
            tx.execute_batch(&format!("DROP TABLE archive.{table};"))?;
        }
        tx.commit()
    })();
    let detached = conn.execute("DETACH DATABASE archive", []).map(|_| ());
    moved.and(detached)
}

/// Which ledger warnings the archive gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerPolicy {
    /// P-005: a code used by an organisation no grant names.
    pub org_check: bool,
    /// P-006: a code from another pool than the profile's.
    pub pool_check: bool,
}

/// Reads a list of granted codes (CSV with a header; `code` is required, `pool`,
/// `customer`, `org`, `service` and `issued_at` are read when present, `defaults` fills the
/// rest). Every line is checked (a 900-series test code, in the pool's individual numbers)
/// before anything is recorded; an error names its line.
pub fn read_import(
    text: &str,
    source_name: &str,
    defaults: &Issued,
) -> Result<Vec<Issued>, LedgerError> {
    let err = |line: usize, message: String| LedgerError::Import {
        source_name: source_name.to_owned(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols: Vec<String> = split_csv(header)
        .into_iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    const KNOWN: [&str; 6] = ["code", "pool", "customer", "org", "service", "issued_at"];
    if let Some(c) = cols.iter().find(|c| !KNOWN.contains(&c.as_str())) {
        return Err(err(
            1,
            format!(
                "unknown column {c:?} (the columns are {})",
                KNOWN.join(", ")
            ),
        ));
    }
    if !cols.iter().any(|c| c == "code") {
        return Err(err(1, "no code column".into()));
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let fields = split_csv(line);
        let get = |name: &str| {
            cols.iter()
                .position(|c| c == name)
                .and_then(|p| fields.get(p))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let code = get("code").ok_or_else(|| err(n, "no code".into()))?;
        let hetu: Hetu = code
            .parse()
            .map_err(|e| err(n, format!("{code:?} is not an identity code: {e}")))?;
        if !hetu.is_test_or_temporary() {
            return Err(err(
                n,
                format!(
                    "{code} is not a 900-series test identity code; real codes never belong in the ledger"
                ),
            ));
        }
        let pool_name = get("pool").unwrap_or_else(|| defaults.pool.clone());
        let pool = Pool::parse(&pool_name).ok_or_else(|| {
            err(
                n,
                format!("pool {pool_name:?} is not test-env or deployment-test"),
            )
        })?;
        if !pool.individuals().contains(&hetu.individual_number()) {
            return Err(err(
                n,
                format!(
                    "{code}: individual number {} is outside the {} pool ({}–{})",
                    hetu.individual_number(),
                    pool.as_str(),
                    pool.individuals().start(),
                    pool.individuals().end()
                ),
            ));
        }
        let customer = get("customer").unwrap_or_else(|| defaults.customer.clone());
        let service = get("service").unwrap_or_else(|| defaults.service.clone());
        if customer.is_empty() || service.is_empty() {
            return Err(err(
                n,
                "no customer or service (a column, or --customer and --service)".into(),
            ));
        }
        out.push(Issued {
            code: hetu.to_string(),
            pool: pool.as_str().to_owned(),
            customer,
            org: get("org").or_else(|| defaults.org.clone()),
            service,
            issued_at: get("issued_at").unwrap_or_else(|| defaults.issued_at.clone()),
        });
    }
    Ok(out)
}

/// One CSV line's fields (RFC 4180 quoting, no line breaks inside fields).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// CSV of issued codes (RFC 4180 quoting).
pub fn to_csv(rows: &[Issued]) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("code,pool,customer,org,service,issued_at\n");
    for r in rows {
        out.push_str(
            &[
                q(&r.code),
                q(&r.pool),
                q(&r.customer),
                q(r.org.as_deref().unwrap_or("")),
                q(&r.service),
                q(&r.issued_at),
            ]
            .join(","),
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_codes_are_valid_unique_in_their_pool_and_use_every_century_sign() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        let now = OffsetDateTime::now_utc();
        let a = l
            .issue(
                Pool::TestEnv,
                "Toimittaja Oy",
                Some("1.2.246.10.99900016.10.0"),
                "sosiaalihuolto",
                40,
                now,
            )
            .unwrap();
        let b = l
            .issue(
                Pool::DeploymentTest,
                "Toimittaja Oy",
                None,
                "käyttöönottokoe",
                30,
                now,
            )
            .unwrap();
        assert_eq!((a.len(), b.len()), (40, 30));
        let mut all: Vec<&str> = a.iter().chain(&b).map(|i| i.code.as_str()).collect();
        for c in &all {
            let h: Hetu = c.parse().unwrap();
            assert!(h.is_test_or_temporary());
            assert!(h.birth_date() <= now.date(), "{c} born in the future");
        }
        assert!(
            a.iter()
                .all(|i| Pool::of(&i.code.parse().unwrap()) == Some(Pool::TestEnv))
        );
        assert!(
            b.iter()
                .all(|i| Pool::of(&i.code.parse().unwrap()) == Some(Pool::DeploymentTest))
        );
        for (sign, _) in SIGNS {
            assert!(
                a.iter().any(|i| i.code.as_bytes()[6] == *sign as u8),
                "no {sign}"
            );
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 70);
        // Issuing again continues with new codes.
        let c = l
            .issue(Pool::TestEnv, "Toinen Oy", None, "x", 5, now)
            .unwrap();
        assert!(c.iter().all(|i| !a.iter().any(|x| x.code == i.code)));
        assert_eq!(l.list(Some("Toimittaja Oy")).unwrap().len(), 70);
        assert_eq!(l.list(None).unwrap().len(), 75);
    }

    const ON: LedgerPolicy = LedgerPolicy {
        org_check: true,
        pool_check: true,
    };

    #[test]
    fn warnings_for_another_organisation_or_pool_only_as_the_policy_says() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        let now = OffsetDateTime::now_utc();
        let code = l
            .issue(
                Pool::TestEnv,
                "Testilä",
                Some("1.2.246.10.99900016.10.0"),
                "s",
                1,
                now,
            )
            .unwrap()
            .remove(0)
            .code;
        assert!(
            l.warnings(&code, "1.2.246.10.99900016.10.0", Pool::TestEnv, ON)
                .unwrap()
                .is_empty()
        );
        let w: Vec<String> = l
            .warnings(&code, "1.2.246.10.99900024.10.0", Pool::DeploymentTest, ON)
            .unwrap()
            .into_iter()
            .map(|f| f.code.to_string())
            .collect();
        assert_eq!(w, ["P-005", "P-006"]);
        let off = LedgerPolicy {
            org_check: false,
            pool_check: false,
        };
        assert!(
            l.warnings(&code, "1.2.246.10.99900024.10.0", Pool::DeploymentTest, off)
                .unwrap()
                .is_empty()
        );
        assert!(
            l.warnings("010190-902S", "x", Pool::TestEnv, ON)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_code_granted_to_two_customers_warns_neither_and_imports_are_checked_whole() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        let defaults = Issued {
            code: String::new(),
            pool: "deployment-test".into(),
            customer: String::new(),
            org: None,
            service: "käyttöönottokoe".into(),
            issued_at: "2026-11-30T00:00:00Z".into(),
        };
        let csv = "code,customer,org\n020290-951T,Testilän hyvinvointialue,1.2.246.10.99900016.10.0\n020290-951T,\"Simulaatiohoiva Oy\",1.2.246.10.99900032.10.0\n";
        let grants = read_import(csv, "kela.csv", &defaults).unwrap();
        assert_eq!(l.record(&grants).unwrap(), 2);
        assert_eq!(l.record(&grants).unwrap(), 0, "a grant is recorded once");
        assert_eq!(l.grants("020290-951T").unwrap().len(), 2);
        for org in ["1.2.246.10.99900016.10.0", "1.2.246.10.99900032.10.0"] {
            assert!(
                l.warnings("020290-951T", org, Pool::DeploymentTest, ON)
                    .unwrap()
                    .is_empty(),
                "{org}"
            );
        }
        let w = l
            .warnings(
                "020290-951T",
                "1.2.246.10.99900024.10.0",
                Pool::DeploymentTest,
                ON,
            )
            .unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("Testilän") && w[0].message.contains("Simulaatiohoiva"));
        // A bad line refuses the whole import, naming its line; nothing is recorded.
        let defaults = Issued {
            customer: "Testilä".into(),
            ..defaults
        };
        for (bad, line, needle) in [
            ("code\n020290-951T\n010190-123A\n", 3, "not"),
            (
                "code,pool\n010190-902S,deployment-test\n",
                2,
                "outside the deployment-test pool",
            ),
            ("kood\n020290-951T\n", 1, "unknown column"),
        ] {
            let e = read_import(bad, "kela.csv", &defaults)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("kela.csv:{line}:")), "{e}");
            assert!(e.contains(needle), "{e}");
        }
        // A ledger from before grants is carried over.
        let old = tempfile::tempdir().unwrap();
        {
            let (conn, _) = crate::archive::open_db(old.path(), "FULL", "CREATE TABLE identity_ledger (code TEXT PRIMARY KEY, pool TEXT NOT NULL, customer TEXT NOT NULL, org TEXT, service TEXT NOT NULL, issued_at TEXT NOT NULL); INSERT INTO identity_ledger VALUES ('010190-902S', 'test-env', 'A', NULL, 's', 't');").unwrap();
            drop(conn);
        }
        let l = Ledger::open(old.path()).unwrap();
        assert_eq!(l.grants("010190-902S").unwrap().len(), 1);
    }

    #[test]
    fn a_ledger_kept_in_the_archives_file_moves_to_its_own_once_and_keeps_its_order() {
        let dir = tempfile::tempdir().unwrap();
        // As the version before wrote it: identity_grants inside kanta-sim.sqlite, beside
        // the archive's own tables.
        {
            let (conn, _) = crate::archive::open_db(dir.path(), "FULL", SCHEMA).unwrap();
            conn.execute_batch(
                "CREATE TABLE document (id INTEGER PRIMARY KEY);
                 INSERT INTO identity_grants VALUES ('020290-951T', 'deployment-test', 'B', '1.2.3', 's', '2026-01-02T00:00:00Z');
                 INSERT INTO identity_grants VALUES ('010190-902S', 'test-env', 'A', NULL, 's', '2026-01-01T00:00:00Z');
                 INSERT INTO identity_grants VALUES ('010190-902S', 'test-env', 'C', NULL, 't', '2026-01-01T00:00:00Z');",
            )
            .unwrap();
        }
        let tables = |file: &str| -> Vec<String> {
            let c = Connection::open(dir.path().join(file)).unwrap();
            let mut st = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let listed = |l: &Ledger| -> Vec<(String, String)> {
            l.list(None)
                .unwrap()
                .into_iter()
                .map(|g| (g.code, g.customer))
                .collect()
        };
        let l = Ledger::open(dir.path()).unwrap();
        let expected = [
            ("010190-902S", "A"),
            ("010190-902S", "C"),
            ("020290-951T", "B"),
        ]
        .map(|(c, k)| (c.to_owned(), k.to_owned()));
        assert_eq!(listed(&l), expected);
        assert_eq!(
            l.grants("020290-951T").unwrap()[0].org.as_deref(),
            Some("1.2.3")
        );
        // The archive's file keeps only the archive's tables; the ledger's file has them.
        assert_eq!(tables(crate::archive::DB_FILE), ["document"]);
        assert_eq!(tables(LEDGER_FILE), ["identity_grants"]);
        drop(l);
        // A stop after copying, before dropping: the next opening copies again, changing
        // nothing, and drops.
        {
            let (conn, _) = crate::archive::open_db(dir.path(), "FULL", SCHEMA).unwrap();
            conn.execute_batch(
                "INSERT INTO identity_grants VALUES ('010190-902S', 'test-env', 'A', 'other', 's', 'later');",
            )
            .unwrap();
        }
        let l = Ledger::open(dir.path()).unwrap();
        assert_eq!(listed(&l), expected);
        assert_eq!(l.grants("010190-902S").unwrap()[0].org, None);
        assert_eq!(tables(crate::archive::DB_FILE), ["document"]);
        // A ledger opened where no archive ever was creates no archive file.
        let fresh = tempfile::tempdir().unwrap();
        Ledger::open(fresh.path()).unwrap();
        assert!(!fresh.path().join(crate::archive::DB_FILE).exists());
    }

    #[test]
    fn remembered_grants_follow_every_change_made_elsewhere_and_are_used_while_none_comes() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        let queried = |l: &Ledger| {
            l.remembered
                .lock()
                .unwrap()
                .as_ref()
                .map_or(usize::MAX, |m| m.queried)
        };
        let codes = ["010190-902S", "020290-951T", "030390-903A"];
        let grant = |code: &str, customer: &str| Issued {
            code: code.into(),
            pool: "test-env".into(),
            customer: customer.into(),
            org: Some("1.2.3".into()),
            service: "s".into(),
            issued_at: "2026-01-01T00:00:00Z".into(),
        };
        // Nothing changes: asked once, remembered after.
        for _ in 0..3 {
            assert!(l.grants(codes[0]).unwrap().is_empty());
        }
        assert_eq!(queried(&l), 1);
        // Another ledger on the same file (as `kanta-sim ids` in another process), and a
        // plain SQLite connection (as the sqlite3 shell), change it in turns; every lookup
        // answers as a fresh read would.
        let other = Ledger::open(dir.path()).unwrap();
        let raw = Connection::open(dir.path().join(LEDGER_FILE)).unwrap();
        let mut rng = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| rng() % n;
        for round in 0..300 {
            let code = codes[next(3) as usize];
            match next(6) {
                0 => {
                    other.record(&[grant(code, &format!("c{round}"))]).unwrap();
                }
                1 => {
                    raw.execute("DELETE FROM identity_grants WHERE code = ?1", [code])
                        .unwrap();
                }
                2 => {
                    // Copied into the database and the WAL started over: new salts.
                    raw.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                        .unwrap();
                    raw.execute(
                        "INSERT OR IGNORE INTO identity_grants VALUES (?1, 'test-env', 'raw', NULL, 's', 't')",
                        [code],
                    )
                    .unwrap();
                }
                _ => {}
            }
            let looked = next(3) as usize;
            assert_eq!(
                l.grants(codes[looked]).unwrap(),
                other.select("code = ?1", Some(codes[looked])).unwrap(),
                "round {round}"
            );
        }
        // And the memory was used in between (not a read per lookup).
        let before = queried(&l);
        for c in codes.iter().chain(&codes) {
            l.grants(c).unwrap();
        }
        assert!(queried(&l) <= before + 3, "{} {before}", queried(&l));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let rows = vec![Issued {
            code: "010190-902S".into(),
            pool: "test-env".into(),
            customer: "Oy \"A\", B".into(),
            org: None,
            service: "s".into(),
            issued_at: "t".into(),
        }];
        assert_eq!(
            to_csv(&rows),
            "code,pool,customer,org,service,issued_at\n010190-902S,test-env,\"Oy \"\"A\"\", B\",,s,t\n"
        );
    }
}
