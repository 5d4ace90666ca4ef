//! The archivist's view and the deployment-test rehearsal: every page over HTTP (status and
//! key facts), invalidation through the view under the same rules as the interface, display
//! forms that never carry a script, the mutual-TLS mode with professional certificates, the
//! ledger's warnings through the archive, the guided rehearsal with its break switches, and
//! the pages rendered in headless Chromium.

use crate::common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;

use common::*;
use kanta_sim::archive::DocumentStore;
use kanta_sim::client::reference::{ReferenceClient, Signing};
use kanta_sim::config::Config;
use kanta_sim::document::{Body, Metadata, build_cda};

const PERSON: &str = "010190-950A";

struct Http {
    status: u16,
    headers: String,
    body: String,
}

fn http(addr: SocketAddr, method: &str, path: &str, form: Option<&str>) -> Http {
    raw_http(addr, method, path, form, &format!("Host: {addr}\r\n"))
}

/// A request with extra header lines (each ending in CRLF; `Host` among them).
fn raw_http(addr: SocketAddr, method: &str, path: &str, form: Option<&str>, headers: &str) -> Http {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = form.unwrap_or("");
    // A server that refuses a body early may close before all of it is written: what it
    // answered is still read.
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Chunked bodies: the tests look for facts, so the chunk sizes in between do no harm.
    Http {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn client(server: &TestServer, org: &str) -> ReferenceClient {
    ReferenceClient::new(
        &kit("archivist").0,
        org,
        server.addr(),
        Config::builtin().unwrap().archive.interactions,
    )
    .unwrap()
}

async fn archivist_server() -> TestServer {
    start_with(kit("archivist"), |c| {
        c.archivist.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await
}

fn view(server: &TestServer) -> SocketAddr {
    server.handle.bound.archivist.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_answers_with_its_facts_and_invalidation_follows_the_rules() {
    let server = archivist_server().await;
    let t = client(&server, TESTILA);
    let v1 = Metadata::client_relationship_example("1.2.246.10.99900016.10.0.7001", PERSON);
    assert_eq!(t.archive(&v1, &Signing::System).await.unwrap().ack(), "AA");
    let v2 = v1.next_version("1.2.246.10.99900016.10.0.7002", "20261124100000+0200");
    assert_eq!(t.archive(&v2, &Signing::System).await.unwrap().ack(), "AA");
    let plan =
        Metadata::client_document_example("1.2.246.10.99900016.10.0.7003", PERSON, "99900000011");
    assert_eq!(
        t.archive(&plan, &Signing::Professional("99900000011".into()))
            .await
            .unwrap()
            .ack(),
        "AA"
    );
    // A display form with active content: accepted by the archive (well-formed XHTML), never
    // served as such by the view.
    let hostile = Metadata::client_relationship_example("1.2.246.10.99900016.10.0.7004", PERSON);
    let mut body = Body::example(&hostile, 100);
    body.xhtml = "<div class=\"soc-document\" xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"steal()\">Teksti</p><script>alert('x')</script><img src=\"http://evil.example/x.png\"/></div>".into();
    let signed = t
        .sign(&build_cda(&hostile, &body), &hostile, &Signing::System)
        .unwrap();
    assert_eq!(
        t.send(t.wrap(&hostile, &signed, |_| {}))
            .await
            .unwrap()
            .ack(),
        "AA"
    );
    let k = client(&server, KOKEILUMAKI);
    let mut foreign =
        Metadata::client_relationship_example("1.2.246.10.99900024.10.0.7005", PERSON);
    foreign.custodian = KOKEILUMAKI.into();
    assert_eq!(
        k.archive(&foreign, &Signing::System).await.unwrap().ack(),
        "AA"
    );

    let a = view(&server);
    let q = format!("org={}&lang=en", enc(TESTILA));
    let get = |path: &str| {
        let r = http(a, "GET", path, None);
        assert!(
            r.headers
                .contains("content-security-policy: default-src 'none'"),
            "{path}: {}",
            r.headers
        );
        r
    };
    let home = get(&format!("/?{q}"));
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("Testilän hyvinvointialue")
            && home.body.contains("Archivist&#x27;s view")
    );
    let fi = get(&format!("/?org={}", enc(TESTILA)));
    assert!(fi.body.contains("Arkistonhoitajan näkymä"));
    let sv = http(a, "GET", "/", None);
    assert!(sv.body.contains("lang=\"fi\""));

    let search = get(&format!("/search?{q}&client={}", enc(PERSON)));
    assert_eq!(search.status, 200, "{}", search.body);
    for oid in ["7001", "7002", "7003", "7004"] {
        assert!(
            search
                .body
                .contains(&format!("1.2.246.10.99900016.10.0.{oid}")),
            "{oid}"
        );
    }
    assert!(
        !search.body.contains("99900024.10.0.7005"),
        "another register leaked into the search"
    );
    let only_active = get(&format!(
        "/search?{q}&client={}&status=replaced",
        enc(PERSON)
    ));
    assert!(only_active.body.contains("0.7001") && !only_active.body.contains("0.7002"));
    let bad_range = get(&format!("/search?{q}&from=2026-11"));
    assert!(bad_range.body.contains("YYYYMMDD"));

    let doc = get(&format!("/document?{q}&oid={}", enc(&v2.document_oid)));
    assert_eq!(doc.status, 200);
    for fact in [
        "1.2.246.10.99900016.10.0.7001",
        "Version history",
        "Valid",
        "Testilän hyvinvointialue",
        "1 Asiakkuusasiakirja",
        "1 Sosiaalihuollon asiakasrekisteri",
        "replaced",
    ] {
        assert!(doc.body.contains(fact), "{fact}");
    }
    let shown = get(&format!("/document?{q}&oid={}", enc(&hostile.document_oid)));
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Teksti"));
    for gone in ["<script", "alert(", "onclick", "evil.example"] {
        assert!(!shown.body.contains(gone), "{gone} served");
    }
    assert_eq!(
        get(&format!("/document?{q}&oid={}", enc(&foreign.document_oid))).status,
        404
    );
    let cmp = get(&format!(
        "/compare?{q}&a={}&b={}",
        enc(&v1.document_oid),
        enc(&v2.document_oid)
    ));
    assert_eq!(cmp.status, 200);
    assert!(cmp.body.contains("class=\"diff\""));

    // Invalidation through the view: the interface's rules, with the archivist as actor. A
    // form carries the session's anti-forgery token (the cookie a page set, in a hidden
    // field of that page).
    let page = get(&format!("/document?{q}&oid={}", enc(&v2.document_oid)));
    let token = page
        .headers
        .split("ksim_csrf=")
        .nth(1)
        .and_then(|t| t.split(';').next())
        .expect("the page sets the session cookie")
        .to_owned();
    assert!(
        page.body
            .contains(&format!("name=\"csrf\" value=\"{token}\""))
    );
    assert!(page.headers.contains("cache-control: no-store"));
    assert!(page.headers.contains("samesite=strict") && page.headers.contains("httponly"));
    let session = format!("Host: {a}\r\nCookie: ksim_csrf={token}\r\n");
    let post = |oid: &str, reason: &str| {
        raw_http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!(
                "csrf={token}&oid={}&reason={}",
                enc(oid),
                enc(reason)
            )),
            &session,
        )
    };
    // Forged requests (issue #12): no token, another site's token, a cross-origin form, a
    // foreign Host (DNS rebinding) are refused with 403 and change nothing.
    let forged = [
        http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!("oid={}&reason=x", enc(&v2.document_oid))),
        ),
        raw_http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!(
                "csrf={}&oid={}&reason=x",
                "0".repeat(48),
                enc(&v2.document_oid)
            )),
            &session,
        ),
        raw_http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!(
                "csrf={token}&oid={}&reason=x",
                enc(&v2.document_oid)
            )),
            &format!("{session}Origin: http://evil.example\r\n"),
        ),
        raw_http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!(
                "csrf={token}&oid={}&reason=x",
                enc(&v2.document_oid)
            )),
            &format!("{session}Sec-Fetch-Site: cross-site\r\n"),
        ),
        raw_http(
            a,
            "POST",
            &format!("/invalidate?{q}"),
            Some(&format!("oid={}&reason=x", enc(&v2.document_oid))),
            "Host: attacker.example\r\nOrigin: http://evil.example\r\n",
        ),
        raw_http(
            a,
            "GET",
            &format!("/document?{q}&oid={}", enc(&v2.document_oid)),
            None,
            "Host: attacker.example\r\n",
        ),
    ];
    for (i, r) in forged.iter().enumerate() {
        assert_eq!(r.status, 403, "forged request {i}: {}", r.body);
        assert!(r.body.contains("refused"), "{}", r.body);
    }
    assert_eq!(
        server
            .handle
            .store
            .get(&v2.document_oid)
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "active",
        "nothing was invalidated by a forged request"
    );
    let r = post(&v2.document_oid, "");
    assert_eq!(r.status, 422);
    assert!(r.body.contains("L-023"));
    let r = post(&v1.document_oid, "väärä asiakas");
    assert!(r.status == 422 && r.body.contains("L-024"));
    let r = post(&foreign.document_oid, "väärä asiakas");
    assert!(
        r.status == 422 && r.body.contains("L-020"),
        "another register's document is unknown here"
    );
    let r = post(&v2.document_oid, "Kirjattu väärälle asiakkaalle");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("The document was invalidated") && r.body.contains("archivist"));
    assert!(post(&v2.document_oid, "taas").body.contains("L-022"));
    let history = server.handle.store.history(&v1.set_id).unwrap();
    assert_eq!(history.last().unwrap().actor_role, "archivist");

    // Deployment test: checklist (a) over SIM-KOE-01, (b) against an export.
    let dep = get(&format!("/deployment?{q}&person={}", enc(PERSON)));
    assert_eq!(dep.status, 200);
    assert!(
        dep.body.contains("SIM-KOE-01") && dep.body.contains("Passed"),
        "checklist (a)"
    );
    let toml_export = format!(
        "[[document]]\noid = \"{}\"\nclient_id = \"{PERSON}\"\neffective_time = \"20261231000000+0200\"\n",
        plan.document_oid
    );
    let r = raw_http(
        a,
        "POST",
        &format!("/deployment?{q}&person={}", enc(PERSON)),
        Some(&format!("csrf={token}&recorded={}", enc(&toml_export))),
        &session,
    );
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("20261231000000+0200")
            && r.body.contains("class=\"diff\"")
            && r.body.contains("Failed")
    );
    let huge = format!("recorded={}", "x".repeat(2 << 20));
    assert_eq!(
        http(a, "POST", &format!("/deployment?{q}"), Some(&huge)).status,
        413
    );
    let r = raw_http(
        a,
        "POST",
        &format!("/deployment?{q}"),
        Some(&format!("csrf={token}&recorded=%5Bbroken")),
        &session,
    );
    assert!(r.body.contains("TOML:"));

    // Report to Kela: Maundy Thursday 2027 is due after Easter Monday; a late submission warns.
    let rep = get(&format!(
        "/report?{q}&person={}&completed=2027-03-25+10:00&submitted=2027-04-01&system=Asiakastieto&version=5.1",
        enc(PERSON)
    ));
    assert_eq!(rep.status, 200);
    for fact in [
        "2027-03-31",
        "Easter Monday",
        "The report is late",
        "9990001-6",
        "Testilän perhesosiaalityö",
        "Asiakastieto 5.1",
        "not a statement by Kela",
    ] {
        assert!(rep.body.contains(fact), "{fact}: {}", rep.body);
    }
    let on_time = get(&format!(
        "/report?{q}&completed=2027-03-25&submitted=2027-03-31"
    ));
    assert!(!on_time.body.contains("The report is late"));
    let train = get(&format!("/train?{q}"));
    assert!(
        train.status == 200
            && train.body.contains("Kanta archivist")
            && train.body.contains("--break late-report")
    );
    assert_eq!(get(&format!("/nothing?{q}")).status, 404);

    chromium_walk(a, &q, &v2.document_oid);
    server.stop().await;
}

