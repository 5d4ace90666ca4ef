//! The resilience suite end to end: self-driven, the reference client's retry policy
//! passes every case; each way a client system gets resilience wrong (no retry, a resend
//! as a new document, Retry-After ignored, the same message on two connections) fails the
//! right step with the engine's finding, which says what was expected. The HTML report
//! carries the explanation too.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

fn run(args: &[&str], out: &Path) -> (i32, String) {
    let kit_dir = kit("resilience").0.to_str().unwrap().to_owned();
    let head = [
        "run",
        "--certs",
        &kit_dir,
        "--suite",
        "resilience",
        "--self-drive",
    ];
    sim(&[&head[..], args].concat(), out)
}

/// Starts a live run of `cases` in `dir` (reports into `dir/report_dir`), standard error to
/// `stderr`; returns it and the archive's address once it is ready.
fn live_run(
    dir: &Path,
    cases: &[&str],
    report_dir: &str,
    stderr: std::process::Stdio,
) -> (std::process::Child, String) {
    let ready = dir.join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
        .arg("run")
        .arg("--certs")
        .arg(&kit("resilience").0)
        .args(["--suite", "resilience", "--listen", "127.0.0.1:0"])
        .args(cases.iter().flat_map(|c| ["--case", c]))
        .args(["--report-dir", report_dir, "--ready-file"])
        .arg(&ready)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let listen = wait_ready(&mut child, &ready)["listen"]
        .as_str()
        .unwrap()
        .to_owned();
    (child, listen)
}

#[test]
fn the_resilience_suite_passes_self_driven() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = run(&["--report-dir", "all"], tmp.path());
    assert_eq!(code, 0, "{err}");
    let r = report(&tmp.path().join("all"));
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        for s in c["steps"].as_array().unwrap() {
            assert_eq!(s["verdict"], "passed", "{c:#}");
        }
    }
    // The fault-plan step says what it put in force.
    let plan = &cases[0]["steps"][0]["checks"][0];
    assert_eq!(plan["found"], "service-break (reset)", "{plan:#}");
    // The resilience step's report names every fault it met, with its plan entry.
    let met = cases[0]["steps"][1]["checks"].to_string();
    assert!(
        met.contains("injected fault service-break (reset, SIM-RES-01/break:1"),
        "{met}"
    );
}

