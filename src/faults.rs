//! The fault plan: archive-side faults on purpose, so that a client system's queueing,
//! retries and duplicate handling can be tested. Kanta has service breaks, answers slowly
//! under load and refuses connections during certificate changes; its test environments
//! cannot be made to fail on purpose, and a generic HTTP mock fails below the HL7 level
//! only.
//!
//! A plan is TOML (`serve --faults FILE`, or `faults set` at run time), one `[[fault]]`
//! table per entry. It is parsed once, here, into typed entries; a key that does not exist,
//! a kind that cannot be limited the way the entry asks, or a window that can never open is
//! refused with the file and line. The server asks [`ActivePlan::pick`] at each stage of a
//! connection and applies what it gets; every injected fault is logged with its entry.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::finding::RuleId;

/// What the archive does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Close the TCP connection at once, before TLS (a service break).
    Refuse,
    /// Complete the TLS handshake, then reset the connection (TCP RST).
    Reset,
    /// Answer the ClientHello with a fatal TLS alert (handshake_failure).
    TlsAlert,
    /// Answer normally, `delay_ms` late.
    Delay,
    /// HTTP 503 with `Retry-After: retry_after_secs` (W-009), nothing archived.
    Busy,
    /// A SOAP fault (Receiver), nothing archived.
    SoapFault,
    /// An HL7 AE acknowledgement with the finding `rule`, nothing archived.
    Ae,
    /// Archive the document, then close the connection without the acknowledgement (the
    /// classic cause of duplicates: the client does not know that it was archived).
    DropAck,
    /// Answer normally, but send the response in small pieces over `delay_ms`.
    SlowDrip,
    /// Serve the kit's expired server certificate (`server:expired`) in the handshake.
    ExpiredServerCert,
    /// Serve the kit's revoked server certificate (`server:revoked`, listed in the kit's CRL).
    RevokedServerCert,
}

impl FaultKind {
    /// Every kind with its name and what it does.
    pub const ALL: &[(Self, &'static str, &'static str)] = &[
        (
            Self::Refuse,
            "refuse",
            "close the TCP connection at once (a service break)",
        ),
        (
            Self::Reset,
            "reset",
            "complete the TLS handshake, then reset the connection",
        ),
        (
            Self::TlsAlert,
            "tls-alert",
            "answer the ClientHello with a fatal TLS alert",
        ),
        (Self::Delay, "delay", "answer delay_ms late"),
        (
            Self::Busy,
            "busy",
            "HTTP 503 with Retry-After (W-009); nothing archived",
        ),
        (
            Self::SoapFault,
            "soap-fault",
            "a SOAP fault (Receiver); nothing archived",
        ),
        (
            Self::Ae,
            "ae",
            "an AE acknowledgement with the finding `rule`; nothing archived",
        ),
        (
            Self::DropAck,
            "drop-ack",
            "archive, then close the connection without the acknowledgement",
        ),
        (
            Self::SlowDrip,
            "slow-drip",
            "send the answer in small pieces over delay_ms",
        ),
        (
            Self::ExpiredServerCert,
            "expired-server-cert",
            "serve the kit's expired server certificate (server:expired)",
        ),
        (
            Self::RevokedServerCert,
            "revoked-server-cert",
            "serve the kit's revoked server certificate (server:revoked, in the kit's CRL)",
        ),
    ];

    /// The kit role of the alternate server certificate a certificate fault serves.
    pub fn server_role(self) -> Option<&'static str> {
        match self {
            Self::ExpiredServerCert => Some("server:expired"),
            Self::RevokedServerCert => Some("server:revoked"),
            _ => None,
        }
    }

    /// The kind's name in a plan.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, ..)| *k == self)
            .map_or("?", |(_, n, _)| n)
    }

    /// When it happens.
    pub fn stage(self) -> Stage {
        match self {
            Self::Refuse | Self::TlsAlert | Self::ExpiredServerCert | Self::RevokedServerCert => {
                Stage::Accept
            }
            Self::Reset => Stage::Handshake,
            _ => Stage::Request,
        }
    }
}

/// Where in a connection a fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// On accept, before TLS: the client certificate is not known yet.
    Accept,
    /// After the handshake: the organisation is known, the message is not.
    Handshake,
    /// On a request, after the message was read: organisation and use case are known.
    Request,
}

/// A use case an entry can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UseCaseName {
    /// Archive a first version.
    Archive,
    /// Archive a new version.
    NewVersion,
    /// Invalidate.
    Invalidate,
    /// Any of the queries.
    Query,
}

