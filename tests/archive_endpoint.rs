//! `POST /archive` over mutual TLS: documents built and signed with the project's own tools
//! are archived with AA and survive a restart; each class of defect gets its rule id; hostile
//! input is answered and the server keeps serving.

use crate::common;

use bytes::Bytes;
use common::*;
use kanta_sim::archive::DocumentStore;
use kanta_sim::client::HttpVersion;
use kanta_sim::document::{Body, Metadata, build_cda};
use kanta_sim::document::{SignatureType, sign_kanta_document};
use kanta_sim::message::build::{MessageSpec, build_archive_message};
use kanta_sim::xmldsig::{Signer, new_signature_id};
use time::OffsetDateTime;

const S11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const S12: &str = "http://www.w3.org/2003/05/soap-envelope";

async fn post(
    server: &TestServer,
    role: &str,
    ct: &str,
    body: &str,
) -> kanta_sim::client::ClientResponse {
    let kit = kit("archive");
    client(kit, Some(role), BOTH, HttpVersion::Http1)
        .request(
            server.addr(),
            "POST",
            "/archive",
            Some(ct),
            Bytes::from(body.to_owned()),
        )
        .await
        .unwrap()
}

fn testila() -> String {
    format!("client:{TESTILA}")
}

fn kit_dir() -> &'static std::path::Path {
    &kit("archive").0
}

/// A signed archive message for `meta`, signed with `role`'s certificate.
fn message(meta: &Metadata, role: &str, kind: SignatureType, message_ext: &str) -> String {
    let signer = Signer::from_kit(kit_dir(), role).unwrap();
    let cda = sign_kanta_document(
        &build_cda(meta, &Body::example(meta, 12_000)),
        &signer,
        kind,
        OffsetDateTime::now_utc(),
        &new_signature_id(),
    )
    .unwrap();
    build_archive_message(&MessageSpec::for_document(meta, message_ext), meta, &cda)
}

fn ack_of(r: &kanta_sim::client::ClientResponse) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let doc = kanta_sim::xml::parse(&text, &kanta_sim::xml::Limits::default()).unwrap();
    let ack = doc
        .descendants()
        .find(|n| n.has_tag_name(("urn:hl7-org:v3", "acknowledgement")))
        .unwrap_or_else(|| panic!("no acknowledgement in {text}"));
    let codes = doc
        .descendants()
        .filter(|n| n.has_tag_name(("urn:hl7-org:v3", "acknowledgementDetail")))
        .filter_map(|d| {
            d.children()
                .find(|c| c.has_tag_name(("urn:hl7-org:v3", "code")))
        })
        .filter_map(|c| c.attribute("code").map(str::to_owned))
        .collect();
    (ack.attribute("typeCode").unwrap_or("").to_owned(), codes)
}

