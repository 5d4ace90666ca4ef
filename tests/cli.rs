//! The binary as a user runs it: `certs init`, `certs show`, `serve` with its configuration
//! errors and exit codes, and the end-to-end check with curl.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn init_kit(dir: &Path) -> serde_json::Value {
    let o = run(&["certs", "init", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_str(&std::fs::read_to_string(dir.join("INDEX.json")).unwrap()).unwrap()
}

fn role<'a>(index: &'a serde_json::Value, role: &str) -> &'a serde_json::Value {
    index["artefacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == role)
        .unwrap_or_else(|| panic!("no {role}"))
}

#[test]
fn certs_init_writes_every_role_and_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    let index = init_kit(&kit);
    for r in [
        "root-ca",
        "server",
        "crl",
        "client:1.2.246.10.99900016.10.0",
        "client:1.2.246.10.99900024.10.0",
        "client:1.2.246.10.99900032.10.0",
        "system-signature:1.2.246.10.99900016.10.0",
        "system-signature:1.2.246.10.99900024.10.0",
        "system-signature:1.2.246.10.99900032.10.0",
        "professional:99900000011",
        "professional:99900000029",
        "bad:expired",
        "bad:not-yet-valid",
        "bad:revoked",
        "bad:unknown-issuer",
        "bad:server-auth-only",
        "bad:unregistered-org",
        "bad:weak-key",
    ] {
        let a = role(&index, r);
        for f in [
            "cert",
            "subject",
            "issuer",
            "not_before",
            "not_after",
            "sha256",
        ] {
            if r == "crl" && f == "subject" {
                continue;
            }
            assert!(a.get(f).is_some(), "{r} lacks {f}");
        }
        assert!(kit.join(a["cert"].as_str().unwrap()).is_file(), "{r}");
        if let Some(k) = a.get("key") {
            let key = kit.join(k.as_str().unwrap());
            assert!(key.is_file());
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(&key).unwrap().permissions().mode() & 0o077,
                    0,
                    "{r} key is readable by others"
                );
            }
        }
    }
    assert!(kit.join("INDEX.md").is_file());
    // Server certificate: at most one year; system signature: at most two.
    let days = |a: &serde_json::Value| {
        let p = |k: &str| {
            time::OffsetDateTime::parse(
                a[k].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        (p("not_after") - p("not_before")).whole_days()
    };
    assert!(days(role(&index, "server")) <= 366);
    assert!(days(role(&index, "system-signature:1.2.246.10.99900016.10.0")) <= 731);

    let again = run(&["certs", "init", "--out", kit.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--force"));
    let forced = run(&[
        "certs",
        "init",
        "--out",
        kit.to_str().unwrap(),
        "--force",
        "--key",
        "ecdsa-p256",
    ]);
    assert!(forced.status.success(), "{}", text(&forced));
    let index2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kit.join("INDEX.json")).unwrap()).unwrap();
    assert_eq!(index2["key_algorithm"], "ecdsa-p256");
    assert_ne!(
        role(&index2, "root-ca")["sha256"],
        role(&index, "root-ca")["sha256"]
    );

    // A directory that is not a kit is never replaced.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("precious.txt"), "x").unwrap();
    let o = run(&["certs", "init", "--out", other.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(other.join("precious.txt").is_file());
}

#[test]
fn certs_show_explains_good_and_bad_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    let index = init_kit(&kit);
    let file = |r: &str| {
        kit.join(role(&index, r)["cert"].as_str().unwrap())
            .to_str()
            .unwrap()
            .to_owned()
    };
    let certs = kit.to_str().unwrap();

    let o = run(&[
        "certs",
        "show",
        &file("client:1.2.246.10.99900016.10.0"),
        "--certs",
        certs,
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for needle in [
        "serialNumber",
        "1.2.246.10.99900016.10.0 = Testilän hyvinvointialue",
        "RSA 2048 bits",
        "clientAuth",
        "DNS:testilan-hyvinvointialue.sote.kanta-sim.test",
        "Chain status:   OK",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }

    // A city: a seven-digit business-id arc and an organisation OID other than .10.0.
    let o = run(&[
        "certs",
        "show",
        &file("client:1.2.246.10.9990063.10.40"),
        "--certs",
        certs,
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for needle in [
        "Organisation:   1.2.246.10.9990063.10.40 = Harjoituslahden kaupunki",
        "Business id:    0999006-3 (OID arc 9990063)",
        "Chain status:   OK",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let o = run(&[
        "certs",
        "show",
        &file("client:1.2.246.537.10.99900067.10.0"),
        "--certs",
        certs,
    ]);
    let t = text(&o);
    assert!(
        t.contains("Perinnelän sosiaalipalvelujen kuntayhtymä")
            && t.contains("legacy root 1.2.246.537.10"),
        "{t}"
    );

    let o = run(&[
        "certs",
        "show",
        &file("professional:99900000011"),
        "--certs",
        certs,
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("Registration:   99900000011")
            && t.contains("title")
            && t.contains("document signing"),
        "{t}"
    );

    for (r, code) in [
        ("bad:expired", "T-003"),
        ("bad:revoked", "T-005"),
        ("bad:weak-key", "T-007"),
        ("bad:server-auth-only", "T-006"),
        ("bad:unknown-issuer", "T-002"),
    ] {
        let o = run(&["certs", "show", &file(r), "--certs", certs]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(3), "{r}: {t}");
        assert!(t.contains("REFUSED") && t.contains(code), "{r}: {t}");
    }
    let o = run(&[
        "certs",
        "show",
        &file("bad:unregistered-org"),
        "--certs",
        certs,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["organisation_oid"], "1.2.246.10.99900059.10.0");
    assert_eq!(v["organisation_in_register"], serde_json::Value::Null);

    let missing = run(&["certs", "show", "/nonexistent.pem"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("/nonexistent.pem"));
}

fn serve_fails_with(args: &[&str], needles: &[&str]) {
    let o = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    for n in needles {
        assert!(t.contains(n), "missing {n:?} in {t}");
    }
}

#[test]
fn configuration_errors_name_the_file_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    let index = init_kit(&kit);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();

    serve_fails_with(
        &[
            "--certs",
            tmp.path().join("nope").to_str().unwrap(),
            "--data",
            d,
        ],
        &["INDEX.json", "certs init"],
    );

    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nlisten_address = \"x\"\n").unwrap();
    serve_fails_with(
        &["--config", cfg.to_str().unwrap()],
        &["bad.toml", "listen_address"],
    );

    // A key that is not the certificate's.
    let server = role(&index, "server");
    let other_key = kit.join(
        role(&index, "client:1.2.246.10.99900016.10.0")["key"]
            .as_str()
            .unwrap(),
    );
    let cfg = tmp.path().join("mismatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncerts_dir = {:?}\nserver_cert = {:?}\nserver_key = {:?}\n[data]\ndir = {d:?}\n",
            kit,
            kit.join(server["cert"].as_str().unwrap()),
            other_key
        ),
    )
    .unwrap();
    serve_fails_with(
        &["--config", cfg.to_str().unwrap()],
        &["does not match", "server.pem"],
    );

    // Unreadable PEM.
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cfg = tmp.path().join("garbage.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncerts_dir = {kit:?}\nextra_trust_anchors = [{garbage:?}]\n[data]\ndir = {d:?}\n"
        ),
    )
    .unwrap();
    serve_fails_with(&["--config", cfg.to_str().unwrap()], &["garbage.pem"]);

    // A missing file.
    let cfg = tmp.path().join("missing.toml");
    std::fs::write(
        &cfg,
        format!("[tls]\ncerts_dir = {kit:?}\nextra_crls = [\"gone.crl\"]\n[data]\ndir = {d:?}\n"),
    )
    .unwrap();
    serve_fails_with(
        &["--config", cfg.to_str().unwrap()],
        &["gone.crl", "does not exist"],
    );

    // The plain-HTTP validation service stays on loopback unless the configuration says
    // otherwise, by flag and by file.
    serve_fails_with(
        &["--validation-listen", "0.0.0.0:0"],
        &["--validation-listen 0.0.0.0:0", "validation.allow_network"],
    );
    let cfg = tmp.path().join("validation.toml");
    std::fs::write(&cfg, "[validation]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    serve_fails_with(
        &["--config", cfg.to_str().unwrap()],
        &["validation.listen", "validation.allow_network = true"],
    );
    // Code lists that do not hold together are named with the file.
    let lists = tmp.path().join("lists.toml");
    std::fs::write(
        &lists,
        "[[list]]\noid = \"1.2.246.537.6.1503.201601\"\nname = \"x\"\ncodes = { \"SP1\" = \"a\" }\n[[archiving]]\nservice_request = \"SP1\"\ndocument_groups = [\"1\"]\n",
    )
    .unwrap();
    let cfg = tmp.path().join("lists-config.toml");
    std::fs::write(
        &cfg,
        format!("[archive]\ncode_lists_file = {lists:?}\n[tls]\ncerts_dir = {kit:?}\n[data]\ndir = {d:?}\n"),
    )
    .unwrap();
    serve_fails_with(
        &["--config", cfg.to_str().unwrap()],
        &["lists.toml", "document group \"1\""],
    );
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(kit: &Path, data: &Path, ready: &Path) -> Served {
    let (mut child, addr) = common::spawn_serve(kit, data, ready);
    let addr = addr.to_string();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains(&addr),
        "first line should print the address: {line}"
    );
    Served { child, addr }
}

fn curl(kit: &Path, index: &serde_json::Value, r: Option<&str>, url: &str) -> Option<Output> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--cacert"])
        .arg(kit.join(role(index, "root-ca")["cert"].as_str().unwrap()));
    if let Some(r) = r {
        let a = role(index, r);
        cmd.arg("--cert").arg(kit.join(a["cert"].as_str().unwrap()));
        cmd.arg("--key").arg(kit.join(a["key"].as_str().unwrap()));
    }
    match cmd.arg(url).output() {
        Ok(o) => Some(o),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "curl is required in CI: {e}"
            );
            None
        }
    }
}

/// The "done when": serve from a fresh kit, curl in with every `client:*`
/// certificate, and see every `bad:*` certificate and a certificate-less client refused,
/// with the reason in the log.
#[test]
fn end_to_end_with_curl_and_the_exchange_log() {
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    let data = tmp.path().join("data");
    let index = init_kit(&kit);
    let served = serve(&kit, &data, &tmp.path().join("ready.json"));
    let url = format!("https://{}/health", served.addr);
    let Some(_) = curl(&kit, &index, None, &url) else {
        return;
    };

    let clients: Vec<String> = index["artefacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["role"].as_str())
        .filter(|r| r.starts_with("client:"))
        .map(str::to_owned)
        .collect();
    let active = kanta_sim::identity::SoteRegister::bundled()
        .unwrap()
        .organisations()
        .iter()
        .filter(|o| o.active)
        .count();
    assert_eq!(clients.len(), active);
    // The realistic shapes: a seven-digit business-id arc with a .10.40 organisation OID, and
    // a legacy root.
    for shape in [
        "client:1.2.246.10.9990063.10.40",
        "client:1.2.246.537.10.99900067.10.0",
    ] {
        assert!(clients.iter().any(|c| c == shape), "{shape}: {clients:?}");
    }
    for c in &clients {
        let o = curl(&kit, &index, Some(c), &url).unwrap();
        assert!(o.status.success(), "{c}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(c.trim_start_matches("client:")));
    }
    let bad = [
        "bad:expired",
        "bad:not-yet-valid",
        "bad:revoked",
        "bad:unknown-issuer",
        "bad:server-auth-only",
        "bad:unregistered-org",
        "bad:inactive-org",
    ];
    for b in bad {
        let o = curl(&kit, &index, Some(b), &url).unwrap();
        let refused_in_tls = !o.status.success();
        let refused_in_app = String::from_utf8_lossy(&o.stdout).contains("\"code\": \"A-00");
        assert!(refused_in_tls || refused_in_app, "{b} got in: {}", text(&o));
    }
    let o = curl(&kit, &index, None, &url).unwrap();
    assert!(!o.status.success());

    // The log says why, for each.
    std::thread::sleep(Duration::from_millis(300));
    let log = run(&[
        "log",
        "--data",
        data.to_str().unwrap(),
        "--json",
        "--limit",
        "100",
    ]);
    assert!(log.status.success(), "{}", text(&log));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (b, code) in [
        ("bad:expired", "T-003"),
        ("bad:not-yet-valid", "T-004"),
        ("bad:revoked", "T-005"),
        ("bad:unknown-issuer", "T-002"),
        ("bad:server-auth-only", "T-006"),
        ("bad:unregistered-org", "A-002"),
        ("bad:inactive-org", "A-003"),
    ] {
        let sha = &role(&index, b)["sha256"];
        let rec = records
            .iter()
            .find(|r| &r["cert_sha256"] == sha)
            .unwrap_or_else(|| panic!("no log record for {b}"));
        assert_eq!(rec["codes"][0], code, "{b}: {rec}");
    }
    assert!(
        records
            .iter()
            .any(|r| r["codes"][0] == "T-001" && r["cert_subject"].is_null())
    );
    let readable = text(&run(&["log", "--data", data.to_str().unwrap()]));
    assert!(
        readable.contains("T-003") && readable.contains("notAfter"),
        "{readable}"
    );
}

#[test]
fn config_default_is_printable_and_check_validates() {
    let o = run(&["config", "default"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("[tls]"));
    let o = run(&["config", "check", "/nonexistent.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn profile_doc_in_the_repository_is_current() {
    let o = run(&["certs", "profile"]);
    let committed =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs/PROFILE.md"))
            .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        committed,
        "certs/PROFILE.md is stale: run `cargo run -- certs profile > certs/PROFILE.md`"
    );
}

/// The README's main command: the self-driven walk-through behaves end to end.
#[test]
fn demo_runs_every_step_as_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["demo", "--keep", tmp.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("All steps behaved as the archive should."),
        "{t}"
    );
    assert!(!t.contains('✘'), "{t}");
    assert!(tmp.path().join("certs/INDEX.json").is_file());
    assert!(tmp.path().join("data/kanta-sim.sqlite").is_file());
    // The self-driven pre-test and deployment-test suites wrote their reports.
    for suite in ["pre-test", "deployment-test"] {
        for f in ["report.json", "junit.xml", "report.html"] {
            assert!(
                tmp.path().join("reports").join(suite).join(f).is_file(),
                "{suite}/{f}"
            );
        }
        assert!(t.contains(&format!("reports/{suite}/report.html")), "{t}");
    }
    assert!(t.contains("SIM-KOE-01"), "{t}");
}

/// The example CI pipeline in scripts/ works as documented: it finds kanta-sim on PATH by
/// itself and writes only into the report directory it is given.
#[test]
fn the_example_ci_script_passes() {
    let cwd = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kanta-sim")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ci-example.sh"
        ))
        .arg(out.path())
        .env_remove("KANTA_SIM")
        .env("PATH", path)
        .current_dir(cwd.path())
        .output()
        .unwrap();
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!("using {}", bin_dir.join("kanta-sim").display())),
        "{t}"
    );
    assert!(
        out.path().join("junit.xml").is_file() && out.path().join("report.html").is_file(),
        "{t}"
    );
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "wrote into the working directory"
    );
}

/// `kanta-sim rules | head -1`: a reader that stops early is not an error (it was a panic,
/// exit 101, "failed printing to stdout: Broken pipe").
#[test]
fn output_into_a_pipe_closed_early_ends_quietly() {
    let mut child = bin()
        .arg("rules")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader is gone before the process has started writing: its first line already
    // meets the closed pipe.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
