//! The HL7 V3 archive request, read once into typed values with element paths: the
//! transmission wrapper, the control act (trigger, service request, usage situation) and the
//! `clinicalDocument` frame. Rules (`rules::wrapper`) judge it.

use roxmltree::{Document, Node};
use serde::Serialize;

use crate::document::HL7_NS;
use crate::document::model::code_systems::{SERVICE_REQUEST, USAGE_SITUATION};
use crate::document::parse::{CodedValue, InstanceId, Located, cd, child, ii, path, text};
use crate::xml::path_of;

const V3: &str = HL7_NS;

/// The `clinicalDocument` frame's copy of the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Path of the frame.
    pub path: String,
    /// `id`.
    pub id: Option<Located<InstanceId>>,
    /// `setId`.
    pub set_id: Option<Located<InstanceId>>,
    /// `versionNumber/@value`.
    pub version: Option<Located<String>>,
    /// `effectiveTime/@value`.
    pub effective_time: Option<Located<String>>,
    /// `recordTarget/patient/id`.
    pub client: Option<Located<InstanceId>>,
    /// `custodian/assignedCustodian/representedOrganization/id` (every published frame), or
    /// read leniently from `custodian/assignedEntity/…` (see `custodian_misplaced`).
    pub custodian: Option<Located<InstanceId>>,
    /// Set when the custodian was found under `custodian/assignedEntity` instead of the
    /// published `custodian/assignedCustodian`: the path it was found at.
    pub custodian_misplaced: Option<String>,
    /// `text/@mediaType`.
    pub media_type: Option<Located<String>>,
}

/// An archive request as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hl7Request {
    /// Local name of the interaction element.
    pub interaction: Located<String>,
    /// `interactionId/@extension`.
    pub interaction_id: Option<Located<String>>,
    /// Message `id`.
    pub message_id: Option<Located<InstanceId>>,
    /// `creationTime/@value`.
    pub creation_time: Option<Located<String>>,
    /// `processingCode/@code`.
    pub processing_code: Option<Located<String>>,
    /// `receiver/device/id/@root`.
    pub receiver: Option<Located<String>>,
    /// `sender/device/id/@root`.
    pub sender: Option<Located<String>>,
    /// `controlActProcess/code`.
    pub trigger: Option<Located<CodedValue>>,
    /// Every `reasonCode` in the service-request code system.
    pub service_requests: Vec<Located<CodedValue>>,
    /// Every `reasonCode` in the usage-situation code system.
    pub usage_situations: Vec<Located<CodedValue>>,
    /// The frame.
    pub frame: Option<Frame>,
}

fn attr_at(n: Node<'_, '_>, a: &str) -> Option<Located<String>> {
    n.attribute(a).map(|v| Located {
        value: v.to_owned(),
        path: path_of(n),
    })
}

fn frame_custodian(frame: Node<'_, '_>, assigned: &str) -> Option<Located<InstanceId>> {
    path(
        frame,
        &[
            (V3, "custodian"),
            (V3, assigned),
            (V3, "representedOrganization"),
            (V3, "id"),
        ],
    )
    .map(ii)
}

