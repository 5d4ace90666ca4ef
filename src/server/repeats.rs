//! Repeated exchanges, counted instead of logged one by one: the first of a peer address and
//! a key (a refused handshake's reasons, a health check's organisation) in a window is
//! logged in full (so a person and the test-case engine see it); the rest of that window is
//! counted and written onto that row. A storm of bad certificates, or a monitor polling
//! `/health`, therefore adds at most one row per peer address and key per window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// At most this many (peer, reason) pairs are tracked per window; beyond it the rest of the
/// window's refusals from new peers are counted together.
const MAX_KEYS: usize = 4096;

#[derive(Debug)]
struct Window {
    opened: Instant,
    /// The logged row, once written.
    row: Option<i64>,
    repeats: u64,
    last: OffsetDateTime,
    flushed: u64,
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Log it in full (the first of its window).
    Log,
    /// Count it only.
    Count,
}

/// The counter shared by the accept loops.
#[derive(Debug)]
pub(crate) struct RepeatCounter {
    window: Duration,
    keys: Mutex<HashMap<(Option<IpAddr>, String), Window>>,
}

/// A row whose repeat count changed: (row id, repeats, last seen).
pub(crate) type Flush = (i64, u64, OffsetDateTime);

impl RepeatCounter {
    /// Windows of `window`.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Decides for one exchange from `peer` with `key`.
    pub(crate) fn seen(&self, peer: IpAddr, codes: &str) -> Decision {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut key = (Some(peer), codes.to_owned());
        if !keys.contains_key(&key) && keys.len() >= MAX_KEYS {
            key.0 = None;
        }
        match keys.get_mut(&key) {
            Some(w) if now.duration_since(w.opened) < self.window => {
                w.repeats += 1;
                w.last = OffsetDateTime::now_utc();
                Decision::Count
            }
            _ => {
                keys.insert(
                    key,
                    Window {
                        opened: now,
                        row: None,
                        repeats: 0,
                        last: OffsetDateTime::now_utc(),
                        flushed: 0,
                    },
                );
                Decision::Log
            }
        }
    }

    /// Remembers the row the first refusal of a window was logged as.
    pub(crate) fn logged(&self, peer: IpAddr, codes: &str, row: i64) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in [(Some(peer), codes.to_owned()), (None, codes.to_owned())] {
            if let Some(w) = keys.get_mut(&key)
                && w.row.is_none()
            {
                w.row = Some(row);
                return;
            }
        }
    }

    /// The rows whose counts changed since the last flush; windows that have ended and are
    /// flushed are forgotten.
    pub(crate) fn flush(&self) -> Vec<Flush> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut out = Vec::new();
        for w in keys.values_mut() {
            if let Some(row) = w.row
                && w.repeats != w.flushed
            {
                out.push((row, w.repeats, w.last));
                w.flushed = w.repeats;
            }
        }
        keys.retain(|_, w| now.duration_since(w.opened) < self.window || w.flushed != w.repeats);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_peer_and_reason_per_window() {
        let c = RepeatCounter::new(Duration::from_secs(60));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(c.seen(a, "T-003"), Decision::Log);
        c.logged(a, "T-003", 7);
        for _ in 0..1000 {
            assert_eq!(c.seen(a, "T-003"), Decision::Count);
        }
        assert_eq!(c.seen(a, "T-005"), Decision::Log);
        assert_eq!(c.seen(b, "T-003"), Decision::Log);
        let f = c.flush();
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].0, f[0].1), (7, 1000));
        assert!(c.flush().is_empty(), "nothing new to write");
        // A new window logs again.
        let short = RepeatCounter::new(Duration::ZERO);
        assert_eq!(short.seen(a, "T-003"), Decision::Log);
        assert_eq!(short.seen(a, "T-003"), Decision::Log);
    }
}
