//! Kela-style test cases: the declarative model (`model`), the engine that judges each
//! exchange against the step a case expects (`engine`), the reference client's way of
//! performing a step (`drive`), and runs over a suite, live or self-driven (`run`).

pub mod drive;
pub mod engine;
pub mod model;
pub mod run;

pub use model::{Action, CaseError, Check, Deviation, DocKind, Expect, Step, TestCase};
