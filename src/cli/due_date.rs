//! `kanta-sim due-date`: the deployment test's report deadline.

use clap::Args;
use time::Date;

use super::{Failure, exit};
use crate::deployment::report_due;

/// `kanta-sim due-date` arguments.
#[derive(Debug, Args)]
pub(super) struct DueDateArgs {
    /// Completion date, YYYY-MM-DD.
    date: String,
    /// Saturdays count as working days.
    #[arg(long)]
    count_saturdays: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn parse_date(s: &str) -> Result<Date, Failure> {
    Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| Failure::usage(format!("{s:?}: expected YYYY-MM-DD ({e})")))
}

/// `due-date DATE`.
pub(super) fn run(args: DueDateArgs) -> Result<u8, Failure> {
    let DueDateArgs {
        date,
        count_saturdays,
        json,
    } = args;
    let date = date.as_str();
    let d = report_due(parse_date(date)?, count_saturdays);
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(Failure::internal)?
        );
    } else {
        outln!("{} ({})", d.due, d.due.weekday());
        outln!(
            "  {} working days after {} ({}){}",
            d.working_days,
            d.from,
            d.from.weekday(),
            if count_saturdays {
                ", Saturdays counted"
            } else {
                ""
            }
        );
        for s in &d.skipped {
            outln!("  skipped {} ({}): {}", s.date, s.date.weekday(), s.reason);
        }
    }
    Ok(exit::OK)
}
