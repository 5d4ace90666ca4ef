//! `POST /archive` before the archiving rules exist: SOAP in both versions, faults with
//! rule codes, hostile input answered and the server still serving.

mod common;

use bytes::Bytes;
use common::*;
use kanta_sim::client::HttpVersion;

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

#[tokio::test]
async fn unimplemented_interaction_gets_a_fault_in_the_request_soap_version() {
    let server = start(kit("archive")).await;
    let hl7 = r#"<RCMR_IN200002FI01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0"/>"#;
    let r = post(
        &server,
        &testila(),
        "text/xml; charset=UTF-8",
        &format!("<e:Envelope xmlns:e='{S11}'><e:Body>{hl7}</e:Body></e:Envelope>"),
    )
    .await;
    assert_eq!(r.status, 500);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains(S11) && body.contains("<faultcode>env:Server</faultcode>"),
        "{body}"
    );
    assert!(
        body.contains(r#"code="W-099""#) && body.contains("RCMR_IN200002FI01"),
        "{body}"
    );

    let r = post(
        &server,
        &testila(),
        "application/soap+xml; charset=UTF-8",
        &format!("<e:Envelope xmlns:e='{S12}'><e:Body>{hl7}</e:Body></e:Envelope>"),
    )
    .await;
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/soap+xml; charset=UTF-8")
    );
    assert!(
        body.contains(S12) && body.contains("env:Receiver"),
        "{body}"
    );
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
            .wait_for(|e| e.record.codes == vec![code.to_owned()])
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
