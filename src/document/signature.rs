//! The Kanta document signature: where it sits (`hl7fi:localSocialHeader/
//! hl7fi:signatureCollection/hl7fi:signature`, beside its `signatureDescription` and an
//! `ID`'d `signatureTimestamp`), what it must cover (the archived `nonXMLBody` and its own
//! timestamp: [`KantaCoverage`], the policy the generic verifier in `xmldsig` is given),
//! and how the reference client signs a document ([`sign_kanta_document`]).

use roxmltree::{Document, Node};
use time::OffsetDateTime;

use super::{HL7_NS, HL7FI_NS};
use crate::pki::TrustStore;
use crate::xml::{Limits, parse, text_content};
use crate::xmldsig::{
    CoveragePolicy, CoverageProblem, SignError, SignatureCoverage, Signer, Target, VerifyOptions,
    complete_signature, signature_template,
};

/// `signatureDescription` codes (code system 1.2.246.537.5.40127.2006).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureType {
    /// `1` Ammattihenkilön allekirjoitus: a professional's signature.
    Professional,
    /// `3` Järjestelmäallekirjoitus: the system signature.
    System,
}

impl SignatureType {
    fn code(self) -> &'static str {
        match self {
            Self::Professional => "1",
            Self::System => "3",
        }
    }
    fn display_name(self) -> &'static str {
        match self {
            Self::Professional => "Ammattihenkilön allekirjoitus",
            Self::System => "Järjestelmäallekirjoitus",
        }
    }
}

fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

/// The `ClinicalDocument` element, if the document is (or directly carries) a CDA.
pub fn clinical_document<'a, 'i>(doc: &'a Document<'i>) -> Option<Node<'a, 'i>> {
    doc.descendants().find(|n| {
        n.is_element()
            && n.tag_name().namespace() == Some(HL7_NS)
            && n.tag_name().name() == "ClinicalDocument"
    })
}

/// The `nonXMLBody` that Kanta archives: `ClinicalDocument/component/nonXMLBody`, found by
/// structure, never by ID.
pub fn archived_body<'a, 'i>(cda: Node<'a, 'i>) -> Result<Node<'a, 'i>, String> {
    let bodies: Vec<_> = children(cda, HL7_NS, "component")
        .flat_map(|c| children(c, HL7_NS, "nonXMLBody"))
        .collect();
    match bodies.as_slice() {
        [one] => Ok(*one),
        [] => Err("the CDA has no ClinicalDocument/component/nonXMLBody".into()),
        many => Err(format!(
            "the CDA has {} nonXMLBody elements under component; Kanta documents have one",
            many.len()
        )),
    }
}

/// Kanta's coverage rule: in a CDA, every signature covers the archived body and its own
/// `signatureTimestamp`, and sits in an `hl7fi:signature`. Documents that are not CDAs are
/// not its business.
#[derive(Debug, Clone, Copy, Default)]
pub struct KantaCoverage;

/// The one instance the verifier is given.
pub static KANTA_COVERAGE: KantaCoverage = KantaCoverage;

impl CoveragePolicy for KantaCoverage {
    fn name(&self) -> &'static str {
        "kanta"
    }

    fn document_targets<'a, 'i>(
        &self,
        doc: &'a Document<'i>,
    ) -> Option<Result<Vec<Target<'a, 'i>>, String>> {
        let cda = clinical_document(doc)?;
        Some(archived_body(cda).map(|body| {
            vec![Target {
                node: body,
                what: "the archived nonXMLBody".into(),
            }]
        }))
    }

    fn signature_targets<'a, 'i>(&self, signature: Node<'a, 'i>) -> SignatureCoverage<'a, 'i> {
        let mut out = SignatureCoverage::default();
        let wrapper = signature.parent().filter(|p| {
            p.tag_name().namespace() == Some(HL7FI_NS) && p.tag_name().name() == "signature"
        });
        let Some(w) = wrapper else {
            out.problems.push(CoverageProblem::Placement(
                "a Kanta signature must sit in ClinicalDocument/hl7fi:localSocialHeader/hl7fi:signatureCollection/hl7fi:signature".into(),
            ));
            return out;
        };
        out.signature_type = children(w, HL7FI_NS, "signatureDescription")
            .next()
            .and_then(|d| d.attribute("code"))
            .map(str::to_owned);
        match children(w, HL7FI_NS, "signatureTimestamp")
            .collect::<Vec<_>>()
            .as_slice()
        {
            [ts] => {
                out.targets.push(Target {
                    node: *ts,
                    what: "this signature's signatureTimestamp".into(),
                });
                out.signing_time = Some(text_content(*ts).trim().to_owned());
            }
            _ => out.problems.push(CoverageProblem::SigningTime(
                "the enclosing hl7fi:signature has no single hl7fi:signatureTimestamp".into(),
            )),
        }
        out
    }
}

