//! Kanta signatures through the generic verifier: sign → verify, tampering, algorithm
//! refusals and the classic signature-wrapping attacks (which the coverage policy stops).

use std::path::PathBuf;
use std::sync::OnceLock;

use time::OffsetDateTime;

use super::*;
use crate::document::sample::SampleDocument;
use crate::xmldsig::*;

use crate::pki::{GenerateOptions, KeyAlgorithm, TrustStore, generate_kit};

struct Kit {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn kit() -> &'static Kit {
    static KIT: OnceLock<Kit> = OnceLock::new();
    KIT.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kit");
        generate_kit(&GenerateOptions::new(dir.clone()).unwrap()).unwrap();
        Kit { dir, _tmp: tmp }
    })
}

fn signer(role: &str) -> Signer {
    Signer::from_kit(&kit().dir, role).unwrap()
}

fn trust() -> TrustStore {
    TrustStore::from_kit(&kit().dir).unwrap()
}

fn signed(role: &str, kind: SignatureType) -> String {
    let doc = SampleDocument::default().to_xml();
    sign_kanta_document(
        &doc,
        &signer(role),
        kind,
        OffsetDateTime::now_utc(),
        "sig_1",
    )
    .unwrap()
}

fn verify(xml: &str) -> VerifyReport {
    let t = trust();
    verify_document(xml, &kanta_verify_options(Some(&t))).unwrap()
}

const SYSTEM: &str = "system-signature:1.2.246.10.99900016.10.0";
const PROFESSIONAL: &str = "professional:99900000011";
const BODY_ID: &str = "OID1.2.246.10.99900016.10.0.20260001";

#[test]
fn system_and_professional_signatures_verify() {
    for (role, kind, code) in [
        (SYSTEM, SignatureType::System, "3"),
        (PROFESSIONAL, SignatureType::Professional, "1"),
    ] {
        let xml = signed(role, kind);
        let r = verify(&xml);
        assert!(r.is_valid(), "{role}: {:#?}", r.codes());
        assert_eq!(r.coverage, Some("kanta"));
        let s = &r.signatures[0];
        assert_eq!(s.references.len(), 2);
        assert!(
            s.references
                .iter()
                .all(|r| r.digest_ok && r.canonical_len > 0)
        );
        assert_eq!(s.signature_type.as_deref(), Some(code));
        assert!(s.signing_time.is_some());
        assert!(
            xml.contains("<hl7fi:signatureCollection><hl7fi:signature ID=\"sig_1\">"),
            "{xml}"
        );
    }
}

#[test]
fn a_second_signature_joins_the_collection_and_both_verify() {
    let once = signed(SYSTEM, SignatureType::System);
    let twice = sign_kanta_document(
        &once,
        &signer(PROFESSIONAL),
        SignatureType::Professional,
        OffsetDateTime::now_utc(),
        "sig_2",
    )
    .unwrap();
    assert_eq!(
        twice.matches("signatureCollection>").count(),
        2,
        "one collection"
    );
    let r = verify(&twice);
    assert_eq!(r.signatures.len(), 2);
    assert!(r.is_valid(), "{:?}", r.codes());
}

#[test]
fn one_changed_byte_in_the_body_fails_with_both_digests_named() {
    let xml = signed(SYSTEM, SignatureType::System);
    let tampered = xml.replacen(
        "<title>Asiakkuusasiakirja</title>",
        "<title>Asiakkuusasiakirja (muutettu)</title>",
        1,
    );
    assert!(
        verify(&tampered).is_valid(),
        "the title is outside the signed body"
    );
    let pos = xml.find("representation=\"B64\">").unwrap() + 30;
    let mut bytes = xml.into_bytes();
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let r = verify(&String::from_utf8(bytes).unwrap());
    assert!(!r.is_valid());
    let p = &r.signatures[0].problems[0];
    assert_eq!(p.code(), "G-008");
    let text = p.to_string();
    assert!(
        text.contains(&format!("#{BODY_ID}"))
            && text.contains("stated")
            && text.contains("computed"),
        "{text}"
    );
    if let DsigProblem::DigestMismatch {
        stated, computed, ..
    } = p
    {
        assert_ne!(stated, computed);
    }
}

