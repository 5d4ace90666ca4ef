//! `report.html`: one self-contained page (inline CSS, no scripts, no external loads),
//! rendered by minijinja with HTML auto-escaping, so nothing a client system sent can become
//! markup.

use super::{Report, ReportError};

const TEMPLATE: &str = include_str!("report.html");

pub(super) fn render(r: &Report) -> Result<String, ReportError> {
    let mut env = minijinja::Environment::new();
    // The `.html` name turns on HTML auto-escaping for every value.
    env.add_template("report.html", TEMPLATE)?;
    let t = env.get_template("report.html")?;
    let mut ctx = serde_json::to_value(r)?;
    // Transcript excerpts are not in the JSON schema; add them for the page.
    if let Some(cases) = ctx.get_mut("cases").and_then(|c| c.as_array_mut()) {
        for (c, case) in cases.iter_mut().zip(&r.cases) {
            let Some(steps) = c.get_mut("steps").and_then(|s| s.as_array_mut()) else {
                continue;
            };
            for (s, step) in steps.iter_mut().zip(&case.steps) {
                if let (Some(ev), Some(e)) = (
                    s.get_mut("evidence").and_then(|e| e.as_object_mut()),
                    &step.evidence,
                ) {
                    ev.insert("request_excerpt".into(), e.request_excerpt.clone().into());
                    ev.insert("response_excerpt".into(), e.response_excerpt.clone().into());
                }
            }
        }
    }
    Ok(t.render(minijinja::context! { r => ctx })?)
}
