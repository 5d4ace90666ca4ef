//! The test-case engine end to end: every suite self-driven passes; a deliberately broken
//! reference client fails the right step with the right rule id and exit code 3; a live run
//! waits for an external client and finishes when it has done the steps, or exits 4; the
//! reports are golden (JSON, JUnit) and the HTML carries the key facts and parses in
//! Chromium.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kanta-sim")
}

fn kit_dir() -> PathBuf {
    kit("testcases").0.clone()
}

fn run(args: &[&str], out: &Path) -> (i32, String) {
    let o = Command::new(bin())
        .arg("run")
        .args(["--certs"])
        .arg(kit_dir())
        .args(if args.contains(&"--step-timeout") {
            &[][..]
        } else {
            &["--step-timeout", "20"][..]
        })
        .args(args)
        .current_dir(out)
        .env("CI", "true")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_suite_passes_self_driven_with_three_reports() {
    let tmp = tempfile::tempdir().unwrap();
    for suite in ["pre-test", "joint-test", "negative", "deployment-test"] {
        let (code, err) = run(
            &["--suite", suite, "--self-drive", "--report-dir", suite],
            tmp.path(),
        );
        assert_eq!(code, 0, "{suite}: {err}");
        let dir = tmp.path().join(suite);
        for f in ["report.json", "junit.xml", "report.html"] {
            assert!(dir.join(f).is_file(), "{suite}: {f}");
        }
        let r = report(&dir);
        assert_eq!(r["exit_code"], 0);
        assert_eq!(r["totals"]["passed"], r["totals"]["cases"], "{suite}");
        assert!(r["totals"]["cases"].as_u64().unwrap() >= 1);
        // Every step has its exchange as evidence, and the files exist.
        for c in r["cases"].as_array().unwrap() {
            for s in c["steps"].as_array().unwrap() {
                let ev = &s["evidence"];
                assert!(ev["exchange_id"].as_i64().is_some(), "{suite} {}", s["id"]);
                if let Some(p) = ev["request"]["path"].as_str() {
                    assert!(dir.join(p).is_file(), "{p}");
                }
            }
        }
    }
}

#[test]
fn a_broken_client_fails_the_right_step_with_the_right_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        // (case, step, how it breaks, expected rule ids in the failed step's reasons)
        (
            vec![
                "--case",
                "SIM-PRE-01",
                "--deviate",
                "SIM-PRE-01:archive=unsigned",
            ],
            "archive",
            "G-001",
        ),
        (
            vec![
                "--case",
                "SIM-PRE-01",
                "--deviate",
                "SIM-PRE-01:archive=bad-signature",
            ],
            "archive",
            "G-009",
        ),
        (
            vec![
                "--case",
                "SIM-PRE-01",
                "--deviate",
                "SIM-PRE-01:archive=real-identity-code",
            ],
            "archive",
            "P-002",
        ),
        (
            vec!["--case", "SIM-PRE-03", "--skip", "SIM-PRE-03:archive"],
            "archive",
            "C-001",
        ),
    ];
    for (i, (args, step, rule)) in cases.iter().enumerate() {
        let dir = format!("r{i}");
        let mut a = vec!["--suite", "pre-test", "--self-drive", "--report-dir", &dir];
        a.extend(args.iter().copied());
        let (code, err) = run(&a, tmp.path());
        assert_eq!(code, 3, "{args:?}: {err}");
        let r = report(&tmp.path().join(&dir));
        let steps = r["cases"][0]["steps"].as_array().unwrap();
        let failed: Vec<&serde_json::Value> =
            steps.iter().filter(|s| s["verdict"] == "failed").collect();
        assert_eq!(failed.len(), 1, "{args:?}");
        assert_eq!(failed[0]["id"], *step);
        let codes: Vec<&str> = failed[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(rule), "{args:?}: {codes:?}");
        // Later steps are reported as not run, and JUnit names the rule as the failure type.
        assert!(
            steps
                .iter()
                .skip_while(|s| s["verdict"] != "failed")
                .skip(1)
                .all(|s| s["verdict"] == "not-run")
        );
        let junit = std::fs::read_to_string(tmp.path().join(&dir).join("junit.xml")).unwrap();
        assert!(junit.contains(&format!("type=\"{rule}\"")), "{junit}");
    }
    // A negative case that is NOT broken as it should be fails too: the archive accepted.
    let (code, _) = run(
        &[
            "--suite",
            "negative",
            "--case",
            "SIM-NEG-06",
            "--self-drive",
            "--report-dir",
            "neg",
            "--deviate",
            "SIM-NEG-06:archive=missing-set-id",
        ],
        tmp.path(),
    );
    assert_eq!(code, 3);
    let r = report(&tmp.path().join("neg"));
    let reasons = r["cases"][0]["steps"][0]["reasons"].to_string();
    assert!(
        reasons.contains("C-004") && reasons.contains("W-012"),
        "{reasons}"
    );
}

