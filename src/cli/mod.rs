//! The command line: clap derive, one function per subcommand, errors mapped to the
//! documented exit codes (docs/EXIT-CODES in the README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cases;
mod demo;
mod deploy;
mod dsig;
mod load;

use crate::config::{Config, DEFAULT_CONFIG};
use crate::identity::SoteRegister;
use crate::pki::{self, CertInfo, GenerateOptions, Index, KeyAlgorithm, Purpose, TrustStore};

/// Exit codes, documented in the README.
pub mod exit {
    /// Everything passed.
    pub const OK: u8 = 0;
    /// Internal error (a bug, or the machine failed us).
    pub const INTERNAL: u8 = 1;
    /// Usage or configuration error: bad flags, unreadable or inconsistent files.
    pub const USAGE: u8 = 2;
    /// Checks ran and something failed (a refused certificate, a failed demo step).
    pub const FAILED: u8 = 3;
    /// Nothing ran, or the system under test did not answer in time.
    pub const NOTHING_RAN: u8 = 4;
}

/// kanta-sim: a local simulator of the Kanta Client Data Archive for Social Welfare.
#[derive(Debug, Parser)]
#[command(name = "kanta-sim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a self-driven walk-through: generate a test PKI, start the archive, connect with
    /// every good and bad certificate, and show what the archive says to each.
    Demo(DemoArgs),
    /// Test PKI: generate a kit, inspect certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Start the mutual-TLS archive endpoint.
    Serve(ServeArgs),
    /// Show the exchange log: every handshake and request, with the reasons for refusals.
    Log(LogArgs),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Canonicalize an XML file (exclusive C14N by default) and write the bytes to stdout.
    C14n(dsig::C14nArgs),
    /// XML signatures: verify with every intermediate value shown, or sign like Kanta.
    #[command(subcommand)]
    Dsig(dsig::DsigCommand),
    /// Validate documents offline (a CDA, or an HL7 message carrying one) with the archive's
    /// document and signature rules; exit 0 when no file has an error.
    Validate {
        /// Trust material (kit directory or anchor PEM files); default certs/generated when present.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Configuration whose [archive] profile (code lists, strictness, register) applies.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Production profile: identity codes outside 900–999 allowed.
        #[arg(long)]
        production: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Files to validate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write a Kanta-shaped sample CDA with fictional data (for trying the signature tools).
    SampleDocument {
        /// Approximate size of the display form in bytes.
        #[arg(long, default_value_t = 4096)]
        body_bytes: usize,
        /// A phase-II client document (SP17, professional author) instead of a
        /// client-relationship document (SP1).
        #[arg(long)]
        client_document: bool,
    },
    /// Load generator: archive many signed documents (or health checks) against a running
    /// archive over kept-alive mTLS connections and report throughput and latency.
    Load(load::LoadArgs),
    /// Test cases: list them, or lint them.
    #[command(subcommand)]
    Testcases(cases::TestcasesCommand),
    /// Run a suite of test cases: live (wait for the system under test) or self-driven (the
    /// reference client performs every step); write report.json, junit.xml and report.html.
    /// Exit 0 all passed, 3 a case failed, 4 timed out waiting, 2 usage, 1 internal.
    Run(cases::RunArgs),
    /// The deployment test's report deadline: DATE + 2 working days (Finnish public holidays
    /// skipped), with the days skipped.
    DueDate {
        /// Completion date, YYYY-MM-DD.
        date: String,
        /// Saturdays count as working days.
        #[arg(long)]
        count_saturdays: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The test-identity ledger: issue 900-series codes and record who got them.
    #[command(subcommand)]
    Ids(deploy::IdsCommand),
    /// Guided rehearsal for trainers: `train deployment-test [--break …]`.
    Train(deploy::TrainArgs),
    /// The reference client system: build, sign and send Kanta messages, or query.
    #[command(subcommand)]
    Client(cases::ClientCommand),
    /// List the rule catalogue: every finding code with its severity, basis and texts.
    Rules {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Generate the whole test PKI (CAs, server, organisations, professionals, negative kit).
    Init {
        /// Output directory.
        #[arg(long, default_value = "certs/generated")]
        out: PathBuf,
        /// Replace an existing kit in the directory.
        #[arg(long)]
        force: bool,
        /// Key algorithm.
        #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa2048)]
        key: KeyAlgorithm,
        /// Organisation register to issue certificates for (default: the bundled one).
        #[arg(long)]
        register: Option<PathBuf>,
    },
    /// Explain a certificate: subject fields, organisation OID or registration number, key,
    /// validity, usages, SAN, and whether the archive would accept it.
    Show {
        /// PEM or DER certificate file (a chain file: leaf first).
        file: PathBuf,
        /// Kit whose root, intermediates and CRL are the trust material.
        #[arg(long, default_value = "certs/generated")]
        certs: PathBuf,
        /// Extra trust anchors (PEM).
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Extra CRLs.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// What to check the certificate for (default: signing if it has nonRepudiation,
        /// otherwise client authentication).
        #[arg(long, value_enum)]
        purpose: Option<PurposeArg>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the documented profile of what `init` generates (certs/PROFILE.md).
    Profile,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PurposeArg {
    ClientAuth,
    ServerAuth,
    Signing,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Configuration file laid over the built-in default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Strict listener address (port 0 = any free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Also start the diagnostic listener here.
    #[arg(long)]
    diagnostic_listen: Option<std::net::SocketAddr>,
    /// Certificate kit directory (from `certs init`).
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Data directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write the bound addresses here (JSON) once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Start the archivist's view here (loopback, or any address with --archivist-mtls).
    #[arg(long)]
    archivist_listen: Option<std::net::SocketAddr>,
    /// The archivist's view requires a professional certificate (mutual TLS).
    #[arg(long)]
    archivist_mtls: bool,
    /// Also serve Kela's validation-service contract over plain HTTP here (loopback unless
    /// validation.allow_network), so an existing validation script needs only its base URL
    /// changed.
    #[arg(long)]
    validation_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
struct LogArgs {
    /// Data directory.
    #[arg(long, default_value = "kanta-sim-data")]
    data: PathBuf,
    /// How many of the newest records.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the built-in default configuration, every key documented.
    Default,
    /// Check a configuration file (and the files it names) without serving.
    Check {
        /// The file.
        file: Option<PathBuf>,
    },
}

/// `kanta-sim demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the generated kit and data here instead of a temporary directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Key algorithm of the kit.
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa2048)]
    pub key: KeyAlgorithm,
    /// Where the self-driven suites write their reports (default: `reports` under --keep,
    /// otherwise ./kanta-sim-demo-reports).
    #[arg(long)]
    pub reports: Option<PathBuf>,
}

/// An error with its exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Usage or configuration error.
    pub fn usage(e: impl std::fmt::Display) -> Self {
        Self {
            code: exit::USAGE,
            message: e.to_string(),
        }
    }
    /// Internal error.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self {
            code: exit::INTERNAL,
            message: e.to_string(),
        }
    }
    /// Checks failed.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Self {
            code: exit::FAILED,
            message: e.to_string(),
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KANTA_SIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("kanta-sim: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::internal)
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Certs(c) => certs(c),
        Command::Serve(args) => {
            init_tracing();
            serve(args)
        }
        Command::Log(args) => log(args),
        Command::Config(ConfigCommand::Default) => {
            print!("{DEFAULT_CONFIG}");
            Ok(exit::OK)
        }
        Command::Config(ConfigCommand::Check { file }) => {
            let mut cfg = Config::load(file.as_deref()).map_err(Failure::usage)?;
            cfg.apply_env().map_err(Failure::usage)?;
            crate::tls::ServerMaterial::load(&cfg).map_err(Failure::usage)?;
            println!("configuration OK");
            Ok(exit::OK)
        }
        Command::Validate {
            trust,
            config,
            production,
            json,
            files,
        } => dsig::validate(&trust, config.as_deref(), production, json, &files),
        Command::Load(args) => runtime()?.block_on(load::run(args)),
        Command::Testcases(c) => cases::testcases(c),
        Command::DueDate {
            date,
            count_saturdays,
            json,
        } => deploy::due_date(&date, count_saturdays, json),
        Command::Ids(c) => deploy::ids(c),
        Command::Train(args) => deploy::train(args, &runtime()?),
        Command::Run(args) => cases::run(args, &runtime()?),
        Command::Client(c) => cases::client(c, &runtime()?),
        Command::C14n(args) => dsig::c14n(args),
        Command::Dsig(dsig::DsigCommand::Verify(args)) => dsig::verify(args),
        Command::Dsig(dsig::DsigCommand::Sign(args)) => dsig::sign(args),
        Command::SampleDocument {
            body_bytes,
            client_document,
        } => {
            let profile = if client_document {
                crate::document::Profile::ClientDocument
            } else {
                crate::document::Profile::ClientRelationship
            };
            print!(
                "{}",
                crate::document::sample::SampleDocument {
                    body_bytes,
                    profile,
                    ..Default::default()
                }
                .to_xml()
            );
            Ok(exit::OK)
        }
        Command::Rules { json } => {
            if json {
                let v = serde_json::to_string_pretty(crate::finding::CATALOGUE)
                    .map_err(Failure::internal)?;
                println!("{v}");
            } else {
                for r in crate::finding::CATALOGUE {
                    let sev = match r.severity {
                        crate::finding::Severity::Error => "error",
                        crate::finding::Severity::Warning => "warning",
                    };
                    let basis = match r.basis {
                        crate::finding::Basis::Confirmed => "confirmed",
                        crate::finding::Basis::Assumed => "assumed",
                    };
                    println!(
                        "{}  {sev:<7}  {basis:<9}  {}\n                             {}",
                        r.id, r.en, r.fi
                    );
                }
            }
            Ok(exit::OK)
        }
        Command::Demo(args) => {
            if std::env::var_os("KANTA_SIM_LOG").is_some() {
                init_tracing();
            }
            runtime()?.block_on(demo::run(args))
        }
    }
}

