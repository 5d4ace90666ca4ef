//! The command line, one file per subcommand (like cargo-nextest): clap derive, and every
//! error mapped to the documented exit codes ([`exit`], the table in the README). Commands
//! that start an archive start it through `app`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` for the command line's output, through [`out`].
macro_rules! outln {
    () => {
        $crate::cli::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the command line's output, through [`out`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out(format_args!($($arg)*))
    };
}

/// Writes to standard output. A reader that closed the pipe early (`kanta-sim log | head`)
/// has had what it wanted: the process ends quietly with success, where `println!` would
/// panic. Any other write error ends it with the error named (exit 1).
pub(crate) fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(exit::OK));
        }
        eprintln!("kanta-sim: cannot write to standard output: {e}");
        std::process::exit(i32::from(exit::INTERNAL));
    }
}

mod c14n;
mod certs;
mod client;
mod config;
mod demo;
mod dsig;
mod due_date;
mod faults;
mod ids;
mod load;
mod log;
mod rules;
mod run;
mod sample_document;
mod serve;
mod testcases;
mod train;
mod validate;

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
    /// The archive could not be reached (`client send|query`: nothing listens there, or
    /// the name does not resolve).
    pub const UNREACHABLE: u8 = 5;
    /// Interrupted by SIGINT or SIGTERM (`train`); whatever it made temporarily is removed.
    pub const INTERRUPTED: u8 = 130;
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
    Demo(demo::DemoArgs),
    /// Test PKI: generate a kit, inspect certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Start the mutual-TLS archive endpoint.
    Serve(serve::ServeArgs),
    /// Show the exchange log: every handshake and request, with the reasons for refusals.
    Log(log::LogArgs),
    /// Configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Canonicalize an XML file (exclusive C14N by default) and write the bytes to stdout.
    C14n(c14n::C14nArgs),
    /// XML signatures: verify with every intermediate value shown, or sign like Kanta.
    #[command(subcommand)]
    Dsig(dsig::DsigCommand),
    /// Validate documents offline (a CDA, or an HL7 message carrying one) with the archive's
    /// document and signature rules; exit 0 when no file has an error.
    Validate(validate::ValidateArgs),
    /// Write a Kanta-shaped sample CDA with fictional data (for trying the signature tools).
    SampleDocument(sample_document::SampleDocumentArgs),
    /// Load generator: archive many signed documents (or health checks) against a running
    /// archive over kept-alive mTLS connections and report throughput and latency.
    Load(load::LoadArgs),
    /// Test cases: list them, or lint them.
    #[command(subcommand)]
    Testcases(testcases::TestcasesCommand),
    /// Run a suite of test cases: live (wait for the system under test) or self-driven (the
    /// reference client performs every step); write report.json, junit.xml and report.html.
    /// Exit 0 all passed, 3 a case failed, 4 timed out waiting, 2 usage, 1 internal.
    Run(run::RunArgs),
    /// The deployment test's report deadline: DATE + 2 working days (Finnish public holidays
    /// skipped), with the days skipped.
    DueDate(due_date::DueDateArgs),
    /// The test-identity ledger: issue 900-series codes and record who got them.
    #[command(subcommand)]
    Ids(ids::IdsCommand),
    /// Guided rehearsal for trainers: `train deployment-test [--break …]`.
    Train(train::TrainArgs),
    /// The reference client system: build, sign and send Kanta messages, or query.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Archive-side faults on purpose: check a fault plan, or set, clear and list the plan of
    /// a running archive through its admin listener (`serve --admin-listen`).
    #[command(subcommand)]
    Faults(faults::FaultsCommand),
    /// List the rule catalogue: every finding code with its severity, basis and texts.
    Rules(rules::RulesArgs),
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
    /// The archive could not be reached.
    pub fn unreachable(e: impl std::fmt::Display) -> Self {
        Self {
            code: exit::UNREACHABLE,
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
    // Colours only on a terminal, and never when NO_COLOR is set (no-color.org).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
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
        Command::Certs(c) => certs::run(c),
        Command::Serve(args) => {
            init_tracing();
            serve::run(args)
        }
        Command::Log(args) => log::run(args),
        Command::Config(c) => config::run(c),
        Command::Validate(args) => validate::run(args),
        Command::Load(args) => runtime()?.block_on(load::run(args)),
        Command::Testcases(c) => testcases::run(c),
        Command::DueDate(args) => due_date::run(args),
        Command::Ids(c) => ids::run(c),
        Command::Train(args) => train::run(args, &runtime()?),
        Command::Run(args) => run::run(args, &runtime()?),
        Command::Client(c) => client::run(c, &runtime()?),
        Command::C14n(args) => c14n::run(args),
        Command::Dsig(dsig::DsigCommand::Verify(args)) => dsig::verify(args),
        Command::Dsig(dsig::DsigCommand::Sign(args)) => dsig::sign(args),
        Command::SampleDocument(args) => sample_document::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Faults(c) => faults::run(c, &runtime()?),
        Command::Demo(args) => {
            if std::env::var_os("KANTA_SIM_LOG").is_some() {
                init_tracing();
            }
            runtime()?.block_on(demo::run(args))
        }
    }
}
