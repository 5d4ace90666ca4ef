//! The pass report of a run, in three forms: `report.json` (the documented schema, see
//! docs/REPORT.md), `junit.xml` (one testcase per step) and a self-contained `report.html`
//! a person can read, print and send on. Message transcripts are written beside them under
//! `evidence/` and referenced by path and SHA-256. Every form says plainly that this is a
//! simulator's pre-test result, not a statement by Kela.

mod html;
mod junit;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::cases::{DISCLAIMER_EN, DISCLAIMER_FI};
use crate::finding::Finding;
use crate::pki::sha256_hex;
use crate::testcase::engine::{CheckResult, Evidence, Verdict};
use crate::testcase::run::RunResult;

/// The schema id of `report.json`.
pub const SCHEMA: &str = "kanta-sim/report/1";

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTML template failed.
    #[error("rendering the HTML report: {0}")]
    Html(#[from] minijinja::Error),
    /// The report could not become the template's input.
    #[error("rendering the HTML report: {0}")]
    Json(#[from] serde_json::Error),
    /// JUnit serialisation failed.
    #[error("writing JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
}

/// The tool.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// `kanta-sim`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One input that determined the run.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// Where it came from.
    pub source: String,
    /// SHA-256 of its text.
    pub sha256: String,
}

/// Counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Cases run.
    pub cases: usize,
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases where the system under test did not act in time.
    pub timed_out: usize,
    /// Steps in all.
    pub steps: usize,
    /// Steps passed.
    pub steps_passed: usize,
}

/// A transcript file.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceFile {
    /// Path relative to the report directory.
    pub path: String,
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: usize,
}

/// The exchange behind a step.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceReport {
    /// The exchange as the engine saw it (exchange-log id, time, kind, summary, status,
    /// acknowledgement, rule ids); its bodies go to the evidence files.
    #[serde(flatten)]
    pub exchange: Evidence,
    /// The request as received.
    pub request: Option<EvidenceFile>,
    /// The response as sent.
    pub response: Option<EvidenceFile>,
    /// The first part of the request, for the HTML transcript.
    #[serde(skip)]
    pub request_excerpt: String,
    /// The first part of the response.
    #[serde(skip)]
    pub response_excerpt: String,
}

/// One step in the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// Finnish title.
    pub title_fi: String,
    /// English title.
    pub title_en: String,
    /// Swedish title, where the case has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_sv: Option<String>,
    /// Action.
    pub action: String,
    /// What was expected, in words.
    pub expected: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why it failed.
    pub reasons: Vec<Finding>,
    /// Every finding the archive reported.
    pub findings: Vec<Finding>,
    /// Archive-state checks.
    pub checks: Vec<CheckResult>,
    /// The exchange.
    pub evidence: Option<EvidenceReport>,
}

/// One case in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// `SIM-…` id.
    pub id: String,
    /// Suite.
    pub suite: String,
    /// Finnish title.
    pub title_fi: String,
    /// English title.
    pub title_en: String,
    /// Swedish title, where the case has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_sv: Option<String>,
    /// Phase.
    pub phase: String,
    /// What it shows.
    pub summary_en: String,
    /// The organisation it ran as.
    pub org: String,
    /// Verdict.
    pub verdict: Verdict,
    /// When it started.
    pub started_at: String,
    /// Milliseconds (0 with a fixed clock).
    pub duration_ms: u64,
    /// Steps.
    pub steps: Vec<StepReport>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The language of `report.html` (the JSON and JUnit reports are language-neutral).
    #[serde(skip)]
    pub lang: crate::lang::Lang,
    /// [`SCHEMA`].
    pub schema: String,
    /// Run id (from the seed).
    pub run_id: String,
    /// The tool.
    pub tool: Tool,
    /// `self-driven` or `live`.
    pub mode: String,
    /// Suite name.
    pub suite: String,
    /// SHA-256 over the cases' hashes: the suite's version.
    pub suite_sha256: String,
    /// Seed of the reference client.
    pub seed: u64,
    /// Whether the clock was fixed (timestamps and durations are then not measured).
    pub fixed_clock: bool,
    /// Start.
    pub started_at: String,
    /// End.
    pub finished_at: String,
    /// Every case file with its hash.
    pub inputs: Vec<Input>,
    /// Counts.
    pub totals: Totals,
    /// 0, 3 or 4 (see the README's exit codes).
    pub exit_code: u8,
    /// Cases.
    pub cases: Vec<CaseReport>,
    /// Deviations the reference client was told to make (a deliberately failing run says
    /// so in its report).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deviations: Vec<AppliedDeviation>,
    /// Steps the reference client was told to leave out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_steps: Vec<StepRef>,
    /// English disclaimer.
    pub disclaimer_en: String,
    /// Finnish disclaimer.
    pub disclaimer_fi: String,
}

