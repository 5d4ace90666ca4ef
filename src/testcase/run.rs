//! A run over a suite: start the archive, then either drive every step with the reference
//! client (self-driven) or tell the tester what the system under test must send next and
//! wait for it (live). Sessions belong to the organisation of the client certificate, so
//! several suppliers or trainees share one archive without logins.

use crate::finding::RuleId;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;

use super::behaviour::{self, SETTLE, Watch};
use super::drive::Driver;
use super::engine::{self, Labels, StateView, StepOutcome, Verdict};
use crate::archive::StoredExchange;
use crate::cases::{Action, Deviation, DocKind, Expect, Step, TestCase};
use crate::config::Config;

/// The organisation a case runs as when neither it nor the run names one.
pub const DEFAULT_ORG: &str = "1.2.246.10.99900016.10.0";

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar redrawn in place (a terminal).
    Bar,
    /// One line per event (CI, pipes).
    Lines,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise or when `CI` is set.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        {
            Self::Bar
        } else {
            Self::Lines
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The cases to run, in order.
    pub cases: Vec<TestCase>,
    /// The suite's name for the report.
    pub suite: String,
    /// Drive every step with the reference client.
    pub self_drive: bool,
    /// The archive's configuration (listen address, kit, data directory, profile).
    pub config: Config,
    /// Seconds to wait for each step.
    pub step_timeout: Duration,
    /// Live runs: the organisations whose sessions to run (empty: every organisation that
    /// connects gets one, and the run ends when every started session has finished).
    pub orgs: Vec<String>,
    /// Deviations forced on the reference client: (case, step) → deviation.
    pub deviations: BTreeMap<(String, String), Deviation>,
    /// Steps the reference client leaves out (it sends the next step's message instead).
    pub skips: BTreeSet<(String, String)>,
    /// Seed of the reference client's document ids.
    pub seed: u64,
    /// A fixed clock for the report (deterministic reports).
    pub clock: Option<OffsetDateTime>,
    /// Progress output.
    pub progress: Progress,
}

