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
    let lang = r.lang;
    let labels: serde_json::Map<String, serde_json::Value> = LABELS
        .iter()
        .map(|(k, fi, sv, en)| {
            let text = match lang {
                Lang::Fi => fi,
                Lang::Sv => sv,
                Lang::En => en,
            };
            ((*k).to_owned(), (*text).into())
        })
        .collect();
    // Titles in the report's language (Swedish where the case has it, English otherwise).
    let title = |v: &serde_json::Value| -> serde_json::Value {
        let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        match lang {
            Lang::Fi => get("title_fi"),
            Lang::Sv => get("title_sv").or_else(|| get("title_en")),
            Lang::En => get("title_en"),
        }
        .unwrap_or_default()
        .into()
    };
    if let Some(cases) = ctx.get_mut("cases").and_then(|c| c.as_array_mut()) {
        for c in cases.iter_mut() {
            let t = title(c);
            c["title"] = t;
            if let Some(steps) = c.get_mut("steps").and_then(|s| s.as_array_mut()) {
                for s in steps.iter_mut() {
                    let t = title(s);
                    s["title"] = t;
                }
            }
        }
    }
    Ok(t.render(minijinja::context! {
        r => ctx,
        L => labels,
        lang => lang.code(),
        disclaimer => crate::cases::disclaimer(lang),
        other_disclaimer => if lang == Lang::Fi { DISCLAIMER_EN } else { DISCLAIMER_FI },
    })?)
}

use crate::cases::{DISCLAIMER_EN, DISCLAIMER_FI};
use crate::lang::Lang;

/// (key, fi, sv, en)
const LABELS: &[(&str, &str, &str, &str)] = &[
    (
        "heading",
        "kanta-sim-esitestausraportti",
        "kanta-sim förtestrapport",
        "kanta-sim pre-test report",
    ),
    (
        "subtitle",
        "Esitestausraportti",
        "Förtestrapport",
        "Esitestausraportti (pre-test report)",
    ),
    ("run", "ajo", "körning", "run"),
    (
        "not_kela",
        "Ei Kelan lausunto.",
        "Inte ett uttalande av FPA.",
        "Not a Kela statement.",
    ),
    (
        "deviations",
        "Tahalliset poikkeamat:",
        "Avsiktliga avvikelser:",
        "Deliberate deviations:",
    ),
    (
        "told_to",
        "viitejärjestelmää pyydettiin",
        "referensklienten ombads",
        "the reference client was told to",
    ),
    ("at", "kohdassa", "vid", "at"),
    ("leave_out", "jättämään pois", "utelämna", "leave out"),
    ("summary", "Yhteenveto", "Sammanfattning", "Summary"),
    ("all_passed", "KAIKKI LÄPI", "ALLT GODKÄNT", "ALL PASSED"),
    ("timed_out", "AIKAKATKAISU", "TIDSGRÄNS", "TIMED OUT"),
    ("failed_all", "HYLÄTTY", "UNDERKÄNT", "FAILED"),
    ("of", "/", "av", "of"),
    (
        "cases_passed",
        "tapausta läpi",
        "fall godkända",
        "case(s) passed",
    ),
    (
        "steps_passed",
        "vaihetta läpi",
        "steg godkända",
        "step(s) passed",
    ),
    (
        "cases_timed_out",
        "tapausta odotti testattavaa järjestelmää liian kauan",
        "fall väntade för länge på systemet som testas",
        "case(s) timed out waiting for the system under test",
    ),
    ("case", "Tapaus", "Fall", "Case"),
    ("title", "Otsikko", "Rubrik", "Title"),
    (
        "organisation",
        "Organisaatio",
        "Organisation",
        "Organisation",
    ),
    ("steps", "Vaiheet", "Steg", "Steps"),
    ("verdict", "Tulos", "Resultat", "Verdict"),
    (
        "first_failure",
        "Ensimmäinen virhe",
        "Första felet",
        "First failure",
    ),
    ("as", "organisaationa", "som", "as"),
    ("step", "vaihe", "steg", "step"),
    ("expected", "odotettu", "förväntat", "expected"),
    (
        "why",
        "Miksi hylättiin",
        "Varför underkänt",
        "Why it failed",
    ),
    ("where", "Missä", "Var", "Where"),
    ("what", "Mitä", "Vad", "What"),
    (
        "finding",
        "Arkiston havainto",
        "Arkivets iakttagelse",
        "Archive finding",
    ),
    ("severity", "Vakavuus", "Allvarlighet", "Severity"),
    ("location", "Sijainti", "Plats", "Location"),
    ("message", "Viesti", "Meddelande", "Message"),
    (
        "check",
        "Arkiston tilan tarkistus",
        "Kontroll av arkivets tillstånd",
        "Archive state check",
    ),
    ("result", "Tulos", "Resultat", "Result"),
    ("found", "Havaittu", "Funnet", "Found"),
    ("ok", "ok", "ok", "ok"),
    ("check_failed", "hylätty", "underkänd", "failed"),
    ("exchange", "Vaihto", "Utbyte", "Exchange"),
    ("transcript", "Sanomat", "Meddelanden", "Message transcript"),
    ("request", "Pyyntö", "Begäran", "Request"),
    ("response", "Vastaus", "Svar", "Response"),
    ("bytes", "tavua", "byte", "bytes"),
    ("inputs", "Syötteet", "Indata", "Inputs"),
    (
        "suite_version",
        "Testisarjan versio",
        "Testsvitens version",
        "Suite version",
    ),
    ("seed", "Siemen", "Frö", "Seed"),
    ("passed", "läpi", "godkänd", "passed"),
    ("failed", "hylätty", "underkänd", "failed"),
    ("timed-out", "aikakatkaisu", "tidsgräns", "timed out"),
    ("not-run", "ei ajettu", "inte körd", "not run"),
];