#[test]
fn each_wrong_behaviour_fails_its_step_with_what_was_expected() {
    // (case, step, deviation, rule id, words of the explanation)
    let wrong = [
        (
            "SIM-RES-01",
            "deliver",
            "no-retry",
            "C-005",
            "keep the document queued",
        ),
        (
            "SIM-RES-02",
            "resend",
            "no-retry",
            "C-006",
            "send the same message again",
        ),
        (
            "SIM-RES-02",
            "resend",
            "resend-as-new",
            "C-006",
            "holds the content twice",
        ),
        (
            "SIM-RES-03",
            "retry-after",
            "ignore-retry-after",
            "C-007",
            "Retry-After: 5 s",
        ),
        (
            "SIM-RES-04",
            "wait",
            "parallel-resend",
            "C-008",
            "never send it on two connections",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    // One process each, at once: the cases wait on the archive's clock, not on the CPU.
    let handles: Vec<_> = wrong
        .iter()
        .enumerate()
        .map(|(i, (case, step, dev, _, _))| {
            let dir = tmp.path().to_owned();
            let deviate = format!("{case}:{step}={dev}");
            let case = (*case).to_owned();
            std::thread::spawn(move || {
                let out = format!("r{i}");
                let r = run(
                    &["--case", &case, "--deviate", &deviate, "--report-dir", &out],
                    &dir,
                );
                (r, report(&dir.join(out)))
            })
        })
        .collect();
    for (i, (h, (case, step, dev, rule, words))) in handles.into_iter().zip(wrong).enumerate() {
        let ((code, err), r) = h.join().unwrap();
        assert_eq!(code, 3, "{case} {dev}: {err}");
        let steps = r["cases"][0]["steps"].as_array().unwrap();
        let failed: Vec<_> = steps.iter().filter(|s| s["verdict"] == "failed").collect();
        assert_eq!(failed.len(), 1, "{case} {dev}: {steps:#?}");
        assert_eq!(failed[0]["id"], step, "{case} {dev}");
        let first = &failed[0]["reasons"][0];
        assert_eq!(first["code"], rule, "{case} {dev}: {first:#}");
        let message = first["message"].as_str().unwrap();
        assert!(message.contains("Expected:"), "{message}");
        assert!(message.contains(words), "{case} {dev}: {message}");
        // The deviation is on the record, and the HTML says what was expected.
        assert!(
            r["deviations"].to_string().contains(dev),
            "{:#}",
            r["deviations"]
        );
        let html =
            std::fs::read_to_string(tmp.path().join(format!("r{i}")).join("report.html")).unwrap();
        assert!(html.contains(rule), "{case} {dev}");
    }
}

/// A live run: the faults of the first case are in force before the first client connects,
/// and the reference client with `--retry` (as printed by the run) is judged like any
/// supplier's system: from the exchanges.
#[test]
fn a_live_run_judges_an_outside_client_that_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let kit_dir = kit("resilience").0.clone();
    let (mut child, listen) = live_run(
        tmp.path(),
        &["SIM-RES-02", "SIM-RES-03"],
        "live",
        std::process::Stdio::piped(),
    );
    // The run's lines as they come: the client acts on NEXT, as a tester would.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap_or_default();
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let wait_line = |needle: &str| loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            break;
        }
    };
    for (next, expected) in [
        (
            "waiting for a client system",
            "delivered: an earlier send reached the archive",
        ),
        ("NEXT SIM-RES-03 / retry-after", "HTTP 200 AA"),
    ] {
        wait_line(next);
        let o = Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
            .args(["client", "send", "--retry", "--target"])
            .arg(format!("https://{listen}/archive"))
            .arg("--certs")
            .arg(&kit_dir)
            .args(["--org", TESTILA, "--person", "300608A906F"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(out.contains(expected), "{out}");
    }
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let r = report(&tmp.path().join("live"));
    for c in r["cases"].as_array().unwrap() {
        for s in c["steps"].as_array().unwrap() {
            assert_eq!(s["verdict"], "passed", "{c:#}");
        }
    }
}

/// curl as the system under test (a client kanta-sim did not write), in a live run of
/// SIM-RES-03: `curl --retry` honours the 503's Retry-After and passes; a script that sends
/// again at once fails with C-007, judged from the exchange timings alone.
#[tokio::test]
async fn curl_as_the_client_system_is_judged_on_retry_after() {
    let kit_dir = kit("resilience").0.clone();
    let tmp = tempfile::tempdir().unwrap();
    let message = tmp.path().join("m.xml");
    let (code, out) = sim(
        &[
            "client",
            "build",
            "--org",
            TESTILA,
            "--person",
            "300608A906F",
            "--certs",
            kit_dir.to_str().unwrap(),
            "--out",
            message.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    for (name, honour) in [("honours", true), ("at-once", false)] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (mut child, listen) = live_run(&dir, &["SIM-RES-03"], "r", std::process::Stdio::null());
        let url = format!("https://{listen}/archive");
        // A real file: curl truncates its output before a retry.
        let answer = dir.join("answer.xml");
        let mut args: Vec<String> = ["-sS", "-o", answer.to_str().unwrap(), "-w", "%{http_code}"]
            .map(str::to_owned)
            .to_vec();
        args.extend(curl_post(
            kit("resilience"),
            &format!("client:{TESTILA}"),
            &message,
            &url,
        ));
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        if honour {
            args.splice(0..0, ["--retry", "2"]);
        }
        // The careful client retries once by itself; the naive one is run twice, at once.
        let tries = if honour { 1 } else { 2 };
        let mut codes = Vec::new();
        for _ in 0..tries {
            match curl(&args, &[]).await {
                Some((0, out, _)) => codes.push(out),
                Some((c, out, err)) => panic!("curl exit {c}: {out} {err}"),
                None => {
                    let _ = child.kill();
                    return;
                }
            }
        }
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        let r = report(&dir.join("r"));
        let step = &r["cases"][0]["steps"][1];
        if honour {
            assert_eq!(codes, ["200"]);
            assert_eq!(status.code(), Some(0), "{step:#}");
            assert_eq!(step["verdict"], "passed", "{step:#}");
        } else {
            assert_eq!(codes, ["503", "200"]);
            assert_eq!(status.code(), Some(3), "{step:#}");
            assert_eq!(step["reasons"][0]["code"], "C-007", "{step:#}");
            assert!(
                step["reasons"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("asked for Retry-After: 5 s"),
                "{step:#}"
            );
        }
    }
}
