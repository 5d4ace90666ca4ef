//! Offline validation of a document (a bare CDA, or a message carrying one): the document
//! rules (H, B, P) and the signature rules (G) in one pass. The archive endpoint will call the
//! same function, so `kanta-sim validate` and the live archive cannot disagree.

use serde::Serialize;
use time::OffsetDateTime;

use crate::document::parse::parse_cda;
use crate::pki::TrustStore;
use crate::rules::Finding;
use crate::rules::document::{DocumentContext, document_rules};
use crate::rules::signature::signature_rules;
use crate::xml::{Limits, XmlError, parse};
use crate::xmldsig::{VerifyOptions, clinical_document, verify_parsed};

/// How to validate.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions<'a> {
    /// Trust material for signer certificates (`None`: certificates unchecked).
    pub trust: Option<&'a TrustStore>,
    /// Test-environment identity rule (only 900–999 codes anywhere).
    pub test_identities_only: bool,
    /// Time of receipt.
    pub now: OffsetDateTime,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// The document OID, when one was found.
    pub document_oid: Option<String>,
    /// Whether the CDA was taken out of a message's MIME part.
    pub carried_in_message: bool,
    /// Every finding, ordered by rule id.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// No error findings.
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

fn xml_finding(e: &XmlError, where_: &str) -> Finding {
    let code = if matches!(e, XmlError::Dtd { .. }) {
        "W-003"
    } else {
        "W-001"
    };
    Finding::new(code, where_, e.to_string())
}

/// Validates `text`, a CDA or an HL7 message carrying one.
pub fn validate_text(text: &str, opts: &ValidateOptions<'_>) -> Validation {
    let mut v = Validation {
        document_oid: None,
        carried_in_message: false,
        findings: Vec::new(),
    };
    let outer = match parse(text, &Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            v.findings.push(xml_finding(&e, "document"));
            return v;
        }
    };
    if clinical_document(&outer).is_some() {
        validate_cda(text, &outer, opts, &mut v);
        return v;
    }
    match crate::message::carried_cda(&outer) {
        Err(e) => v.findings.push(Finding::new(e.code(), "/*/controlActProcess/subject/clinicalDocument/text", e.to_string())),
        Ok(None) => v.findings.push(Finding::new(
            "H-001",
            "document",
            "neither a urn:hl7-org:v3 ClinicalDocument nor a message carrying one in clinicalDocument/text",
        )),
        Ok(Some(carried)) => {
            v.carried_in_message = true;
            match String::from_utf8(carried.bytes) {
                Err(e) => v.findings.push(Finding::new("M-005", "clinicalDocument/text MIME part", format!("the carried CDA is not UTF-8: {e}"))),
                Ok(cda_text) => match parse(&cda_text, &Limits::default()) {
                    Err(e) => v.findings.push(xml_finding(&e, "carried CDA")),
                    Ok(doc) if clinical_document(&doc).is_some() => {
                        validate_cda(&cda_text, &doc, opts, &mut v);
                        if let (Some(cid), Some(oid)) = (carried.content_id, &v.document_oid)
                            && &cid != oid
                        {
                            v.findings.push(Finding::new(
                                "M-008",
                                "clinicalDocument/text MIME part",
                                format!("Content-ID {cid:?} differs from the document id {oid:?}"),
                            ));
                        }
                    }
                    Ok(_) => v.findings.push(Finding::new("H-001", "carried CDA", "the MIME part holds no ClinicalDocument")),
                },
            }
        }
    }
    v.findings.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

