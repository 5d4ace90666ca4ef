//! `kanta-sim rules`: the rule catalogue.

use clap::Args;

use super::{Failure, exit};
use crate::finding::{Basis, CATALOGUE, Severity};

/// `kanta-sim rules` arguments.
#[derive(Debug, Args)]
pub(super) struct RulesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `rules`.
pub(super) fn run(args: RulesArgs) -> Result<u8, Failure> {
    if args.json {
        let v = serde_json::to_string_pretty(CATALOGUE).map_err(Failure::internal)?;
        println!("{v}");
        return Ok(exit::OK);
    }
    for r in CATALOGUE {
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let basis = match r.basis {
            Basis::Confirmed => "confirmed",
            Basis::Assumed => "assumed",
        };
        println!(
            "{}  {sev:<7}  {basis:<9}  {}\n                             {}",
            r.id, r.en, r.fi
        );
    }
    Ok(exit::OK)
}
