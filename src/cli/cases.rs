//! `testcases list|check`, `run` and `client build|send|query`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{Failure, exit};
use crate::cases::{self as model, SUITES, TestCase};
use crate::client::reference::{ReferenceClient, Signing};
use crate::config::Config;
use crate::document::{DocumentRef, Metadata};
use crate::identity::SoteRegister;
use crate::message::query::{QueryRequest, RegisterScope, StatusFilter};
use crate::message::usecase::QueryKind;
use crate::testcase::run::{Progress, RunOptions, parse_deviation, parse_step_ref};

/// `testcases …`.
#[derive(Debug, Subcommand)]
pub enum TestcasesCommand {
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

fn load_cases(dir: Option<&PathBuf>) -> Result<Vec<TestCase>, Failure> {
    match dir {
        Some(d) => model::load_dir(d).map_err(Failure::usage),
        None => model::embedded().map_err(Failure::internal),
    }
}

/// Runs `testcases …`.
pub fn testcases(cmd: TestcasesCommand) -> Result<u8, Failure> {
    match cmd {
        TestcasesCommand::List { cases, suite, json } => {
            let cases: Vec<TestCase> = load_cases(cases.as_ref())?
                .into_iter()
                .filter(|c| suite.as_ref().is_none_or(|s| &c.suite == s))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&cases).map_err(Failure::internal)?
                );
            } else {
                for c in &cases {
                    println!(
                        "{:<11} {:<16} {} step(s)  {}",
                        c.id,
                        c.suite,
                        c.steps.len(),
                        c.title_en
                    );
                    println!("{:<11} {:<16}            {}", "", "", c.title_fi);
                }
                println!("{} case(s); suites: {}", cases.len(), SUITES.join(", "));
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
                    Some(s) => println!("{} step {}: {}", p.case, s, p.message),
                    None => println!("{}: {}", p.case, p.message),
                }
            }
            println!(
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

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
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
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Certificate kit (generated when absent).
    #[arg(long, default_value = "certs/generated")]
    pub certs: PathBuf,
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
    /// Self-driven: make the reference client deviate, `CASE:STEP=DEVIATION`.
    #[arg(long = "deviate")]
    pub deviate: Vec<String>,
    /// Self-driven: the reference client leaves out `CASE:STEP`.
    #[arg(long = "skip")]
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
}

/// Runs a suite and writes the reports; the exit code is the run's.
pub fn run(args: RunArgs, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
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
    config.tls.certs_dir = args.certs.clone();
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
        let (k, v) = parse_deviation(d).map_err(Failure::usage)?;
        deviations.insert(k, v);
    }
    let skips = args
        .skip
        .iter()
        .map(|s| parse_step_ref(s))
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
    let (report, files) = crate::report::Report::from_run(&result);
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

