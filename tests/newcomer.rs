//! A newcomer's first hour, as the README and `--help` describe it: the README's live
//! walkthrough, checked switches, `client send`'s summary and exit codes, `train --serve`,
//! output without colours off a terminal, and read-only commands that create nothing.

use crate::common;
use crate::common::http_get;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kanta-sim")
}

fn kit_dir() -> PathBuf {
    common::kit("newcomer").0.clone()
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The fenced block that follows the README's walkthrough marker.
fn readme_walkthrough() -> Vec<String> {
    let readme = include_str!("../README.md");
    let at = readme
        .find("<!-- walkthrough:")
        .expect("README has a walkthrough marker");
    let block = &readme[at..];
    let start = block.find("```sh\n").unwrap() + 6;
    let end = start + block[start..].find("```").unwrap();
    block[start..end]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs a `kanta-sim …` command line as a shell would, with this build's kanta-sim first
/// on PATH.
fn shell(line: &str, dir: &Path) -> Output {
    let bin_dir = Path::new(bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    assert!(line.starts_with("kanta-sim "), "{line}");
    Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap()
}

/// The README's walkthrough, followed to the letter: its commands, then every command the
/// live run prints under a NEXT line. The suite passes.
#[test]
fn the_readme_walkthrough_passes_by_following_the_printed_commands() {
    let dir = tempfile::tempdir().unwrap();
    let lines = readme_walkthrough();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let init = shell(&lines[0], dir.path());
    assert!(init.status.success(), "{}", text(&init));
    // Port 0 instead of the README's fixed port, so tests never collide.
    let run_line = lines[1].replace("127.0.0.1:8443", "127.0.0.1:0");
    assert!(run_line.contains("--suite pre-test"), "{run_line}");
    let bin_dir = Path::new(bin()).parent().unwrap();
    let mut child = Command::new("sh")
        .args(["-c", &format!("exec {run_line} --step-timeout 60")])
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run's progress, NEXT lines included, goes to stderr (stdout keeps the summary).
    let progress = BufReader::new(child.stderr.take().unwrap());
    let mut followed = Vec::new();
    let mut seen = String::new();
    for line in progress.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(at) = line.find("with the reference client") {
            let cmd = &line[at..];
            let cmd = &cmd[cmd.find("kanta-sim ").unwrap()..];
            let o = shell(cmd, dir.path());
            followed.push((cmd.to_owned(), o.status.code()));
        }
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{seen}\n{err}\nfollowed: {followed:#?}"
    );
    // The pre-test suite has five steps; each printed command was one of them.
    assert_eq!(followed.len(), 5, "{followed:#?}");
    assert!(followed.iter().all(|(_, c)| *c == Some(0)), "{followed:#?}");
    assert!(dir.path().join("R/report.html").is_file());
}

/// A switch that names a case, a step, a deviation or a suite is checked: a typo is exit 2
/// naming the valid choices, never a silently green run.
#[test]
fn named_switches_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let kit = kit_dir();
    let kit = kit.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--deviate", "SIM-PRE-01:archiv=unsigned"],
            &["has no step \"archiv\"", "archive"],
        ),
        (
            &["--deviate", "SIM-PRE-09:archive=unsigned"],
            &[
                "no case \"SIM-PRE-09\"",
                "SIM-PRE-01, SIM-PRE-02, SIM-PRE-03",
            ],
        ),
        (
            &["--deviate", "SIM-PRE-01:archive=unsinged"],
            &["\"unsinged\" is not a deviation", "unsigned, bad-signature"],
        ),
        (&["--skip", "SIM-PRE-01:x"], &["has no step \"x\""]),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["run", "--suite", "pre-test", "--self-drive", "--certs", kit];
        args.extend_from_slice(extra);
        let o = run_in(dir.path(), &args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {t}");
        for n in *needles {
            assert!(t.contains(n), "{extra:?}: {n:?} not in {t}");
        }
    }
    for args in [
        &["run", "--suite", "pretest", "--self-drive", "--certs", kit][..],
        &["testcases", "list", "--suite", "pretest"][..],
    ] {
        let o = run_in(dir.path(), args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains("pre-test, joint-test, negative"), "{t}");
    }
    let o = run_in(dir.path(), &["testcases", "list", "--deviations"]);
    assert!(o.status.success());
    let t = text(&o);
    for d in ["unsigned", "bad-signature", "wrong-receiver", "no-reason"] {
        assert!(t.contains(d), "{d} not listed: {t}");
    }
    let help = text(&run_in(dir.path(), &["run", "--help"]));
    assert!(help.contains("wrong-receiver"), "{help}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "refused runs wrote files"
    );
}

/// A deliberately failing run says so: the deviation is in report.json, the JUnit
/// properties and the HTML header.
#[test]
fn an_applied_deviation_is_recorded_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let kit = kit_dir();
    let o = run_in(
        dir.path(),
        &[
            "run",
            "--suite",
            "pre-test",
            "--case",
            "SIM-PRE-01",
            "--self-drive",
            "--certs",
            kit.to_str().unwrap(),
            "--report-dir",
            "R",
            "--deviate",
            "SIM-PRE-01:archive=unsigned",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("R/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["deviations"][0]["case"], "SIM-PRE-01");
    assert_eq!(report["deviations"][0]["step"], "archive");
    assert_eq!(report["deviations"][0]["deviation"], "unsigned");
    let junit = std::fs::read_to_string(dir.path().join("R/junit.xml")).unwrap();
    assert!(
        junit.contains(r#"name="deviation" value="archive=unsigned""#),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.path().join("R/report.html")).unwrap();
    let header = &html[..html.find("SIM-PRE-01 ").unwrap_or(html.len())];
    assert!(
        header.contains("unsigned") && header.contains("leave the document unsigned"),
        "the HTML header does not name the deviation"
    );
}

/// `client send` prints one line per finding, exits 3 on AE, 0 on AA and 5 when nothing
/// listens; `--target` takes the URL a run prints and host names.
#[test]
fn client_send_summarises_findings_and_tells_unreachable_apart() {
    let kit = kit_dir();
    let data = tempfile::tempdir().unwrap();
    let (mut server, addr) =
        common::spawn_serve(&kit, data.path(), &data.path().join("ready.json"));
    let kit_s = kit.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://{addr}/archive");
    let o = run_in(
        dir.path(),
        &[
            "client",
            "send",
            "--target",
            &url,
            "--certs",
            kit_s,
            "--signing",
            "unsigned",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    let first = String::from_utf8_lossy(&o.stdout);
    let mut lines = first.lines();
    assert_eq!(lines.next(), Some("HTTP 200 AE: 1 finding"), "{t}");
    let finding = lines.next().unwrap_or_default();
    assert!(
        finding.contains("G-001") && finding.contains("at /ClinicalDocument"),
        "{t}"
    );
    assert!(!t.contains("<soap"), "XML without --raw: {t}");
    let raw = run_in(
        dir.path(),
        &[
            "client",
            "send",
            "--target",
            &url,
            "--certs",
            kit_s,
            "--signing",
            "unsigned",
            "--raw",
        ],
    );
    assert!(text(&raw).contains("acknowledgement"), "{}", text(&raw));

    let host = format!("localhost:{}", addr.port());
    let o = run_in(
        dir.path(),
        &["client", "send", "--target", &host, "--certs", kit_s],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("HTTP 200 AA"));
    let _ = server.kill();
    let _ = server.wait();

    // Nothing listens on a port just released.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let o = run_in(
        dir.path(),
        &[
            "client",
            "send",
            "--target",
            &free.to_string(),
            "--certs",
            kit_s,
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(t.contains(&free.to_string()), "{t}");
    let o = run_in(
        dir.path(),
        &[
            "client",
            "query",
            "metadata",
            "--target",
            &free.to_string(),
            "--certs",
            kit_s,
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
}

/// `train deployment-test --no-pause --serve` without a terminal: every printed link
/// answers 200, the deployment page shows checklist (a) passed for the person the
/// rehearsal used, and SIGTERM ends it with its verdict and its temporary data removed.
#[test]
fn train_serve_links_work_and_sigterm_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["train", "deployment-test", "--no-pause", "--serve"])
        .env("TMPDIR", tmp.path())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("Rehearsal ") {
            break;
        }
    }
    assert!(out.contains("Rehearsal PASSED"), "{out}");
    let links: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with("http://"))
        .collect();
    assert!(links.len() >= 4, "{out}");
    let person = out
        .split("Issued deployment-test code ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    assert!(out.contains("client-system-export.toml"), "{out}");
    let started = Instant::now();
    for link in &links {
        let (status, body) = http_get(link);
        assert_eq!(status, 200, "{link}: {body}");
        if link.contains("/deployment?") || link.contains("/report?") {
            assert!(link.contains(&format!("person={person}")), "{link}");
        }
        if link.contains("/deployment?") {
            let a = body
                .find("(a) ")
                .map(|i| &body[i..(i + 200).min(body.len())])
                .unwrap_or_default();
            assert!(a.contains(r#"<span class="ok">"#), "(a) not passed: {a}");
            assert!(
                body.contains(person),
                "the page does not show the person's documents"
            );
        }
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // Still up after the links were read: --serve waits for a signal, not for stdin.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited without a signal"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "escape codes off a terminal"
    );
}

/// Off a terminal, or with NO_COLOR, no output carries escape codes: `serve`'s log, a
/// run's progress and its summary.
#[test]
fn no_escape_codes_off_a_terminal_or_with_no_color() {
    let kit = kit_dir();
    let dir = tempfile::tempdir().unwrap();
    for no_color in [false, true] {
        let mut cmd = Command::new(bin());
        cmd.args([
            "run",
            "--suite",
            "pre-test",
            "--self-drive",
            "--certs",
            kit.to_str().unwrap(),
            "--report-dir",
            "R",
        ])
        .current_dir(dir.path())
        .env("KANTA_SIM_LOG", "debug")
        .env_remove("CI");
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(!o.stderr.is_empty(), "the debug log should say something");
        assert!(!o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b));
    }
    // serve's log, redirected.
    let data = tempfile::tempdir().unwrap();
    let ready = data.path().join("ready.json");
    let mut server = Command::new(bin())
        .args([
            "serve",
            "--certs",
            kit.to_str().unwrap(),
            "--data",
            data.path().join("d").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let v = common::wait_ready(&mut server, &ready);
    let addr = v["listen"].as_str().unwrap().to_owned();
    let o = run_in(
        dir.path(),
        &[
            "client",
            "send",
            "--target",
            &addr,
            "--certs",
            kit.to_str().unwrap(),
            "--signing",
            "unsigned",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let o = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("G-001"), "{log}");
    assert!(!log.contains('\x1b'), "{log}");
}

/// Read-only commands create nothing; `certs show` recognises a key file.
#[test]
fn read_only_commands_create_nothing_and_key_files_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["ids", "list"]);
    assert_eq!(o.status.code(), Some(4), "nothing issued: {}", text(&o));
    assert!(text(&o).contains("no ledger"), "{}", text(&o));
    for args in [
        &["ids", "list"][..],
        &["ids", "export", "--format", "csv"][..],
        &["testcases", "list"][..],
        &["rules"][..],
    ] {
        let o = run_in(dir.path(), args);
        assert!(o.status.code() != Some(1), "{args:?}: {}", text(&o));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }
    let kit = common::kit("newcomer");
    let (_, key) = common::path_of(kit, "client:1.2.246.10.99900016.10.0");
    let key = key.unwrap();
    let o = run_in(dir.path(), &["certs", "show", key.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("private key"), "{t}");
    assert!(t.contains(".pem"), "names the certificate file: {t}");
}
