//! Budgets that keep the archive responsive and its memory bounded whatever the load: a
//! bounded number of requests processed at once; one memory budget that a request draws on
//! for its body while it arrives and for its working set while it is judged (a message's
//! processing holds a few times its size: the body, the decoded document, the decoded
//! display form, the canonical form); and timeouts on how long a body may take to arrive
//! (slow-drip) or stall.

use crate::finding::RuleId;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServerConfig;

/// Bytes are counted in units of this many bytes (a semaphore counts in u32).
const UNIT: usize = 1024;

/// What judging a message holds, as a multiple of its size (measured: a 29 MB message
/// peaks at about four times its size over the body; see scripts/attack.py memory).
pub(crate) const WORK_FACTOR: usize = 5;

/// The shared budgets.
#[derive(Debug)]
pub(crate) struct Admission {
    requests: Arc<Semaphore>,
    body_units: Arc<Semaphore>,
    total_units: u32,
    wait: Duration,
    body_timeout: Duration,
    body_idle: Duration,
    max_body: usize,
    /// `Retry-After` of a 503.
    pub(crate) retry_after_secs: u64,
}

/// What a request holds while it is processed; dropping it gives the budget back.
#[derive(Debug)]
pub(crate) struct Held {
    /// Given back once the message is judged ([`Held::judged`]).
    slot: Option<OwnedSemaphorePermit>,
    memory: Option<OwnedSemaphorePermit>,
    units: u32,
}

/// Why a body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than `server.max_body_bytes` (W-004).
    TooLarge {
        /// The limit.
        limit: usize,
        /// What was seen (declared or received).
        seen: usize,
    },
    /// Not complete within `server.body_timeout_secs` (W-008).
    TooSlow {
        /// Seconds allowed.
        secs: u64,
        /// Bytes received by then.
        received: usize,
    },
    /// No byte for `server.body_idle_timeout_secs` (W-008).
    Stalled {
        /// Seconds allowed.
        secs: u64,
        /// Bytes received by then.
        received: usize,
    },
    /// The body budget stayed full (W-009).
    Busy,
    /// The connection failed or ended while reading.
    Io {
        /// Bytes received by then.
        received: usize,
        /// The declared length, if any.
        declared: Option<usize>,
        /// hyper's error.
        source: hyper::Error,
    },
}

