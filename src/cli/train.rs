//! `kanta-sim train deployment-test`: the guided rehearsal for trainers.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use time::OffsetDateTime;

use super::{Failure, exit};
use crate::config::Config;
use crate::deployment::{checklist_a, checklist_b, recorded_from, report_due};
use crate::testcase::run::{DriveSetup, Progress, RunOptions, drive_against};
use crate::training::{Break, STEPS};

/// `train deployment-test` arguments.
#[derive(Debug, clap::Args)]
pub(super) struct TrainArgs {
    /// What to rehearse (only `deployment-test`).
    pub what: String,
    /// Make the rehearsal fail on purpose (repeatable).
    #[arg(long = "break", value_enum)]
    pub breaks: Vec<Break>,
    /// Do not wait for Enter between steps.
    #[arg(long)]
    pub no_pause: bool,
    /// Keep the archive and the archivist's view up after the rehearsal until Ctrl-C (or
    /// SIGTERM), whatever standard input is, so every printed link can be opened.
    #[arg(long)]
    pub serve: bool,
    /// Keep the kit and data here.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// The archivist view's address (loopback).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = crate::client::listen_addr)]
    pub archivist_listen: std::net::SocketAddr,
    /// Saturdays count as working days.
    #[arg(long)]
    pub count_saturdays: bool,
}

/// Waits for Enter (off the async workers, so a signal still ends the rehearsal).
async fn pause(enabled: bool, prompt: &str) {
    if enabled {
        eprint!("\n  [Enter] {prompt} … ");
        let _ = std::io::stderr().flush();
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        })
        .await;
    }
}

/// Runs the guided deployment-test rehearsal; exit 0 when it passed, 3 when it failed (as it
/// should with `--break`).
pub(super) fn run(args: TrainArgs, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    if args.what != "deployment-test" {
        return Err(Failure::usage(format!(
            "train {:?}: only deployment-test",
            args.what
        )));
    }
    if !args.archivist_listen.ip().is_loopback() {
        return Err(Failure::usage(
            "--archivist-listen must be a loopback address",
        ));
    }
    let tmp;
    let base = match &args.keep {
        Some(k) => k.clone(),
        None => {
            tmp = crate::testcase::run::fresh_data_dir().map_err(Failure::internal)?;
            tmp.path().to_owned()
        }
    };
    let kit = base.join("certs");
    crate::testcase::run::ensure_kit(&kit).map_err(Failure::internal)?;
    let org = crate::testcase::run::DEFAULT_ORG;
    let mut config = Config::builtin().map_err(Failure::internal)?;
    config.server.listen = "127.0.0.1:0".parse().map_err(Failure::internal)?;
    config.server.diagnostic_listen = None;
    config.tls.certs_dir = kit.clone();
    config.data.dir = base.join("data");
    config.archive.identity_pool = crate::identity::Pool::DeploymentTest;
    config.archivist.listen = Some(args.archivist_listen);
    config.archivist.count_saturdays = args.count_saturdays;
    let export = base.join("client-system-export.toml");
    config.archivist.client_system_export = Some(export.clone());
    let case = crate::cases::embedded()
        .map_err(Failure::internal)?
        .into_iter()
        .find(|c| c.id == config.archivist.deployment_case)
        .ok_or_else(|| Failure::internal("the deployment-test case is missing"))?;
    // SIGINT or SIGTERM ends the rehearsal at any point; returning drops the archive and
    // the temporary directory (unless --keep), so nothing is left behind.
    rt.block_on(async {
        let done = tokio::select! {
            r = rehearse(&args, config, case, &base, &kit, org) => r?,
            () = super::serve::wait_for_signal() => {
                eprintln!("\nkanta-sim: rehearsal interrupted{}", if args.keep.is_some() { "" } else { "; temporary data removed" });
                return Ok(exit::INTERRUPTED);
            }
        };
        // The rehearsal is over: a signal now only ends the browsing, the verdict stands.
        let interactive = !args.no_pause && std::io::stdin().is_terminal();
        if args.serve {
            eprintln!(
                "The archive and the archivist's view stay up for browsing ({}); Ctrl-C ends.",
                done.home
            );
            super::serve::wait_for_signal().await;
        } else if interactive {
            eprintln!(
                "The archive and the archivist's view stay up for browsing ({}).",
                done.home
            );
            tokio::select! {
                () = pause(true, "ends the rehearsal") => {}
                () = super::serve::wait_for_signal() => {}
            }
        } else {
            eprintln!(
                "(The archive stops now; --serve keeps it and the archivist's view up for browsing.)"
            );
        }
        done.app.shutdown().await;
        Ok(if done.passed { exit::OK } else { exit::FAILED })
    })
}

