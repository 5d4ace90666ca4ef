//! Judging a resilience step: how the system under test behaved while the archive failed
//! on purpose. One answer says nothing here; the verdict comes from every exchange of the
//! step — the faults injected (marked on their rows by the fault plan), the resends, their
//! timings and ids — so the same judge serves a self-driven run and a supplier's system.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::engine::{self, Labels, StepOutcome, Verdict};
use crate::archive::{ExchangeKind, StoredExchange};
use crate::cases::{Behaviour, Step};
use crate::finding::{Finding, RuleId};

/// How long to keep listening once the behaviour can be judged: a request still in flight
/// (a parallel send) is logged when it is answered.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Slack for comparing the archive's clock readings of two exchanges (Retry-After).
const CLOCK_SLACK: Duration = Duration::milliseconds(250);

/// What the watcher wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding exchanges until the step's deadline.
    More,
    /// Enough was seen: feed what arrives within [`SETTLE`], then finish.
    Settle,
}

/// The exchanges of one resilience step, collected until they can be judged.
#[derive(Debug)]
pub struct Watch {
    behaviour: Behaviour,
    rows: Vec<Arc<StoredExchange>>,
}

/// One archive exchange as the judge sees it.
struct Row<'a> {
    ex: &'a StoredExchange,
}

impl Row<'_> {
    fn injected(&self) -> Option<&str> {
        self.ex.record.detail.get("injected")?.get("kind")?.as_str()
    }

    fn injected_u64(&self, key: &str) -> Option<u64> {
        self.ex.record.detail.get("injected")?.get(key)?.as_u64()
    }

    fn is_archive(&self) -> bool {
        self.ex.record.kind == ExchangeKind::Http
            && self.ex.record.path.as_deref() == Some("/archive")
    }

    fn ack(&self) -> Option<&str> {
        self.ex.record.detail.get("ack")?.as_str()
    }

    fn document(&self) -> Option<(String, u64)> {
        let d = self.ex.record.detail.get("document")?;
        Some((
            d.get("oid")?.as_str()?.to_owned(),
            d.get("version")?.as_u64()?,
        ))
    }

    fn message_id(&self) -> Option<&(String, String)> {
        self.ex.record.message_id.as_ref()
    }

    /// When the request arrived: the row is written when it is answered.
    fn arrived(&self) -> OffsetDateTime {
        let ms = self.ex.record.duration_ms.unwrap_or(0);
        self.ex.record.at - Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    fn answered(&self) -> OffsetDateTime {
        self.ex.record.at
    }

    /// The same message or the same document version.
    fn same_as(&self, other: &Row<'_>) -> bool {
        (self.message_id().is_some() && self.message_id() == other.message_id())
            || (self.document().is_some() && self.document() == other.document())
    }

    fn describe(&self) -> String {
        format!("exchange #{} ({})", self.ex.id, self.ex.record.summary)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_seconds_f64())
}

