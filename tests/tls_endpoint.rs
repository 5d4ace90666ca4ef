//! The mutual-TLS archive endpoint over real sockets: who gets in, who does not, and that
//! the server records the right reason for every refusal.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use kanta_sim::archive::ExchangeKind;
use kanta_sim::client::HttpVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn kit() -> &'static (std::path::PathBuf, kanta_sim::pki::Index) {
    common::kit("tls")
}

#[tokio::test]
async fn every_registered_organisation_gets_in_over_tls12_tls13_h1_and_h2() {
    let kit = kit();
    // Every check its own row here (log.health_window_secs = 0), to see each one's facts.
    let server = start_with(kit, |c| c.log.health_window_secs = 0).await;
    for (oid, versions, http, want_version, want_alpn) in [
        (TESTILA, TLS13, HttpVersion::Http1, "TLSv1_3", "http/1.1"),
        (
            KOKEILUMAKI,
            TLS12,
            HttpVersion::Http1,
            "TLSv1_2",
            "http/1.1",
        ),
        (SIMULAATIOHOIVA, TLS13, HttpVersion::Http2, "TLSv1_3", "h2"),
        (TESTILA, TLS12, HttpVersion::Http2, "TLSv1_2", "h2"),
    ] {
        let role = format!("client:{oid}");
        let r = get(kit, server.addr(), Some(&role), versions, http, "/health")
            .await
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "{role}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.tls_version, want_version);
        assert_eq!(r.alpn.as_deref(), Some(want_alpn));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["organisation"]["oid"], oid);
        assert_eq!(body["tls_version"], want_version);
    }
    let log = server.handle.log.recent(10).unwrap();
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|r| r.record.status == Some(200) && r.record.codes.is_empty())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_polling_monitor_adds_one_row_per_window_with_a_count() {
    let kit = kit();
    let server = start(kit).await;
    let role = format!("client:{TESTILA}");
    for _ in 0..25 {
        let r = get(
            kit,
            server.addr(),
            Some(&role),
            TLS13,
            HttpVersion::Http1,
            "/health",
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
    }
    // The maintenance task writes the count within a few seconds.
    let mut counted = None;
    for _ in 0..60 {
        let log = server.handle.log.recent(10).unwrap();
        if log.len() == 1 && log[0].repeats == 24 {
            counted = Some(log);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = counted.expect("one row counting 24 further checks");
    assert_eq!(log[0].record.path.as_deref(), Some("/health"));
    server.stop().await;
}

async fn assert_refused(role: Option<&str>, code: &str, needle: &str) {
    let kit = kit();
    let server = start(kit).await;
    let result = get(
        kit,
        server.addr(),
        role,
        BOTH,
        HttpVersion::Http1,
        "/health",
    )
    .await;
    assert!(
        result.is_err(),
        "{role:?} got in: {:?}",
        result.map(|r| r.status)
    );
    let sha = role.map(|r| sha256_of(kit, r));
    let rec = server
        .wait_for(|r| r.record.kind == ExchangeKind::Handshake && r.record.cert_sha256 == sha)
        .await;
    assert_eq!(rec.record.outcome, "rejected");
    assert_eq!(
        rec.record.codes.first().map(|c| c.as_str()),
        Some(code),
        "{:?}",
        rec.record.summary
    );
    assert!(
        rec.record.summary.contains(needle),
        "{code}: {}",
        rec.record.summary
    );
    assert!(rec.record.peer.starts_with("127.0.0.1:"));
    // The server keeps serving after a refusal.
    server.assert_serving(kit).await;
    server.stop().await;
}

#[tokio::test]
async fn no_certificate_is_refused_with_t001() {
    assert_refused(None, "T-001", "no client certificate").await;
}

#[tokio::test]
async fn expired_is_refused_with_t003_naming_not_after() {
    assert_refused(Some("bad:expired"), "T-003", "notAfter").await;
}

#[tokio::test]
async fn not_yet_valid_is_refused_with_t004() {
    assert_refused(Some("bad:not-yet-valid"), "T-004", "notBefore").await;
}

#[tokio::test]
async fn revoked_is_refused_with_t005_naming_the_serial() {
    let serial = kit().1.get("bad:revoked").unwrap().serial.clone().unwrap();
    assert_refused(Some("bad:revoked"), "T-005", &serial).await;
}

#[tokio::test]
async fn unknown_issuer_is_refused_with_t002() {
    assert_refused(Some("bad:unknown-issuer"), "T-002", "ROGUE Root CA").await;
}

#[tokio::test]
async fn server_auth_only_is_refused_with_t006() {
    assert_refused(
        Some("bad:server-auth-only"),
        "T-006",
        "clientAuth is required",
    )
    .await;
}

#[tokio::test]
async fn leaf_without_its_intermediate_is_refused_with_t015() {
    let kit = kit();
    let server = start(kit).await;
    let (cert, key) = path_of(kit, &format!("client:{TESTILA}"));
    let (mut chain, key) = kanta_sim::client::load_identity(&cert, &key.unwrap()).unwrap();
    chain.truncate(1);
    let client = kanta_sim::client::MtlsClient::new(
        &path_of(kit, "root-ca").0,
        Some((chain, key)),
        BOTH,
        HttpVersion::Http1,
    )
    .unwrap();
    assert!(
        client
            .request(server.addr(), "GET", "/health", None, Bytes::new())
            .await
            .is_err()
    );
    let rec = server
        .wait_for(|r| r.record.kind == ExchangeKind::Handshake)
        .await;
    assert_eq!(rec.record.codes, vec!["T-015"], "{}", rec.record.summary);
    assert!(rec.record.summary.contains("send the whole chain"));
    server.stop().await;
}

#[tokio::test]
async fn unregistered_and_inactive_organisations_are_refused_at_application_level() {
    let kit = kit();
    let server = start(kit).await;
    for (role, code, oid) in [
        ("bad:unregistered-org", "A-002", "1.2.246.10.99900059.10.0"),
        ("bad:inactive-org", "A-003", "1.2.246.10.99900040.10.0"),
    ] {
        let r = get(
            kit,
            server.addr(),
            Some(role),
            BOTH,
            HttpVersion::Http1,
            "/health",
        )
        .await
        .unwrap();
        assert_eq!(r.status, 403);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["code"], code);
        assert!(body["error"].as_str().unwrap().contains(oid), "{body}");
        let rec = server
            .wait_for(|r| r.record.codes.len() == 1 && r.record.codes[0] == code)
            .await;
        assert_eq!(rec.record.org_oid.as_deref(), Some(oid));
        assert_eq!(rec.record.status, Some(403));
    }
    server.stop().await;
}

/// A ClientHello offering only TLS 1.1 (no supported_versions extension).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]);
    body.push(0); // session id
    body.extend([0x00, 0x04, 0xc0, 0x14, 0x00, 0x2f]); // two CBC suites
    body.extend([0x01, 0x00]); // null compression
    let mut hs = vec![0x01, 0x00, 0x00, u8::try_from(body.len()).unwrap()];
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01, 0x00, u8::try_from(hs.len()).unwrap()];
    rec.extend(hs);
    rec
}