fn certs(c: CertsCommand) -> Result<u8, Failure> {
    match c {
        CertsCommand::Init {
            out,
            force,
            key,
            register,
        } => {
            let register = match register {
                Some(p) => SoteRegister::load(&p),
                None => SoteRegister::bundled(),
            }
            .map_err(Failure::usage)?;
            let started = std::time::Instant::now();
            let index = pki::generate_kit(&GenerateOptions {
                out: out.clone(),
                force,
                key,
                now: time::OffsetDateTime::now_utc(),
                register,
            })
            .map_err(|e| match e {
                pki::GenerateError::Exists(_) | pki::GenerateError::NotAKit(_) => Failure::usage(e),
                other => Failure::internal(other),
            })?;
            println!(
                "wrote {} artefacts ({} keys) to {} in {:.1} s; see {}/INDEX.md",
                index.artefacts.len(),
                key.name(),
                out.display(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(exit::OK)
        }
        CertsCommand::Profile => {
            print!("{}", pki::profile_markdown());
            Ok(exit::OK)
        }
        CertsCommand::Show {
            file,
            certs,
            trust,
            crl,
            purpose,
            json,
        } => show(&file, &certs, &trust, &crl, purpose, json),
    }
}

fn show(
    file: &std::path::Path,
    kit: &std::path::Path,
    trust: &[PathBuf],
    crls: &[PathBuf],
    purpose: Option<PurposeArg>,
    json: bool,
) -> Result<u8, Failure> {
    let chain = pki::read_pem_certs(file).map_err(Failure::usage)?;
    let leaf = chain
        .first()
        .ok_or_else(|| Failure::usage(format!("{}: no certificate", file.display())))?;
    let info =
        CertInfo::from_der(leaf).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let purpose = match purpose {
        Some(PurposeArg::ClientAuth) => Purpose::ClientAuth,
        Some(PurposeArg::ServerAuth) => Purpose::ServerAuth,
        Some(PurposeArg::Signing) => Purpose::DocumentSigning,
        None if info.key_usage.iter().any(|k| k == "nonRepudiation") => Purpose::DocumentSigning,
        None => Purpose::ClientAuth,
    };
    let mut files = Index::load(kit)
        .map(|i| i.trust_files(kit))
        .unwrap_or_default();
    files.anchors.extend(trust.iter().cloned());
    files.crls.extend(crls.iter().cloned());
    let register = SoteRegister::bundled().map_err(Failure::internal)?;
    let org = info.organisation_oid(&[
        pki::OrgIdSource::SerialNumber,
        pki::OrgIdSource::OrganisationalUnit,
        pki::OrgIdSource::Organisation,
    ]);
    // The business id an organisation OID encodes (JHS 159: no hyphen, no leading zero).
    let business_id = org.as_ref().and_then(|(o, _)| {
        let parts = crate::identity::OrgOid::split(o)?;
        let legacy = parts.root == crate::identity::OidRoot::Legacy;
        Some(match parts.ytunnus() {
            Some(y) => format!(
                "{y} (OID arc {}{})",
                parts.business_arc,
                if legacy {
                    ", legacy root 1.2.246.537.10"
                } else {
                    ""
                }
            ),
            None => format!(
                "{} is not a valid business id (check digit)",
                parts.business_arc
            ),
        })
    });
    let problems = if files.anchors.is_empty() {
        None
    } else {
        let store = TrustStore::load(&files.anchors, &files.intermediates, &files.crls)
            .map_err(Failure::usage)?;
        // TLS clients must send their chain; a signature carries only the leaf.
        Some(store.assess(
            &chain,
            time::OffsetDateTime::now_utc(),
            purpose,
            purpose != Purpose::DocumentSigning,
        ))
    };
    let refused = problems
        .as_ref()
        .is_some_and(|p| p.iter().any(pki::CertProblem::is_fatal));
    if json {
        let v = serde_json::json!({
            "certificate": info,
            "organisation_oid": org.as_ref().map(|(o, _)| o),
            "business_id": business_id,
            "organisation_in_register": org.as_ref().map(|(o, _)| register.resolve(o).map(|e| (&e.name, e.active))),
            "registration_number": info.registration_number(),
            "checked_for": purpose,
            "chain_checked": problems.is_some(),
            "problems": problems.as_ref().map(|p| p.iter().map(|x| serde_json::json!({"code": x.code(), "message": x.to_string(), "detail": x})).collect::<Vec<_>>()),
            "would_be_accepted": problems.is_some() && !refused,
        });
        println!("{v:#}");
    } else {
        print!("{}", info.describe());
        if chain.len() > 1 {
            println!(
                "Chain in file:  {} certificates (leaf + {} CA)",
                chain.len(),
                chain.len() - 1
            );
        }
        match &org {
            Some((oid, _)) => match register.resolve(oid) {
                Some(e) if e.active => println!(
                    "Organisation:   {oid} = {} (in the bundled SOTE register)",
                    e.name
                ),
                Some(e) => println!(
                    "Organisation:   {oid} = {} (INACTIVE in the bundled SOTE register)",
                    e.name
                ),
                None => println!("Organisation:   {oid} (NOT in the bundled SOTE register)"),
            },
            None => match info.registration_number() {
                Some(n) => println!(
                    "Registration:   {n} (professional; Valvira-style registration number)"
                ),
                None => {
                    println!("Organisation:   (no organisation OID found in serialNumber, OU or O)")
                }
            },
        }
        if let Some(b) = &business_id {
            println!("Business id:    {b}");
        }
        let what = match purpose {
            Purpose::ClientAuth => "TLS client authentication",
            Purpose::ServerAuth => "TLS server authentication",
            Purpose::DocumentSigning => "document signing",
        };
        match &problems {
            None => println!(
                "Chain status:   not checked: no trust anchors (pass --certs DIR with a kit, or --trust FILE)"
            ),
            Some(p) if p.is_empty() => println!(
                "Chain status:   OK for {what} against {} anchor(s)",
                files.anchors.len()
            ),
            Some(p) => {
                println!(
                    "Chain status:   {} for {what}:",
                    if refused { "REFUSED" } else { "warnings" }
                );
                for x in p {
                    println!("  {}  {x}", x.code());
                }
            }
        }
    }
    Ok(if refused { exit::FAILED } else { exit::OK })
}

fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let mut cfg = Config::load(args.config.as_deref()).map_err(Failure::usage)?;
    cfg.apply_env().map_err(Failure::usage)?;
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    if let Some(d) = args.diagnostic_listen {
        cfg.server.diagnostic_listen = Some(d);
    }
    if let Some(c) = args.certs {
        cfg.tls.certs_dir = c;
    }
    if let Some(d) = args.data {
        cfg.data.dir = d;
    }
    if let Some(r) = args.ready_file {
        cfg.server.ready_file = Some(r);
    }
    if let Some(a) = args.archivist_listen {
        cfg.archivist.listen = Some(a);
    }
    if args.archivist_mtls {
        cfg.archivist.mtls = true;
    }
    if let Some(v) = args.validation_listen {
        if !v.ip().is_loopback() && !cfg.validation.allow_network {
            return Err(Failure::usage(format!(
                "--validation-listen {v}: not a loopback address; the validation service is plain HTTP without client authentication (set validation.allow_network = true in a configuration file to allow it)"
            )));
        }
        cfg.validation.listen = Some(v);
    }
    if let Some(a) = cfg.archivist.listen
        && !a.ip().is_loopback()
        && !cfg.archivist.mtls
    {
        return Err(Failure::usage(format!(
            "--archivist-listen {a}: not a loopback address; add --archivist-mtls to require professional certificates"
        )));
    }
    let rt = runtime()?;
    let args_mtls = cfg.archivist.mtls;
    let grace = std::time::Duration::from_secs(cfg.server.shutdown_grace_secs);
    let result = rt.block_on(async move {
        let server = crate::app::start(cfg).await.map_err(Failure::usage)?;
        println!("kanta-sim archive listening on https://{} (mutual TLS, strict)", server.bound.listen);
        if let Some(d) = server.bound.diagnostic {
            println!("kanta-sim diagnostic listener on https://{d} (accepts any client certificate, explains)");
        }
        if let Some(a) = server.bound.archivist {
            println!("kanta-sim archivist view on {}://{a}/", if args_mtls { "https" } else { "http" });
        }
        if let Some(v) = server.bound.validation {
            println!("kanta-sim validation service on http://{v}/shark-validointi/validoi/asiakirja/tulos (Kela's contract, plain HTTP)");
        }
        println!("exchange log: {}", server.log.path().display());
        wait_for_signal().await;
        tracing::info!("shutting down");
        // Stop accepting; connections are closed. Work already running gets the grace time.
        if tokio::time::timeout(grace, server.shutdown()).await.is_err() {
            tracing::warn!("listeners did not stop within server.shutdown_grace_secs");
        }
        Ok(exit::OK)
    });
    // Blocking work still in flight (a request's parse or signature check) is not waited
    // for beyond the grace time: the process exits within a few seconds of SIGTERM.
    rt.shutdown_timeout(grace);
    result
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn log(args: LogArgs) -> Result<u8, Failure> {
    if !args.data.join("kanta-sim.sqlite").is_file() {
        return Err(Failure::usage(format!(
            "no exchange log in {} (start `kanta-sim serve --data {}` first)",
            args.data.display(),
            args.data.display()
        )));
    }
    let log = crate::archive::ExchangeLog::open(&args.data).map_err(Failure::usage)?;
    let records = log.recent(args.limit).map_err(Failure::internal)?;
    if records.is_empty() {
        println!("(the exchange log is empty)");
        return Ok(exit::NOTHING_RAN);
    }
    for r in records {
        if args.json {
            println!("{}", serde_json::to_string(&r).map_err(Failure::internal)?);
            continue;
        }
        let rec = &r.record;
        let at = rec
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let what = match (&rec.method, &rec.path, rec.status) {
            (Some(m), Some(p), Some(s)) => format!("{m} {p} → {s}"),
            _ => "handshake".into(),
        };
        println!(
            "#{:<5} {at} {:<10} {:<21} {:<9} {what}  [{}]",
            r.id,
            rec.listener,
            rec.peer,
            rec.outcome,
            crate::finding::RuleId::join(&rec.codes)
        );
        println!(
            "        cert: {}",
            rec.cert_subject.as_deref().unwrap_or("(none)")
        );
        if !rec.summary.is_empty() {
            println!("        {}", rec.summary);
        }
    }
    Ok(exit::OK)
}