#[tokio::test]
async fn valid_sp1_and_sp17_documents_are_archived_and_survive_a_restart() {
    let server = start(kit("archive")).await;
    let sp1 =
        Metadata::client_relationship_example("1.2.246.10.99900016.10.0.2026.101", "010190-902S");
    // The same SP1 document, signed by its custodian, in a message with id `ext`.
    let sp1_message = |ext: &str| {
        message(
            &sp1,
            "system-signature:1.2.246.10.99900016.10.0",
            SignatureType::System,
            ext,
        )
    };
    let r = post(
        &server,
        &testila(),
        "text/xml; charset=UTF-8",
        &sp1_message("101"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        ack_of(&r),
        ("AA".to_owned(), vec![]),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let sp17 = Metadata::client_document_example(
        "1.2.246.10.99900016.10.0.2026.102",
        "010594Y9032",
        "99900000011",
    );
    let r = post(
        &server,
        &testila(),
        "text/xml",
        &message(
            &sp17,
            "professional:99900000011",
            SignatureType::Professional,
            "102",
        ),
    )
    .await;
    assert_eq!(ack_of(&r).0, "AA", "{}", String::from_utf8_lossy(&r.body));
    assert!(
        String::from_utf8_lossy(&r.body).contains(
            "<targetMessage><id root=\"1.2.246.10.99900016.10.0.99\" extension=\"102\"/>"
        )
    );

    // The same message again: refused as a replay, nothing new stored.
    let r = post(&server, &testila(), "text/xml", &sp1_message("101")).await;
    assert_eq!(ack_of(&r), ("AE".to_owned(), vec!["W-016".to_owned()]));
    // A new message with an already archived document version.
    let r = post(&server, &testila(), "text/xml", &sp1_message("103")).await;
    assert_eq!(ack_of(&r), ("AE".to_owned(), vec!["L-001".to_owned()]));
    assert_eq!(server.handle.store.count().unwrap(), 2);

    let data = server.data.path().to_owned();
    let TestServer { handle, data: tmp } = server;
    handle.shutdown().await;
    let again = kanta_sim::app::start({
        let mut c = config(kit("archive"), &data);
        c.server.diagnostic_listen = None;
        c
    })
    .await
    .unwrap();
    assert_eq!(again.store.count().unwrap(), 2);
    let stored = again
        .store
        .get("1.2.246.10.99900016.10.0.2026.101")
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_id, "010190-902S");
    // The stored bytes are the signed document as received: it still verifies.
    let trust = kanta_sim::pki::TrustStore::from_kit(kit_dir()).unwrap();
    let report = kanta_sim::xmldsig::verify_document(
        std::str::from_utf8(stored.cda.as_deref().unwrap()).unwrap(),
        &kanta_sim::document::kanta_verify_options(Some(&trust)),
    )
    .unwrap();
    assert!(report.is_valid(), "{:?}", report.codes());
    again.shutdown().await;
    drop(tmp);
}

#[tokio::test]
async fn each_class_of_defect_gets_its_rule_id() {
    let server = start(kit("archive")).await;
    let system = "system-signature:1.2.246.10.99900016.10.0";
    let meta = |n: u32| {
        Metadata::client_relationship_example(
            &format!("1.2.246.10.99900016.10.0.2026.2{n:02}"),
            "010190-902S",
        )
    };
    // W: wrong receiver → AR.
    let m = meta(1);
    let body =
        message(&m, system, SignatureType::System, "201").replace("1.2.246.556.18007.2", "1.2.3.4");
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AR".to_owned(), vec!["W-012".to_owned()])
    );
    // S: SP17 for a client-relationship document → AE.
    let m = meta(2);
    let body = message(&m, system, SignatureType::System, "202")
        .replace(">SP1<", ">SP17<")
        .replace("code=\"SP1\"", "code=\"SP17\"");
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AE".to_owned(), vec!["S-003".to_owned()])
    );
    // G: signed by another organisation's system certificate.
    let m = meta(3);
    let body = message(
        &m,
        "system-signature:1.2.246.10.99900024.10.0",
        SignatureType::System,
        "203",
    );
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AE".to_owned(), vec!["G-016".to_owned()])
    );
    // P: a real-range identity code hidden in the JSON.
    let m = meta(4);
    let mut b = Body::example(&m, 100);
    b.json = r#"{"asiakkuusasiakirja":{"huoltaja":"311299F1236"}}"#.into();
    let signer = Signer::from_kit(kit_dir(), system).unwrap();
    let cda = sign_kanta_document(
        &build_cda(&m, &b),
        &signer,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_p",
    )
    .unwrap();
    let body = build_archive_message(&MessageSpec::for_document(&m, "204"), &m, &cda);
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AE".to_owned(), vec!["P-002".to_owned()])
    );
    // H: version 1 whose setId is not its id.
    let mut m = meta(5);
    m.set_id = "1.2.246.10.99900016.10.0.9".into();
    let body = message(&m, system, SignatureType::System, "205");
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AE".to_owned(), vec!["H-003".to_owned()])
    );
    // M: the MIME part's Content-ID is not the document id.
    let m = meta(6);
    let body = message(&m, system, SignatureType::System, "206").replacen(
        "Content-ID: &lt;1.2.246",
        "Content-ID: &lt;9.9.246",
        1,
    );
    assert_eq!(
        ack_of(&post(&server, &testila(), "text/xml", &body).await),
        ("AE".to_owned(), vec!["M-008".to_owned()])
    );
    assert_eq!(
        server.handle.store.count().unwrap(),
        0,
        "nothing partial is stored"
    );
    // The exchange log has every verdict with its code.
    let log = server.handle.log.recent(50).unwrap();
    for code in ["W-012", "S-003", "G-016", "P-002", "H-003", "M-008"] {
        assert!(
            log.iter().any(|r| r.record.codes.iter().any(|c| c == code)),
            "{code} not logged"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_producer_without_a_register_use_right_is_refused() {
    let server = start(kit("archive")).await;
    let producer = "1.2.246.10.99900032.10.0";
    let doc = |organiser: &str, n: &str| {
        let mut m =
            Metadata::client_relationship_example(&format!("{producer}.2026.{n}"), "010190-902S");
        m.custodian = producer.into();
        m.custodian_name = "Simulaatiohoiva Oy".into();
        m.organiser = Some(organiser.into());
        message(
            &m,
            "system-signature:1.2.246.10.99900032.10.0",
            SignatureType::System,
            n,
        )
    };
    let me = format!("client:{SIMULAATIOHOIVA}");
    let r = post(&server, &me, "text/xml", &doc(TESTILA, "301")).await;
    assert_eq!(
        ack_of(&r),
        ("AA".to_owned(), vec![]),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let r = post(&server, &me, "text/xml", &doc(KOKEILUMAKI, "302")).await;
    assert_eq!(ack_of(&r), ("AE".to_owned(), vec!["A-006".to_owned()]));
    // And Testilä's certificate cannot send the producer's documents.
    let r = post(&server, &testila(), "text/xml", &doc(TESTILA, "303")).await;
    assert_eq!(
        ack_of(&r),
        (
            "AE".to_owned(),
            vec!["A-004".to_owned(), "A-005".to_owned()]
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_interactions_are_rejected_in_the_request_soap_version() {
    let server = start(kit("archive")).await;
    let r = post(
        &server,
        &testila(),
        "application/soap+xml; charset=UTF-8",
        &format!("<e:Envelope xmlns:e='{S12}'><e:Body><QUQI_IN000001FI01 xmlns=\"urn:hl7-org:v3\"/></e:Body></e:Envelope>"),
    )
    .await;
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/soap+xml; charset=UTF-8")
    );
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains(S12), "{body}");
    let (ack, codes) = ack_of(&r);
    assert_eq!(ack, "AR");
    assert!(codes.contains(&"W-011".to_owned()), "{codes:?}");
    let _ = S11;
    server.stop().await;
}

#[tokio::test]
async fn hostile_or_broken_requests_get_specific_faults_and_nothing_breaks() {
    let server = start_with(kit("archive"), |c| c.server.max_body_bytes = 4096).await;
    let cases = [
        ("<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body></e:Envelop>".to_owned(), "W-001"),
        (r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#.to_owned(), "W-003"),
        ("<RCMR_IN200002FI01 xmlns='urn:hl7-org:v3'/>".to_owned(), "W-002"),
        (format!("<e:Envelope xmlns:e='{S11}'><e:Body>{}</e:Body></e:Envelope>", "x".repeat(5000)), "W-004"),
    ];
    for (body, code) in cases {
        let r = post(&server, &testila(), "text/xml", &body).await;
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 500, "{code}: {text}");
        assert!(
            text.contains(&format!(r#"code="{code}""#)),
            "{code}: {text}"
        );
        assert!(text.contains("<faultcode>env:Client</faultcode>"), "{text}");
        server
            .wait_for(|e| e.record.codes.len() == 1 && e.record.codes[0] == code)
            .await;
    }
    server.assert_serving(kit("archive")).await;
    server.stop().await;
}

#[tokio::test]
async fn unregistered_organisation_gets_a_soap_fault_naming_the_oid() {
    let server = start(kit("archive")).await;
    let r = post(
        &server,
        "bad:unregistered-org",
        "text/xml",
        &format!("<e:Envelope xmlns:e='{S11}'><e:Body/></e:Envelope>"),
    )
    .await;
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        text.contains(r#"code="A-002""#) && text.contains("1.2.246.10.99900059.10.0"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_route_is_404_with_the_routes_listed() {
    let server = start(kit("archive")).await;
    let r = get(
        kit("archive"),
        server.addr(),
        Some(&testila()),
        BOTH,
        HttpVersion::Http1,
        "/nope",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("POST /archive"));
    server.stop().await;
}

#[tokio::test]
async fn the_validation_service_clone_answers_with_kelas_contract() {
    let server = start(kit("archive")).await;
    let meta =
        Metadata::client_relationship_example("1.2.246.10.99900016.10.0.2026.401", "010190-902S");
    let signer = Signer::from_kit(kit_dir(), "system-signature:1.2.246.10.99900016.10.0").unwrap();
    let cda = sign_kanta_document(
        &build_cda(&meta, &Body::example(&meta, 500)),
        &signer,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_vs",
    )
    .unwrap();
    let message = build_archive_message(&MessageSpec::for_document(&meta, "401"), &meta, &cda);
    let start = message.find("<RCMR_IN200002FI01").unwrap();
    let end = message.find("</RCMR_IN200002FI01>").unwrap() + "</RCMR_IN200002FI01>".len();
    let frame = &message[start..end];
    let call = |body: serde_json::Value| {
        let kit = kit("archive");
        let addr = server.addr();
        async move {
            client(
                kit,
                Some(&format!("client:{TESTILA}")),
                BOTH,
                HttpVersion::Http1,
            )
            .request(
                addr,
                "POST",
                "/shark-validointi/validoi/asiakirja/tulos",
                Some("application/json"),
                Bytes::from(body.to_string()),
            )
            .await
            .unwrap()
        }
    };
    let ok = call(serde_json::json!({"messageId": "m-1", "palveluPyynto": "SP1", "level": "1", "siirtokehysXml": frame, "asiakirjaXml": cda})).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert!(ok.body.is_empty());

    let unsigned = build_cda(&meta, &Body::example(&meta, 500));
    let bad = call(serde_json::json!({"messageId": "m-2", "palveluPyynto": "SP17", "level": "1", "siirtokehysXml": frame, "asiakirjaXml": unsigned})).await;
    assert_ne!(bad.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    let description = v["description"].as_str().unwrap();
    assert!(
        description.starts_with("1: ") && description.contains("; 2: "),
        "{description}"
    );
    assert!(
        description.contains("G-001") && description.contains("S-005"),
        "{description}"
    );

    let junk = client(
        kit("archive"),
        Some(&format!("client:{TESTILA}")),
        BOTH,
        HttpVersion::Http1,
    )
    .request(
        server.addr(),
        "POST",
        "/shark-validointi/validoi/asiakirja/tulos",
        Some("application/json"),
        Bytes::from_static(b"{\"nope\":1}"),
    )
    .await
    .unwrap();
    assert_eq!(junk.status, 400);
    assert!(String::from_utf8_lossy(&junk.body).contains("W-005"));
    server.stop().await;
}

#[tokio::test]
async fn a_bare_hl7_body_is_accepted_only_when_the_profile_says_so() {
    let meta =
        Metadata::client_relationship_example("1.2.246.10.99900016.10.0.2026.501", "010190-902S");
    let soap = message(
        &meta,
        "system-signature:1.2.246.10.99900016.10.0",
        SignatureType::System,
        "501",
    );
    let from = soap.find("<RCMR_IN200002FI01").unwrap();
    let end = soap.find("</RCMR_IN200002FI01>").unwrap() + "</RCMR_IN200002FI01>".len();
    let bare = &soap[from..end];
    let strict = start(kit("archive")).await;
    let r = post(&strict, &testila(), "text/xml", bare).await;
    assert!(String::from_utf8_lossy(&r.body).contains("W-002"));
    strict.stop().await;
    let lenient = start_with(kit("archive"), |c| c.archive.accept_bare_hl7 = true).await;
    let r = post(&lenient, &testila(), "text/xml", bare).await;
    assert_eq!(
        ack_of(&r),
        ("AA".to_owned(), vec![]),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    lenient.stop().await;
}
