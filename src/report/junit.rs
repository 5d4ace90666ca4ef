//! JUnit XML (quick-junit): a test suite per case, a test case per step, so a CI server
//! shows exactly which step of which case failed and with which rule id.

use quick_junit::{
    NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite,
};

use super::{Report, ReportError};
use crate::testcase::engine::Verdict;

pub(super) fn render(r: &Report) -> Result<String, ReportError> {
    let mut report = JReport::new(format!("kanta-sim {}", r.suite));
    for c in &r.cases {
        let mut suite = TestSuite::new(format!("{} {}", c.id, c.title_en));
        suite.add_property(Property::new("organisation", c.org.clone()));
        suite.add_property(Property::new("phase", c.phase.clone()));
        for d in r.deviations.iter().filter(|d| d.case == c.id) {
            suite.add_property(Property::new(
                "deviation",
                format!("{}={}", d.step, d.deviation),
            ));
        }
        for k in r.skipped_steps.iter().filter(|k| k.case == c.id) {
            suite.add_property(Property::new("skipped-step", k.step.clone()));
        }
        for s in &c.steps {
            let status = match s.verdict {
                Verdict::Passed => TestCaseStatus::success(),
                Verdict::NotRun => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message("not run: an earlier step of the case failed");
                    st
                }
                Verdict::Failed | Verdict::TimedOut => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let first = s
                        .reasons
                        .iter()
                        .find(|f| f.code.class() != 'C')
                        .or(s.reasons.first());
                    st.set_message(crate::finding::Finding::one_line(&s.reasons));
                    if let Some(f) = first {
                        st.set_type(f.code.as_str());
                    }
                    let mut text = String::new();
                    for f in &s.findings {
                        text.push_str(&format!(
                            "{} {} at {}: {}\n",
                            f.code,
                            if f.is_error() { "error" } else { "warning" },
                            f.location,
                            f.message
                        ));
                    }
                    for ch in s.checks.iter().filter(|c| !c.passed) {
                        text.push_str(&format!("check failed: {}: {}\n", ch.description, ch.found));
                    }
                    st.set_description(text);
                    st
                }
            };
            let mut tc = TestCase::new(format!("{} {}", s.id, s.title_en), status);
            tc.set_classname(c.id.clone());
            if let Some(e) = &s.evidence {
                tc.set_system_out(format!(
                    "exchange {} ({}): {}",
                    e.exchange.exchange_id, e.exchange.kind, e.exchange.summary
                ));
            }
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}
