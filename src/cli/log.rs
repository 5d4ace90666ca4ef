//! `kanta-sim log`: the exchange log, newest first.

use std::path::PathBuf;

use clap::Args;

use super::{Failure, exit};

#[derive(Debug, Args)]
pub(super) struct LogArgs {
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

pub(super) fn run(args: LogArgs) -> Result<u8, Failure> {
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
