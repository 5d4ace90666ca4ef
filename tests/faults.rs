//! The fault plan over mutual TLS: each kind is seen by the client exactly as planned (by
//! our rustls client, and by curl where a header or an alert is the point), every injected
//! fault is marked on its exchange row (F-001 and the plan entry), the server keeps serving
//! everyone else, and a dropped acknowledgement neither loses nor duplicates the document.

use crate::common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kanta_sim::archive::{DocumentStore, StoredExchange};
use kanta_sim::client::{ClientResponse, HttpVersion};
use kanta_sim::document::{Body, Metadata, SignatureType, build_cda, sign_kanta_document};
use kanta_sim::faults::FaultPlan;
use kanta_sim::finding::RuleId;
use kanta_sim::message::build::{MessageSpec, build_archive_message};
use kanta_sim::xmldsig::{Signer, new_signature_id};
use time::OffsetDateTime;

fn the_kit() -> &'static (std::path::PathBuf, kanta_sim::pki::Index) {
    kit("faults")
}

/// A signed SP1 archiving message with HL7 message id `ext` for document `n`.
fn message(n: u32, ext: &str) -> String {
    let meta = Metadata::client_relationship_example(
        &format!("1.2.246.10.99900016.10.0.2026.{n}"),
        "010190-902S",
    );
    let signer =
        Signer::from_kit(&the_kit().0, "system-signature:1.2.246.10.99900016.10.0").unwrap();
    let cda = sign_kanta_document(
        &build_cda(&meta, &Body::example(&meta, 2_000)),
        &signer,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        &new_signature_id(),
    )
    .unwrap();
    build_archive_message(&MessageSpec::for_document(&meta, ext), &meta, &cda)
}

async fn post(
    server: &TestServer,
    org: &str,
    body: &str,
) -> Result<ClientResponse, kanta_sim::client::ClientError> {
    client(
        the_kit(),
        Some(&format!("client:{org}")),
        BOTH,
        HttpVersion::Http1,
    )
    .request(
        server.addr(),
        "POST",
        "/archive",
        Some("text/xml; charset=UTF-8"),
        Bytes::from(body.to_owned()),
    )
    .await
}

fn ack(r: &ClientResponse) -> String {
    let t = String::from_utf8_lossy(&r.body);
    t.split("acknowledgement typeCode=\"")
        .nth(1)
        .map(|s| s[..2].to_owned())
        .unwrap_or_default()
}

/// curl POSTs the message in `body` to the archive as Testila's client, `options` first;
/// `None` when curl is missing outside CI.
async fn curl_archive(
    server: &TestServer,
    body: &std::path::Path,
    options: &[&str],
) -> Option<(i32, String, String)> {
    let url = format!("https://{}/archive", server.addr());
    let mut args: Vec<String> = options.iter().map(|o| (*o).to_owned()).collect();
    args.extend(curl_post(
        the_kit(),
        &format!("client:{TESTILA}"),
        body,
        &url,
    ));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    curl(&args, &[]).await
}

fn plan(server: &TestServer, toml: &str) {
    server
        .handle
        .faults()
        .set(FaultPlan::parse(toml, "test-plan").unwrap());
}

fn injected(r: &StoredExchange) -> Option<&str> {
    r.record.detail["injected"]["entry"].as_str()
}

async fn marked(server: &TestServer, entry: &str) -> StoredExchange {
    let row = server.wait_for(|r| injected(r) == Some(entry)).await;
    assert!(row.record.codes.contains(&RuleId::F001), "{row:#?}");
    assert!(row.record.summary.contains("injected fault"), "{row:#?}");
    row
}

