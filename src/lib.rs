//! kanta-sim: a test-harness simulator of the Finnish Kanta Client Data Archive for
//! Social Welfare (Sosiaalihuollon asiakastiedon arkisto).
//!
//! The crate is organised one module per domain concept; `docs/ARCHITECTURE.md` walks
//! through the flow of one request and says which module owns each step.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod archive;
pub mod budget;
pub mod calendar;
pub mod cases;
pub mod cli;
pub mod client;
pub mod config;
pub mod deployment;
pub mod document;
pub mod faults;
pub mod finding;
pub mod identity;
pub mod lang;
pub mod ledger;
pub mod message;
pub mod onboarding;
pub mod pipeline;
pub mod pki;
pub mod report;
pub mod rules;
pub mod server;
pub mod testcase;
pub mod tls;
pub mod training;
pub mod web;
pub mod xml;
pub mod xmldsig;

/// A small deterministic generator (xorshift64) for the tests' generated inputs, so that a
/// failing round can be run again.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