/// A finished rehearsal whose archive and view are still up.
struct Rehearsed {
    app: crate::app::App,
    /// The view's home link.
    home: String,
    passed: bool,
}

async fn rehearse(
    args: &TrainArgs,
    config: Config,
    mut case: crate::cases::TestCase,
    base: &std::path::Path,
    kit: &std::path::Path,
    org: &str,
) -> Result<Rehearsed, Failure> {
    let interactive = !args.no_pause && std::io::stdin().is_terminal();
    let broken = |b: Break| args.breaks.contains(&b);
    let export = base.join("client-system-export.toml");
    {
        let handle = crate::app::start(config.clone())
            .await
            .map_err(Failure::usage)?;
        let view = handle
            .bound
            .archivist
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let mut q = format!("org={org}&lang=en");
        println!(
            "Deployment-test rehearsal (käyttöönottokoe) — kanta-sim, a simulator, not the Kanta service."
        );
        println!(
            "Archive: https://{}/archive   Archivist's view: {view}/?{q}",
            handle.bound.listen
        );
        if !args.breaks.is_empty() {
            let names: Vec<&str> = Break::ALL
                .iter()
                .filter(|(b, ..)| broken(*b))
                .map(|(_, n, _)| *n)
                .collect();
            println!("Broken on purpose: {}", names.join(", "));
        }
        let say = |i: usize, q: &str| {
            let s = &STEPS[i];
            println!(
                "\n{}\n  Who: {}\n  In reality: {}\n  Here: {}",
                s.title, s.who, s.reality, s.simulator
            );
            if let Some(l) = s.link {
                println!("  Look at: {view}{l}?{q}");
            }
        };
        say(0, &q);
        pause(interactive, "to go on").await;
        say(1, &q);
        let ledger = crate::ledger::Ledger::open(&config.data.dir).map_err(Failure::internal)?;
        let issued = ledger
            .issue(
                crate::ledger::Pool::DeploymentTest,
                "Testilän hyvinvointialue",
                Some(org),
                "käyttöönottokoe",
                1,
                OffsetDateTime::now_utc(),
            )
            .map_err(Failure::internal)?;
        let person = issued[0].code.clone();
        println!(
            "  Issued deployment-test code {person} to Testilän hyvinvointialue (kanta-sim ids list --data {}).",
            config.data.dir.display()
        );
        // Every page from here on is about this person.
        q.push_str(&format!("&person={person}"));
        for s in case.steps.iter_mut() {
            if s.person.is_some() {
                s.person = Some(person.clone());
            }
        }
        case.persons = vec![person.clone()];
        pause(interactive, "to go on").await;
        say(2, &q);
        let mut certificates = BTreeMap::new();
        if broken(Break::ExpiredCertificate) {
            certificates.insert(org.to_owned(), "bad:expired".to_owned());
        }
        let mut skips = BTreeSet::new();
        if broken(Break::MissingDocument) {
            skips.insert((case.id.clone(), "client-document".to_owned()));
        }
        let register = crate::identity::SoteRegister::bundled().map_err(Failure::internal)?;
        let trust = crate::pki::TrustStore::from_kit(kit).map_err(Failure::internal)?;
        let setup = DriveSetup {
            kit,
            register: &register,
            trust: &trust,
            certificates: &certificates,
        };
        let opts = RunOptions {
            cases: vec![case.clone()],
            suite: "deployment-test".into(),
            self_drive: true,
            config: config.clone(),
            step_timeout: std::time::Duration::from_secs(10),
            orgs: Vec::new(),
            deviations: BTreeMap::new(),
            skips,
            seed: 1,
            clock: None,
            progress: Progress::Lines,
        };
        let runs = drive_against(handle.server(), &setup, &opts).await;
        for r in &runs {
            for (step, o) in r.case.steps.iter().zip(&r.steps) {
                let why = crate::finding::Finding::one_line(&o.reasons);
                let verdict = match o.verdict {
                    crate::testcase::engine::Verdict::Passed => "passed",
                    crate::testcase::engine::Verdict::Failed => "FAILED",
                    crate::testcase::engine::Verdict::TimedOut => "TIMED OUT",
                    crate::testcase::engine::Verdict::NotRun => "not run",
                };
                println!(
                    "  {verdict:<9} {}{}",
                    step.title_en,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                );
            }
        }
        pause(interactive, "to go on").await;
        say(3, &q);
        let all: Vec<String> = register
            .organisations()
            .iter()
            .map(|o| o.oid.clone())
            .collect();
        let a = checklist_a(&case, org, Some(&person), &all, &handle.store)
            .map_err(Failure::internal)?;
        for d in &a.documents {
            println!(
                "  {} {:<45} archive {}  register {}  {}",
                if d.in_archive && d.in_register {
                    "✔"
                } else {
                    "✘"
                },
                d.title,
                d.in_archive,
                d.in_register,
                d.found
                    .first()
                    .map(|m| m.document_oid.as_str())
                    .unwrap_or("-")
            );
        }
        println!(
            "  checklist (a): {}",
            if a.passed() { "PASSED" } else { "FAILED" }
        );
        pause(interactive, "to go on").await;
        say(4, &q);
        let found: Vec<_> = a
            .documents
            .iter()
            .filter_map(|d| d.found.first().cloned())
            .collect();
        let mut recorded = recorded_from(&found);
        if broken(Break::MismatchingField)
            && let Some(d) = recorded.documents.last_mut()
        {
            d.effective_time = Some("20261231235959+0200".into());
        }
        std::fs::write(&export, toml::to_string(&recorded).unwrap_or_default())
            .map_err(Failure::internal)?;
        let b = checklist_b(&recorded, org, &handle.store).map_err(Failure::internal)?;
        for f in b.fields.iter().filter(|f| !f.matches) {
            println!(
                "  ✘ {} {}: client system {:?}, archive {:?}",
                f.oid, f.field, f.recorded, f.archived
            );
        }
        println!(
            "  checklist (b): {} ({} fields compared); the client system's export: {} (the deployment page starts from it)",
            if b.passed() { "PASSED" } else { "FAILED" },
            b.fields.len(),
            export.display()
        );
        pause(interactive, "to go on").await;
        say(5, &q);
        let today = OffsetDateTime::now_utc().date();
        let due = report_due(today, args.count_saturdays);
        let submitted = if broken(Break::LateReport) {
            today + time::Duration::days(5)
        } else {
            today
        };
        let late = submitted > due.due;
        println!(
            "  test completed {today}; report due {} ({}); submitted {submitted}{}",
            due.due,
            due.due.weekday(),
            if late { " — LATE" } else { "" }
        );
        let report_q = form_urlencoded::Serializer::new(String::new())
            .append_pair("submitted", &submitted.to_string())
            .append_pair("b", if b.passed() { "passed" } else { "failed" })
            .finish();
        println!("  report page: {view}/report?{q}&{report_q}");
        let passed = runs
            .iter()
            .all(|r| r.verdict() == crate::testcase::engine::Verdict::Passed)
            && a.passed()
            && b.passed()
            && !late;
        println!(
            "\nRehearsal {}.",
            if passed {
                "PASSED: the organisation may start production use"
            } else {
                "FAILED, as it would in reality"
            }
        );
        Ok(Rehearsed {
            app: handle,
            home: format!("{view}/?{q}"),
            passed,
        })
    }
}