#[tokio::test]
async fn request_faults_reach_the_client_as_planned_and_are_marked() {
    let server = start(the_kit()).await;

    // delay: answered, late.
    plan(
        &server,
        "[[fault]]\nname = \"late\"\nkind = \"delay\"\ndelay_ms = 400\ncount = 1\n",
    );
    let t = Instant::now();
    let r = post(&server, TESTILA, &message(1, "1")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(ack(&r), "AA");
    marked(&server, "late").await;

    // ae with a chosen rule: nothing archived.
    let before = server.handle.store.count().unwrap();
    plan(
        &server,
        "[[fault]]\nname = \"refuse-it\"\nkind = \"ae\"\nrule = \"S-001\"\nuse_case = \"archive\"\ncount = 1\n",
    );
    let r = post(&server, TESTILA, &message(2, "2")).await.unwrap();
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(ack(&r), "AE", "{text}");
    assert!(
        text.contains("code=\"S-001\"") && text.contains("injected fault refuse-it"),
        "{text}"
    );
    assert_eq!(server.handle.store.count().unwrap(), before);
    marked(&server, "refuse-it").await;

    // soap-fault: a Receiver fault, nothing archived.
    plan(
        &server,
        "[[fault]]\nname = \"broken\"\nkind = \"soap-fault\"\ncount = 1\n",
    );
    let r = post(&server, TESTILA, &message(3, "3")).await.unwrap();
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, 500, "{text}");
    assert!(
        text.contains("Fault") && text.contains("Server") || text.contains("Receiver"),
        "{text}"
    );
    assert!(text.contains("F-001"), "{text}");
    assert_eq!(server.handle.store.count().unwrap(), before);
    marked(&server, "broken").await;

    // slow-drip: the whole answer, spread over the entry's time.
    plan(
        &server,
        "[[fault]]\nname = \"drip\"\nkind = \"slow-drip\"\ndelay_ms = 600\ncount = 1\n",
    );
    let t = Instant::now();
    let r = post(&server, TESTILA, &message(4, "4")).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(540),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(ack(&r), "AA", "{}", String::from_utf8_lossy(&r.body));
    marked(&server, "drip").await;

    // Every count is used up: the archive answers as usual again.
    let r = post(&server, TESTILA, &message(5, "5")).await.unwrap();
    assert_eq!(ack(&r), "AA");
    server.stop().await;
}

#[tokio::test]
async fn busy_answers_503_with_the_planned_retry_after_as_curl_sees_it() {
    let server = start(the_kit()).await;
    plan(
        &server,
        "[[fault]]\nname = \"break\"\nkind = \"busy\"\nretry_after_secs = 7\ncount = 1\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("m.xml");
    std::fs::write(&body, message(11, "11")).unwrap();
    let with_head = ["-s", "-D", "-"];
    let Some((code, out, err)) = curl_archive(&server, &body, &with_head).await else {
        return;
    };
    assert_eq!(code, 0, "{err}");
    let head = out.to_ascii_lowercase();
    // HTTP/2 or 1.1, as curl and the archive agree by ALPN.
    let status = |h: &str| {
        h.lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .map(str::to_owned)
    };
    assert_eq!(status(&head).as_deref(), Some("503"), "{out}");
    assert!(head.contains("retry-after: 7\r\n"), "{out}");
    assert!(out.contains("W-009"), "{out}");
    assert_eq!(server.handle.store.count().unwrap(), 0);
    marked(&server, "break").await;
    // Once: the same message now goes through.
    let (code, out, _) = curl_archive(&server, &body, &with_head).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(status(&out).as_deref(), Some("200"), "{out}");
    assert_eq!(server.handle.store.count().unwrap(), 1);
    server.stop().await;
}

#[tokio::test]
async fn connection_faults_refuse_alert_or_reset_and_others_are_served() {
    let server = start(the_kit()).await;

    // refuse: the connection is reset before TLS.
    plan(
        &server,
        "[[fault]]\nname = \"down\"\nkind = \"refuse\"\ncount = 1\n",
    );
    let e = post(&server, TESTILA, &message(21, "21"))
        .await
        .unwrap_err();
    assert!(!e.to_string().is_empty());
    let row = marked(&server, "down").await;
    assert_eq!(row.record.outcome, "injected");
    server.assert_serving(the_kit()).await;

    // tls-alert: the ClientHello gets a fatal handshake_failure alert, as OpenSSL reports it.
    plan(
        &server,
        "[[fault]]\nname = \"alert\"\nkind = \"tls-alert\"\ncount = 1\n",
    );
    let o = tokio::task::spawn_blocking({
        let addr = server.addr().to_string();
        move || {
            std::process::Command::new("openssl")
                .args(["s_client", "-connect", &addr, "-servername", "localhost"])
                .stdin(std::process::Stdio::null())
                .output()
        }
    })
    .await
    .unwrap();
    match o {
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("alert handshake failure") || err.contains("alert number 40"),
                "{err}"
            );
        }
        Err(e) => assert!(std::env::var_os("CI").is_none(), "openssl: {e}"),
    }
    marked(&server, "alert").await;
    server.assert_serving(the_kit()).await;

    // reset, for one organisation only: the handshake completes, then a reset.
    plan(
        &server,
        &format!("[[fault]]\nname = \"cut\"\nkind = \"reset\"\norg = \"{KOKEILUMAKI}\"\n"),
    );
    assert!(
        post(&server, KOKEILUMAKI, &message(22, "22"))
            .await
            .is_err()
    );
    let row = marked(&server, "cut").await;
    assert_eq!(row.record.org_oid.as_deref(), Some(KOKEILUMAKI));
    // Another organisation is served all the while.
    let r = post(&server, TESTILA, &message(23, "23")).await.unwrap();
    assert_eq!(ack(&r), "AA");
    server.handle.faults().clear();
    server.assert_serving(the_kit()).await;
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_acknowledgement_neither_loses_nor_duplicates_the_document() {
    let server = start(the_kit()).await;
    plan(
        &server,
        "[[fault]]\nname = \"lost-ack\"\nkind = \"drop-ack\"\nuse_case = \"archive\"\ncount = 1\n",
    );
    let m = message(31, "31");
    let e = post(&server, TESTILA, &m).await;
    assert!(e.is_err(), "the client should not get the answer: {e:?}");
    // Archived, and its row (written in the archive's transaction) is marked.
    assert_eq!(server.handle.store.count().unwrap(), 1);
    let row = marked(&server, "lost-ack").await;
    assert_eq!(row.record.status, Some(200));
    // The client system resends the same message: recognised as a replay, not stored again.
    let r = post(&server, TESTILA, &m).await.unwrap();
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(ack(&r), "AE", "{text}");
    assert!(text.contains("W-016"), "{text}");
    // A resend under a new message id: the same version is already archived (L-001).
    let r = post(&server, TESTILA, &message(31, "32")).await.unwrap();
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("L-001"), "{text}");
    assert_eq!(server.handle.store.count().unwrap(), 1);
    server.stop().await;
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kanta-sim")
}