impl BodyError {
    /// The rule id and a sentence naming the setting.
    pub(crate) fn finding(&self) -> (RuleId, String) {
        match self {
            Self::TooLarge { limit, seen } => (
                RuleId::W004,
                format!("request body of {seen} bytes refused: the limit is {limit} bytes (server.max_body_bytes)"),
            ),
            Self::TooSlow { secs, received } => (
                RuleId::W008,
                format!("the request body did not arrive within {secs} s ({received} bytes received; server.body_timeout_secs)"),
            ),
            Self::Stalled { secs, received } => (
                RuleId::W008,
                format!("the request body stalled: no byte for {secs} s after {received} bytes (server.body_idle_timeout_secs)"),
            ),
            Self::Busy => (
                RuleId::W009,
                "the archive is holding as much request data as it may (server.request_memory_bytes); retry later".to_owned(),
            ),
            Self::Io {
                received,
                declared,
                source,
            } => (
                RuleId::W008,
                format!(
                    "the request body could not be read: the connection failed or was closed after {received}{} bytes of it ({source})",
                    declared.map(|n| format!(" of {n}")).unwrap_or_default()
                ),
            ),
        }
    }
}

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl Admission {
    /// From `[server]`.
    pub(crate) fn new(cfg: &ServerConfig) -> Self {
        let total = units(cfg.request_memory_bytes);
        Self {
            requests: Arc::new(Semaphore::new(cfg.concurrent_requests())),
            body_units: Arc::new(Semaphore::new(usize::try_from(total).unwrap_or(usize::MAX))),
            total_units: total,
            wait: Duration::from_millis(cfg.busy_wait_ms),
            body_timeout: Duration::from_secs(cfg.body_timeout_secs),
            body_idle: Duration::from_secs(cfg.body_idle_timeout_secs),
            max_body: cfg.max_body_bytes,
            retry_after_secs: cfg.retry_after_secs,
        }
    }

    /// A processing slot, waiting at most `server.busy_wait_ms`; `None` means 503.
    pub(crate) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(self.wait, self.requests.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Grows a body's share of the budget from `have` to `need` units.
    async fn grow(
        &self,
        permit: Option<OwnedSemaphorePermit>,
        have: u32,
        need: u32,
    ) -> Result<Option<OwnedSemaphorePermit>, BodyError> {
        let extra = need.min(self.total_units).saturating_sub(have);
        if extra == 0 {
            return Ok(permit);
        }
        let more =
            tokio::time::timeout(self.wait, self.body_units.clone().acquire_many_owned(extra))
                .await
                .map_err(|_| BodyError::Busy)?
                .map_err(|_| BodyError::Busy)?;
        Ok(Some(match permit {
            Some(mut p) => {
                p.merge(more);
                p
            }
            None => more,
        }))
    }

    /// Reads a whole body within the size limit, the timeouts and the shared body budget.
    /// The returned [`Held`] keeps both the slot and the body's share of the budget.
    pub(crate) async fn read_body(
        &self,
        slot: OwnedSemaphorePermit,
        declared: Option<usize>,
        mut body: Incoming,
    ) -> Result<(Bytes, Held), BodyError> {
        if let Some(n) = declared
            && n > self.max_body
        {
            return Err(BodyError::TooLarge {
                limit: self.max_body,
                seen: n,
            });
        }
        let started = Instant::now();
        let deadline = started + self.body_timeout;
        // With a declared length, the whole working set is reserved before a byte is read:
        // requests then queue for admission holding nothing, instead of each holding part of
        // a body while waiting for the rest (which can starve them all). Without one, the
        // share grows with the body.
        let mut permit: Option<OwnedSemaphorePermit> = None;
        let mut reserved = 0u32;
        if let Some(n) = declared {
            let need = units(n.saturating_mul(WORK_FACTOR)).min(self.total_units);
            permit = self.grow(permit, reserved, need).await?;
            reserved = need;
        }
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(self.max_body));
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(BodyError::TooSlow {
                    secs: self.body_timeout.as_secs(),
                    received: buf.len(),
                });
            }
            let wait = self.body_idle.min(deadline - now);
            let frame = match tokio::time::timeout(wait, body.frame()).await {
                Err(_) if Instant::now() >= deadline => {
                    return Err(BodyError::TooSlow {
                        secs: self.body_timeout.as_secs(),
                        received: buf.len(),
                    });
                }
                Err(_) => {
                    return Err(BodyError::Stalled {
                        secs: self.body_idle.as_secs(),
                        received: buf.len(),
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(source))) => {
                    return Err(BodyError::Io {
                        received: buf.len(),
                        declared,
                        source,
                    });
                }
                Ok(Some(Ok(f))) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if buf.len() + data.len() > self.max_body {
                return Err(BodyError::TooLarge {
                    limit: self.max_body,
                    seen: buf.len() + data.len(),
                });
            }
            let need = units(buf.len() + data.len());
            if need > reserved {
                permit = self.grow(permit, reserved, need).await?;
                reserved = need;
            }
            buf.extend_from_slice(&data);
        }
        Ok((
            buf.freeze(),
            Held {
                slot: Some(slot),
                memory: permit,
                units: reserved,
            },
        ))
    }

    /// Grows what a request holds from its body to its working set (a few times the body,
    /// never more than the whole budget), waiting at most `server.busy_wait_ms`.
    pub(crate) async fn for_work(&self, held: &mut Held, body_len: usize) -> Result<(), BodyError> {
        let need = units(body_len.saturating_mul(WORK_FACTOR)).min(self.total_units);
        if need > held.units {
            held.memory = self.grow(held.memory.take(), held.units, need).await?;
            held.units = need;
        }
        Ok(())
    }
}

impl Held {
    /// The message is judged: what is left is waiting (for the store's commit, a fault
    /// plan's delay, the answer's sending), which is neither the CPU work the processing
    /// slots bound nor the working set. The slot goes back, and the memory share shrinks to
    /// `keep_bytes` (what the request still holds: its body and the document to archive).
    ///
    /// Why: a request that kept its slot while the store made its batch durable left at
    /// most `max_concurrent_requests` messages in the pipeline at once, so the store's
    /// group commit could never gather more than that many (measured on 2 cores: 1.4
    /// documents per commit, the cores idle while all four slots waited for the disk).
    pub(crate) fn judged(&mut self, keep_bytes: usize) {
        self.slot = None;
        let keep = units(keep_bytes).min(self.units);
        if keep < self.units
            && let Some(memory) = &mut self.memory
        {
            // `split` hands back a permit for the units given up; dropping it returns them.
            drop(memory.split(usize::try_from(self.units - keep).unwrap_or(0)));
            self.units = keep;
        }
    }
}