/// `client …`: the reference client system.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Build (and sign) a message and write it to a file or stdout.
    Build(BuildArgs),
    /// Send a message file, or build one from the same options and send it; print the
    /// acknowledgement. Exit 0 on AA, 3 otherwise.
    Send {
        /// A message file to send as it is (otherwise one is built from the options).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The archive.
        #[arg(long)]
        target: SocketAddr,
        /// How to build.
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Run a query and print what it found. Exit 0 on AA, 3 otherwise.
    Query {
        /// client-relationships, cases, metadata, document or summary.
        kind: String,
        /// The archive.
        #[arg(long)]
        target: SocketAddr,
        /// Organisation (its `client:` certificate is used).
        #[arg(long, default_value = crate::testcase::run::DEFAULT_ORG)]
        org: String,
        /// Certificate kit.
        #[arg(long, default_value = "certs/generated")]
        certs: PathBuf,
        /// Client identity code.
        #[arg(long)]
        person: Option<String>,
        /// Document OID.
        #[arg(long)]
        document: Option<String>,
        /// setId.
        #[arg(long)]
        set_id: Option<String>,
        /// Case id.
        #[arg(long)]
        case_id: Option<String>,
        /// current, replaced, invalidated or all.
        #[arg(long, default_value = "current")]
        status: String,
        /// Include replaced versions.
        #[arg(long)]
        history: bool,
        /// all, own or organiser.
        #[arg(long, default_value = "all")]
        register: String,
        /// Page size.
        #[arg(long)]
        page_size: Option<u32>,
        /// Index of the first result.
        #[arg(long, default_value_t = 0)]
        start: u32,
        /// Write the retrieved CDA (document query) here.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What to build. The same options can come from a TOML spec (`--spec`), whose keys are
/// these options' names with underscores.
#[derive(Debug, Clone, Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildArgs {
    /// A TOML file with these options (command-line options win).
    #[arg(long)]
    #[serde(skip)]
    pub spec: Option<PathBuf>,
    /// archive, new-version or invalidate.
    #[arg(long, default_value = "archive")]
    #[serde(default = "default_message")]
    pub message: String,
    /// Organisation whose system sends it.
    #[arg(long, default_value = crate::testcase::run::DEFAULT_ORG)]
    #[serde(default = "default_org")]
    pub org: String,
    /// client-relationship or client-document.
    #[arg(long, default_value = "client-relationship")]
    #[serde(default = "default_document")]
    pub document: String,
    /// The client's identity code (900-series).
    #[arg(long, default_value = "010190-902S")]
    #[serde(default = "default_person")]
    pub person: String,
    /// The document OID (default: generated under the organisation).
    #[arg(long)]
    #[serde(default)]
    pub oid: Option<String>,
    /// New version / invalidate: the OID of the version replaced or invalidated.
    #[arg(long)]
    #[serde(default)]
    pub of: Option<String>,
    /// New version / invalidate: its setId (default: the same as --of).
    #[arg(long)]
    #[serde(default)]
    pub of_set_id: Option<String>,
    /// New version / invalidate: its version number.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub of_version: u32,
    /// Archive into this organiser's register (register use right).
    #[arg(long)]
    #[serde(default)]
    pub organiser: Option<String>,
    /// Invalidate: the reason.
    #[arg(long, default_value = "Virheellinen kirjaus")]
    #[serde(default = "default_reason")]
    pub reason: String,
    /// system, professional:REGNO, or unsigned.
    #[arg(long)]
    #[serde(default)]
    pub signing: Option<String>,
    /// Certificate kit.
    #[arg(long, default_value = "certs/generated")]
    #[serde(default = "default_certs")]
    pub certs: PathBuf,
    /// Write here instead of stdout (build).
    #[arg(long)]
    #[serde(default)]
    pub out: Option<PathBuf>,
}

fn default_message() -> String {
    "archive".into()
}
fn default_org() -> String {
    crate::testcase::run::DEFAULT_ORG.into()
}
fn default_document() -> String {
    "client-relationship".into()
}
fn default_person() -> String {
    "010190-902S".into()
}
fn one() -> u32 {
    1
}
fn default_reason() -> String {
    "Virheellinen kirjaus".into()
}
fn default_certs() -> PathBuf {
    "certs/generated".into()
}

impl BuildArgs {
    fn resolved(&self) -> Result<Self, Failure> {
        let Some(spec) = &self.spec else {
            return Ok(self.clone());
        };
        let text = std::fs::read_to_string(spec)
            .map_err(|e| Failure::usage(format!("{}: {e}", spec.display())))?;
        let mut from: Self = toml::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", spec.display())))?;
        from.spec = None;
        Ok(from)
    }
}

fn build(args: &BuildArgs, addr: SocketAddr) -> Result<(ReferenceClient, String), Failure> {
    let a = args.resolved()?;
    let interactions = Config::builtin()
        .map_err(Failure::internal)?
        .archive
        .interactions;
    let c = ReferenceClient::new(&a.certs, &a.org, addr, interactions).map_err(Failure::usage)?;
    let oid = a.oid.clone().unwrap_or_else(|| {
        format!(
            "{}.95.{}",
            a.org,
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        )
    });
    let professional = "99900000011";
    let mut meta = match a.document.as_str() {
        "client-relationship" => Metadata::client_relationship_example(&oid, &a.person),
        "client-document" => Metadata::client_document_example(&oid, &a.person, professional),
        other => {
            return Err(Failure::usage(format!(
                "--document {other:?}: client-relationship or client-document"
            )));
        }
    };
    meta.custodian = a.org.clone();
    meta.organiser = a.organiser.clone();
    let signing = match a.signing.as_deref() {
        None if a.document == "client-document" => Signing::Professional(professional.into()),
        None | Some("system") => Signing::System,
        Some("unsigned") => Signing::Unsigned,
        Some(p) if p.starts_with("professional:") => {
            Signing::Professional(p["professional:".len()..].into())
        }
        Some(other) => {
            return Err(Failure::usage(format!(
                "--signing {other:?}: system, professional:REGNO or unsigned"
            )));
        }
    };
    let previous = |of: &str| DocumentRef {
        document_oid: of.to_owned(),
        set_id: a.of_set_id.clone().unwrap_or_else(|| of.to_owned()),
        version: a.of_version,
    };
    let message = match a.message.as_str() {
        "archive" => c.archive_message(&meta, &signing).map_err(Failure::usage)?,
        "new-version" => {
            let of = a.of.as_deref().ok_or_else(|| {
                Failure::usage("a new version needs --of (the current version's OID)")
            })?;
            let prev = previous(of);
            meta.set_id = prev.set_id.clone();
            meta.version = prev.version + 1;
            meta.replaces = Some(prev);
            c.archive_message(&meta, &signing).map_err(Failure::usage)?
        }
        "invalidate" => {
            let of = a.of.as_deref().ok_or_else(|| {
                Failure::usage("an invalidation needs --of (the current version's OID)")
            })?;
            c.invalidation_message(&previous(of), &a.org, &a.reason)
        }
        other => {
            return Err(Failure::usage(format!(
                "--message {other:?}: archive, new-version or invalidate"
            )));
        }
    };
    Ok((c, message))
}

/// Runs `client …`.
pub fn client(cmd: ClientCommand, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    match cmd {
        ClientCommand::Build(args) => {
            let (_, message) = build(&args, "127.0.0.1:0".parse().map_err(Failure::internal)?)?;
            match &args.resolved()?.out {
                Some(p) => std::fs::write(p, &message)
                    .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
                None => print!("{message}"),
            }
            Ok(exit::OK)
        }
        ClientCommand::Send {
            file,
            target,
            build: args,
        } => {
            let (c, built) = build(&args, target)?;
            let body = match &file {
                Some(f) => std::fs::read_to_string(f)
                    .map_err(|e| Failure::usage(format!("{}: {e}", f.display())))?,
                None => built,
            };
            let reply = rt.block_on(c.send(body)).map_err(Failure::failed)?;
            println!(
                "HTTP {} {}",
                reply.status,
                if reply.ack().is_empty() {
                    "(SOAP fault)"
                } else {
                    reply.ack()
                }
            );
            println!("{}", String::from_utf8_lossy(&reply.body));
            Ok(if reply.ack() == "AA" {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        ClientCommand::Query {
            kind,
            target,
            org,
            certs,
            person,
            document,
            set_id,
            case_id,
            status,
            history,
            register,
            page_size,
            start,
            save,
            json,
        } => {
            let kind = QueryKind::parse(&kind).ok_or_else(|| {
                Failure::usage(format!(
                    "{kind:?}: client-relationships, cases, metadata, document or summary"
                ))
            })?;
            let status: StatusFilter = serde_json::from_value(serde_json::Value::String(
                status.clone(),
            ))
            .map_err(|_| {
                Failure::usage(format!(
                    "--status {status:?}: current, replaced, invalidated or all"
                ))
            })?;
            let register: RegisterScope =
                serde_json::from_value(serde_json::Value::String(register.clone())).map_err(
                    |_| Failure::usage(format!("--register {register:?}: all, own or organiser")),
                )?;
            let mut q = match &person {
                Some(p) => QueryRequest::for_client(p),
                None => QueryRequest::default(),
            };
            q.document_oid = document;
            q.set_id = set_id;
            q.case_id = case_id;
            q.status = status;
            q.include_history = history;
            q.register = register;
            q.page_size = page_size;
            q.start = start;
            let interactions = Config::builtin()
                .map_err(Failure::internal)?
                .archive
                .interactions;
            let c =
                ReferenceClient::new(&certs, &org, target, interactions).map_err(Failure::usage)?;
            let reply = rt.block_on(c.query(kind, &q)).map_err(Failure::failed)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reply.parsed).map_err(Failure::internal)?
                );
            } else {
                let p = &reply.parsed;
                println!(
                    "{} {} total {} (this page {}, remaining {}) {}",
                    p.ack,
                    p.response_code,
                    p.total,
                    p.current,
                    p.remaining,
                    p.codes.join(" ")
                );
                for d in &p.documents {
                    println!(
                        "  {} v{} {} client {} register {}",
                        d.document_oid, d.version, d.status, d.client_id, d.register_owner
                    );
                }
                for (id, n) in &p.groups {
                    println!("  {id}: {n} document(s)");
                }
                for (dim, code, n) in &p.summary {
                    println!("  {dim} {code}: {n}");
                }
            }
            if let (Some(path), Some(cda)) = (
                &save,
                reply.parsed.documents.first().and_then(|d| d.cda.as_ref()),
            ) {
                std::fs::write(path, cda)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                eprintln!("wrote {}", path.display());
            }
            Ok(if reply.ack() == "AA" {
                exit::OK
            } else {
                exit::FAILED
            })
        }
    }
}