/// A plan with an unknown key or an impossible window is refused at start with the file
/// and line; `faults set|list|clear` drive a running archive through its admin listener.
#[test]
fn plans_are_checked_at_start_and_set_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let kit = &the_kit().0;
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[fault]]\nkind = \"busy\"\n\n[[fault]]\nkind = \"delay\"\ndelay_ms = 100\nfor_secs = 0\n",
    )
    .unwrap();
    let o = std::process::Command::new(bin())
        .args([
            "serve",
            "--certs",
            kit.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data")
        .arg(dir.path().join("d"))
        .arg("--faults")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:4:", bad.display())) && err.contains("never be open"),
        "{err}"
    );
    assert!(
        !dir.path().join("d").exists(),
        "a refused plan must leave nothing behind"
    );
    std::fs::write(&bad, "[[fault]]\nkind = \"busy\"\nretry_after = 5\n").unwrap();
    let o = std::process::Command::new(bin())
        .args(["faults", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains(":3:") && err.contains("unknown field `retry_after`"),
        "{err}"
    );

    // At run time.
    let ready = dir.path().join("ready.json");
    let mut child = std::process::Command::new(bin())
        .args([
            "serve",
            "--certs",
            kit.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--admin-listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(dir.path().join("d2"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let v = common::wait_ready(&mut child, &ready);
    let admin = v["admin"].as_str().unwrap().to_owned();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[fault]]\nname = \"break\"\nkind = \"busy\"\n").unwrap();
    let faults = |args: &[&str]| {
        std::process::Command::new(bin())
            .arg("faults")
            .args(args)
            .args(["--admin", &admin])
            .output()
            .unwrap()
    };
    let o = faults(&["set", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = faults(&["list"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("break") && out.contains("busy"), "{out}");
    let o = faults(&["clear"]);
    assert!(o.status.success());
    let o = faults(&["list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no fault plan"));
    let _ = child.kill();
    let _ = child.wait();
    // Nothing listening: exit 5.
    let o = faults(&["list"]);
    assert_eq!(o.status.code(), Some(5));
}

/// `openssl s_client` against the archive, verifying the server certificate against the
/// kit's root (and, with `crl`, the kit's CRL): what OpenSSL says about the chain.
async fn openssl_verify(server: &TestServer, crl: bool) -> Option<String> {
    let (kit, _) = the_kit();
    let mut args = vec![
        "s_client".to_owned(),
        "-connect".into(),
        server.addr().to_string(),
        "-servername".into(),
        "localhost".into(),
        "-CAfile".into(),
        kit.join("root-ca.pem").display().to_string(),
        "-verify_return_error".into(),
    ];
    if crl {
        args.extend([
            "-CRL".into(),
            kit.join("crl.pem").display().to_string(),
            "-crl_check".into(),
        ]);
    }
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new("openssl")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .unwrap();
    match o {
        Ok(o) => Some(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "openssl: {e}");
            None
        }
    }
}

#[tokio::test]
async fn certificate_faults_serve_the_kits_expired_or_revoked_server_certificate() {
    let server = start(the_kit()).await;
    // The kit's own server certificate verifies, CRL included (the witness works).
    if let Some(out) = openssl_verify(&server, true).await {
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    }

    // expired-server-cert: OpenSSL reports the expiry; the row names the fault and the
    // client's alert.
    plan(
        &server,
        "[[fault]]\nname = \"old-cert\"\nkind = \"expired-server-cert\"\ncount = 1\n",
    );
    if let Some(out) = openssl_verify(&server, false).await {
        assert!(out.contains("certificate has expired"), "{out}");
        let row = marked(&server, "old-cert").await;
        assert!(row.record.detail["client"].is_string(), "{row:#?}");
    }
    server.assert_serving(the_kit()).await;

    // revoked-server-cert: only a client that checks the CRL notices; OpenSSL with the
    // kit's CRL does, and so does the reference client (it refuses, with no answer to read).
    plan(
        &server,
        "[[fault]]\nname = \"revoked-cert\"\nkind = \"revoked-server-cert\"\ncount = 1\n",
    );
    if let Some(out) = openssl_verify(&server, true).await {
        assert!(out.contains("certificate revoked"), "{out}");
        marked(&server, "revoked-cert").await;
    }
    plan(
        &server,
        "[[fault]]\nname = \"revoked-again\"\nkind = \"revoked-server-cert\"\ncount = 1\n",
    );
    let reference = kanta_sim::client::reference::ReferenceClient::new(
        &the_kit().0,
        TESTILA,
        server.addr(),
        kanta_sim::config::Config::builtin()
            .unwrap()
            .archive
            .interactions,
    )
    .unwrap();
    let e = reference
        .send(message(31, "31"))
        .await
        .expect_err("a revoked server certificate is refused");
    assert!(e.to_string().to_lowercase().contains("revoked"), "{e}");
    marked(&server, "revoked-again").await;
    server.assert_serving(the_kit()).await;

    server.handle.faults().clear();
    server.stop().await;

    // A configured server certificate has no alternates: a plan that needs one is refused
    // with what to do, and the plan in force stays.
    let (cert, key) = path_of(the_kit(), "server");
    let server = start_with(the_kit(), |c| {
        c.tls.server_cert = Some(cert);
        c.tls.server_key = key;
    })
    .await;
    let e = server
        .handle
        .set_fault_plan(
            FaultPlan::parse("[[fault]]\nkind = \"expired-server-cert\"\n", "test-plan").unwrap(),
        )
        .unwrap_err();
    assert!(e.contains("no server:expired certificate"), "{e}");
    assert!(server.handle.faults().status().is_none());
    server.stop().await;
}

/// A client that gives up on a delayed answer and closes the connection: its request is in
/// the exchange log all the same, marked abandoned with the fault and how far it got, and
/// nothing is archived for it.
#[tokio::test]
async fn a_client_giving_up_on_a_delayed_answer_leaves_its_row() {
    let server = start(the_kit()).await;
    plan(
        &server,
        "[[fault]]\nname = \"stall\"\nkind = \"delay\"\ndelay_ms = 5000\ncount = 1\n",
    );
    let before = server.handle.store.count().unwrap();
    let gave_up = tokio::time::timeout(
        Duration::from_millis(600),
        post(&server, TESTILA, &message(40, "40")),
    )
    .await;
    assert!(gave_up.is_err(), "answered within the delay: {gave_up:?}");
    let row = server.wait_for(|r| r.record.outcome == "abandoned").await;
    assert_eq!(injected(&row), Some("stall"), "{row:#?}");
    assert!(row.record.codes.contains(&RuleId::F001), "{row:#?}");
    assert!(
        row.record.summary.contains("holding the answer back")
            && row.record.summary.contains("nothing was stored"),
        "{}",
        row.record.summary
    );
    assert_eq!(
        row.record.message_id.as_ref().map(|m| m.1.as_str()),
        Some("40")
    );
    assert!(
        row.record.request.as_ref().is_some_and(|b| b.len() > 1000),
        "the request body is kept as evidence"
    );
    assert_eq!(server.handle.store.count().unwrap(), before);
}

/// The same with curl as the client (a client kanta-sim did not write): `--max-time` runs
/// out during the delay, curl exits 28, and the request's row is there, abandoned.
#[tokio::test]
async fn curl_giving_up_on_a_delay_leaves_an_abandoned_row() {
    let server = start(the_kit()).await;
    plan(
        &server,
        "[[fault]]\nname = \"curl-wait\"\nkind = \"delay\"\ndelay_ms = 5000\ncount = 1\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("m.xml");
    std::fs::write(&body, message(41, "41")).unwrap();
    let Some((code, _, err)) = curl_archive(&server, &body, &["-sS", "--max-time", "0.5"]).await
    else {
        return;
    };
    assert_eq!(code, 28, "curl should time out: {err}");
    let row = server.wait_for(|r| r.record.outcome == "abandoned").await;
    assert_eq!(injected(&row), Some("curl-wait"), "{row:#?}");
    assert_eq!(
        row.record.message_id.as_ref().map(|m| m.1.as_str()),
        Some("41")
    );
}