#[test]
fn changed_timestamp_or_signature_value_fails() {
    let xml = signed(SYSTEM, SignatureType::System);
    let start = xml.find("timestamp\">").unwrap() + 11;
    let tampered = format!("{}1999{}", &xml[..start], &xml[start + 4..]);
    assert_eq!(verify(&tampered).signatures[0].problems[0].code(), "G-008");

    let sv = xml.find("<ds:SignatureValue>").unwrap() + 19;
    let mut bytes = xml.clone().into_bytes();
    bytes[sv + 5] = if bytes[sv + 5] == b'A' { b'B' } else { b'A' };
    let r = verify(&String::from_utf8(bytes).unwrap());
    assert_eq!(r.codes(), vec!["G-009"]);
}

#[test]
fn whitespace_added_inside_signed_info_breaks_the_signature() {
    let xml =
        signed(SYSTEM, SignatureType::System).replacen("<ds:SignedInfo>", "<ds:SignedInfo>\n  ", 1);
    assert_eq!(verify(&xml).codes(), vec!["G-009"]);
}

/// The moved-body wrapping attack: the signed body goes into an extension the archive
/// ignores, and an unsigned body (without the ID) takes its place, so the reference still
/// resolves to the moved original.
fn moved_body_attack(xml: &str) -> String {
    let start = xml.find("<component>").unwrap();
    let end = xml.find("</component>").unwrap() + "</component>".len();
    let original = &xml[start..end];
    let moved = original
        .replace("<component>", "<hl7fi:ignored>")
        .replace("</component>", "</hl7fi:ignored>");
    xml.replacen(
        original,
        "<component><nonXMLBody><text mediaType=\"application/xhtml+xml\" representation=\"B64\">RVZJTA==</text></nonXMLBody></component>",
        1,
    )
    .replacen("</hl7fi:localSocialHeader>", &format!("{moved}</hl7fi:localSocialHeader>"), 1)
}

#[test]
fn moved_body_wrapping_attack_fails() {
    let attacked = moved_body_attack(&signed(SYSTEM, SignatureType::System));
    let r = verify(&attacked);
    assert!(!r.is_valid());
    let codes = r.codes();
    assert!(
        codes.contains(&crate::finding::RuleId::G015)
            && codes.contains(&crate::finding::RuleId::G013),
        "{codes:?}"
    );
    // The digests themselves still match: only the coverage rule catches this.
    assert!(r.signatures[0].references.iter().all(|x| x.digest_ok));
}

#[test]
fn duplicated_id_wrapping_attack_fails() {
    // A copy of the signed body with the same ID hides in an ignored element while the real
    // body is changed.
    let xml = signed(SYSTEM, SignatureType::System);
    let start = xml.find("<nonXMLBody").unwrap();
    let end = xml.find("</nonXMLBody>").unwrap() + "</nonXMLBody>".len();
    let body = xml[start..end].to_owned();
    let changed_body = body.replacen(
        "representation=\"B64\">",
        "representation=\"B64\">RVZJTA",
        1,
    );
    let attacked = xml.replacen(&body, &changed_body, 1).replacen(
        "</hl7fi:localSocialHeader>",
        &format!("<hl7fi:ignored>{body}</hl7fi:ignored></hl7fi:localSocialHeader>"),
        1,
    );
    let r = verify(&attacked);
    assert!(!r.is_valid());
    assert!(
        r.codes().contains(&crate::finding::RuleId::G006),
        "{:?}",
        r.codes()
    );
    let text = r.signatures[0]
        .problems
        .iter()
        .find(|p| p.code() == "G-006")
        .unwrap()
        .to_string();
    assert!(
        text.contains("/ClinicalDocument/component/nonXMLBody") && text.contains("ignored"),
        "{text}"
    );
}