/// Opens the view in headless Chromium: the search for the test person, then a document;
/// the DOM keeps what the page says and a screenshot of each is saved.
fn chromium_walk(a: SocketAddr, q: &str, oid: &str) {
    let Some(chromium) = chromium() else { return };
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, path, fact) in [
        (
            "archivist-search",
            format!("/search?{q}&client={}", enc(PERSON)),
            oid.to_owned(),
        ),
        (
            "archivist-document",
            format!("/document?{q}&oid={}", enc(oid)),
            "Version history".to_owned(),
        ),
    ] {
        let dom = chromium_load(
            chromium,
            &format!("http://{a}{path}"),
            &out_dir.join(format!("{name}.png")),
        );
        assert!(
            dom.contains(&fact),
            "{name}: {}",
            &dom[..dom.len().min(400)]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_mutual_tls_only_registered_professionals_get_in() {
    let server = start_with(kit("archivist"), |c| {
        c.archivist.listen = Some("127.0.0.1:0".parse().unwrap());
        c.archivist.mtls = true;
    })
    .await;
    let a = view(&server);
    let pro = kanta_sim::client::MtlsClient::new(
        &path_of(kit("archivist"), "root-ca").0,
        Some({
            let (c, k) = path_of(kit("archivist"), "professional:99900000011");
            kanta_sim::client::load_identity(&c, &k.unwrap()).unwrap()
        }),
        BOTH,
        kanta_sim::client::HttpVersion::Http1,
    )
    .unwrap();
    let r = pro
        .request(a, "GET", "/?lang=en", None, bytes::Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains("Testinen") && body.contains("1.2.246.10.99900016.10.0"),
        "{body}"
    );
    // The archivist acts for their own controller whatever the URL says.
    let r = pro
        .request(
            a,
            "GET",
            &format!("/?org={}", enc(KOKEILUMAKI)),
            None,
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("Testilän hyvinvointialue"));
    // A system certificate is not an archivist.
    let sys = client_cert_request(a, &format!("client:{TESTILA}")).await;
    assert_eq!(sys, Some(403));
    // No certificate: no handshake.
    let none = kanta_sim::client::MtlsClient::new(
        &path_of(kit("archivist"), "root-ca").0,
        None,
        BOTH,
        kanta_sim::client::HttpVersion::Http1,
    )
    .unwrap();
    assert!(
        none.request(a, "GET", "/", None, bytes::Bytes::new())
            .await
            .is_err()
    );
    server.stop().await;

    // archivist.roles decides who is an archivist, and for whom.
    let server = start_with(kit("archivist"), |c| {
        c.archivist.listen = Some("127.0.0.1:0".parse().unwrap());
        c.archivist.mtls = true;
        c.archivist
            .roles
            .insert("99900000029".into(), TESTILA.into());
    })
    .await;
    let a = view(&server);
    assert_eq!(
        client_cert_request(a, "professional:99900000011").await,
        Some(403)
    );
    assert_eq!(
        client_cert_request(a, "professional:99900000029").await,
        Some(200)
    );
    server.stop().await;
}

async fn client_cert_request(a: SocketAddr, role: &str) -> Option<u16> {
    let (c, k) = path_of(kit("archivist"), role);
    let cl = kanta_sim::client::MtlsClient::new(
        &path_of(kit("archivist"), "root-ca").0,
        Some(kanta_sim::client::load_identity(&c, &k.unwrap()).unwrap()),
        BOTH,
        kanta_sim::client::HttpVersion::Http1,
    )
    .unwrap();
    cl.request(a, "GET", "/", None, bytes::Bytes::new())
        .await
        .ok()
        .map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_warns_about_codes_of_another_organisation_or_pool() {
    let server = archivist_server().await;
    let ledger = kanta_sim::ledger::Ledger::open(server.data.path()).unwrap();
    let code = ledger
        .issue(
            kanta_sim::ledger::Pool::DeploymentTest,
            "Testilän hyvinvointialue",
            Some(TESTILA),
            "käyttöönottokoe",
            1,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap()
        .remove(0)
        .code;
    let k = client(&server, KOKEILUMAKI);
    let mut m = Metadata::client_relationship_example("1.2.246.10.99900024.10.0.8001", &code);
    m.custodian = KOKEILUMAKI.into();
    let r = k.archive(&m, &Signing::System).await.unwrap();
    assert_eq!(r.ack(), "AA", "warnings never refuse");
    assert_eq!(
        r.codes(),
        ["P-005", "P-006"],
        "issued to Testilä, from the deployment-test pool in a test-env profile"
    );
    let t = client(&server, TESTILA);
    let m = Metadata::client_relationship_example("1.2.246.10.99900016.10.0.8002", &code);
    assert_eq!(
        t.archive(&m, &Signing::System).await.unwrap().codes(),
        ["P-006"]
    );
    server.stop().await;
}

#[test]
fn due_date_ids_and_the_guided_rehearsal_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = sim(&["due-date", "2027-03-25"], tmp.path());
    assert_eq!(code, 0);
    assert!(
        out.starts_with("2027-03-31") && out.contains("Easter Monday"),
        "{out}"
    );
    let (_, out) = sim(&["due-date", "2026-11-20", "--count-saturdays"], tmp.path());
    assert!(out.starts_with("2026-11-23"), "{out}");
    assert_eq!(sim(&["due-date", "25.3.2027"], tmp.path()).0, 2);

    let data = tmp.path().join("d");
    let d = data.to_str().unwrap();
    let (code, out) = sim(
        &[
            "ids",
            "issue",
            "--customer",
            "Toimittaja Oy",
            "--service",
            "sosiaalihuolto",
            "--count",
            "3",
            "--pool",
            "deployment-test",
            "--data",
            d,
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    let codes: Vec<&str> = out.lines().filter(|l| l.len() == 11).collect();
    assert_eq!(codes.len(), 3);
    let (_, list) = sim(&["ids", "list", "--data", d], tmp.path());
    assert!(codes.iter().all(|c| list.contains(c)) && list.contains("Toimittaja Oy"));
    let (_, csv) = sim(
        &["ids", "export", "--format", "csv", "--data", d],
        tmp.path(),
    );
    assert!(
        csv.starts_with("code,pool,customer,org,service,issued_at")
            && csv.contains("deployment-test")
    );
    assert_eq!(
        sim(
            &[
                "ids",
                "list",
                "--data",
                tmp.path().join("empty").to_str().unwrap()
            ],
            tmp.path()
        )
        .0,
        4
    );

    let (code, out) = sim(&["train", "deployment-test", "--no-pause"], tmp.path());
    assert_eq!(code, 0, "{out}");
    for fact in [
        "Kanta archivist",
        "checklist (a): PASSED",
        "checklist (b): PASSED",
        "report due",
        "Rehearsal PASSED",
    ] {
        assert!(out.contains(fact), "{fact}: {out}");
    }
    for (brk, fact) in [
        ("expired-certificate", "T-003"),
        ("missing-document", "checklist (a): FAILED"),
        ("mismatching-field", "effective_time"),
        ("late-report", "LATE"),
    ] {
        let (code, out) = sim(
            &["train", "deployment-test", "--no-pause", "--break", brk],
            tmp.path(),
        );
        assert_eq!(code, 3, "{brk}: {out}");
        assert!(
            out.contains(fact) && out.contains("Rehearsal FAILED"),
            "{brk}: {out}"
        );
    }
    // The view is never opened to the network without client certificates.
    let (code, out) = sim(
        &[
            "serve",
            "--archivist-listen",
            "0.0.0.0:0",
            "--certs",
            tmp.path().join("none").to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("loopback"), "{out}");
}
