//! A per-request time budget: the work a request may cause is bounded by the input limits,
//! and on top of that by a deadline that long-running stages check between steps, so a
//! request that is over its budget stops and is answered with a fault (W-007) instead of
//! holding a worker.

use std::time::{Duration, Instant};

/// The deadline of one request's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    started: Instant,
    deadline: Option<Instant>,
}

/// The budget ran out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the request used its whole budget of {budget_ms} ms before {stage} (limits.request_budget_ms)"
)]
pub struct OverBudget {
    /// The budget.
    pub budget_ms: u64,
    /// The stage that was about to start.
    pub stage: String,
}

impl Budget {
    /// A budget of `limit` from now.
    pub fn new(limit: Duration) -> Self {
        let started = Instant::now();
        Self {
            started,
            deadline: started.checked_add(limit),
        }
    }

    /// No deadline (offline validation, tests).
    pub fn unlimited() -> Self {
        Self {
            started: Instant::now(),
            deadline: None,
        }
    }

    /// `Err` when the deadline has passed; `stage` names what was about to start.
    pub fn check(&self, stage: &str) -> Result<(), OverBudget> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(OverBudget {
                budget_ms: u64::try_from(d.duration_since(self.started).as_millis())
                    .unwrap_or(u64::MAX),
                stage: stage.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_names_the_stage() {
        assert!(Budget::unlimited().check("x").is_ok());
        assert!(Budget::new(Duration::from_secs(60)).check("x").is_ok());
        let b = Budget::new(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        let e = b.check("the signature check").unwrap_err();
        assert!(e.to_string().contains("before the signature check"), "{e}");
    }
}
