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
    /// The language shown first: fi, sv or en (default: en); the Finnish text follows
    /// unless it was shown first.
    #[arg(long, value_enum)]
    lang: Option<crate::lang::Lang>,
}

/// Runs `rules`.
pub(super) fn run(args: RulesArgs) -> Result<u8, Failure> {
    let lang = args.lang.unwrap_or(crate::lang::Lang::En);
    if args.json {
        let v = serde_json::to_string_pretty(CATALOGUE).map_err(Failure::internal)?;
        outln!("{v}");
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
        let second = if lang == crate::lang::Lang::Fi {
            r.en
        } else {
            r.fi
        };
        outln!(
            "{}  {sev:<7}  {basis:<9}  {}\n                             {second}",
            r.id,
            r.text(lang)
        );
    }
    Ok(exit::OK)
}