#[tokio::test]
async fn tls11_only_client_is_refused_with_t010() {
    let kit = kit();
    let server = start(kit).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut reply = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert!(
        n >= 7 && reply[0] == 0x15,
        "expected a TLS alert record, got {:?}",
        &reply[..n]
    );
    let rec = server
        .wait_for(|r| r.record.kind == ExchangeKind::Handshake)
        .await;
    assert_eq!(rec.record.codes, vec!["T-010"], "{}", rec.record.summary);
    assert!(
        rec.record.summary.contains("TLS 1.2 and 1.3 only"),
        "{}",
        rec.record.summary
    );
    assert!(
        rec.record.summary.contains("offered TLS 1.1"),
        "{}",
        rec.record.summary
    );
    server.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_named_and_the_server_keeps_serving() {
    let kit = kit();
    let server = start(kit).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut sink)).await;
    let rec = server
        .wait_for(|r| r.record.kind == ExchangeKind::Handshake)
        .await;
    assert_eq!(rec.record.codes, vec!["T-011"], "{}", rec.record.summary);
    assert!(rec.record.summary.contains("https://"));
    server.assert_serving(kit).await;
    server.stop().await;
}

#[tokio::test]
async fn silent_client_times_out_with_t014() {
    let kit = kit();
    let server = start_with(kit, |c| c.server.handshake_timeout_secs = 1).await;
    let _tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let rec = server
        .wait_for(|r| r.record.kind == ExchangeKind::Handshake)
        .await;
    assert_eq!(rec.record.codes, vec!["T-014"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_interoperates_and_weak_keys_are_refused_with_t007() {
    let kit = kit();
    let server = start(kit).await;
    let url = format!("https://127.0.0.1:{}/health", server.addr().port());
    // curl as the holder of `role`'s certificate and key.
    let curl_as = |role: &str, env: Vec<(&'static str, std::path::PathBuf)>| {
        let ca = path_of(kit, "root-ca").0;
        let (cert, key) = path_of(kit, role);
        let url = url.clone();
        async move {
            let args = [
                "-sS".to_owned(),
                "--cacert".to_owned(),
                ca.display().to_string(),
                "--cert".to_owned(),
                cert.display().to_string(),
                "--key".to_owned(),
                key.unwrap().display().to_string(),
                url,
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &std::path::Path)> =
                env.iter().map(|(k, v)| (*k, v.as_path())).collect();
            curl(&args, &env).await
        }
    };
    let Some((code, out, err)) = curl_as(&format!("client:{TESTILA}"), vec![]).await else {
        return;
    };
    assert_eq!(code, 0, "curl: {err}");
    assert!(out.contains(TESTILA), "{out}");

    // OpenSSL refuses 1024-bit keys at its default security level; level 0 lets curl
    // present the weak certificate so that the archive has to refuse it itself.
    let (code, _, err) = curl_as(
        "bad:weak-key",
        vec![("OPENSSL_CONF", openssl_seclevel0_conf())],
    )
    .await
    .unwrap();
    assert_ne!(code, 0, "weak key got in");
    let sha = Some(sha256_of(kit, "bad:weak-key"));
    let rec = server.wait_for(|r| r.record.cert_sha256 == sha).await;
    assert_eq!(
        rec.record.codes.first().map(|c| c.as_str()),
        Some("T-007"),
        "{} / curl: {err}",
        rec.record.summary
    );
    assert!(
        rec.record.summary.contains("RSA 1024 bits"),
        "{}",
        rec.record.summary
    );

    // And curl with an expired certificate: refused, with the reason on the server side.
    let (code, _, _) = curl_as("bad:expired", vec![]).await.unwrap();
    assert_ne!(code, 0);
    let sha = Some(sha256_of(kit, "bad:expired"));
    let rec = server.wait_for(|r| r.record.cert_sha256 == sha).await;
    assert_eq!(rec.record.codes.first().map(|c| c.as_str()), Some("T-003"));
    server.stop().await;
}

#[tokio::test]
async fn diagnostic_listener_explains_instead_of_refusing() {
    let kit = kit();
    let server = start(kit).await;
    let diag = server.handle.bound.diagnostic.unwrap();
    let text = |r: kanta_sim::client::ClientResponse| String::from_utf8_lossy(&r.body).into_owned();

    let r = get(
        kit,
        diag,
        Some("bad:expired"),
        BOTH,
        HttpVersion::Http1,
        "/",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let t = text(r);
    assert!(t.contains("would REFUSE") && t.contains("T-003"), "{t}");

    let r = get(
        kit,
        diag,
        Some("bad:revoked"),
        BOTH,
        HttpVersion::Http1,
        "/?format=json",
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["strict_listener_would_accept"], false);
    assert_eq!(v["findings"][0]["code"], "T-005");

    let r = get(
        kit,
        diag,
        Some("bad:unregistered-org"),
        BOTH,
        HttpVersion::Http1,
        "/",
    )
    .await
    .unwrap();
    assert!(text(r).contains("A-002"));

    let r = get(kit, diag, None, BOTH, HttpVersion::Http1, "/")
        .await
        .unwrap();
    let t = text(r);
    assert!(
        t.contains("no client certificate") && t.contains("T-001"),
        "{t}"
    );

    let r = get(
        kit,
        diag,
        Some(&format!("client:{TESTILA}")),
        TLS12,
        HttpVersion::Http2,
        "/",
    )
    .await
    .unwrap();
    let t = text(r);
    assert!(t.contains("would ACCEPT") && t.contains(TESTILA), "{t}");
    server.stop().await;
}

#[tokio::test]
async fn ready_file_names_the_bound_addresses() {
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let server = start_with(kit, |c| c.server.ready_file = Some(ready.clone())).await;
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    assert_eq!(v["listen"], server.addr().to_string());
    assert_eq!(
        v["diagnostic"],
        server.handle.bound.diagnostic.unwrap().to_string()
    );
    server.stop().await;
}