/// Why a run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The certificate kit could not be made.
    #[error("certificate kit: {0}")]
    Kit(#[from] crate::pki::GenerateError),
    /// The kit's trust material could not be read.
    #[error("certificate kit: {0}")]
    Trust(#[from] crate::pki::TrustError),
    /// The register could not be read.
    #[error(transparent)]
    Register(#[from] crate::identity::RegisterError),
    /// Nothing to run.
    #[error("no test case matches ({0})")]
    NoCases(String),
}

/// One case's run in one session.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The case.
    pub case: TestCase,
    /// The organisation it ran as.
    pub org: String,
    /// One outcome per step, in order.
    pub steps: Vec<StepOutcome>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Milliseconds it took.
    pub duration_ms: u64,
}

impl CaseRun {
    /// Passed when every step passed.
    pub fn verdict(&self) -> Verdict {
        if self.steps.iter().all(|s| s.verdict == Verdict::Passed) {
            Verdict::Passed
        } else if self.steps.iter().any(|s| s.verdict == Verdict::TimedOut) {
            Verdict::TimedOut
        } else if self.steps.iter().all(|s| s.verdict == Verdict::NotRun) {
            Verdict::NotRun
        } else {
            Verdict::Failed
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Every case run, session by session.
    pub cases: Vec<CaseRun>,
    /// Self-driven or live.
    pub self_drive: bool,
    /// The suite.
    pub suite: String,
    /// Seed.
    pub seed: u64,
    /// When the run started and ended.
    pub started_at: OffsetDateTime,
    /// End.
    pub finished_at: OffsetDateTime,
    /// Whether the clock was fixed.
    pub fixed_clock: bool,
    /// Where the archive listened.
    pub listen: SocketAddr,
    /// Every case (for input hashes).
    pub inputs: Vec<(String, String)>,
    /// The deviations the reference client was told to make: (case, step) → deviation.
    pub deviations: BTreeMap<(String, String), Deviation>,
    /// The steps it was told to leave out.
    pub skips: BTreeSet<(String, String)>,
}

impl RunResult {
    /// 0 all passed, 3 a case failed, 4 the system under test did not act in time.
    pub fn exit_code(&self) -> u8 {
        if self.cases.iter().any(|c| c.verdict() == Verdict::TimedOut) {
            4
        } else if self.cases.iter().all(|c| c.verdict() == Verdict::Passed)
            && !self.cases.is_empty()
        {
            0
        } else {
            3
        }
    }
}

fn now(clock: Option<OffsetDateTime>) -> OffsetDateTime {
    clock.unwrap_or_else(OffsetDateTime::now_utc)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What the system under test must do, in words, for a live run.
pub fn instruction(step: &Step, org: &str, labels: &Labels) -> String {
    let label = |l: &Option<String>| {
        l.as_ref()
            .map(|l| {
                labels.get(l).map_or_else(
                    || format!("{l} (not archived)"),
                    |d| {
                        format!(
                            "{} (setId {}, version {})",
                            d.document_oid, d.set_id, d.version
                        )
                    },
                )
            })
            .unwrap_or_default()
    };
    let what = match step.action {
        Action::Archive => format!(
            "archive {} about {}{}",
            step.document.map_or("a document", |d| d.describe()),
            step.person.as_deref().unwrap_or("?"),
            step.organiser
                .as_ref()
                .map(|o| format!(" into the register of {o}"))
                .unwrap_or_default()
        ),
        Action::NewVersion => format!("archive a new version of {}", label(&step.of)),
        Action::Invalidate => format!("invalidate {}", label(&step.of)),
        Action::Query => format!(
            "query {} ({}){}{}",
            step.query.as_deref().unwrap_or("?"),
            step.query_kind().map_or("", |k| k.finnish()),
            step.person
                .as_ref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default(),
            if step.of.is_some() {
                format!(" for {}", label(&step.of))
            } else {
                String::new()
            }
        ),
        Action::Connect => format!(
            "connect with the certificate {}",
            step.certificate.as_deref().unwrap_or("?")
        ),
        Action::FaultPlan => {
            return format!(
                "nothing to send: the archive puts {} fault(s) in force for {org} ({})",
                step.faults.len(),
                step.faults
                    .iter()
                    .map(|f| f.kind.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    };
    let what = match step.behaviour {
        Some(b) => format!("{what}; {}", b.expected()),
        None => what,
    };
    let deviation = step
        .deviation
        .map(|d| format!(", and {}", d.describe()))
        .unwrap_or_default();
    let expect = match step.expect {
        Expect::Accepted => "the archive should accept it".to_owned(),
        Expect::Rejected => format!(
            "the archive should refuse it with {}",
            step.rule.as_deref().unwrap_or("?")
        ),
    };
    format!("as {org}: {what}{deviation}; {expect}")
}

/// Where a live run's archive is, for the commands its announcements print.
#[derive(Debug, Clone)]
pub struct Hint {
    /// The archive's address.
    pub listen: SocketAddr,
    /// The kit the reference client's commands take certificates from.
    pub kit: std::path::PathBuf,
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+@=".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `kanta-sim client …` command (or, for a certificate step, the `curl` command) that
/// performs `step` as `org` against the archive at `hint` with the reference client; the
/// deviations the client has no switch for are named so they can be made by hand.
pub fn client_command(step: &Step, org: &str, labels: &Labels, hint: &Hint) -> String {
    let target = format!("https://{}/archive", hint.listen);
    let kit = quote(&hint.kit.display().to_string());
    let common = format!("--target {target} --certs {kit} --org {}", quote(org));
    let of = |l: &Option<String>| {
        l.as_ref().and_then(|l| labels.get(l)).map(|d| {
            format!(
                " --of {} --of-set-id {} --of-version {}",
                quote(&d.document_oid),
                quote(&d.set_id),
                d.version
            )
        })
    };
    let by_hand = |d: Deviation| {
        format!(
            "\n       then {}: build with `kanta-sim client build … --out m.xml` instead, change it by hand, and send it with `kanta-sim client send --target {target} --certs {kit} --org {} --file m.xml`",
            d.describe(),
            quote(org)
        )
    };
    let mut extra = String::new();
    let cmd = match step.action {
        Action::Archive | Action::NewVersion => {
            let mut c = format!("kanta-sim client send {common}");
            if step.action == Action::NewVersion {
                c.push_str(" --message new-version");
                match of(&step.of) {
                    Some(o) => c.push_str(&o),
                    None => c.push_str(" --of <the version's OID>"),
                }
            }
            if let Some(p) = &step.person {
                c.push_str(&format!(" --person {}", quote(p)));
            }
            if step.document == Some(DocKind::ClientDocument) {
                c.push_str(" --document client-document");
            }
            if let Some(o) = &step.organiser {
                c.push_str(&format!(" --organiser {}", quote(o)));
            }
            match step.deviation {
                Some(Deviation::Unsigned) => c.push_str(" --signing unsigned"),
                Some(d) => extra = by_hand(d),
                None => {}
            }
            if step.behaviour.is_some() {
                c.push_str(" --retry");
            }
            c
        }
        Action::FaultPlan => "(nothing to send: kanta-sim sets the fault plan)".to_owned(),
        Action::Invalidate => {
            let mut c = format!("kanta-sim client send {common} --message invalidate");
            match of(&step.of) {
                Some(o) => c.push_str(&o),
                None => c.push_str(" --of <the version's OID>"),
            }
            match (step.deviation, &step.reason) {
                (Some(Deviation::NoReason), _) => c.push_str(" --reason ''"),
                (Some(d), _) => extra = by_hand(d),
                (None, Some(r)) => c.push_str(&format!(" --reason {}", quote(r))),
                (None, None) => {}
            }
            c
        }
        Action::Query => {
            let mut c = format!(
                "kanta-sim client query {} {common}",
                step.query.as_deref().unwrap_or("metadata")
            );
            if let Some(p) = &step.person
                && step.deviation != Some(Deviation::NoClientId)
            {
                c.push_str(&format!(" --person {}", quote(p)));
            }
            if let Some(d) = step.of.as_ref().and_then(|l| labels.get(l)) {
                c.push_str(&format!(" --document {}", quote(&d.document_oid)));
            }
            c
        }
        Action::Connect => {
            let role = step.certificate.as_deref().unwrap_or("?");
            let files = crate::pki::Index::load(&hint.kit)
                .ok()
                .and_then(|i| i.require(&hint.kit, role).ok().cloned());
            match files {
                Some(a) => format!(
                    "curl --cacert {kit}/root-ca.pem --cert {kit}/{} --key {kit}/{} https://{}/health",
                    quote(&a.cert),
                    quote(a.key.as_deref().unwrap_or("?")),
                    hint.listen
                ),
                None => format!("(connect with the kit's certificate {role})"),
            }
        }
    };
    format!("{cmd}{extra}")
}

struct Reporter {
    progress: Progress,
    total: usize,
    done: usize,
}

impl Reporter {
    fn line(&mut self, text: &str) {
        match self.progress {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{text}"),
            Progress::Bar => eprintln!("\r\x1b[2K{text}"),
        }
        self.bar();
    }

    fn step_done(&mut self) {
        self.done += 1;
        self.bar();
    }

    fn bar(&self) {
        if self.progress == Progress::Bar && self.total > 0 {
            let width = 30;
            let filled = self.done * width / self.total;
            eprint!(
                "\r\x1b[2K[{}{}] {}/{} steps",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.done,
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&self) {
        if self.progress == Progress::Bar {
            eprintln!();
        }
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "PASS",
        Verdict::Failed => "FAIL",
        Verdict::TimedOut => "TIMEOUT",
        Verdict::NotRun => "NOT RUN",
    }
}

/// A session: one organisation working through the cases.
struct Session {
    org: String,
    cases: Vec<CaseRun>,
    case: usize,
    step: usize,
    labels: Labels,
    deadline: Instant,
    case_started: Instant,
    /// A resilience step's exchanges so far.
    watch: Option<Watch>,
    /// When the current step began.
    step_started: Instant,
    /// The first case's leading fault-plan steps were put in force before this session
    /// existed (a live run waiting for its first client).
    preapplied: bool,
}

impl Session {
    fn new(
        org: &str,
        cases: &[TestCase],
        timeout: Duration,
        clock: Option<OffsetDateTime>,
    ) -> Self {
        let runs = cases
            .iter()
            .filter(|c| c.org.as_deref().is_none_or(|o| o == org))
            .map(|c| CaseRun {
                case: c.clone(),
                org: org.to_owned(),
                steps: Vec::new(),
                started_at: String::new(),
                duration_ms: 0,
            })
            .collect();
        let mut s = Self {
            org: org.to_owned(),
            cases: runs,
            case: 0,
            step: 0,
            labels: Labels::new(),
            deadline: Instant::now() + timeout,
            case_started: Instant::now(),
            watch: None,
            step_started: Instant::now(),
            preapplied: false,
        };
        s.start_case(clock);
        s.begin_step();
        s.deadline = Instant::now()
            + s.current()
                .map_or(timeout, |(_, st)| step_timeout(st, timeout));
        s
    }

    fn start_case(&mut self, clock: Option<OffsetDateTime>) {
        if let Some(c) = self.cases.get_mut(self.case) {
            c.started_at = rfc3339(now(clock));
        }
        self.case_started = Instant::now();
    }

    fn begin_step(&mut self) {
        self.watch = self
            .current()
            .and_then(|(_, st)| st.behaviour)
            .map(Watch::new);
        self.step_started = Instant::now();
    }

    fn current(&self) -> Option<(&TestCase, &Step)> {
        let c = self.cases.get(self.case)?;
        c.case.steps.get(self.step).map(|s| (&c.case, s))
    }

    fn done(&self) -> bool {
        self.case >= self.cases.len()
    }

    /// Records the current step's outcome and moves on: a failure ends the case (its later
    /// steps are not run) and the session goes on with the next case.
    fn record(
        &mut self,
        outcome: StepOutcome,
        timeout: Duration,
        clock: Option<OffsetDateTime>,
        fixed: bool,
    ) {
        let failed = outcome.verdict != Verdict::Passed;
        let Some(run) = self.cases.get_mut(self.case) else {
            return;
        };
        run.steps.push(outcome);
        self.step += 1;
        if failed {
            while run.steps.len() < run.case.steps.len() {
                run.steps.push(engine::not_run());
            }
        }
        if run.steps.len() >= run.case.steps.len() {
            run.duration_ms = if fixed {
                0
            } else {
                u64::try_from(self.case_started.elapsed().as_millis()).unwrap_or(u64::MAX)
            };
            self.case += 1;
            self.step = 0;
            self.labels.clear();
            self.start_case(clock);
        }
        // A step may set its own wait (timeout_secs); the run's applies otherwise.
        self.deadline = Instant::now()
            + self
                .current()
                .map_or(timeout, |(_, s)| step_timeout(s, timeout));
        self.begin_step();
    }

    /// The system under test did not act: this step timed out, everything after it in this
    /// session is not run.
    fn time_out(&mut self, waited: u64) {
        for (i, run) in self.cases.iter_mut().enumerate().skip(self.case) {
            if i == self.case
                && let Some(step) = run.case.steps.get(self.step)
            {
                run.steps.push(engine::timed_out(step, waited));
            }
            while run.steps.len() < run.case.steps.len() {
                run.steps.push(engine::not_run());
            }
        }
        self.case = self.cases.len();
    }
}

/// How long to wait for `step`.
fn step_timeout(step: &Step, default: Duration) -> Duration {
    step.timeout_secs.map_or(default, Duration::from_secs)
}

/// Ensures a kit exists in `dir`, generating one when there is none.
pub fn ensure_kit(dir: &std::path::Path) -> Result<bool, RunError> {
    if dir.join("INDEX.json").exists() {
        return Ok(false);
    }
    let opts = crate::pki::GenerateOptions::new(dir.to_owned())?;
    crate::pki::generate_kit(&opts)?;
    Ok(true)
}

/// Runs the cases against the archive `handle` serves (started by `app::run_cases` from
/// `opts.config`); the caller stops it.
pub async fn run(
    opts: RunOptions,
    handle: &crate::server::ServerHandle,
) -> Result<RunResult, RunError> {
    if opts.cases.is_empty() {
        return Err(RunError::NoCases(opts.suite.clone()));
    }
    let fixed = opts.clock.is_some();
    let started_at = now(opts.clock);
    let kit = opts.config.tls.certs_dir.clone();
    let register = match &opts.config.register.file {
        Some(f) => crate::identity::SoteRegister::load(f)?,
        None => crate::identity::SoteRegister::bundled()?,
    };
    let trust = crate::pki::TrustStore::from_kit(&kit)?;
    let listen = handle.bound.listen;
    let mut rx = handle.subscribe();
    let total_steps: usize = opts.cases.iter().map(|c| c.steps.len()).sum();
    let mut rep = Reporter {
        progress: opts.progress,
        total: total_steps,
        done: 0,
    };
    rep.line(&format!(
        "kanta-sim: {} suite {} ({} case(s), {} step(s)); archive at https://{listen}/archive",
        if opts.self_drive {
            "self-driven"
        } else {
            "live"
        },
        opts.suite,
        opts.cases.len(),
        total_steps
    ));
    let view = |today| StateView {
        store: &handle.store,
        register: &register,
        trust: Some(&trust),
        today,
    };
    let mut finished: Vec<Session> = Vec::new();
    if opts.self_drive {
        let setup = DriveSetup {
            kit: &kit,
            register: &register,
            trust: &trust,
            certificates: &BTreeMap::new(),
        };
        finished = drive_cases(handle, &mut rx, &setup, &opts, &mut rep).await;
    } else {
        let mut sessions: BTreeMap<String, Session> = opts
            .orgs
            .iter()
            .map(|o| {
                (
                    o.clone(),
                    Session::new(o, &opts.cases, opts.step_timeout, opts.clock),
                )
            })
            .collect();
        let lazy = opts.orgs.is_empty();
        let hint = Hint {
            listen,
            kit: kit.clone(),
        };
        for s in sessions.values_mut() {
            local_steps(&mut rep, s, &opts, fixed, handle);
            announce(&mut rep, s, &hint);
        }
        // Waiting for the first client: a case that opens with faults has them in force
        // before that client's first message (for whichever organisation it is).
        let mut preapplied = false;
        if lazy && let Some(case) = opts.cases.first() {
            for step in case
                .steps
                .iter()
                .take_while(|st| st.action == Action::FaultPlan)
            {
                let o = apply_fault_plan(handle, case, step, None);
                rep.line(&format!(
                    "  {:<7} {} / {}: {}",
                    verdict_word(o.verdict),
                    case.id,
                    step.id,
                    o.checks
                        .first()
                        .map(|c| format!(
                            "faults in force for whichever organisation connects: {}",
                            c.found
                        ))
                        .unwrap_or_else(|| crate::finding::Finding::one_line(&o.reasons))
                ));
                preapplied = true;
            }
        }
        if lazy
            && let Some(first) = opts
                .cases
                .first()
                .and_then(|c| c.steps.iter().find(|st| st.action != Action::FaultPlan))
        {
            let org = first
                .org
                .as_deref()
                .or(opts.cases[0].org.as_deref())
                .unwrap_or(DEFAULT_ORG);
            rep.line(&format!(
                "waiting for a client system; each organisation that connects gets its own session, starting with {} / {}: {}\n     with the reference client (as {org}): {}",
                opts.cases[0].id,
                first.id,
                instruction(first, "your organisation", &Labels::new()),
                client_command(first, org, &Labels::new(), &hint)
            ));
        }
        let first_contact = Instant::now() + opts.step_timeout;
        loop {
            if sessions.values().all(Session::done) && (!lazy || !sessions.is_empty()) {
                break;
            }
            let deadline = sessions
                .values()
                .filter(|s| !s.done())
                .map(|s| s.deadline)
                .min()
                .unwrap_or(first_contact);
            let wait = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(wait, rx.recv()).await {
                Err(_) => {
                    if sessions.is_empty() {
                        rep.line(&format!(
                            "no system connected within {} s",
                            opts.step_timeout.as_secs()
                        ));
                        // Reported as timed out, so CI sees exit code 4.
                        let mut s = Session::new(
                            "(no system connected)",
                            &opts.cases,
                            opts.step_timeout,
                            opts.clock,
                        );
                        s.time_out(opts.step_timeout.as_secs());
                        sessions.insert(s.org.clone(), s);
                        break;
                    }
                    for s in sessions
                        .values_mut()
                        .filter(|s| !s.done() && s.deadline <= Instant::now())
                    {
                        // A resilience step that saw something is judged on what it saw.
                        if s.watch.as_ref().is_some_and(|w| !w.is_empty())
                            && let Some((case, step)) =
                                s.current().map(|(c, st)| (c.clone(), st.clone()))
                        {
                            let waited = s.step_started.elapsed().as_secs();
                            let mut o = match &s.watch {
                                Some(w) => w.finish(&step, &mut s.labels, waited),
                                None => engine::timed_out(&step, waited),
                            };
                            let v = view(OffsetDateTime::now_utc().date());
                            tokio::task::block_in_place(|| {
                                engine::run_checks(&step, &s.labels, v, &mut o)
                            });
                            finish_live_step(&mut rep, s, &case, &step, o, &opts, fixed, handle);
                            announce(&mut rep, s, &hint);
                            continue;
                        }
                        let waited = s
                            .current()
                            .map_or(opts.step_timeout, |(_, st)| {
                                step_timeout(st, opts.step_timeout)
                            })
                            .as_secs();
                        if let Some((c, st)) = s.current() {
                            rep.line(&format!(
                                "  TIMEOUT {} / {} ({}): nothing arrived in {waited} s",
                                c.id, st.id, s.org
                            ));
                        }
                        s.time_out(waited);
                    }
                }
                Ok(Err(RecvError::Closed)) => break,
                Ok(Err(RecvError::Lagged(n))) => rep.line(&format!(
                    "warning: {n} exchanges were missed (the engine fell behind)"
                )),
                Ok(Ok(ex)) => {
                    let Some(org) = ex.record.org_oid.clone() else {
                        continue;
                    };
                    if lazy && !sessions.contains_key(&org) && ex.record.listener == "strict" {
                        let mut s = Session::new(&org, &opts.cases, opts.step_timeout, opts.clock);
                        s.preapplied = preapplied;
                        // Only the first session finds them in force; later ones set their own.
                        preapplied = false;
                        rep.line(&format!(
                            "session for {org} started ({} case(s))",
                            s.cases.len()
                        ));
                        local_steps(&mut rep, &mut s, &opts, fixed, handle);
                        sessions.insert(org.clone(), s);
                    }
                    let Some(s) = sessions.get_mut(&org) else {
                        continue;
                    };
                    let Some((case, step)) = s.current().map(|(c, st)| (c.clone(), st.clone()))
                    else {
                        continue;
                    };
                    if !engine::relevant(&step, &s.org, &ex) {
                        continue;
                    }
                    // A resilience step collects until it can judge (then a moment more).
                    if let Some(w) = &mut s.watch {
                        if w.feed(ex) == behaviour::Progress::Settle {
                            s.deadline = s.deadline.min(Instant::now() + SETTLE);
                        }
                        continue;
                    }
                    let mut o = engine::judge(&step, &ex, &mut s.labels);
                    let v = view(OffsetDateTime::now_utc().date());
                    tokio::task::block_in_place(|| engine::run_checks(&step, &s.labels, v, &mut o));
                    finish_live_step(&mut rep, s, &case, &step, o, &opts, fixed, handle);
                    announce(&mut rep, s, &hint);
                }
            }
        }
        finished.extend(sessions.into_values());
    }
    rep.finish();
    let cases: Vec<CaseRun> = finished.into_iter().flat_map(|s| s.cases).collect();
    Ok(RunResult {
        inputs: opts
            .cases
            .iter()
            .map(|c| (c.source.clone(), c.sha256.clone()))
            .collect(),
        cases,
        self_drive: opts.self_drive,
        suite: opts.suite,
        seed: opts.seed,
        started_at,
        finished_at: now(opts.clock),
        fixed_clock: fixed,
        listen,
        deviations: opts.deviations,
        skips: opts.skips,
    })
}

/// What a self-driven run needs besides the options.
pub struct DriveSetup<'a> {
    /// The kit.
    pub kit: &'a std::path::Path,
    /// The register.
    pub register: &'a crate::identity::SoteRegister,
    /// Trust for the checks.
    pub trust: &'a crate::pki::TrustStore,
    /// Organisation → kit role of the TLS client certificate to present instead of its
    /// `client:` one (e.g. `bad:expired`, for training).
    pub certificates: &'a BTreeMap<String, String>,
}

/// Drives every case with the reference client against a running archive, judging each
/// step from the exchanges `rx` delivers.
async fn drive_cases(
    handle: &crate::server::ServerHandle,
    rx: &mut tokio::sync::broadcast::Receiver<Arc<StoredExchange>>,
    setup: &DriveSetup<'_>,
    opts: &RunOptions,
    rep: &mut Reporter,
) -> Vec<Session> {
    let fixed = opts.clock.is_some();
    let view = |today| StateView {
        store: &handle.store,
        register: setup.register,
        trust: Some(setup.trust),
        today,
    };
    let mut finished = Vec::new();
    let mut driver = Driver::new(
        setup.kit,
        handle.bound.listen,
        opts.config.archive.interactions.clone(),
        setup.register.clone(),
        opts.seed,
    )
    .with_retry(opts.config.reference_client.retry.clone())
    .for_environment(
        &opts.config.archive.receiver_device,
        opts.config
            .archive
            .processing_codes
            .first()
            .map_or("D", String::as_str),
    );
    for (org, role) in setup.certificates {
        driver.use_certificate(org, role);
    }

    for case in &opts.cases {
        let org = case.org.clone().unwrap_or_else(|| DEFAULT_ORG.to_owned());
        let mut session = Session::new(
            &org,
            std::slice::from_ref(case),
            opts.step_timeout,
            opts.clock,
        );
        driver.new_case();
        while let Some((case, step)) = session.current().map(|(c, s)| (c.clone(), s.clone())) {
            let step_org = step.org.clone().unwrap_or_else(|| org.clone());
            let key = (case.id.clone(), step.id.clone());
            // A skipped step: the reference client goes straight to the next one.
            let send = if opts.skips.contains(&key) {
                case.steps
                    .iter()
                    .position(|s| s.id == step.id)
                    .and_then(|i| case.steps.get(i + 1))
                    .cloned()
            } else {
                Some(step.clone())
            };
            let outcome = if step.action == Action::FaultPlan {
                apply_fault_plan(handle, &case, &step, Some(&step_org))
            } else if let Some(b) = step.behaviour {
                match send.filter(|s| s.id == step.id) {
                    None => engine::timed_out(&step, 0),
                    Some(to_send) => {
                        let deviation = opts
                            .deviations
                            .get(&(case.id.clone(), to_send.id.clone()))
                            .copied()
                            .or(to_send.deviation);
                        let started = Instant::now();
                        // The driver returns after its own retries; what it caused is logged
                        // by then, except an answer the plan holds back (a delay).
                        let performed = driver
                            .perform(&to_send, &step_org, deviation, &session.labels)
                            .await;
                        if let Err(e) = &performed {
                            tracing::info!(step = %step.id, "the reference client gave up: {e}");
                        }
                        let mut watch = Watch::new(b);
                        let grace = Duration::from_secs(2) + longest_delay(handle);
                        watch_until(rx, &mut watch, &step, &step_org, Instant::now() + grace).await;
                        let waited = started.elapsed().as_secs();
                        let mut o = watch.finish(&step, &mut session.labels, waited);
                        let v = view(OffsetDateTime::now_utc().date());
                        tokio::task::block_in_place(|| {
                            engine::run_checks(&step, &session.labels, v, &mut o)
                        });
                        o
                    }
                }
            } else {
                match send {
                    None => engine::timed_out(&step, 0),
                    Some(to_send) => {
                        let deviation = opts
                            .deviations
                            .get(&(case.id.clone(), to_send.id.clone()))
                            .copied()
                            .or(to_send.deviation);
                        match driver
                            .perform(&to_send, &step_org, deviation, &session.labels)
                            .await
                        {
                            Err(e) => {
                                // A refused handshake is the archive's verdict, not the
                                // client's failure: judge the exchange it logged.
                                match wait_for(rx, &step, &step_org, Duration::from_secs(2)).await {
                                    Some(ex) => engine::judge(&step, &ex, &mut session.labels),
                                    None => StepOutcome {
                                        verdict: Verdict::Failed,
                                        reasons: vec![crate::finding::Finding::new(
                                            RuleId::C001,
                                            format!("step {}", step.id),
                                            format!(
                                                "the reference client could not perform the step: {e}"
                                            ),
                                        )],
                                        findings: vec![],
                                        checks: vec![],
                                        evidence: None,
                                    },
                                }
                            }
                            Ok(()) => match wait_for(
                                rx,
                                &step,
                                &step_org,
                                step_timeout(&step, opts.step_timeout),
                            )
                            .await
                            {
                                Some(ex) => {
                                    let mut o = engine::judge(&step, &ex, &mut session.labels);
                                    let today = OffsetDateTime::now_utc().date();
                                    let v = view(today);
                                    tokio::task::block_in_place(|| {
                                        engine::run_checks(&step, &session.labels, v, &mut o)
                                    });
                                    o
                                }
                                None => engine::timed_out(
                                    &step,
                                    step_timeout(&step, opts.step_timeout).as_secs(),
                                ),
                            },
                        }
                    }
                }
            };
            rep.step_done();
            let word = verdict_word(outcome.verdict);
            let why = crate::finding::Finding::one_line(&outcome.reasons);
            rep.line(&format!(
                "  {word:<7} {} / {} {}{}",
                case.id,
                step.id,
                step.title_en,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ));
            session.record(outcome, opts.step_timeout, opts.clock, fixed);
        }
        // A case's faults end with it.
        if case.steps.iter().any(|s| s.action == Action::FaultPlan) {
            handle.faults().clear();
        }
        finished.push(session);
    }
    finished
}

/// Reports a live step's outcome and moves the session on (running any fault-plan steps
/// that come next).
#[allow(clippy::too_many_arguments)]
fn finish_live_step(
    rep: &mut Reporter,
    s: &mut Session,
    case: &TestCase,
    step: &Step,
    o: StepOutcome,
    opts: &RunOptions,
    fixed: bool,
    handle: &crate::server::ServerHandle,
) {
    rep.step_done();
    let why = crate::finding::Finding::one_line(&o.reasons);
    rep.line(&format!(
        "  {:<7} {} / {} ({}){}",
        verdict_word(o.verdict),
        case.id,
        step.id,
        s.org,
        if why.is_empty() {
            String::new()
        } else {
            format!(": {why}")
        }
    ));
    let case_before = s.case;
    s.record(o, opts.step_timeout, opts.clock, fixed);
    // A case's faults end with it.
    if s.case != case_before && case.steps.iter().any(|x| x.action == Action::FaultPlan) {
        handle.faults().clear();
    }
    local_steps(rep, s, opts, fixed, handle);
}

/// Runs the steps that ask nothing of the system under test (fault-plan steps) as soon as
/// the session reaches them, and clears the faults when a case that set them ends.
fn local_steps(
    rep: &mut Reporter,
    s: &mut Session,
    opts: &RunOptions,
    fixed: bool,
    handle: &crate::server::ServerHandle,
) {
    loop {
        let case_before = s.case;
        let Some((case, step)) = s.current().map(|(c, st)| (c.clone(), st.clone())) else {
            return;
        };
        if step.action != Action::FaultPlan {
            return;
        }
        // Put in force when the run started (a live run waiting for its first client):
        // applying it again would restart its counts.
        let o = if s.preapplied && s.case == 0 {
            fault_plan_in_force(handle, &case, &step)
        } else {
            apply_fault_plan(handle, &case, &step, Some(&s.org))
        };
        rep.step_done();
        rep.line(&format!(
            "  {:<7} {} / {} ({}): {}",
            verdict_word(o.verdict),
            case.id,
            step.id,
            s.org,
            o.checks
                .first()
                .map(|c| format!("faults in force: {}", c.found))
                .unwrap_or_else(|| crate::finding::Finding::one_line(&o.reasons))
        ));
        s.record(o, opts.step_timeout, opts.clock, fixed);
        if s.case != case_before {
            handle.faults().clear();
        }
    }
}

/// Puts a fault-plan step's faults in force for `org` (no faults: clears the plan); the
/// step passes unless the plan cannot be served (a certificate the kit lacks).
fn apply_fault_plan(
    handle: &crate::server::ServerHandle,
    case: &TestCase,
    step: &Step,
    org: Option<&str>,
) -> StepOutcome {
    let set = if step.faults.is_empty() {
        handle.faults().clear();
        Ok(())
    } else {
        step.fault_plan(&case.id, org)
            .map_err(|e| e.to_string())
            .and_then(|plan| handle.set_fault_plan(plan))
    };
    match set {
        Ok(()) => fault_plan_in_force(handle, case, step),
        Err(e) => StepOutcome {
            verdict: Verdict::Failed,
            reasons: vec![crate::finding::Finding::new(
                RuleId::C003,
                format!("step {}", step.id),
                format!("the fault plan could not be put in force: {e}"),
            )],
            findings: vec![],
            checks: vec![],
            evidence: None,
        },
    }
}

/// The outcome of a fault-plan step: whether the archive's plan in force is the step's (its
/// source and entries; nothing when the step has no faults), as the archive reports it.
fn fault_plan_in_force(
    handle: &crate::server::ServerHandle,
    case: &TestCase,
    step: &Step,
) -> StepOutcome {
    let source = format!("{}/{}", case.id, step.id);
    let wanted: Vec<String> = step
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| f.name.clone().unwrap_or_else(|| format!("fault-{}", i + 1)))
        .collect();
    let (passed, found) = plan_is(handle.faults().status(), &source, &wanted);
    let mut o = StepOutcome {
        verdict: Verdict::Passed,
        reasons: vec![],
        findings: vec![],
        checks: vec![engine::CheckResult {
            description: format!("the archive's fault plan is {source}'s"),
            passed,
            found,
        }],
        evidence: None,
    };
    if !passed {
        o.verdict = Verdict::Failed;
        o.reasons.push(crate::finding::Finding::new(
            RuleId::C003,
            format!("step {}", step.id),
            format!(
                "another fault plan is in force ({}); was one set through the admin listener meanwhile?",
                o.checks[0].found
            ),
        ));
    }
    o
}

/// Whether the plan in force (`status`) is the one named `source` with the entries `wanted`
/// (none wanted: no plan), and what is in force, in words.
fn plan_is(
    status: Option<(String, Vec<crate::faults::EntryStatus>)>,
    source: &str,
    wanted: &[String],
) -> (bool, String) {
    match status {
        None => (wanted.is_empty(), "no faults".to_owned()),
        Some((plan, entries)) => {
            let names: Vec<&str> = entries.iter().map(|e| e.entry.name.as_str()).collect();
            let listed = entries
                .iter()
                .map(|e| format!("{} ({})", e.entry.name, e.entry.kind.name()))
                .collect::<Vec<_>>()
                .join(", ");
            if plan == source && names == wanted {
                (true, listed)
            } else {
                (false, format!("{listed} from {plan}"))
            }
        }
    }
}

/// The longest answer delay the plan in force may hold a request back by.
fn longest_delay(handle: &crate::server::ServerHandle) -> Duration {
    handle
        .faults()
        .status()
        .map(|(_, entries)| {
            entries
                .iter()
                .map(|e| Duration::from_millis(e.entry.delay_ms))
                .max()
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Feeds `watch` the step's exchanges until `deadline`, or until [`SETTLE`] after it has
/// seen enough.
async fn watch_until(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<StoredExchange>>,
    watch: &mut Watch,
    step: &Step,
    org: &str,
    deadline: Instant,
) {
    let mut deadline = deadline;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Err(_) | Ok(Err(RecvError::Closed)) => return,
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Ok(ex)) if engine::relevant(step, org, &ex) => {
                if watch.feed(ex) == behaviour::Progress::Settle {
                    deadline = deadline.min(Instant::now() + SETTLE);
                }
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// Drives `opts.cases` with the reference client against an archive already running
/// (`handle`), e.g. one with the archivist view on; returns the case runs.
pub async fn drive_against(
    handle: &crate::server::ServerHandle,
    setup: &DriveSetup<'_>,
    opts: &RunOptions,
) -> Vec<CaseRun> {
    let mut rx = handle.subscribe();
    let total = opts.cases.iter().map(|c| c.steps.len()).sum();
    let mut rep = Reporter {
        progress: opts.progress,
        total,
        done: 0,
    };
    let sessions = drive_cases(handle, &mut rx, setup, opts, &mut rep).await;
    rep.finish();
    sessions.into_iter().flat_map(|s| s.cases).collect()
}

fn announce(rep: &mut Reporter, s: &Session, hint: &Hint) {
    if let Some((case, step)) = s.current() {
        rep.line(&format!(
            "NEXT {} / {} — {}: {}\n     with the reference client: {}",
            case.id,
            step.id,
            step.title_en,
            instruction(step, &s.org, &s.labels),
            client_command(step, &s.org, &s.labels, hint)
        ));
    } else {
        rep.line(&format!("session {} finished", s.org));
    }
}

async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<StoredExchange>>,
    step: &Step,
    org: &str,
    timeout: Duration,
) -> Option<Arc<StoredExchange>> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Err(_) | Ok(Err(RecvError::Closed)) => return None,
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Ok(ex)) if engine::relevant(step, org, &ex) => return Some(ex),
            Ok(Ok(_)) => {}
        }
    }
}

/// Parses `CASE:STEP=DEVIATION` and checks it against `cases`: an unknown case, step or
/// deviation is refused with the valid ones named.
pub fn parse_deviation(
    s: &str,
    cases: &[TestCase],
) -> Result<((String, String), Deviation), String> {
    let (key, dev) = s
        .split_once('=')
        .ok_or_else(|| format!("--deviate {s:?}: expected CASE:STEP=DEVIATION"))?;
    let key = parse_step_ref(key, cases).map_err(|e| format!("--deviate {e}"))?;
    let dev = Deviation::by_name(dev).ok_or_else(|| {
        format!(
            "--deviate {s:?}: {dev:?} is not a deviation; the deviations are {}",
            Deviation::ALL.map(Deviation::name).join(", ")
        )
    })?;
    Ok((key, dev))
}

/// Parses `CASE:STEP` and checks it against `cases`.
pub fn parse_step_ref(s: &str, cases: &[TestCase]) -> Result<(String, String), String> {
    let (case, step) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected CASE:STEP"))?;
    let Some(c) = cases.iter().find(|c| c.id == case) else {
        return Err(format!(
            "{s:?}: no case {case:?} in this run; its cases are {}",
            cases
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if !c.steps.iter().any(|st| st.id == step) {
        return Err(format!(
            "{s:?}: case {case} has no step {step:?}; its steps are {}",
            c.steps
                .iter()
                .map(|st| st.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok((case.to_owned(), step.to_owned()))
}

/// The default data directory of a run: a fresh temporary one.
pub fn fresh_data_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("kanta-sim-run-").tempdir()
}

/// Keep the path type in one place for callers.
pub type ReportDir = PathBuf;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_plan_step_passes_only_with_its_own_plan_in_force() {
        let active = crate::faults::ActivePlan::default();
        let wanted = vec!["lost-ack".to_owned()];
        assert!(!plan_is(active.status(), "C/s", &wanted).0);
        assert_eq!(
            plan_is(active.status(), "C/s", &[]),
            (true, "no faults".into())
        );
        active.set(
            crate::faults::FaultPlan::parse(
                "[[fault]]\nname = \"lost-ack\"\nkind = \"drop-ack\"\n",
                "C/s",
            )
            .unwrap(),
        );
        assert_eq!(
            plan_is(active.status(), "C/s", &wanted),
            (true, "lost-ack (drop-ack)".into())
        );
        // Replaced meanwhile (e.g. through the admin listener): the step says by what.
        active.set(
            crate::faults::FaultPlan::parse(
                "[[fault]]\nname = \"lost-ack\"\nkind = \"busy\"\n",
                "admin",
            )
            .unwrap(),
        );
        let (ok, found) = plan_is(active.status(), "C/s", &wanted);
        assert!(!ok);
        assert!(found.ends_with("from admin"), "{found}");
    }
}
