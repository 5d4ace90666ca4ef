//! `kanta-sim ids issue|import|list|export`: the test-identity ledger.

use std::path::PathBuf;

use clap::Subcommand;
use time::OffsetDateTime;

use super::{Failure, exit};
use crate::ledger::{Ledger, Pool, to_csv};

/// `ids …`.
#[derive(Debug, Subcommand)]
pub(super) enum IdsCommand {
    /// Issue 900-series test identity codes and record who got them.
    Issue {
        /// The customer (organisation) they are for.
        #[arg(long)]
        customer: String,
        /// The customer's organisation OID (the archive warns, P-005, when another
        /// organisation uses the codes).
        #[arg(long)]
        org: Option<String>,
        /// The service they are for.
        #[arg(long)]
        service: String,
        /// How many.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Pool.
        #[arg(long, value_enum, default_value_t = Pool::TestEnv)]
        pool: Pool,
        /// Data directory (the ledger lives beside the archive).
        #[arg(long, default_value = "kanta-sim-data")]
        data: PathBuf,
    },
    /// Record the codes Kela granted (a CSV list: `code`, and optionally `pool`, `customer`,
    /// `org`, `service`, `issued_at` columns). A code may be granted to several customers and
    /// services; each grant is a row. Every line is checked before anything is recorded.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The customer, where the list has no customer column.
        #[arg(long)]
        customer: Option<String>,
        /// The customer's organisation OID, where the list has no org column.
        #[arg(long)]
        org: Option<String>,
        /// The service, where the list has no service column.
        #[arg(long)]
        service: Option<String>,
        /// The pool, where the list has no pool column.
        #[arg(long, value_enum, default_value_t = Pool::DeploymentTest)]
        pool: Pool,
        /// Data directory.
        #[arg(long, default_value = "kanta-sim-data")]
        data: PathBuf,
    },
    /// List issued codes.
    List {
        /// Only this customer's.
        #[arg(long)]
        customer: Option<String>,
        /// Data directory.
        #[arg(long, default_value = "kanta-sim-data")]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export issued codes.
    Export {
        /// Format (csv).
        #[arg(long, default_value = "csv")]
        format: String,
        /// Data directory.
        #[arg(long, default_value = "kanta-sim-data")]
        data: PathBuf,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `ids …`.
/// The ledger in `data`, when there is one: a listing creates nothing.
fn existing(data: &std::path::Path) -> Result<Option<Ledger>, Failure> {
    // An archive's file from before the ledger had its own may hold one (opening moves it).
    if !data.join(crate::ledger::LEDGER_FILE).is_file()
        && !data.join(crate::archive::DB_FILE).is_file()
    {
        eprintln!(
            "no ledger in {}: nothing has been issued there (kanta-sim ids issue --data {} …)",
            data.display(),
            data.display()
        );
        return Ok(None);
    }
    Ledger::open(data).map(Some).map_err(Failure::usage)
}

pub(super) fn run(cmd: IdsCommand) -> Result<u8, Failure> {
    match cmd {
        IdsCommand::Issue {
            customer,
            org,
            service,
            count,
            pool,
            data,
        } => {
            if count == 0 || count > 10_000 {
                return Err(Failure::usage("--count: 1 to 10000"));
            }
            let l = Ledger::open(&data).map_err(Failure::usage)?;
            for i in l
                .issue(
                    pool,
                    &customer,
                    org.as_deref(),
                    &service,
                    count,
                    OffsetDateTime::now_utc(),
                )
                .map_err(Failure::failed)?
            {
                outln!("{}", i.code);
            }
            eprintln!(
                "issued {count} {} code(s) to {customer} for {service}; ledger: {}",
                pool.as_str(),
                data.display()
            );
            Ok(exit::OK)
        }
        IdsCommand::Import {
            file,
            customer,
            org,
            service,
            pool,
            data,
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let defaults = crate::ledger::Issued {
                code: String::new(),
                pool: pool.as_str().to_owned(),
                customer: customer.unwrap_or_default(),
                org,
                service: service.unwrap_or_default(),
                issued_at: OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            };
            let grants = crate::ledger::read_import(&text, &file.display().to_string(), &defaults)
                .map_err(Failure::usage)?;
            let l = Ledger::open(&data).map_err(Failure::usage)?;
            let new = l.record(&grants).map_err(Failure::internal)?;
            eprintln!(
                "{} grant(s) read, {new} new ({} already in the ledger); ledger: {}",
                grants.len(),
                grants.len() - new,
                data.display()
            );
            Ok(exit::OK)
        }
        IdsCommand::List {
            customer,
            data,
            json,
        } => {
            let rows = match existing(&data)? {
                Some(l) => l.list(customer.as_deref()).map_err(Failure::internal)?,
                None => Vec::new(),
            };
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(Failure::internal)?
                );
            } else {
                for r in &rows {
                    outln!(
                        "{}  {:<15} {:<30} {:<24} {}  {}",
                        r.code,
                        r.pool,
                        r.customer,
                        r.org.as_deref().unwrap_or("-"),
                        r.service,
                        r.issued_at
                    );
                }
                outln!("{} code(s)", rows.len());
            }
            Ok(if rows.is_empty() {
                exit::NOTHING_RAN
            } else {
                exit::OK
            })
        }
        IdsCommand::Export { format, data, out } => {
            if format != "csv" {
                return Err(Failure::usage(format!("--format {format:?}: only csv")));
            }
            let rows = match existing(&data)? {
                Some(l) => l.list(None).map_err(Failure::internal)?,
                None => Vec::new(),
            };
            let csv = to_csv(&rows);
            match out {
                Some(p) => std::fs::write(&p, csv)
                    .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
                None => out!("{csv}"),
            }
            Ok(exit::OK)
        }
    }
}
