//! Building archive messages for the reference client: SOAP envelope → HL7 V3
//! `RCMR_IN200002FI01` transmission wrapper → `controlActProcess` with the service request
//! and usage situation → `clinicalDocument` frame (a copy of key header fields) whose `text`
//! carries the CDA as a MIME multipart/related entity (interface.md §1.2–1.9).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::mime::encode_related;
use super::soap::{SOAP11_NS, SOAP12_NS, SoapVersion};
use crate::document::{ClientId, Metadata};
use crate::identity::HETU_OID;

/// The archive's receiver device id in Kanta's client test environment [V].
pub const KANTA_ARCHIVE_DEVICE: &str = "1.2.246.556.18007.2";
/// Service request code system (palvelupyynnöt).
pub const SERVICE_REQUEST_SYSTEM: &str = "1.2.246.537.6.1503.201601";
/// Usage situation code system (käyttötilanne).
pub const USAGE_SITUATION_SYSTEM: &str = "1.2.246.537.6.1289.201901";
/// The archiving interaction.
pub const ARCHIVE_INTERACTION: &str = "RCMR_IN200002FI01";
/// Its trigger event.
pub const ARCHIVE_TRIGGER: &str = "RCMR_TE000102UV01";

/// What goes into the wrapper around a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSpec {
    /// SOAP version.
    pub soap: SoapVersion,
    /// Message id root (sending system OID).
    pub message_root: String,
    /// Message id extension (a counter).
    pub message_extension: String,
    /// HL7 TS.
    pub creation_time: String,
    /// Sender device (the organisation OID).
    pub sender: String,
    /// Receiver device.
    pub receiver: String,
    /// `processingCode` (`D` in test environments).
    pub processing_code: String,
    /// Service request code, e.g. `SP1`.
    pub service_request: String,
    /// Usage situation code, e.g. `1`.
    pub usage_situation: String,
    /// MIME boundary.
    pub boundary: String,
}

impl MessageSpec {
    /// The usual wrapper for `meta`, sent by its custodian.
    pub fn for_document(meta: &Metadata, message_extension: &str) -> Self {
        Self {
            soap: SoapVersion::V11,
            message_root: format!("{}.99", meta.custodian),
            message_extension: message_extension.to_owned(),
            creation_time: meta.effective_time.clone(),
            sender: meta.custodian.clone(),
            receiver: KANTA_ARCHIVE_DEVICE.to_owned(),
            processing_code: "D".into(),
            service_request: meta.profile.service_request().to_owned(),
            usage_situation: "1".into(),
            boundary: format!("----=_Part_{message_extension}_kanta_sim"),
        }
    }
}

struct W(Writer<Vec<u8>>);

impl W {
    // Writing into a Vec cannot fail.
    fn ev(&mut self, e: Event<'_>) {
        let _ = self.0.write_event(e);
    }
    fn el(&mut self, name: &str, attrs: &[(&str, &str)], empty: bool) {
        let mut s = BytesStart::new(name);
        for a in attrs {
            s.push_attribute(*a);
        }
        self.ev(if empty {
            Event::Empty(s)
        } else {
            Event::Start(s)
        });
    }
    fn end(&mut self, name: &str) {
        self.ev(Event::End(BytesEnd::new(name)));
    }
}

