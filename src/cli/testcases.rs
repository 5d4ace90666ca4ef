//! `kanta-sim testcases list|check`: the shipped or a directory's test cases.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Subcommand;

use super::{Failure, exit};
use crate::cases::{self as model, SUITES, TestCase};
use crate::identity::SoteRegister;

/// `testcases …`.
#[derive(Debug, Subcommand)]
pub(super) enum TestcasesCommand {
    /// List the cases: id, suite, steps, titles.
    List {
        /// Case directory (default: the cases built into the binary).
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Only this suite.
        #[arg(long)]
        suite: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// List the deviations `run --deviate CASE:STEP=DEVIATION` can make instead.
        #[arg(long)]
        deviations: bool,
    },
    /// Lint the cases: rule ids, test persons, organisations, labels, required fields;
    /// exit 3 when a case has a problem.
    Check {
        /// Case directory (default: the cases built into the binary).
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Kit whose roles `connect` steps may name.
        #[arg(long)]
        certs: Option<PathBuf>,
    },
}

pub(super) fn load_cases(dir: Option<&PathBuf>) -> Result<Vec<TestCase>, Failure> {
    match dir {
        Some(d) => model::load_dir(d).map_err(Failure::usage),
        None => model::embedded().map_err(Failure::internal),
    }
}

/// Runs `testcases …`.
pub(super) fn run(cmd: TestcasesCommand) -> Result<u8, Failure> {
    match cmd {
        TestcasesCommand::List {
            cases,
            suite,
            json,
            deviations,
        } => {
            if deviations {
                for d in crate::cases::Deviation::ALL {
                    outln!("{:<22} {}", d.name(), d.describe());
                }
                return Ok(exit::OK);
            }
            if let Some(s) = &suite
                && !SUITES.contains(&s.as_str())
            {
                return Err(Failure::usage(format!(
                    "--suite {s:?}: no such suite; the suites are {}",
                    SUITES.join(", ")
                )));
            }
            let cases: Vec<TestCase> = load_cases(cases.as_ref())?
                .into_iter()
                .filter(|c| suite.as_ref().is_none_or(|s| &c.suite == s))
                .collect();
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&cases).map_err(Failure::internal)?
                );
            } else {
                for c in &cases {
                    outln!(
                        "{:<11} {:<16} {} step(s)  {}",
                        c.id,
                        c.suite,
                        c.steps.len(),
                        c.title_en
                    );
                    outln!("{:<11} {:<16}            {}", "", "", c.title_fi);
                }
                outln!("{} case(s); suites: {}", cases.len(), SUITES.join(", "));
            }
            Ok(exit::OK)
        }
        TestcasesCommand::Check { cases, certs } => {
            let list = load_cases(cases.as_ref())?;
            let register = SoteRegister::bundled().map_err(Failure::internal)?;
            let roles = match &certs {
                Some(d) => Some(
                    crate::pki::Index::load(d)
                        .map_err(Failure::usage)?
                        .artefacts
                        .iter()
                        .map(|a| a.role.clone())
                        .collect::<BTreeSet<_>>(),
                ),
                None => None,
            };
            let problems = model::lint(&list, &register, roles.as_ref());
            for p in &problems {
                match &p.step {
                    Some(s) => outln!("{} step {}: {}", p.case, s, p.message),
                    None => outln!("{}: {}", p.case, p.message),
                }
            }
            outln!(
                "{} case(s) checked, {} problem(s)",
                list.len(),
                problems.len()
            );
            Ok(if problems.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
    }
}