/// Reads the HL7 interaction element (the first child of the SOAP Body, or the root of a
/// bare HL7 document).
pub fn parse_request(root: Node<'_, '_>) -> Hl7Request {
    let cap = child(root, V3, "controlActProcess");
    let reasons: Vec<Located<CodedValue>> = cap
        .map(|c| {
            c.children()
                .filter(|n| {
                    n.is_element()
                        && n.tag_name().namespace() == Some(V3)
                        && n.tag_name().name() == "reasonCode"
                })
                .map(cd)
                .collect()
        })
        .unwrap_or_default();
    let by_system = |sys: &str| -> Vec<Located<CodedValue>> {
        reasons
            .iter()
            .filter(|r| r.value.code_system.as_deref() == Some(sys))
            .cloned()
            .collect()
    };
    let frame = cap
        .and_then(|c| path(c, &[(V3, "subject"), (V3, "clinicalDocument")]))
        .map(|f| {
            let (custodian, custodian_misplaced) = match frame_custodian(f, "assignedCustodian") {
                Some(c) => (Some(c), None),
                None => match frame_custodian(f, "assignedEntity") {
                    Some(c) => {
                        let at = c.path.clone();
                        (Some(c), Some(at))
                    }
                    None => (None, None),
                },
            };
            Frame {
                path: path_of(f),
                id: child(f, V3, "id").map(ii),
                set_id: child(f, V3, "setId").map(ii),
                version: child(f, V3, "versionNumber").and_then(|n| attr_at(n, "value")),
                effective_time: child(f, V3, "effectiveTime").and_then(|n| attr_at(n, "value")),
                client: path(f, &[(V3, "recordTarget"), (V3, "patient"), (V3, "id")]).map(ii),
                custodian,
                custodian_misplaced,
                media_type: child(f, V3, "text").and_then(|n| attr_at(n, "mediaType")),
            }
        });
    Hl7Request {
        interaction: Located {
            value: root.tag_name().name().to_owned(),
            path: path_of(root),
        },
        interaction_id: child(root, V3, "interactionId").and_then(|n| attr_at(n, "extension")),
        message_id: child(root, V3, "id").map(ii),
        creation_time: child(root, V3, "creationTime").and_then(|n| attr_at(n, "value")),
        processing_code: child(root, V3, "processingCode").and_then(|n| attr_at(n, "code")),
        receiver: path(root, &[(V3, "receiver"), (V3, "device"), (V3, "id")])
            .and_then(|n| attr_at(n, "root")),
        sender: path(root, &[(V3, "sender"), (V3, "device"), (V3, "id")])
            .and_then(|n| attr_at(n, "root")),
        trigger: cap.and_then(|c| child(c, V3, "code")).map(cd),
        service_requests: by_system(SERVICE_REQUEST),
        usage_situations: by_system(USAGE_SITUATION),
        frame,
    }
}

/// The HL7 interaction element of a SOAP envelope (or of a bare HL7 document).
pub fn interaction_element<'a, 'i>(doc: &'a Document<'i>) -> Option<Node<'a, 'i>> {
    let root = doc.root_element();
    if root.tag_name().name() == "Envelope" {
        root.children()
            .find(|c| c.is_element() && c.tag_name().name() == "Body")
            .and_then(|b| b.children().find(Node::is_element))
    } else {
        Some(root)
    }
}

/// The frame's MIME text.
pub fn frame_text(frame_node: Node<'_, '_>) -> Option<String> {
    child(frame_node, V3, "text").map(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::message::build::{MessageSpec, build_archive_message};
    use crate::xml::{Limits, parse};

    #[test]
    fn reads_what_the_builder_writes() {
        let sample = SampleDocument::default();
        let meta = sample.metadata();
        let xml = build_archive_message(
            &MessageSpec::for_document(&meta, "42"),
            &meta,
            &sample.to_xml(),
        );
        let doc = parse(&xml, &Limits::default()).unwrap();
        let r = parse_request(interaction_element(&doc).unwrap());
        assert_eq!(r.interaction.value, "RCMR_IN200002FI01");
        assert_eq!(r.interaction_id.unwrap().value, "RCMR_IN200002FI01");
        assert_eq!(r.message_id.unwrap().value.extension.as_deref(), Some("42"));
        assert_eq!(r.sender.unwrap().value, meta.custodian);
        assert_eq!(r.service_requests.len(), 1);
        assert_eq!(r.service_requests[0].value.code.as_deref(), Some("SP1"));
        assert_eq!(r.usage_situations.len(), 1);
        let f = r.frame.unwrap();
        assert_eq!(f.id.unwrap().value.root, Some(meta.document_oid.clone()));
        assert_eq!(
            f.custodian.unwrap().value.root,
            Some(meta.custodian.clone())
        );
        assert_eq!(f.media_type.unwrap().value, "multipart/related");
    }
}