/// Verification options with Kanta's coverage rule.
pub fn kanta_verify_options(trust: Option<&TrustStore>) -> VerifyOptions<'_> {
    VerifyOptions {
        coverage: Some(&KANTA_COVERAGE),
        ..VerifyOptions::new(trust)
    }
}

fn not_kanta(detail: impl std::fmt::Display) -> SignError {
    SignError::Document(format!("not a Kanta CDA: {detail}"))
}

fn qname_of<'i>(text: &'i str, node: Node<'_, 'i>) -> &'i str {
    let rest = text.get(node.range().start + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Byte offset where content can be appended inside `node` (before its end tag), and
/// whether the element is self-closing (`<x/>`) and must be opened first.
fn insertion_point(text: &str, node: Node<'_, '_>) -> (usize, bool) {
    let r = node.range();
    let src = &text[r.clone()];
    if src.ends_with("/>") && !src.contains("</") {
        (r.end - 2, true)
    } else {
        (r.start + src.rfind("</").unwrap_or(src.len()), false)
    }
}

/// Adds a Kanta signature to a CDA and returns the signed document: an
/// `hl7fi:signature` (in `hl7fi:signatureCollection`, created when absent) holding the
/// `signatureDescription`, a `signatureTimestamp` with ID `{signature_id}.timestamp`, and
/// a `ds:Signature` covering the timestamp and the `nonXMLBody`.
pub fn sign_kanta_document(
    xml: &str,
    signer: &Signer,
    kind: SignatureType,
    at: OffsetDateTime,
    signature_id: &str,
) -> Result<String, SignError> {
    let doc = parse(xml, &Limits::default())?;
    let cda =
        clinical_document(&doc).ok_or_else(|| not_kanta("no urn:hl7-org:v3 ClinicalDocument"))?;
    let body = archived_body(cda).map_err(not_kanta)?;
    let body_id = body
        .attribute("ID")
        .ok_or_else(|| not_kanta("nonXMLBody has no ID attribute to reference"))?
        .to_owned();
    let header = children(cda, HL7FI_NS, "localSocialHeader")
        .next()
        .ok_or_else(|| not_kanta("no hl7fi:localSocialHeader in ClinicalDocument"))?;
    let collection = children(header, HL7FI_NS, "signatureCollection").next();

    // Use the document's own prefix for urn:hl7finland, declaring one where there is none.
    let (prefix, declare) = match header.lookup_prefix(HL7FI_NS) {
        Some(p) if !p.is_empty() => (format!("{p}:"), String::new()),
        Some(_) => (String::new(), String::new()),
        None => ("hl7fi:".to_owned(), format!(" xmlns:hl7fi=\"{HL7FI_NS}\"")),
    };
    let ts_id = format!("{signature_id}.timestamp");
    let ds_id = format!("{signature_id}.ds");
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))?;
    let references = [ts_id.as_str(), body_id.as_str()];
    let signature = format!(
        "<{prefix}signature{decl} ID=\"{signature_id}\"><{prefix}signatureDescription code=\"{code}\" codeSystem=\"1.2.246.537.5.40127.2006\" \
         codeSystemName=\"KanTa-palvelut - Sähköisen allekirjoituksen tyyppi\" displayName=\"{display}\"/>\
         <{prefix}signatureTimestamp ID=\"{ts_id}\">{stamp}</{prefix}signatureTimestamp>{ds}</{prefix}signature>",
        decl = if collection.is_some() {
            declare.as_str()
        } else {
            ""
        },
        code = kind.code(),
        display = kind.display_name(),
        ds = signature_template(signer, &ds_id, &references),
    );
    let (at_byte, open, fragment) = match collection {
        Some(c) => {
            let (pos, self_closing) = insertion_point(xml, c);
            let frag = if self_closing {
                format!(">{signature}</{}>", qname_of(xml, c))
            } else {
                signature
            };
            (pos, self_closing, frag)
        }
        None => {
            let (pos, self_closing) = insertion_point(xml, header);
            let coll = format!(
                "<{prefix}signatureCollection{declare}>{signature}</{prefix}signatureCollection>"
            );
            let frag = if self_closing {
                format!(">{coll}</{}>", qname_of(xml, header))
            } else {
                coll
            };
            (pos, self_closing, frag)
        }
    };
    let end_skip = if open { 2 } else { 0 };
    let mut placed = String::with_capacity(xml.len() + fragment.len());
    placed.push_str(&xml[..at_byte]);
    placed.push_str(&fragment);
    placed.push_str(&xml[at_byte + end_skip..]);
    complete_signature(&placed, signer, &ds_id, &references)
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