/// A deviation applied at a step.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedDeviation {
    /// Case id.
    pub case: String,
    /// Step id.
    pub step: String,
    /// The deviation's name (`bad-signature`).
    pub deviation: String,
    /// What it does.
    pub what: String,
}

/// A step named by case and step id.
#[derive(Debug, Clone, Serialize)]
pub struct StepRef {
    /// Case id.
    pub case: String,
    /// Step id.
    pub step: String,
}

fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 16_000;
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX {
        return text.into_owned();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n… ({} bytes in all; the whole message is in the evidence file)",
        &text[..cut],
        bytes.len()
    )
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Report {
    /// The report of `run`. Evidence files are named here and written by [`Report::write`].
    pub fn from_run(run: &RunResult) -> (Self, Vec<(String, Vec<u8>)>) {
        let mut files = Vec::new();
        let mut cases = Vec::new();
        for (ci, c) in run.cases.iter().enumerate() {
            let mut steps = Vec::new();
            for (si, (step, o)) in c.case.steps.iter().zip(&c.steps).enumerate() {
                let evidence = o.evidence.as_ref().map(|e| {
                    let dir = format!("evidence/{:02}-{}", ci + 1, c.case.id);
                    let mut file = |suffix: &str, bytes: &[u8]| -> Option<EvidenceFile> {
                        if bytes.is_empty() {
                            return None;
                        }
                        let ext = if bytes.starts_with(b"{") {
                            "json"
                        } else if bytes.starts_with(b"<") {
                            "xml"
                        } else {
                            "txt"
                        };
                        let path = format!("{dir}/{:02}-{}-{suffix}.{ext}", si + 1, step.id);
                        files.push((path.clone(), bytes.to_vec()));
                        Some(EvidenceFile {
                            path,
                            sha256: sha256_hex(bytes),
                            bytes: bytes.len(),
                        })
                    };
                    EvidenceReport {
                        exchange: Evidence {
                            at: if run.fixed_clock {
                                rfc3339(run.started_at)
                            } else {
                                e.at.clone()
                            },
                            // The bodies are in the evidence files.
                            request: Vec::new(),
                            response: Vec::new(),
                            ..e.clone()
                        },
                        request: file("request", &e.request),
                        response: file("response", &e.response),
                        request_excerpt: excerpt(&e.request),
                        response_excerpt: excerpt(&e.response),
                    }
                });
                steps.push(StepReport {
                    id: step.id.clone(),
                    title_fi: step.title_fi.clone(),
                    title_en: step.title_en.clone(),
                    title_sv: step.title_sv.clone(),
                    action: step.action.as_str().to_owned(),
                    expected: match (&step.expect, &step.rule) {
                        (crate::testcase::Expect::Rejected, Some(r)) => {
                            format!("rejected with {r}")
                        }
                        _ => "accepted".into(),
                    },
                    verdict: o.verdict,
                    reasons: o.reasons.clone(),
                    findings: o.findings.clone(),
                    checks: o.checks.clone(),
                    evidence,
                });
            }
            cases.push(CaseReport {
                id: c.case.id.clone(),
                suite: c.case.suite.clone(),
                title_fi: c.case.title_fi.clone(),
                title_en: c.case.title_en.clone(),
                title_sv: c.case.title_sv.clone(),
                phase: c.case.phase.clone(),
                summary_en: c.case.summary_en.clone(),
                org: c.org.clone(),
                verdict: c.verdict(),
                started_at: if run.fixed_clock {
                    rfc3339(run.started_at)
                } else {
                    c.started_at.clone()
                },
                duration_ms: c.duration_ms,
                steps,
            });
        }
        let totals = Totals {
            cases: cases.len(),
            passed: cases
                .iter()
                .filter(|c| c.verdict == Verdict::Passed)
                .count(),
            failed: cases
                .iter()
                .filter(|c| c.verdict == Verdict::Failed)
                .count(),
            timed_out: cases
                .iter()
                .filter(|c| c.verdict == Verdict::TimedOut)
                .count(),
            steps: cases.iter().map(|c| c.steps.len()).sum(),
            steps_passed: cases
                .iter()
                .flat_map(|c| &c.steps)
                .filter(|s| s.verdict == Verdict::Passed)
                .count(),
        };
        let suite_sha256 = sha256_hex(
            run.inputs
                .iter()
                .map(|(_, h)| h.as_str())
                .collect::<Vec<_>>()
                .join("\n")
                .as_bytes(),
        );
        let report = Self {
            schema: SCHEMA.into(),
            run_id: format!("run-{:016x}", run.seed),
            tool: Tool {
                name: "kanta-sim".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            mode: if run.self_drive {
                "self-driven".into()
            } else {
                "live".into()
            },
            suite: run.suite.clone(),
            suite_sha256,
            seed: run.seed,
            fixed_clock: run.fixed_clock,
            started_at: rfc3339(run.started_at),
            finished_at: rfc3339(run.finished_at),
            inputs: run
                .inputs
                .iter()
                .map(|(s, h)| Input {
                    source: s.clone(),
                    sha256: h.clone(),
                })
                .collect(),
            totals,
            exit_code: run.exit_code(),
            cases,
            deviations: run
                .deviations
                .iter()
                .map(|((case, step), d)| AppliedDeviation {
                    case: case.clone(),
                    step: step.clone(),
                    deviation: d.name().into(),
                    what: d.describe().into(),
                })
                .collect(),
            skipped_steps: run
                .skips
                .iter()
                .map(|(case, step)| StepRef {
                    case: case.clone(),
                    step: step.clone(),
                })
                .collect(),
            disclaimer_en: DISCLAIMER_EN.into(),
            disclaimer_fi: DISCLAIMER_FI.into(),
            lang: crate::lang::Lang::En,
        };
        (report, files)
    }

    /// `report.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// `junit.xml`.
    pub fn to_junit(&self) -> Result<String, ReportError> {
        junit::render(self)
    }

    /// `report.html`.
    pub fn to_html(&self) -> Result<String, ReportError> {
        html::render(self)
    }

    /// Writes the three reports and the evidence into `dir`; `junit`/`json` also copy those
    /// reports to the given paths. Returns the paths written.
    pub fn write(
        &self,
        files: &[(String, Vec<u8>)],
        dir: Option<&Path>,
        junit: Option<&Path>,
        json: Option<&Path>,
    ) -> Result<Vec<PathBuf>, ReportError> {
        let write = |path: &Path, bytes: &[u8]| -> Result<(), ReportError> {
            let err = |source| ReportError::Write {
                path: path.to_owned(),
                source,
            };
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            // Written whole and renamed, so a CI step never reads half a report.
            let tmp = path.with_extension("partial");
            std::fs::write(&tmp, bytes).map_err(err)?;
            std::fs::rename(&tmp, path).map_err(err)
        };
        let json_text = self.to_json();
        let junit_text = self.to_junit()?;
        let mut written = Vec::new();
        if let Some(dir) = dir {
            for (rel, bytes) in files {
                write(&dir.join(rel), bytes)?;
            }
            let html = self.to_html()?;
            for (name, text) in [
                ("report.json", &json_text),
                ("junit.xml", &junit_text),
                ("report.html", &html),
            ] {
                let p = dir.join(name);
                write(&p, text.as_bytes())?;
                written.push(p);
            }
        }
        for (path, text) in [(junit, &junit_text), (json, &json_text)] {
            if let Some(p) = path {
                write(p, text.as_bytes())?;
                written.push(p.to_owned());
            }
        }
        Ok(written)
    }
}