/// One entry of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultEntry {
    /// Its name (`fault-N` when the plan gives none): in the log and the report.
    pub name: String,
    /// What goes wrong.
    pub kind: FaultKind,
    /// Only for this organisation (from the client certificate).
    pub org: Option<String>,
    /// Only for this use case.
    pub use_case: Option<UseCaseName>,
    /// The window opens this long after the plan was set.
    pub after_secs: u64,
    /// …and stays open this long (for ever when absent).
    pub for_secs: Option<u64>,
    /// At most this many times (unlimited when absent).
    pub count: Option<u32>,
    /// Delay and slow-drip: milliseconds.
    pub delay_ms: u64,
    /// Busy: the Retry-After seconds.
    pub retry_after_secs: u32,
    /// AE: the finding's rule.
    pub rule: Option<RuleId>,
    /// The line of its `[[fault]]` header in the plan.
    pub line: usize,
}

/// A parsed, checked plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultPlan {
    /// Where it came from (a file name, or `admin`).
    pub source: String,
    /// Its entries, in order: the first that matches applies.
    pub entries: Vec<FaultEntry>,
}

/// Why a plan was refused.
#[derive(Debug, thiserror::Error)]
pub enum FaultPlanError {
    /// Not TOML, or a key or value the plan does not know.
    #[error("{source_name}:{line}: {message}")]
    Syntax {
        /// The file.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// What the TOML reader said.
        message: String,
    },
    /// A well-formed entry that cannot work.
    #[error("{source_name}:{line}: fault {name:?}: {message}")]
    Invalid {
        /// The file.
        source_name: String,
        /// 1-based line of the entry.
        line: usize,
        /// The entry's name.
        name: String,
        /// Why.
        message: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[serde(default)]
    fault: Vec<toml::Spanned<FaultSpec>>,
}

/// One entry as written (in a plan file, or inline in a test case's `fault-plan` step),
/// before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What goes wrong.
    pub kind: FaultKind,
    /// Only for this organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Only for this use case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<UseCaseName>,
    /// The window opens this long after the plan was set.
    #[serde(default)]
    pub after_secs: u64,
    /// …and stays open this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_secs: Option<u64>,
    /// At most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Delay and slow-drip: milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Busy: the Retry-After seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u32>,
    /// AE: the finding's rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The longest delay a plan may ask for: beyond it a client's own timeout decides, and a
/// plan that holds connections for hours is a mistake.
pub const MAX_DELAY_MS: u64 = 600_000;

impl FaultPlan {
    /// Reads and checks a plan file.
    pub fn load(path: &std::path::Path) -> Result<Self, FaultPlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| FaultPlanError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a plan; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, FaultPlanError> {
        let raw: RawPlan = toml::from_str(text).map_err(|e| FaultPlanError::Syntax {
            source_name: source.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        let specs = raw
            .fault
            .into_iter()
            .map(|spanned| (line_of(text, spanned.span().start), spanned.into_inner()));
        Self::from_specs(specs, source)
    }

    /// The alternate server certificates (kit roles) its entries serve.
    pub fn server_roles(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().filter_map(|e| e.kind.server_role())
    }

    /// Checks entries given one by one (`line` names each in errors: the line of its
    /// `[[fault]]` header in a file, its position in a test case's step).
    pub fn from_specs(
        specs: impl IntoIterator<Item = (usize, FaultSpec)>,
        source: &str,
    ) -> Result<Self, FaultPlanError> {
        let mut entries: Vec<FaultEntry> = Vec::new();
        for (i, (line, r)) in specs.into_iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("fault-{}", i + 1));
            let invalid = |message: String| FaultPlanError::Invalid {
                source_name: source.to_owned(),
                line,
                name: name.clone(),
                message,
            };
            let stage = r.kind.stage();
            if stage == Stage::Accept && r.org.is_some() {
                return Err(invalid(format!(
                    "{} happens before the client certificate is seen, so it cannot be limited to an organisation (leave out org)",
                    r.kind.name()
                )));
            }
            if stage != Stage::Request && r.use_case.is_some() {
                return Err(invalid(format!(
                    "{} happens before any message is read, so it cannot be limited to a use case (leave out use_case)",
                    r.kind.name()
                )));
            }
            if r.for_secs == Some(0) {
                return Err(invalid(
                    "for_secs = 0: the window would never be open".into(),
                ));
            }
            if r.count == Some(0) {
                return Err(invalid("count = 0: the fault would never happen".into()));
            }
            let delay_ms = match (r.kind, r.delay_ms) {
                (FaultKind::Delay | FaultKind::SlowDrip, Some(0) | None) => {
                    return Err(invalid(format!(
                        "{} needs delay_ms (milliseconds, more than 0)",
                        r.kind.name()
                    )));
                }
                (FaultKind::Delay | FaultKind::SlowDrip, Some(d)) if d > MAX_DELAY_MS => {
                    return Err(invalid(format!(
                        "delay_ms = {d} is more than {MAX_DELAY_MS} (ten minutes)"
                    )));
                }
                (FaultKind::Delay | FaultKind::SlowDrip, Some(d)) => d,
                (_, Some(_)) => {
                    return Err(invalid(format!(
                        "delay_ms applies to delay and slow-drip, not to {}",
                        r.kind.name()
                    )));
                }
                (_, None) => 0,
            };
            let retry_after_secs = match (r.kind, r.retry_after_secs) {
                (FaultKind::Busy, s) => s.unwrap_or(5),
                (_, Some(_)) => {
                    return Err(invalid(format!(
                        "retry_after_secs applies to busy, not to {}",
                        r.kind.name()
                    )));
                }
                (_, None) => 0,
            };
            let rule = match (r.kind, r.rule.as_deref()) {
                (FaultKind::Ae, None) => {
                    return Err(invalid(
                        "ae needs rule, the finding's rule id (e.g. \"S-001\"; `kanta-sim rules` lists them)"
                            .into(),
                    ));
                }
                (FaultKind::Ae, Some(id)) => Some(id.parse::<RuleId>().map_err(|_| {
                    invalid(format!(
                        "rule {id:?} is not in the catalogue (`kanta-sim rules` lists them)"
                    ))
                })?),
                (_, Some(_)) => {
                    return Err(invalid(format!(
                        "rule applies to ae, not to {}",
                        r.kind.name()
                    )));
                }
                (_, None) => None,
            };
            if entries.iter().any(|e: &FaultEntry| e.name == name) {
                return Err(invalid("another entry has the same name".into()));
            }
            entries.push(FaultEntry {
                name,
                kind: r.kind,
                org: r.org,
                use_case: r.use_case,
                after_secs: r.after_secs,
                for_secs: r.for_secs,
                count: r.count,
                delay_ms,
                retry_after_secs,
                rule,
                line,
            });
        }
        Ok(Self {
            source: source.to_owned(),
            entries,
        })
    }
}

/// A fault to apply now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Injected {
    /// The entry it comes from.
    pub entry: FaultEntry,
    /// The plan's source.
    pub plan: String,
    /// How many times this entry has been applied, this one included.
    pub nth: u32,
}