fn normalise(json: &str) -> String {
    // Transcripts carry signing times and the archive's own timestamps: their hashes vary.
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    for c in v["cases"].as_array_mut().unwrap() {
        for s in c["steps"].as_array_mut().unwrap() {
            for part in ["request", "response"] {
                if let Some(f) = s["evidence"].get_mut(part).and_then(|f| f.as_object_mut()) {
                    f.insert("sha256".into(), "…".into());
                    f.insert("bytes".into(), 0.into());
                }
            }
        }
    }
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

#[test]
fn reports_are_golden_given_a_seed_and_a_fixed_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--suite",
        "pre-test",
        "--self-drive",
        "--seed",
        "7",
        "--clock",
        "2026-11-23T10:00:00Z",
        "--deviate",
        "SIM-PRE-02:archive=wrong-receiver",
    ];
    let (code, err) = run(&[&args[..], &["--report-dir", "a"]].concat(), tmp.path());
    assert_eq!(code, 3, "{err}");
    let (code, _) = run(&[&args[..], &["--report-dir", "b"]].concat(), tmp.path());
    assert_eq!(code, 3);
    let read = |d: &str, f: &str| std::fs::read_to_string(tmp.path().join(d).join(f)).unwrap();
    assert_eq!(read("a", "junit.xml"), read("b", "junit.xml"));
    assert_eq!(
        normalise(&read("a", "report.json")),
        normalise(&read("b", "report.json"))
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let json = normalise(&read("a", "report.json"));
    let junit = read("a", "junit.xml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden.join("report.json"), &json).unwrap();
        std::fs::write(golden.join("junit.xml"), &junit).unwrap();
    }
    assert_eq!(
        json,
        std::fs::read_to_string(golden.join("report.json")).unwrap(),
        "report.json differs from tests/golden (UPDATE_GOLDEN=1 to accept)"
    );
    assert_eq!(
        junit,
        std::fs::read_to_string(golden.join("junit.xml")).unwrap(),
        "junit.xml differs from tests/golden (UPDATE_GOLDEN=1 to accept)"
    );

    // The page: summary first, the disclaimer, every case, the failing rule, escaped text.
    let html = read("a", "report.html");
    let summary = html.find("id=\"summary\"").unwrap();
    assert!(summary < html.find("id=\"case-1\"").unwrap());
    for fact in [
        "Not a Kela statement",
        "ei Kelan lausunto",
        "SIM-PRE-01",
        "SIM-PRE-02",
        "SIM-PRE-03",
        "W-012",
        "2 of 3 case(s) passed",
    ] {
        assert!(html.contains(fact), "{fact}");
    }
    assert!(!html.contains("<script"), "the report carries no scripts");
    assert!(
        html.contains("&lt;soap:Envelope") || html.contains("&lt;?xml"),
        "transcripts are escaped"
    );
    chromium_parses(&tmp.path().join("a"), 5);
}

/// Renders the page in headless Chromium (installed by .ci/run): the parsed DOM keeps every
/// step, and a screenshot is saved beside the test's output.
fn chromium_parses(dir: &Path, steps: usize) {
    let Some(chromium) = chromium() else { return };
    let url = format!("file://{}", dir.join("report.html").display());
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let dom = chromium_load(chromium, &url, &shot);
    assert_eq!(
        dom.matches("class=\"step\"").count(),
        steps,
        "Chromium's DOM lost steps: {}",
        &dom[..dom.len().min(500)]
    );
    assert!(dom.contains("Not a Kela statement"));
}

#[test]
fn a_live_run_waits_for_an_external_client_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let ready = tmp.path().join("ready.json");
    let mut child = Command::new(bin())
        .args([
            "run",
            "--suite",
            "joint-test",
            "--case",
            "SIM-TC-02",
            "--listen",
            "127.0.0.1:0",
            "--step-timeout",
            "30",
            "--report-dir",
            "live",
            "--ready-file",
        ])
        .arg(&ready)
        .arg("--certs")
        .arg(kit_dir())
        .current_dir(tmp.path())
        .env("CI", "true")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&ready).unwrap())
        .unwrap()["listen"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = |args: &[&str]| {
        let o = Command::new(bin())
            .arg("client")
            .args(args)
            .args(["--target", &addr, "--certs"])
            .arg(kit_dir())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let oid = "1.2.246.10.99900016.10.0.4242.1";
    client(&["send", "--person", "300608A906F", "--oid", oid]);
    client(&[
        "send",
        "--message",
        "new-version",
        "--person",
        "300608A906F",
        "--oid",
        "1.2.246.10.99900016.10.0.4242.2",
        "--of",
        oid,
    ]);
    let found = client(&["query", "metadata", "--person", "300608A906F"]);
    assert!(
        found.contains("1.2.246.10.99900016.10.0.4242.2 v2 completed"),
        "{found}"
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("NEXT SIM-TC-02 / v2"), "{err}");
    let r = report(&tmp.path().join("live"));
    assert_eq!(r["mode"], "live");
    assert_eq!(r["totals"]["steps_passed"], 3);
}

#[test]
fn a_live_run_nobody_drives_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = run(
        &[
            "--suite",
            "pre-test",
            "--case",
            "SIM-PRE-01",
            "--listen",
            "127.0.0.1:0",
            "--step-timeout",
            "1",
            "--json",
            "r.json",
        ],
        tmp.path(),
    );
    assert_eq!(code, 4, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["cases"][0]["steps"][0]["verdict"], "timed-out");
    assert_eq!(r["cases"][0]["steps"][0]["reasons"][0]["code"], "C-002");
}

#[test]
fn testcases_check_and_list() {
    let o = Command::new(bin())
        .args(["testcases", "check"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = Command::new(bin())
        .args(["testcases", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 15);
    // A broken case directory: exit 3 with the problem named.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("pre-test")).unwrap();
    std::fs::write(
        tmp.path().join("pre-test/SIM-X.toml"),
        "id = \"SIM-X\"\nsuite = \"pre-test\"\ntitle_fi = \"x\"\ntitle_en = \"x\"\nphase = \"x\"\n[[step]]\nid = \"1\"\ntitle_fi = \"x\"\ntitle_en = \"x\"\naction = \"archive\"\ndocument = \"client-relationship\"\nperson = \"311299F1236\"\nexpect = \"rejected\"\nrule = \"Q-999\"\n",
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["testcases", "check", "--cases"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("Q-999") && out.contains("not a 900-series"),
        "{out}"
    );
}
