//! Running Kela-style test cases: the engine that judges each exchange against the step a
//! case expects (`engine`), the reference client's way of performing a step (`drive`), and
//! runs over a suite, live or self-driven (`run`). The cases themselves are `crate::cases`.

pub mod behaviour;
pub mod drive;
pub mod engine;
pub mod run;

pub use crate::cases::{
    Action, Behaviour, CaseError, Check, Deviation, DocKind, Expect, Step, TestCase,
};