impl Watch {
    /// Starts watching for `behaviour`.
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            rows: Vec::new(),
        }
    }

    /// Whether anything was seen.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Takes one relevant exchange (see [`engine::relevant`]).
    pub fn feed(&mut self, ex: Arc<StoredExchange>) -> Progress {
        self.rows.push(ex);
        let rows: Vec<Row<'_>> = self.rows.iter().map(|ex| Row { ex }).collect();
        let archive: Vec<&Row<'_>> = rows.iter().filter(|r| r.is_archive()).collect();
        let after_fault = |kind: &str| {
            archive
                .iter()
                .position(|r| r.injected() == Some(kind))
                .is_some_and(|i| archive[i + 1..].iter().any(|r| r.injected().is_none()))
        };
        let done = match self.behaviour {
            Behaviour::DeliverAfterBreak => archive.iter().any(|r| r.injected().is_none()),
            Behaviour::ResendAfterLostAck => after_fault("drop-ack"),
            Behaviour::HonourRetryAfter => after_fault("busy"),
            // The slow answer is logged last, after anything sent beside it.
            Behaviour::NoParallelSends => archive.iter().any(|r| r.injected() == Some("delay")),
        };
        if done {
            Progress::Settle
        } else {
            Progress::More
        }
    }

    /// The verdict over everything seen; `waited_secs` is how long the step listened.
    pub fn finish(&self, step: &Step, labels: &mut Labels, waited_secs: u64) -> StepOutcome {
        if self.rows.is_empty() {
            return engine::timed_out(step, waited_secs);
        }
        let rows: Vec<Row<'_>> = self.rows.iter().map(|ex| Row { ex }).collect();
        let archive: Vec<&Row<'_>> = rows.iter().filter(|r| r.is_archive()).collect();
        let mut reasons = Vec::new();
        let mut fail = |code: RuleId, msg: String| {
            reasons.push(Finding::new(
                code,
                format!("step {}", step.id),
                format!("{msg}. Expected: {}.", self.behaviour.expected()),
            ));
        };
        // Never the same message on two connections at once, whatever the behaviour.
        for (i, a) in archive.iter().enumerate() {
            if let Some(b) = archive[i + 1..]
                .iter()
                .find(|b| a.same_as(b) && a.arrived() < b.answered() && b.arrived() < a.answered())
            {
                let (first, second) = if a.arrived() <= b.arrived() {
                    (a, b)
                } else {
                    (b, a)
                };
                fail(
                    RuleId::C008,
                    format!(
                        "the same message arrived again {} after the first send, while the archive was still answering it ({} to answer): {} and {}",
                        secs(second.arrived() - first.arrived()),
                        secs(first.answered() - first.arrived()),
                        first.describe(),
                        second.describe()
                    ),
                );
                break;
            }
        }
        // The exchange whose answer decides acceptance, and the label it binds.
        let decisive: Option<&Row<'_>> = match self.behaviour {
            Behaviour::DeliverAfterBreak => {
                let met = rows.iter().filter(|r| r.injected().is_some()).count();
                let delivered = archive.iter().find(|r| r.injected().is_none()).copied();
                match delivered {
                    None => fail(
                        RuleId::C005,
                        format!(
                            "{met} attempt(s) met the break and none came after it within {waited_secs} s"
                        ),
                    ),
                    Some(d) if met == 0 => fail(
                        RuleId::C005,
                        format!(
                            "the document arrived ({}) without meeting the break, so the step shows nothing; send it while the archive is unavailable",
                            d.describe()
                        ),
                    ),
                    Some(_) => {}
                }
                delivered
            }
            Behaviour::ResendAfterLostAck => {
                let lost = archive
                    .iter()
                    .position(|r| r.injected() == Some("drop-ack"));
                match lost {
                    None => {
                        fail(
                            RuleId::C006,
                            "no acknowledgement was lost (the fault plan's drop-ack never applied to this organisation's archiving)".into(),
                        );
                        archive.first().copied()
                    }
                    Some(i) => {
                        let l = archive[i];
                        match archive[i + 1..].iter().find(|r| r.injected().is_none()) {
                            None => fail(
                                RuleId::C006,
                                format!(
                                    "the acknowledgement of {} was lost and nothing was sent again within {waited_secs} s; the system cannot know that the document was archived",
                                    l.document().map_or_else(
                                        || "the document".to_owned(),
                                        |d| format!("{} version {}", d.0, d.1)
                                    )
                                ),
                            ),
                            Some(again) if !again.same_as(l) => fail(
                                RuleId::C006,
                                format!(
                                    "the resend is another message about another document ({}): {}; the archive now holds the content twice",
                                    again.document().map_or_else(
                                        || "no document".to_owned(),
                                        |d| format!("{} version {}", d.0, d.1)
                                    ),
                                    again.describe()
                                ),
                            ),
                            Some(again) if again.ack() == Some("AA") => {}
                            Some(again) => {
                                let codes = &again.ex.record.codes;
                                if !codes
                                    .iter()
                                    .any(|c| matches!(c, RuleId::W016 | RuleId::L001))
                                {
                                    fail(
                                        RuleId::C006,
                                        format!(
                                            "the resend was refused for another reason ({}): {}",
                                            RuleId::join(codes),
                                            again.describe()
                                        ),
                                    );
                                }
                            }
                        }
                        Some(l)
                    }
                }
            }
            Behaviour::HonourRetryAfter => {
                let busy = archive.iter().position(|r| r.injected() == Some("busy"));
                match busy {
                    None => {
                        fail(
                            RuleId::C007,
                            "the archive never answered 503 (the fault plan's busy never applied to this organisation's archiving)".into(),
                        );
                        archive.first().copied()
                    }
                    Some(i) => {
                        let next = archive[i + 1..]
                            .iter()
                            .find(|r| r.injected().is_none())
                            .copied();
                        // The 503 just before the resend is the one it had to honour.
                        let b = archive[..next.map_or(archive.len(), |n| {
                            archive
                                .iter()
                                .position(|r| std::ptr::eq(*r, n))
                                .unwrap_or(archive.len())
                        })]
                            .iter()
                            .rev()
                            .find(|r| r.injected() == Some("busy"))
                            .copied()
                            .unwrap_or(archive[i]);
                        let asked = Duration::seconds(
                            i64::try_from(b.injected_u64("retry_after_secs").unwrap_or(0))
                                .unwrap_or(0),
                        );
                        match next {
                            None => fail(
                                RuleId::C007,
                                format!(
                                    "after the 503 (Retry-After: {} s) nothing was sent again within {waited_secs} s",
                                    asked.whole_seconds()
                                ),
                            ),
                            Some(n) if n.arrived() + CLOCK_SLACK < b.answered() + asked => fail(
                                RuleId::C007,
                                format!(
                                    "sent again {} after a 503 that asked for Retry-After: {} s ({})",
                                    secs(n.arrived() - b.answered()),
                                    asked.whole_seconds(),
                                    n.describe()
                                ),
                            ),
                            Some(_) => {}
                        }
                        next
                    }
                }
            }
            Behaviour::NoParallelSends => {
                if !archive.iter().any(|r| r.injected() == Some("delay")) {
                    fail(
                        RuleId::C008,
                        "the archive never answered slowly (the fault plan's delay never applied to this organisation's archiving)".into(),
                    );
                }
                archive
                    .iter()
                    .find(|r| r.ack() == Some("AA"))
                    .or_else(|| archive.first())
                    .copied()
            }
        };
        let mut out = match decisive {
            Some(r) => engine::judge(step, r.ex, labels),
            None => StepOutcome {
                verdict: Verdict::Failed,
                reasons: Vec::new(),
                findings: Vec::new(),
                checks: Vec::new(),
                evidence: None,
            },
        };
        // The report shows every fault the step met, with its plan entry, and each send; a
        // step that met none showed nothing (each behaviour above also says so as a reason).
        let injected: Vec<String> = rows
            .iter()
            .filter(|r| r.injected().is_some())
            .map(|r| format!("#{} {}", r.ex.id, r.ex.record.summary))
            .collect();
        let sends: Vec<String> = archive
            .iter()
            .map(|r| {
                format!(
                    "#{} arrived {} answered {}",
                    r.ex.id,
                    r.arrived().time(),
                    r.answered().time()
                )
            })
            .collect();
        out.checks.push(engine::CheckResult {
            description: "the step met the faults it is about".into(),
            passed: !injected.is_empty(),
            found: format!(
                "faults: {}; sends: {}",
                if injected.is_empty() {
                    "none".to_owned()
                } else {
                    injected.join("; ")
                },
                if sends.is_empty() {
                    "none".to_owned()
                } else {
                    sends.join("; ")
                }
            ),
        });
        if !reasons.is_empty() {
            out.verdict = Verdict::Failed;
            // The behaviour first: it is what the step is about.
            reasons.append(&mut out.reasons);
            out.reasons = reasons;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ExchangeRecord;
    use crate::cases::{Action, Expect};

    const ORG: &str = "1.2.246.10.99900016.10.0";

    fn step(b: Behaviour) -> Step {
        Step {
            id: "s".into(),
            title_fi: String::new(),
            title_en: String::new(),
            title_sv: None,
            action: Action::Archive,
            document: Some(crate::cases::DocKind::ClientRelationship),
            person: Some("300608A906F".into()),
            org: None,
            organiser: None,
            label: Some("d".into()),
            of: None,
            query: None,
            certificate: None,
            reason: None,
            expect: Expect::Accepted,
            rule: None,
            deviation: None,
            timeout_secs: None,
            check: vec![],
            faults: vec![],
            behaviour: Some(b),
        }
    }

    /// An archive exchange answered at `at_ms` after `took_ms`.
    fn row(
        id: i64,
        at_ms: i64,
        took_ms: u64,
        ack: &str,
        msg: &str,
        injected: Option<serde_json::Value>,
        codes: Vec<RuleId>,
    ) -> Arc<StoredExchange> {
        let mut detail = serde_json::json!({
            "ack": ack,
            "use_case": { "use_case": "archive" },
            "document": { "oid": "1.2.3.4", "set_id": "1.2.3.4", "version": 1,
                          "client_id": "300608A906F", "document_group": "1" },
        });
        if let Some(i) = injected {
            detail["injected"] = i;
        }
        Arc::new(StoredExchange {
            id,
            record: ExchangeRecord {
                at: OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(at_ms),
                listener: "strict".into(),
                peer: "127.0.0.1:1".into(),
                kind: ExchangeKind::Http,
                outcome: "accepted".into(),
                codes,
                summary: format!("{ack} #{id}"),
                detail,
                cert_subject: None,
                cert_sha256: None,
                org_oid: Some(ORG.into()),
                method: Some("POST".into()),
                path: Some("/archive".into()),
                status: Some(if ack.is_empty() { 503 } else { 200 }),
                request: None,
                response: None,
                duration_ms: Some(took_ms),
                message_id: Some(("1.2.99".into(), msg.into())),
            },
            repeats: 0,
            last_at: None,
        })
    }

    fn injected(kind: &str) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "kind": kind, "retry_after_secs": 5, "delay_ms": 3000 }))
    }

    fn reset(id: i64, at_ms: i64) -> Arc<StoredExchange> {
        let mut r = (*row(id, at_ms, 0, "", "-", injected("reset"), vec![RuleId::F001])).clone();
        r.record.kind = ExchangeKind::Handshake;
        r.record.path = None;
        r.record.detail = serde_json::json!({ "injected": { "kind": "reset" } });
        Arc::new(r)
    }

    fn judge(b: Behaviour, rows: Vec<Arc<StoredExchange>>) -> StepOutcome {
        let mut w = Watch::new(b);
        for r in rows {
            w.feed(r);
        }
        w.finish(&step(b), &mut Labels::new(), 60)
    }

    fn codes(o: &StepOutcome) -> Vec<RuleId> {
        o.reasons.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_delivery_after_the_break_passes_and_binds_the_label() {
        let mut labels = Labels::new();
        let mut w = Watch::new(Behaviour::DeliverAfterBreak);
        assert_eq!(w.feed(reset(1, 0)), Progress::More);
        assert_eq!(w.feed(reset(2, 2_000)), Progress::More);
        assert_eq!(
            w.feed(row(3, 31_000, 40, "AA", "m1", None, vec![])),
            Progress::Settle
        );
        let o = w.finish(&step(Behaviour::DeliverAfterBreak), &mut labels, 60);
        assert_eq!(o.verdict, Verdict::Passed, "{:?}", o.reasons);
        assert!(labels.contains_key("d"));
    }

    #[test]
    fn giving_up_during_the_break_fails_with_c005_and_says_what_was_expected() {
        let o = judge(Behaviour::DeliverAfterBreak, vec![reset(1, 0)]);
        assert_eq!(o.verdict, Verdict::Failed);
        assert_eq!(codes(&o), vec![RuleId::C005]);
        assert!(o.reasons[0].message.contains("1 attempt(s) met the break"));
        assert!(
            o.reasons[0]
                .message
                .contains("Expected: the archive is unavailable")
        );
        // Sent only after the break: nothing was shown.
        let o = judge(
            Behaviour::DeliverAfterBreak,
            vec![row(1, 40_000, 30, "AA", "m1", None, vec![])],
        );
        assert_eq!(codes(&o), vec![RuleId::C005]);
    }

    #[test]
    fn a_resend_recognised_as_the_same_message_passes_another_document_fails() {
        let lost = row(
            1,
            1_000,
            50,
            "AA",
            "m1",
            injected("drop-ack"),
            vec![RuleId::F001],
        );
        let again = row(2, 3_000, 30, "AE", "m1", None, vec![RuleId::W016]);
        let o = judge(Behaviour::ResendAfterLostAck, vec![lost.clone(), again]);
        assert_eq!(o.verdict, Verdict::Passed, "{:?}", o.reasons);

        let mut other = (*row(2, 3_000, 30, "AA", "m2", None, vec![])).clone();
        other.record.detail["document"]["oid"] = "1.2.3.5".into();
        let o = judge(
            Behaviour::ResendAfterLostAck,
            vec![lost.clone(), Arc::new(other)],
        );
        assert_eq!(codes(&o), vec![RuleId::C006]);
        assert!(o.reasons[0].message.contains("holds the content twice"));

        let o = judge(Behaviour::ResendAfterLostAck, vec![lost]);
        assert_eq!(codes(&o), vec![RuleId::C006]);
        assert!(o.reasons[0].message.contains("nothing was sent again"));
    }

    #[test]
    fn retry_after_is_judged_from_the_arrival_of_the_resend() {
        let busy = row(1, 1_000, 5, "", "m1", injected("busy"), vec![RuleId::F001]);
        // Arrived 5.1 s after the 503 was answered: honoured.
        let ok = row(2, 6_140, 40, "AA", "m1", None, vec![]);
        let o = judge(Behaviour::HonourRetryAfter, vec![busy.clone(), ok]);
        assert_eq!(o.verdict, Verdict::Passed, "{:?}", o.reasons);
        // Arrived 0.5 s after: not.
        let soon = row(2, 1_540, 40, "AA", "m1", None, vec![]);
        let o = judge(Behaviour::HonourRetryAfter, vec![busy, soon]);
        assert_eq!(codes(&o), vec![RuleId::C007]);
        assert!(o.reasons[0].message.contains("Retry-After: 5 s"));
    }

    #[test]
    fn the_same_message_on_two_connections_at_once_is_c008() {
        // The parallel send is answered first (AA); the slow one after (W-016).
        let parallel = row(1, 1_200, 40, "AA", "m1", None, vec![]);
        let slow = row(
            2,
            3_000,
            3_000,
            "AE",
            "m1",
            injected("delay"),
            vec![RuleId::F001, RuleId::W016],
        );
        let mut w = Watch::new(Behaviour::NoParallelSends);
        assert_eq!(w.feed(parallel), Progress::More);
        assert_eq!(w.feed(slow), Progress::Settle);
        let o = w.finish(&step(Behaviour::NoParallelSends), &mut Labels::new(), 60);
        assert_eq!(codes(&o), vec![RuleId::C008]);
        // Waiting for the slow answer passes.
        let slow = row(
            1,
            3_000,
            3_000,
            "AA",
            "m1",
            injected("delay"),
            vec![RuleId::F001],
        );
        let o = judge(Behaviour::NoParallelSends, vec![slow]);
        assert_eq!(o.verdict, Verdict::Passed, "{:?}", o.reasons);
    }

    #[test]
    fn nothing_seen_is_a_timeout() {
        let o = Watch::new(Behaviour::HonourRetryAfter).finish(
            &step(Behaviour::HonourRetryAfter),
            &mut Labels::new(),
            30,
        );
        assert_eq!(o.verdict, Verdict::TimedOut);
    }
}
