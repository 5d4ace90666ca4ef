//! `kanta-sim log`: the exchange log, newest first.

use std::path::PathBuf;

use clap::Args;

use super::{Failure, exit};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct LogArgs {
    /// `export`: every row, for keeping before the retention settings delete them.
    #[command(subcommand)]
    command: Option<LogCommand>,
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

#[derive(Debug, clap::Subcommand)]
enum LogCommand {
    /// Write every row, oldest first, with request and response bodies (base64).
    Export {
        /// Data directory.
        #[arg(long, default_value = "kanta-sim-data")]
        data: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
}

fn export(
    data: &std::path::Path,
    format: ExportFormat,
    out: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let log = open(data)?;
    let ExportFormat::Jsonl = format;
    let n = match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(file);
            let n = log.export_jsonl(&mut w).map_err(Failure::internal)?;
            std::io::Write::flush(&mut w)
                .map_err(|e| Failure::internal(format!("{}: {e}", path.display())))?;
            eprintln!("{n} rows written to {}", path.display());
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let n = log.export_jsonl(&mut w).map_err(Failure::internal)?;
            std::io::Write::flush(&mut w).map_err(Failure::internal)?;
            n
        }
    };
    Ok(if n == 0 { exit::NOTHING_RAN } else { exit::OK })
}

fn open(data: &std::path::Path) -> Result<crate::archive::ExchangeLog, Failure> {
    if !data.join("kanta-sim.sqlite").is_file() {
        return Err(Failure::usage(format!(
            "no exchange log in {} (start `kanta-sim serve --data {}` first)",
            data.display(),
            data.display()
        )));
    }
    crate::archive::ExchangeLog::open(data).map_err(Failure::usage)
}

pub(super) fn run(args: LogArgs) -> Result<u8, Failure> {
    if let Some(LogCommand::Export { data, format, out }) = &args.command {
        return export(data, *format, out.as_deref());
    }
    let log = open(&args.data)?;
    let records = log.recent(args.limit).map_err(Failure::internal)?;
    if records.is_empty() {
        outln!("(the exchange log is empty)");
        return Ok(exit::NOTHING_RAN);
    }
    for r in records {
        if args.json {
            outln!("{}", serde_json::to_string(&r).map_err(Failure::internal)?);
            continue;
        }
        let rec = &r.record;
        let at = rec
            .at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let what = match (&rec.method, &rec.path, rec.status) {
            (Some(m), Some(p), Some(s)) => format!("{m} {p} → {s}"),
            // The client left before the answer (an abandoned request).
            (Some(m), Some(p), None) => format!("{m} {p} → (no answer)"),
            _ => "handshake".into(),
        };
        outln!(
            "#{:<5} {at} {:<10} {:<21} {:<9} {what}  [{}]",
            r.id,
            rec.listener,
            rec.peer,
            rec.outcome,
            crate::finding::RuleId::join(&rec.codes)
        );
        outln!(
            "        cert: {}",
            rec.cert_subject.as_deref().unwrap_or("(none)")
        );
        if !rec.summary.is_empty() {
            outln!("        {}", rec.summary);
        }
    }
    Ok(exit::OK)
}