fn validate_cda(
    text: &str,
    doc: &roxmltree::Document<'_>,
    opts: &ValidateOptions<'_>,
    v: &mut Validation,
) {
    let Some(cda) = clinical_document(doc) else {
        return;
    };
    let parsed = parse_cda(cda);
    v.document_oid = parsed.id.as_ref().and_then(|i| i.value.root.clone());
    v.findings.extend(document_rules(
        &parsed,
        text,
        DocumentContext {
            test_identities_only: opts.test_identities_only,
        },
    ));
    let report = verify_parsed(
        doc,
        &VerifyOptions {
            now: opts.now,
            ..VerifyOptions::new(opts.trust)
        },
    );
    v.findings.extend(signature_rules(&report, &parsed));
    v.findings.sort_by(|a, b| a.code.cmp(&b.code));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::document::{Body, Metadata, Profile, build_cda};
    use crate::pki::{GenerateOptions, generate_kit};
    use crate::xmldsig::{SignatureType, Signer, sign_kanta_document};
    use std::path::PathBuf;
    use std::sync::OnceLock;

    fn kit() -> &'static (PathBuf, tempfile::TempDir) {
        static KIT: OnceLock<(PathBuf, tempfile::TempDir)> = OnceLock::new();
        KIT.get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("kit");
            generate_kit(&GenerateOptions::new(dir.clone()).unwrap()).unwrap();
            (dir, tmp)
        })
    }

    fn sign(xml: &str, role: &str, kind: SignatureType) -> String {
        let s = Signer::from_kit(&kit().0, role).unwrap();
        sign_kanta_document(xml, &s, kind, OffsetDateTime::now_utc(), "sig_v").unwrap()
    }

    fn codes(text: &str) -> Vec<String> {
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let v = validate_text(
            text,
            &ValidateOptions {
                trust: Some(&trust),
                test_identities_only: true,
                now: OffsetDateTime::now_utc(),
            },
        );
        v.findings.into_iter().map(|f| f.code).collect()
    }

    const SYSTEM_TESTILA: &str = "system-signature:1.2.246.10.99900016.10.0";

    #[test]
    fn properly_signed_documents_of_both_profiles_pass() {
        let sp1 = sign(
            &SampleDocument::default().to_xml(),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        assert_eq!(codes(&sp1), Vec::<String>::new());
        let sp17 = SampleDocument {
            profile: Profile::ClientDocument,
            ..SampleDocument::default()
        }
        .to_xml();
        let sp17 = sign(
            &sp17,
            "professional:99900000011",
            SignatureType::Professional,
        );
        assert_eq!(codes(&sp17), Vec::<String>::new());
    }

    #[test]
    fn another_organisations_system_certificate_is_refused() {
        let xml = sign(
            &SampleDocument::default().to_xml(),
            "system-signature:1.2.246.10.99900024.10.0",
            SignatureType::System,
        );
        assert_eq!(codes(&xml), vec!["G-016"]);
    }

    #[test]
    fn a_professional_signature_by_someone_else_is_refused() {
        let sp17 = SampleDocument {
            profile: Profile::ClientDocument,
            ..SampleDocument::default()
        }
        .to_xml();
        let xml = sign(
            &sp17,
            "professional:99900000029",
            SignatureType::Professional,
        );
        assert_eq!(codes(&xml), vec!["G-017"]);
    }

    #[test]
    fn unsigned_and_hidden_real_range_codes_are_found_together() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.8", "010190-902S");
        let mut body = Body::example(&meta, 10);
        body.json = r#"{"asiakkuusasiakirja":{"huoltaja":"311299F1236"}}"#.into();
        assert_eq!(codes(&build_cda(&meta, &body)), vec!["G-001", "P-002"]);
    }

    #[test]
    fn a_message_is_followed_to_its_cda() {
        let cda = sign(
            &SampleDocument::default().to_xml(),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        let wrap = |cid: &str| {
            let mime = crate::message::mime::encode_related(cda.as_bytes(), cid, "b1");
            let esc = mime
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!(
                "<RCMR_IN200002FI01 xmlns=\"urn:hl7-org:v3\"><controlActProcess><subject><clinicalDocument><text mediaType=\"multipart/related\">{esc}</text></clinicalDocument></subject></controlActProcess></RCMR_IN200002FI01>"
            )
        };
        assert_eq!(
            codes(&wrap("1.2.246.10.99900016.10.0.20260001")),
            Vec::<String>::new()
        );
        assert_eq!(codes(&wrap("1.2.3")), vec!["M-008"]);
        assert_eq!(codes("<x/>"), vec!["H-001"]);
        assert_eq!(codes("<x"), vec!["W-001"]);
    }
}
