//! The test-identity ledger: which 900-series identity codes went to which customer, for
//! which service, from which pool, and when. Suppliers are advised to keep exactly this
//! record; the archive warns when a code is used by an organisation it was not issued to
//! (P-005) or outside the profile's pool (P-006). Kept in the data directory's SQLite file.
//!
//! Pools [I]: test-environment codes take individual numbers 900–949, deployment-test codes
//! 950–999, so that the two never mix (the real allocation is not public).

use crate::finding::RuleId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
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
    /// Nothing left to issue.
    #[error("the {pool} pool has no unissued codes left")]
    Exhausted {
        /// The pool.
        pool: &'static str,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS identity_ledger (
    code TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    customer TEXT NOT NULL,
    org TEXT,
    service TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
";

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
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Opens (creating when needed) the ledger in `dir`.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        let (conn, path) = crate::archive::open_db(dir, "FULL", SCHEMA).map_err(|e| match e {
            crate::archive::DbOpenError::Dir(path, source) => LedgerError::Dir { path, source },
            crate::archive::DbOpenError::Sqlite(path, source) => {
                LedgerError::Sqlite { path, source }
            }
        })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
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
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO identity_ledger (code, pool, customer, org, service, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
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
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT code, pool, customer, org, service, issued_at FROM identity_ledger WHERE ?1 IS NULL OR customer = ?1 ORDER BY issued_at, rowid")
            .map_err(self.sql())?;
        stmt.query_map([customer], |r| {
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

    /// The record of one code.
    pub fn get(&self, code: &str) -> Result<Option<Issued>, LedgerError> {
        let conn = self.lock();
        conn.query_row("SELECT code, pool, customer, org, service, issued_at FROM identity_ledger WHERE code = ?1", [code], |r| {
            Ok(Issued { code: r.get(0)?, pool: r.get(1)?, customer: r.get(2)?, org: r.get(3)?, service: r.get(4)?, issued_at: r.get(5)? })
        })
        .optional()
        .map_err(self.sql())
    }

    /// P-005 / P-006 warnings for `code` used by `org` under a profile whose pool is `pool`.
    /// Codes the ledger never issued get no warning: keeping the ledger is the supplier's
    /// choice.
    pub fn warnings(&self, code: &str, org: &str, pool: Pool) -> Result<Vec<Finding>, LedgerError> {
        let Some(i) = self.get(code)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if let Some(o) = &i.org
            && o != org
        {
            out.push(Finding::new(
                RuleId::P005,
                "recordTarget/patientRole/id",
                format!(
                    "identity code {code} was issued to {} ({o}) for {} on {}, not to {org}",
                    i.customer, i.service, i.issued_at
                ),
            ));
        }
        if i.pool != pool.as_str() {
            out.push(Finding::new(RuleId::P006, "recordTarget/patientRole/id", format!("identity code {code} is from the {} pool; this archive's profile uses the {} pool", i.pool, pool.as_str())));
        }
        Ok(out)
    }
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

    #[test]
    fn warnings_for_another_organisation_or_pool() {
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
            l.warnings(&code, "1.2.246.10.99900016.10.0", Pool::TestEnv)
                .unwrap()
                .is_empty()
        );
        let w: Vec<String> = l
            .warnings(&code, "1.2.246.10.99900024.10.0", Pool::DeploymentTest)
            .unwrap()
            .into_iter()
            .map(|f| f.code.to_string())
            .collect();
        assert_eq!(w, ["P-005", "P-006"]);
        assert!(
            l.warnings("010190-902S", "x", Pool::TestEnv)
                .unwrap()
                .is_empty()
        );
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