#[test]
fn reference_to_a_copy_inside_an_ignored_element_fails() {
    // The real body gets another ID; the signed copy keeps the referenced one.
    let xml = signed(SYSTEM, SignatureType::System);
    let start = xml.find("<nonXMLBody").unwrap();
    let end = xml.find("</nonXMLBody>").unwrap() + "</nonXMLBody>".len();
    let body = xml[start..end].to_owned();
    let evil = body.replacen(BODY_ID, "OIDevil", 1).replacen(
        "representation=\"B64\">",
        "representation=\"B64\">RVZJTA",
        1,
    );
    let attacked = xml.replacen(&body, &evil, 1).replacen(
        "</hl7fi:localSocialHeader>",
        &format!("<hl7fi:ignored>{body}</hl7fi:ignored></hl7fi:localSocialHeader>"),
        1,
    );
    let codes = verify(&attacked).codes();
    assert!(
        codes.contains(&crate::finding::RuleId::G015)
            && codes.contains(&crate::finding::RuleId::G013),
        "{codes:?}"
    );
}

#[test]
fn extra_unsigned_body_fails() {
    let xml = signed(SYSTEM, SignatureType::System);
    let attacked = xml.replacen(
        "</component>",
        "</component><component><nonXMLBody><text>RVZJTA==</text></nonXMLBody></component>",
        1,
    );
    let r = verify(&attacked);
    assert!(!r.is_valid());
    assert!(
        r.problems
            .iter()
            .any(|p| p.code() == "G-002" && p.to_string().contains("2 nonXMLBody")),
        "{:?}",
        r.problems
    );
}

#[test]
fn without_the_kanta_rule_a_moved_body_would_pass() {
    // Shows why the coverage rule exists: plain XMLDSig is satisfied by the wrapped document.
    let attacked = moved_body_attack(&signed(SYSTEM, SignatureType::System));
    let t = trust();
    let plain = verify_document(&attacked, &VerifyOptions::new(Some(&t))).unwrap();
    assert!(plain.is_valid(), "{:?}", plain.codes());
}

#[test]
fn forbidden_algorithms_and_references_are_named() {
    let xml = signed(SYSTEM, SignatureType::System);
    let sha1 = xml.replace(algorithms::SHA256, algorithms::SHA1);
    let r = verify(&sha1);
    assert!(
        r.codes().contains(&crate::finding::RuleId::G004),
        "{:?}",
        r.codes()
    );
    assert!(
        r.signatures[0]
            .problems
            .iter()
            .any(|p| p.to_string().contains("SHA-1"))
    );

    let xpath = "http://www.w3.org/TR/1999/REC-xpath-19991116";
    let r = verify(&xml.replacen(
        &format!("<ds:Transform Algorithm=\"{}\"/>", algorithms::EXC_C14N),
        &format!("<ds:Transform Algorithm=\"{xpath}\"/>"),
        1,
    ));
    let p = r.signatures[0]
        .problems
        .iter()
        .find(|p| p.code() == "G-003")
        .unwrap();
    assert!(p.to_string().contains(xpath), "{p}");

    let r = verify(&xml.replacen(
        &format!("URI=\"#{BODY_ID}\""),
        "URI=\"http://example.org/body.xml\"",
        1,
    ));
    assert!(
        r.codes().contains(&crate::finding::RuleId::G007),
        "{:?}",
        r.codes()
    );
    let r = verify(&xml.replacen(&format!("URI=\"#{BODY_ID}\""), "URI=\"#nowhere\"", 1));
    assert!(
        r.codes().contains(&crate::finding::RuleId::G005),
        "{:?}",
        r.codes()
    );
}

#[test]
fn signer_certificate_is_checked_at_signing_time_and_at_receipt() {
    // A TLS client certificate that expired yesterday: wrong key usage and expired, both
    // at the (present) signing time and at receipt.
    let s = signer("bad:expired");
    let xml = sign_kanta_document(
        &SampleDocument::default().to_xml(),
        &s,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_x",
    )
    .unwrap();
    let r = verify(&xml);
    let codes = r.codes();
    assert!(
        codes.contains(&crate::finding::RuleId::G011)
            && codes.contains(&crate::finding::RuleId::G012),
        "{codes:?}"
    );
    let text: Vec<String> = r.signatures[0]
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(text.iter().any(|t| t.contains("expired")), "{text:?}");
    assert!(
        text.iter().any(|t| t.contains("nonRepudiation")),
        "{text:?}"
    );
    // The cryptography itself is fine.
    assert!(r.signatures[0].signature_value_ok);
}