/// The whole request body: envelope, wrapper, frame and the MIME-carried `cda`.
pub fn build_archive_message(spec: &MessageSpec, meta: &Metadata, cda: &str) -> String {
    let mut w = W(Writer::new(Vec::new()));
    w.ev(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let ns = match spec.soap {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    w.el("soap:Envelope", &[("xmlns:soap", ns)], false);
    w.el("soap:Body", &[], false);
    w.el(
        ARCHIVE_INTERACTION,
        &[("xmlns", "urn:hl7-org:v3"), ("ITSVersion", "XML_1.0")],
        false,
    );
    w.el(
        "id",
        &[
            ("root", &spec.message_root),
            ("extension", &spec.message_extension),
        ],
        true,
    );
    w.el("creationTime", &[("value", &spec.creation_time)], true);
    w.el("versionCode", &[("code", "V3-2006")], true);
    w.el(
        "interactionId",
        &[
            ("root", "2.16.840.1.113883.1.6"),
            ("extension", ARCHIVE_INTERACTION),
        ],
        true,
    );
    w.el("processingCode", &[("code", &spec.processing_code)], true);
    w.el("processingModeCode", &[("code", "T")], true);
    w.el("acceptAckCode", &[("code", "ER")], true);
    for (role, type_code, id) in [
        ("receiver", "RCV", &spec.receiver),
        ("sender", "SND", &spec.sender),
    ] {
        w.el(role, &[("typeCode", type_code)], false);
        w.el(
            "device",
            &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
            false,
        );
        w.el("id", &[("root", id)], true);
        w.end("device");
        w.end(role);
    }
    w.el(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
        false,
    );
    w.el(
        "code",
        &[
            ("code", ARCHIVE_TRIGGER),
            ("codeSystem", "2.16.840.1.113883.1.18"),
        ],
        true,
    );
    w.el("priorityCode", &[("code", "R")], true);
    w.el(
        "reasonCode",
        &[
            ("code", &spec.service_request),
            ("codeSystem", SERVICE_REQUEST_SYSTEM),
        ],
        true,
    );
    w.el(
        "reasonCode",
        &[
            ("code", &spec.usage_situation),
            ("codeSystem", USAGE_SITUATION_SYSTEM),
        ],
        true,
    );
    w.el("subject", &[("typeCode", "SUBJ")], false);
    w.el(
        "clinicalDocument",
        &[("classCode", "DOCCLIN"), ("moodCode", "EVN")],
        false,
    );
    w.el("id", &[("root", &meta.document_oid)], true);
    w.el(
        "code",
        &[
            ("code", &meta.register.code),
            ("codeSystem", &meta.register.code_system),
        ],
        true,
    );
    w.el("text", &[("mediaType", "multipart/related")], false);
    let mime = encode_related(cda.as_bytes(), &meta.document_oid, &spec.boundary);
    w.ev(Event::Text(BytesText::new(&mime)));
    w.end("text");
    w.el("statusCode", &[("code", "completed")], true);
    w.el("effectiveTime", &[("value", &meta.effective_time)], true);
    w.el(
        "confidentialityCode",
        &[
            ("code", &meta.confidentiality.code),
            ("codeSystem", &meta.confidentiality.code_system),
        ],
        true,
    );
    w.el(
        "versionNumber",
        &[("value", &meta.version.to_string())],
        true,
    );
    w.el("setId", &[("root", &meta.set_id)], true);
    w.el(
        "completionCode",
        &[("code", "LA"), ("codeSystem", "1.2.246.537.5.40115.2006")],
        true,
    );
    w.el(
        "storageCode",
        &[("code", "AC"), ("codeSystem", "1.2.246.537.5.40116.2006")],
        true,
    );
    w.el("recordTarget", &[("typeCode", "RCT")], false);
    w.el("patient", &[], false);
    match &meta.client {
        ClientId::Hetu(h) => w.el("id", &[("root", HETU_OID), ("extension", h)], true),
        ClientId::Temporary { root, extension } => {
            w.el("id", &[("root", root), ("extension", extension)], true)
        }
    }
    w.end("patient");
    w.end("recordTarget");
    w.el("custodian", &[("typeCode", "CST")], false);
    w.el("assignedEntity", &[], false);
    w.el("representedOrganization", &[], false);
    w.el("id", &[("root", &meta.custodian)], true);
    w.end("representedOrganization");
    w.end("assignedEntity");
    w.end("custodian");
    w.end("clinicalDocument");
    w.end("subject");
    w.end("controlActProcess");
    w.end(ARCHIVE_INTERACTION);
    w.end("soap:Body");
    w.end("soap:Envelope");
    String::from_utf8(w.0.into_inner()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::xml::{Limits, parse};

    #[test]
    fn the_message_carries_the_document_unchanged() {
        let sample = SampleDocument::default();
        let meta = sample.metadata();
        let cda = sample.to_xml();
        let xml = build_archive_message(&MessageSpec::for_document(&meta, "1"), &meta, &cda);
        let doc = parse(&xml, &Limits::default()).unwrap();
        let carried = crate::message::carried_cda(&doc).unwrap().unwrap();
        assert_eq!(carried.bytes, cda.as_bytes());
        assert_eq!(
            carried.content_id.as_deref(),
            Some(meta.document_oid.as_str())
        );
        let summary = super::super::soap::summarise_envelope(xml.as_bytes()).unwrap();
        assert_eq!(summary.interaction.as_deref(), Some(ARCHIVE_INTERACTION));
    }
}
