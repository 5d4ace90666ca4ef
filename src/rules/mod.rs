//! Rules: pure checks over typed values (the message, the document, the peer, the register
//! and the archive's stored versions), each returning findings. Nothing here touches the
//! network or the database. The catalogue of rule ids and texts is `crate::finding`.

pub mod access;
pub mod codes;
pub mod document;
pub mod lifecycle;
pub mod signature;
pub mod wrapper;

pub use crate::finding::{Basis, CATALOGUE, Finding, Rule, RuleId, Severity, rule_by_id};