#[test]
fn ecdsa_keys_sign_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ec");
    generate_kit(&GenerateOptions {
        key: KeyAlgorithm::EcdsaP384,
        ..GenerateOptions::new(dir.clone()).unwrap()
    })
    .unwrap();
    let s = Signer::from_kit(&dir, SYSTEM).unwrap();
    let xml = sign_kanta_document(
        &SampleDocument::default().to_xml(),
        &s,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_ec",
    )
    .unwrap();
    assert!(xml.contains(algorithms::ECDSA_SHA384));
    let t = TrustStore::from_kit(&dir).unwrap();
    let r = verify_document(&xml, &kanta_verify_options(Some(&t))).unwrap();
    assert!(r.is_valid(), "{:?}", r.codes());
}

#[test]
fn a_document_without_signatures_says_so() {
    let r = verify(&SampleDocument::default().to_xml());
    assert_eq!(r.codes(), vec!["G-001"]);
}

#[test]
fn reindenting_a_signed_document_is_explained() {
    let xml = signed(SYSTEM, SignatureType::System);
    // What a pretty-printer does: indentation between the body's elements, the base64 value
    // moved onto its own lines.
    let body = xml.find("<nonXMLBody").unwrap();
    let (head, tail) = xml.split_at(body);
    let reindented = tail
        .replacen(
            "representation=\"B64\">",
            "representation=\"B64\">\n\t\t\t\t",
            1,
        )
        .replacen("</text>", "\n\t\t\t</text>\n\t\t\t", 1);
    let r = verify(&format!("{head}{reindented}"));
    assert_eq!(r.codes(), vec!["G-008"]);
    let text = r.signatures[0].problems[0].to_string();
    assert!(text.contains("pretty-printed after signing"), "{text}");
    assert_eq!(
        r.signatures[0]
            .references
            .iter()
            .filter(|x| x.cause.is_some())
            .count(),
        1
    );

    // Indentation between elements only, with a comment beside it.
    let indented = tail.replacen("</text>", "</text>\n\t\t\t<!-- lisätty -->\n\t\t\t", 1);
    let r = verify(&format!("{head}{indented}"));
    let text = r.signatures[0].problems[0].to_string();
    assert!(
        text.contains("re-indented after signing") && text.contains("Comments were added too"),
        "{text}"
    );

    // A real change to the content is not explained away.
    let pos = xml.find("representation=\"B64\">").unwrap() + 30;
    let mut bytes = xml.into_bytes();
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let r = verify(&String::from_utf8(bytes).unwrap());
    assert!(r.signatures[0].references.iter().all(|x| x.cause.is_none()));
    assert!(!r.signatures[0].problems[0].to_string().contains("Why:"));
}

#[test]
fn a_comment_in_a_signed_value_is_neither_read_nor_able_to_change_it() {
    // The forgery of issue #12: base64 hidden in a comment used to be appended to the value.
    let xml = signed(SYSTEM, SignatureType::System);
    let injected = xml.replacen(
        "representation=\"B64\">",
        "representation=\"B64\"><!--PHA+aW5qZWN0ZWQ8L3A+-->",
        1,
    );
    // Exclusive C14N leaves the comment out: the signature still verifies…
    assert!(verify(&injected).is_valid());
    // …and what is read as the display form is exactly the signed text.
    let doc = crate::xml::parse(&injected, &crate::xml::Limits::default()).unwrap();
    let body = crate::document::parse_document(&doc).unwrap().body.unwrap();
    let original = crate::xml::parse(&xml, &crate::xml::Limits::default()).unwrap();
    let original = crate::document::parse_document(&original)
        .unwrap()
        .body
        .unwrap();
    assert_eq!(
        body.display.unwrap().value.base64,
        original.display.unwrap().value.base64
    );
    // A comment inside a DigestValue or a SignatureValue changes nothing either.
    let in_digest = xml.replacen("<ds:DigestValue>", "<ds:DigestValue><!--AAAA-->", 1);
    assert!(verify(&in_digest).is_valid());
    let in_value = xml.replacen("<ds:SignatureValue>", "<ds:SignatureValue><!--AAAA-->", 1);
    assert!(verify(&in_value).is_valid());
}
