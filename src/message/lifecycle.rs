//! The invalidation message (*Mitätöi asiakirja*). Its real shape is not public [U]; the one
//! chosen mirrors the archiving message without a document: the frame names the version to
//! invalidate (id, setId, versionNumber, custodian) with `statusCode nullified`, and
//! `controlActProcess/text` says why.

use crate::finding::RuleId;
use roxmltree::Node;
use serde::Serialize;

use crate::document::HL7_NS;
use crate::document::parse::{Located, child, path, text};
use crate::finding::Finding;
use crate::xml::{XmlWriter as W, path_of};

const V3: &str = HL7_NS;

/// The default invalidation interaction [U] (the profile's `archive.interactions.invalidate`).
pub const INVALIDATE_INTERACTION: &str = "RCMR_IN200018FI01";

/// An invalidation request as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvalidationRequest {
    /// The version named.
    pub document_oid: Option<Located<String>>,
    /// Its setId, as the sender believes.
    pub set_id: Option<String>,
    /// Its version, as the sender believes.
    pub version: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// Reads an invalidation: L-025 when no document is named, L-023 when the reason is
/// required and absent.
pub fn parse_invalidation(
    root: Node<'_, '_>,
    reason_required: bool,
) -> (InvalidationRequest, Vec<Finding>) {
    let mut out = Vec::new();
    let cap = child(root, V3, "controlActProcess");
    let frame = cap.and_then(|c| path(c, &[(V3, "subject"), (V3, "clinicalDocument")]));
    let req = InvalidationRequest {
        document_oid: frame.and_then(|f| child(f, V3, "id")).and_then(|n| {
            n.attribute("root").map(|r| Located {
                value: r.to_owned(),
                path: path_of(n),
            })
        }),
        set_id: frame
            .and_then(|f| child(f, V3, "setId"))
            .and_then(|n| n.attribute("root"))
            .map(str::to_owned),
        version: frame
            .and_then(|f| child(f, V3, "versionNumber"))
            .and_then(|n| n.attribute("value"))
            .map(str::to_owned),
        reason: cap
            .and_then(|c| child(c, V3, "text"))
            .map(text)
            .filter(|t| !t.trim().is_empty()),
    };
    if req.document_oid.is_none() {
        out.push(Finding::new(
            RuleId::L025,
            frame.map_or_else(|| path_of(root), path_of),
            "controlActProcess/subject/clinicalDocument/id/@root (the version to invalidate) is absent",
        ));
    }
    if reason_required && req.reason.is_none() {
        out.push(Finding::new(
            RuleId::L023,
            cap.map_or_else(|| path_of(root), path_of),
            "an invalidation needs a reason in controlActProcess/text (archive.invalidation_reason_required)",
        ));
    }
    (req, out)
}

/// What goes into an invalidation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationMessage<'a> {
    /// The wrapper.
    pub wrapper: super::RequestWrapper<'a>,
    /// The version to invalidate.
    pub document_oid: &'a str,
    /// Its setId.
    pub set_id: &'a str,
    /// Its version number.
    pub version: u32,
    /// Custodian.
    pub custodian: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// Writes an invalidation message.
pub fn build_invalidation(m: &InvalidationMessage<'_>) -> String {
    let mut w = W::new();
    m.wrapper.open(&mut w, "ER");
    w.start(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    );
    w.text("text", &[], m.reason);
    w.start("subject", &[("typeCode", "SUBJ")]);
    w.start(
        "clinicalDocument",
        &[("classCode", "DOCCLIN"), ("moodCode", "EVN")],
    );
    w.empty("id", &[("root", m.document_oid)]);
    w.empty("statusCode", &[("code", "nullified")]);
    w.empty("versionNumber", &[("value", &m.version.to_string())]);
    w.empty("setId", &[("root", m.set_id)]);
    super::write_frame_custodian(&mut w, m.custodian);
    w.end("clinicalDocument");
    w.end("subject");
    w.end("controlActProcess");
    super::close_transmission(&mut w, m.wrapper.interaction);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::hl7::interaction_element;
    use crate::message::soap::SoapVersion;
    use crate::xml::{Limits, parse};

    fn message(reason: &str) -> String {
        build_invalidation(&InvalidationMessage {
            wrapper: crate::message::RequestWrapper {
                soap: SoapVersion::V11,
                interaction: INVALIDATE_INTERACTION,
                id: ("1.2.246.10.99900016.10.0.99", "7"),
                creation_time: "20261123100000+0200",
                sender: "1.2.246.10.99900016.10.0",
                receiver: "1.2.246.556.18007.2",
                processing_code: "D",
            },
            document_oid: "1.2.3.4",
            set_id: "1.2.3.4",
            version: 1,
            custodian: "1.2.246.10.99900016.10.0",
            reason,
        })
    }

    #[test]
    fn reads_what_it_writes_and_requires_a_reason() {
        let xml = message("Kirjattu väärälle asiakkaalle <virhe>");
        let doc = parse(&xml, &Limits::default()).unwrap();
        let (r, f) = parse_invalidation(interaction_element(&doc).unwrap(), true);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(r.document_oid.unwrap().value, "1.2.3.4");
        assert_eq!(
            r.reason.as_deref(),
            Some("Kirjattu väärälle asiakkaalle <virhe>")
        );
        let xml = message("  ");
        let doc = parse(&xml, &Limits::default()).unwrap();
        let (_, f) = parse_invalidation(interaction_element(&doc).unwrap(), true);
        assert_eq!(
            f.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            vec!["L-023"]
        );
        let (_, f) = parse_invalidation(interaction_element(&doc).unwrap(), false);
        assert!(f.is_empty());
    }
}