impl Injected {
    /// What the exchange log and the report say about it.
    pub fn describe(&self) -> String {
        format!(
            "injected fault {} ({}, {}:{}, #{})",
            self.entry.name,
            self.entry.kind.name(),
            self.plan,
            self.entry.line,
            self.nth
        )
    }

    /// For the exchange record's detail.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "entry": self.entry.name,
            "kind": self.entry.kind.name(),
            "plan": self.plan,
            "line": self.entry.line,
            "nth": self.nth,
            "after_secs": self.entry.after_secs,
            "for_secs": self.entry.for_secs,
            "delay_ms": self.entry.delay_ms,
            "retry_after_secs": self.entry.retry_after_secs,
        })
    }
}

struct Armed {
    plan: FaultPlan,
    since: Instant,
    used: Vec<u32>,
}

/// The plan in force, shared by every connection; replaced or cleared at run time.
#[derive(Default)]
pub struct ActivePlan(Mutex<Option<Armed>>);

/// An entry's state, for `faults list`.
#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    /// The entry.
    pub entry: FaultEntry,
    /// Times applied.
    pub applied: u32,
    /// Whether it can still apply (window not over, count not used up).
    pub live: bool,
}

impl ActivePlan {
    /// A plan in force from now.
    pub fn new(plan: Option<FaultPlan>) -> Self {
        let s = Self::default();
        if let Some(p) = plan {
            s.set(p);
        }
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        // A panic while holding the lock leaves counts that are still meaningful.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `plan` in force from now (its windows count from now, its counts from zero).
    pub fn set(&self, plan: FaultPlan) {
        let used = vec![0; plan.entries.len()];
        *self.lock() = Some(Armed {
            plan,
            since: Instant::now(),
            used,
        });
    }

    /// No faults from now on.
    pub fn clear(&self) {
        *self.lock() = None;
    }

    /// Whether any entry could apply at `stage` (so a connection need not ask per step).
    pub fn has(&self, stage: Stage) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|a| a.plan.entries.iter().any(|e| e.kind.stage() == stage))
    }

    /// The entries with their counts.
    pub fn status(&self) -> Option<(String, Vec<EntryStatus>)> {
        let guard = self.lock();
        let a = guard.as_ref()?;
        let elapsed = a.since.elapsed();
        Some((
            a.plan.source.clone(),
            a.plan
                .entries
                .iter()
                .zip(&a.used)
                .map(|(e, used)| EntryStatus {
                    entry: e.clone(),
                    applied: *used,
                    live: e.count.is_none_or(|c| *used < c)
                        && e.for_secs.is_none_or(|f| {
                            elapsed < Duration::from_secs(e.after_secs.saturating_add(f))
                        }),
                })
                .collect(),
        ))
    }

    /// The first entry that applies at `stage` to `org` and `use_case` now, counted as
    /// applied.
    pub fn pick(
        &self,
        stage: Stage,
        org: Option<&str>,
        use_case: Option<UseCaseName>,
    ) -> Option<Injected> {
        self.pick_at(stage, org, use_case, None)
    }

    fn pick_at(
        &self,
        stage: Stage,
        org: Option<&str>,
        use_case: Option<UseCaseName>,
        elapsed: Option<Duration>,
    ) -> Option<Injected> {
        let mut guard = self.lock();
        let a = guard.as_mut()?;
        let elapsed = elapsed.unwrap_or_else(|| a.since.elapsed());
        for (i, e) in a.plan.entries.iter().enumerate() {
            let open = elapsed >= Duration::from_secs(e.after_secs)
                && e.for_secs
                    .is_none_or(|f| elapsed < Duration::from_secs(e.after_secs.saturating_add(f)));
            let matches = e.kind.stage() == stage
                && open
                && e.count.is_none_or(|c| a.used[i] < c)
                && e.org.as_deref().is_none_or(|o| Some(o) == org)
                && e.use_case.is_none_or(|u| Some(u) == use_case);
            if matches {
                a.used[i] += 1;
                return Some(Injected {
                    entry: e.clone(),
                    plan: a.plan.source.clone(),
                    nth: a.used[i],
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "1.2.246.10.99900016.10.0";

    fn parse(t: &str) -> Result<FaultPlan, FaultPlanError> {
        FaultPlan::parse(t, "plan.toml")
    }

    #[test]
    fn a_plan_parses_into_typed_entries_with_their_lines() {
        let p = parse(
            r#"
# a service break for everyone, then a lost acknowledgement for one organisation
[[fault]]
kind = "refuse"
for_secs = 30

[[fault]]
name = "lost-ack"
kind = "drop-ack"
org = "1.2.246.10.99900016.10.0"
use_case = "archive"
count = 1

[[fault]]
kind = "ae"
rule = "S-001"

[[fault]]
kind = "busy"
"#,
        )
        .unwrap();
        assert_eq!(p.entries.len(), 4);
        assert_eq!(p.entries[0].name, "fault-1");
        assert_eq!(p.entries[0].line, 3);
        assert_eq!(p.entries[1].name, "lost-ack");
        assert_eq!(p.entries[1].line, 7);
        assert_eq!(p.entries[1].use_case, Some(UseCaseName::Archive));
        assert_eq!(p.entries[2].rule, Some(RuleId::S001));
        assert_eq!(p.entries[3].retry_after_secs, 5);
    }

    #[test]
    fn impossible_or_unknown_entries_are_refused_with_their_line() {
        for (plan, line, needle) in [
            (
                "[[fault]]\nkind = \"delay\"\ndelai_ms = 5\n",
                3,
                "unknown field",
            ),
            ("[[fault]]\nkind = \"explode\"\n", 2, "unknown variant"),
            ("\n[[fault]]\nkind = \"delay\"\n", 2, "needs delay_ms"),
            (
                "[[fault]]\nkind = \"busy\"\nfor_secs = 0\n",
                1,
                "never be open",
            ),
            ("[[fault]]\nkind = \"busy\"\ncount = 0\n", 1, "never happen"),
            (
                "[[fault]]\nkind = \"refuse\"\norg = \"1.2.3\"\n",
                1,
                "cannot be limited to an organisation",
            ),
            (
                "[[fault]]\nkind = \"reset\"\nuse_case = \"query\"\n",
                1,
                "cannot be limited to a use case",
            ),
            ("[[fault]]\nkind = \"ae\"\n", 1, "needs rule"),
            (
                "[[fault]]\nkind = \"ae\"\nrule = \"Z-999\"\n",
                1,
                "not in the catalogue",
            ),
            (
                "[[fault]]\nkind = \"busy\"\ndelay_ms = 5\n",
                1,
                "delay_ms applies to delay",
            ),
            (
                "[[fault]]\nkind = \"delay\"\ndelay_ms = 700000\n",
                1,
                "more than",
            ),
            (
                "[[fault]]\nname = \"a\"\nkind = \"busy\"\n[[fault]]\nname = \"a\"\nkind = \"busy\"\n",
                4,
                "same name",
            ),
            ("[faults]\nkind = \"busy\"\n", 1, "unknown field"),
            (
                "[[fault]]\nkind = \"expired-server-cert\"\norg = \"1.2.3\"\n",
                1,
                "cannot be limited to an organisation",
            ),
        ] {
            let e = parse(plan).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("plan.toml:{line}:")),
                "{plan:?}: {e}"
            );
            assert!(e.contains(needle), "{plan:?}: {e}");
        }
    }

    #[test]
    fn certificate_faults_name_their_alternate_and_happen_on_accept() {
        let p = parse("[[fault]]\nkind = \"revoked-server-cert\"\n[[fault]]\nkind = \"busy\"\n")
            .unwrap();
        assert_eq!(p.server_roles().collect::<Vec<_>>(), vec!["server:revoked"]);
        assert_eq!(p.entries[0].kind.stage(), Stage::Accept);
        let a = ActivePlan::new(Some(p));
        assert_eq!(
            a.pick(Stage::Accept, None, None).map(|i| i.entry.kind),
            Some(FaultKind::RevokedServerCert)
        );
    }

    #[test]
    fn entries_given_one_by_one_are_checked_alike_and_named_by_position() {
        let spec = |kind: FaultKind| FaultSpec {
            name: None,
            kind,
            org: None,
            use_case: None,
            after_secs: 0,
            for_secs: None,
            count: None,
            delay_ms: None,
            retry_after_secs: None,
            rule: None,
        };
        let e = FaultPlan::from_specs(
            [(1, spec(FaultKind::Busy)), (2, spec(FaultKind::Delay))],
            "SIM-X/s",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("SIM-X/s:2: fault \"fault-2\""), "{e}");
        assert!(e.contains("needs delay_ms"), "{e}");
    }

    #[test]
    fn the_first_matching_entry_applies_within_its_window_and_count() {
        let p = parse(
            r#"
[[fault]]
kind = "drop-ack"
org = "1.2.246.10.99900016.10.0"
use_case = "archive"
count = 1
[[fault]]
kind = "busy"
after_secs = 10
for_secs = 5
"#,
        )
        .unwrap();
        let active = ActivePlan::new(Some(p));
        let at = |s| Some(Duration::from_secs(s));
        // Another organisation, or a query: not the first entry; the second is not open yet.
        assert_eq!(
            active.pick_at(
                Stage::Request,
                Some("1.2.3"),
                Some(UseCaseName::Archive),
                at(0)
            ),
            None
        );
        assert_eq!(
            active.pick_at(Stage::Request, Some(ORG), Some(UseCaseName::Query), at(0)),
            None
        );
        let first = active
            .pick_at(Stage::Request, Some(ORG), Some(UseCaseName::Archive), at(0))
            .unwrap();
        assert_eq!((first.entry.kind, first.nth), (FaultKind::DropAck, 1));
        // Used up.
        assert_eq!(
            active.pick_at(Stage::Request, Some(ORG), Some(UseCaseName::Archive), at(1)),
            None
        );
        // The busy window is [10 s, 15 s).
        let busy = active.pick_at(
            Stage::Request,
            Some(ORG),
            Some(UseCaseName::Archive),
            at(10),
        );
        assert_eq!(busy.map(|b| b.entry.kind), Some(FaultKind::Busy));
        assert_eq!(active.pick_at(Stage::Request, None, None, at(15)), None);
        // Other stages never see request faults.
        assert_eq!(active.pick_at(Stage::Accept, None, None, at(12)), None);
        assert!(active.has(Stage::Request) && !active.has(Stage::Accept));
        let (_, status) = active.status().unwrap();
        assert_eq!(status[0].applied, 1);
        assert!(!status[0].live);
        active.clear();
        assert_eq!(active.pick_at(Stage::Request, None, None, at(12)), None);
    }
}
