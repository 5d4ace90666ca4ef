//! `kanta-sim run`: a suite of test cases, live or self-driven, with reports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use super::Failure;
use super::testcases::load_cases;
use crate::cases::{self as model, SUITES, TestCase};
use crate::config::Config;
use crate::identity::SoteRegister;
use crate::testcase::run::{Progress, RunOptions, parse_deviation, parse_step_ref};

/// `run` arguments.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Suite: pre-test, joint-test, negative, deployment-test (or `all`).
    #[arg(long, default_value = "pre-test")]
    pub suite: String,
    /// Only this case (repeatable).
    #[arg(long = "case")]
    pub cases_only: Vec<String>,
    /// Case directory (default: the cases built into the binary).
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// The built-in reference client performs every step (demos, training, self-tests).
    #[arg(long)]
    pub self_drive: bool,
    /// Configuration file laid over the built-in default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Archive address (default 127.0.0.1:8443 live, 127.0.0.1:0 self-driven).
    #[arg(long, value_parser = crate::client::listen_addr)]
    pub listen: Option<SocketAddr>,
    /// Certificate kit (default: certs/generated; generated there for a live run when
    /// absent, since the system under test needs its certificates; a self-driven run without
    /// one uses a temporary kit and leaves nothing behind).
    #[arg(long)]
    pub certs: Option<PathBuf>,
    /// Data directory (default: a fresh temporary one).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write report.json, junit.xml, report.html and the evidence here.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Also write the JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the archive's address here (JSON) once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Seconds to wait for each step of the system under test.
    #[arg(long, default_value_t = 300)]
    pub step_timeout: u64,
    /// Live: run sessions for these organisations only (default: every organisation that
    /// connects gets a session).
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    /// Self-driven: make the reference client deviate at a step, `CASE:STEP=DEVIATION`
    /// (repeatable; the case and step must be in the run). Deviations: unsigned,
    /// bad-signature, real-identity-code, missing-set-id, wrong-receiver,
    /// wrong-service-request, content-id-mismatch, version-gap, no-client-id, not-xhtml,
    /// realm-not-fi, no-reason (`testcases list --deviations` describes them). The report
    /// records every deviation applied.
    #[arg(long = "deviate", value_name = "CASE:STEP=DEVIATION")]
    pub deviate: Vec<String>,
    /// Self-driven: the reference client leaves out `CASE:STEP` (repeatable; recorded in the
    /// report).
    #[arg(long = "skip", value_name = "CASE:STEP")]
    pub skip: Vec<String>,
    /// Seed of the reference client's document ids (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A fixed clock (RFC 3339) for deterministic reports.
    #[arg(long)]
    pub clock: Option<String>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// The language of report.html: fi, sv or en (default: from the locale, English
    /// otherwise). report.json and junit.xml are the same in every language.
    #[arg(long, value_enum)]
    pub lang: Option<crate::lang::Lang>,
}

/// Runs a suite and writes the reports; the exit code is the run's.
pub(super) fn run(args: RunArgs, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    let lang = args.lang.unwrap_or_else(crate::lang::Lang::from_locale);
    let all = load_cases(args.cases.as_ref())?;
    let cases: Vec<TestCase> = all
        .into_iter()
        .filter(|c| args.suite == "all" || c.suite == args.suite)
        .filter(|c| args.cases_only.is_empty() || args.cases_only.contains(&c.id))
        .collect();
    if cases.is_empty() {
        return Err(Failure::usage(format!(
            "no case in suite {:?}{} (suites: {}, or all)",
            args.suite,
            if args.cases_only.is_empty() {
                String::new()
            } else {
                format!(" with id {}", args.cases_only.join(", "))
            },
            SUITES.join(", ")
        )));
    }
    let register = SoteRegister::bundled().map_err(Failure::internal)?;
    let problems = model::lint(&cases, &register, None);
    if let Some(p) = problems.first() {
        return Err(Failure::usage(format!(
            "{} problem(s) in the cases, first: {} {}: {}",
            problems.len(),
            p.case,
            p.step.as_deref().unwrap_or(""),
            p.message
        )));
    }
    let mut config = Config::load(args.config.as_deref()).map_err(Failure::usage)?;
    config.apply_env().map_err(Failure::usage)?;
    // The deployment test runs in production: its cases get the production-like profile
    // (one archive serves one profile, so a mixed run keeps the test environment's).
    if cases.iter().all(|c| c.profile == "deployment-test") {
        config = config.with_deployment_profile();
    }
    let kit_tmp;
    config.tls.certs_dir = match &args.certs {
        Some(c) => c.clone(),
        None if std::path::Path::new("certs/generated/INDEX.json").is_file() => {
            "certs/generated".into()
        }
        None if args.self_drive => {
            kit_tmp = tempfile::Builder::new()
                .prefix("kanta-sim-kit-")
                .tempdir()
                .map_err(Failure::internal)?;
            kit_tmp.path().join("kit")
        }
        None => {
            eprintln!(
                "kanta-sim: no certificate kit in certs/generated; generating one there (the system under test takes its client certificates from it)"
            );
            "certs/generated".into()
        }
    };
    config.server.listen = args.listen.unwrap_or_else(|| {
        if args.self_drive {
            "127.0.0.1:0".parse().unwrap_or(config.server.listen)
        } else {
            config.server.listen
        }
    });
    config.server.diagnostic_listen = None;
    config.server.ready_file = args.ready_file.clone();
    let tmp;
    config.data.dir = match &args.data {
        Some(d) => d.clone(),
        None => {
            tmp = crate::testcase::run::fresh_data_dir().map_err(Failure::internal)?;
            tmp.path().to_owned()
        }
    };
    let mut deviations = BTreeMap::new();
    for d in &args.deviate {
        let (k, v) = parse_deviation(d, &cases).map_err(Failure::usage)?;
        deviations.insert(k, v);
    }
    let skips = args
        .skip
        .iter()
        .map(|s| parse_step_ref(s, &cases).map_err(|e| format!("--skip {e}")))
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(Failure::usage)?;
    let clock = match &args.clock {
        Some(c) => Some(
            OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339)
                .map_err(|e| Failure::usage(format!("--clock {c:?}: {e}")))?,
        ),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(|| {
        u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() % i128::from(u32::MAX))
            .unwrap_or(1)
    });
    let opts = RunOptions {
        cases,
        suite: args.suite.clone(),
        self_drive: args.self_drive,
        config,
        step_timeout: Duration::from_secs(args.step_timeout),
        orgs: args.orgs.clone(),
        deviations,
        skips,
        seed,
        clock,
        progress: if args.quiet {
            Progress::Quiet
        } else {
            Progress::detect()
        },
    };
    let result = rt
        .block_on(crate::app::run_cases(opts))
        .map_err(Failure::usage)?;
    let (mut report, files) = crate::report::Report::from_run(&result);
    report.lang = lang;
    let written = report
        .write(
            &files,
            args.report_dir.as_deref(),
            args.junit.as_deref(),
            args.json.as_deref(),
        )
        .map_err(Failure::internal)?;
    let t = &report.totals;
    eprintln!(
        "{}: {} of {} case(s) passed, {} of {} step(s){}",
        match result.exit_code() {
            0 => "PASSED",
            4 => "TIMED OUT",
            _ => "FAILED",
        },
        t.passed,
        t.cases,
        t.steps_passed,
        t.steps,
        if t.timed_out > 0 {
            format!(
                ", {} case(s) timed out waiting for the system under test",
                t.timed_out
            )
        } else {
            String::new()
        }
    );
    for p in written {
        eprintln!("  wrote {}", p.display());
    }
    Ok(result.exit_code())
}
