//! Building archive messages for the reference client: SOAP envelope → HL7 V3
//! `RCMR_IN200002FI01` transmission wrapper → `controlActProcess` with the service request
//! and usage situation → `clinicalDocument` frame (a copy of key header fields) whose `text`
//! carries the CDA as a MIME multipart/related entity (interface.md §1.2–1.9).

use crate::xml::XmlWriter as W;

use super::mime::encode_related;
use super::soap::SoapVersion;
use crate::document::model::code_systems::{SERVICE_REQUEST, USAGE_SITUATION};
use crate::document::{ClientId, Metadata};
use crate::identity::HETU_OID;

/// The archive's receiver device id in Kanta's client test environment [V].
pub const KANTA_ARCHIVE_DEVICE: &str = "1.2.246.556.18007.2";
/// The archiving interaction.
pub const ARCHIVE_INTERACTION: &str = "RCMR_IN200002FI01";
/// Its trigger event.
pub const ARCHIVE_TRIGGER: &str = "RCMR_TE000102UV01";
/// The default new-version interaction [I] (the profile's `archive.interactions.new_version`).
pub const NEW_VERSION_INTERACTION: &str = "RCMR_IN200016FI01";
/// Its trigger event, PTA's replacing-version trigger [I].
pub const NEW_VERSION_TRIGGER: &str = "RCMR_TE000910UV01";

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
    /// Interaction id (archiving, or new version for version 2 and later).
    pub interaction: String,
    /// Trigger event code.
    pub trigger: String,
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
            interaction: if meta.version > 1 {
                NEW_VERSION_INTERACTION
            } else {
                ARCHIVE_INTERACTION
            }
            .to_owned(),
            trigger: if meta.version > 1 {
                NEW_VERSION_TRIGGER
            } else {
                ARCHIVE_TRIGGER
            }
            .to_owned(),
        }
    }
}

/// A first-version archiving message for client-relationship document `document_oid` of
/// `signer`'s organisation: an SP1 document with a display form of `body_bytes` (12 500
/// gives a signed document of about 20 KB), signed by the organisation's system signature
/// as `signature_id`, in message `message_extension`. The corpus of the load generator, the
/// pipeline benchmark and the crash test.
pub fn signed_sp1_message(
    signer: &crate::xmldsig::Signer,
    organisation: &str,
    document_oid: &str,
    message_extension: &str,
    body_bytes: usize,
    signature_id: &str,
) -> Result<String, crate::xmldsig::SignError> {
    let mut meta = Metadata::client_relationship_example(document_oid, "010190-902S");
    organisation.clone_into(&mut meta.custodian);
    let cda = crate::document::sign_kanta_document(
        &crate::document::build_cda(&meta, &crate::document::Body::example(&meta, body_bytes)),
        signer,
        crate::document::SignatureType::System,
        time::OffsetDateTime::now_utc(),
        signature_id,
    )?;
    Ok(build_archive_message(
        &MessageSpec::for_document(&meta, message_extension),
        &meta,
        &cda,
    ))
}

/// The whole request body: envelope, wrapper, frame and the MIME-carried `cda`.
pub fn build_archive_message(spec: &MessageSpec, meta: &Metadata, cda: &str) -> String {
    let mut w = W::new();
    let transmission = super::Transmission {
        soap: spec.soap,
        interaction: &spec.interaction,
        id: (&spec.message_root, &spec.message_extension),
        creation_time: &spec.creation_time,
        processing_code: &spec.processing_code,
        accept_ack: "ER",
        receiver: Some(&spec.receiver),
        sender: Some(&spec.sender),
    };
    super::open_transmission(&mut w, &transmission);
    w.start(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    );
    w.empty(
        "code",
        &[
            ("code", &spec.trigger),
            ("codeSystem", "2.16.840.1.113883.1.18"),
        ],
    );
    w.empty("priorityCode", &[("code", "R")]);
    w.empty(
        "reasonCode",
        &[
            ("code", &spec.service_request),
            ("codeSystem", SERVICE_REQUEST),
        ],
    );
    w.empty(
        "reasonCode",
        &[
            ("code", &spec.usage_situation),
            ("codeSystem", USAGE_SITUATION),
        ],
    );
    w.start("subject", &[("typeCode", "SUBJ")]);
    w.start(
        "clinicalDocument",
        &[("classCode", "DOCCLIN"), ("moodCode", "EVN")],
    );
    // In the order every published frame uses (interface.md §1.2–§3).
    w.empty("realmCode", &[("code", "FI")]);
    w.empty(
        "typeId",
        &[
            ("root", "2.16.840.1.113883.1.3"),
            ("extension", "POCD_HD000040"),
        ],
    );
    w.empty("id", &[("root", &meta.document_oid)]);
    w.empty(
        "code",
        &[
            ("code", &meta.register.code),
            ("codeSystem", &meta.register.code_system),
        ],
    );
    w.start("text", &[("mediaType", "multipart/related")]);
    let mime = encode_related(cda.as_bytes(), &meta.document_oid, &spec.boundary);
    w.chars(&mime);
    w.end("text");
    w.empty("statusCode", &[("code", "COMPLETED")]);
    w.empty("effectiveTime", &[("value", &meta.effective_time)]);
    w.empty(
        "confidentialityCode",
        &[
            ("code", &meta.confidentiality.code),
            ("codeSystem", &meta.confidentiality.code_system),
        ],
    );
    w.empty("languageCode", &[("code", &meta.language)]);
    w.empty("setId", &[("root", &meta.set_id)]);
    w.empty("versionNumber", &[("value", &meta.version.to_string())]);
    w.empty(
        "completionCode",
        &[("code", "LA"), ("codeSystem", "1.2.246.537.5.40115.2006")],
    );
    w.empty(
        "storageCode",
        &[("code", "AC"), ("codeSystem", "1.2.246.537.5.40116.2006")],
    );
    w.start("recordTarget", &[("typeCode", "RCT")]);
    w.start("patient", &[]);
    match &meta.client {
        ClientId::Hetu(h) => w.empty("id", &[("root", HETU_OID), ("extension", h)]),
        ClientId::Temporary { root, extension } => {
            w.empty("id", &[("root", root), ("extension", extension)])
        }
    }
    w.end("patient");
    w.end("recordTarget");
    super::write_frame_custodian(&mut w, &meta.custodian);
    w.end("clinicalDocument");
    w.end("subject");
    w.end("controlActProcess");
    super::close_transmission(&mut w, &spec.interaction);
    w.finish()
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
        let mime = crate::message::mime::MimeLimits::default();
        let carried = crate::message::carried_cda(&doc, &crate::xml::Lifted::default(), &mime)
            .unwrap()
            .unwrap();
        assert_eq!(carried.bytes, cda.as_bytes());
        // Read with the entity taken out before the DOM, as the archive reads it: the same.
        let prepared =
            crate::xml::Prepared::new(&xml, &Limits::default(), crate::message::CARRIED_TEXT)
                .unwrap();
        assert!(!prepared.lifted().is_empty());
        let lifted_doc = prepared.parse(&Limits::default()).unwrap();
        assert_eq!(
            crate::message::carried_cda(&lifted_doc, prepared.lifted(), &mime)
                .unwrap()
                .unwrap(),
            carried
        );
        assert_eq!(
            carried.content_id.as_deref(),
            Some(meta.document_oid.as_str())
        );
        let interaction = crate::message::hl7::interaction_element(&doc).unwrap();
        assert_eq!(interaction.tag_name().name(), ARCHIVE_INTERACTION);
    }
}
