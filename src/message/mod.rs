//! Messages on the wire: SOAP envelopes (1.1 and 1.2) around HL7 V3 interactions, and the
//! faults and acknowledgements the archive answers with.

pub mod ack;
pub mod build;
pub mod hl7;
pub mod lifecycle;
pub mod mime;
pub mod query;
pub mod results;
pub mod soap;
pub mod usecase;

use roxmltree::Document;

use crate::xml::XmlWriter;
use soap::{SOAP11_NS, SOAP12_NS, SoapVersion};

/// The fields of an HL7 V3 transmission wrapper (interface.md §1.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transmission<'a> {
    pub(crate) soap: SoapVersion,
    pub(crate) interaction: &'a str,
    pub(crate) id: (&'a str, &'a str),
    pub(crate) creation_time: &'a str,
    pub(crate) processing_code: &'a str,
    pub(crate) accept_ack: &'a str,
    pub(crate) receiver: Option<&'a str>,
    pub(crate) sender: Option<&'a str>,
}

/// The wrapper of a request a client system sends (what [`Transmission`] writes, from the
/// sender's side): shared by the invalidation and query messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestWrapper<'a> {
    /// SOAP version.
    pub soap: SoapVersion,
    /// Interaction id.
    pub interaction: &'a str,
    /// Message id (root, extension).
    pub id: (&'a str, &'a str),
    /// HL7 TS.
    pub creation_time: &'a str,
    /// Sender device (the organisation OID).
    pub sender: &'a str,
    /// Receiver device (the archive).
    pub receiver: &'a str,
    /// `processingCode`.
    pub processing_code: &'a str,
}

impl RequestWrapper<'_> {
    /// Opens the envelope and the interaction, asking for `accept_ack`.
    pub(crate) fn open(&self, w: &mut XmlWriter, accept_ack: &str) {
        open_transmission(
            w,
            &Transmission {
                soap: self.soap,
                interaction: self.interaction,
                id: self.id,
                creation_time: self.creation_time,
                processing_code: self.processing_code,
                accept_ack,
                receiver: Some(self.receiver),
                sender: Some(self.sender),
            },
        );
    }
}

/// The frame's custodian as every published frame writes it
/// (`custodian/assignedCustodian/representedOrganization/id`, interface.md §3; the element
/// under `custodian` is `assignedCustodian` as in the CDA, only the organisation element
/// differs): archiving, invalidation and query responses write it alike.
pub(crate) fn write_frame_custodian(w: &mut XmlWriter, oid: &str) {
    w.start("custodian", &[("typeCode", "CST")]);
    w.start("assignedCustodian", &[("classCode", "ASSIGNED")]);
    w.start(
        "representedOrganization",
        &[("classCode", "ORG"), ("determinerCode", "INSTANCE")],
    );
    w.empty("id", &[("root", oid)]);
    w.end("representedOrganization");
    w.end("assignedCustodian");
    w.end("custodian");
}

/// Opens the SOAP envelope and the interaction element and writes the wrapper's header
/// fields; the caller writes the payload and then calls [`close_transmission`].
pub(crate) fn open_transmission(w: &mut XmlWriter, t: &Transmission<'_>) {
    w.decl();
    let ns = match t.soap {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    w.start("soap:Envelope", &[("xmlns:soap", ns)]);
    w.start("soap:Body", &[]);
    w.start(
        t.interaction,
        &[("xmlns", "urn:hl7-org:v3"), ("ITSVersion", "XML_1.0")],
    );
    w.empty("id", &[("root", t.id.0), ("extension", t.id.1)]);
    w.empty("creationTime", &[("value", t.creation_time)]);
    w.empty("versionCode", &[("code", "V3-2006")]);
    w.empty(
        "interactionId",
        &[
            ("root", "2.16.840.1.113883.1.6"),
            ("extension", t.interaction),
        ],
    );
    w.empty("processingCode", &[("code", t.processing_code)]);
    w.empty("processingModeCode", &[("code", "T")]);
    w.empty("acceptAckCode", &[("code", t.accept_ack)]);
    for (role, type_code, id) in [("receiver", "RCV", t.receiver), ("sender", "SND", t.sender)] {
        if let Some(id) = id {
            w.start(role, &[("typeCode", type_code)]);
            w.start(
                "device",
                &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
            );
            w.empty("id", &[("root", id)]);
            w.end("device");
            w.end(role);
        }
    }
}

/// Closes what [`open_transmission`] opened.
pub(crate) fn close_transmission(w: &mut XmlWriter, interaction: &str) {
    w.end(interaction);
    w.end("soap:Body");
    w.end("soap:Envelope");
}

/// A CDA taken out of a message's MIME entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedCda {
    /// The document bytes (a leading BOM removed).
    pub bytes: Vec<u8>,
    /// The part's Content-ID (the document OID).
    pub content_id: Option<String>,
    /// The other parts (attachments): number and Content-ID, which the document must
    /// reference (M-009).
    pub others: Vec<(usize, Option<String>)>,
    /// Where every part's base64 (this one's and the others') lay in the MIME entity's
    /// text, for the parts decoded from base64.
    pub base64_bodies: Vec<std::ops::Range<usize>>,
}

/// The element path whose character data (the MIME entity) a message's reader takes out
/// before building the DOM ([`crate::xml::Prepared`]): read it with [`carried_cda`].
pub const CARRIED_TEXT: &[&str] = &["clinicalDocument", "text"];

/// The CDA carried by an HL7 message: the first XML part of the MIME entity in
/// `controlActProcess/subject/clinicalDocument/text` (as `lifted` holds it when the message
/// was prepared with [`CARRIED_TEXT`]). `Ok(None)` when the document is not such a message.
pub fn carried_cda(
    doc: &Document<'_>,
    lifted: &crate::xml::Lifted,
    limits: &mime::MimeLimits,
) -> Result<Option<CarriedCda>, mime::MimeError> {
    let text = carried_text_element(doc).map(|t| lifted.text_content(t));
    let Some(text) = text else { return Ok(None) };
    cda_in_mime(&text, limits)
}

/// The element whose character data is the MIME entity: `clinicalDocument/text` (the
/// first of each), as [`carried_cda`] reads it.
pub fn carried_text_element<'a, 'i>(doc: &'a Document<'i>) -> Option<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .find(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some("urn:hl7-org:v3")
                && n.tag_name().name() == "clinicalDocument"
        })
        .and_then(|cd| {
            cd.children()
                .find(|c| c.is_element() && c.tag_name().name() == "text")
        })
}

/// The first XML part of a MIME multipart/related entity (as carried in a frame's `text`),
/// with the other parts' Content-IDs.
pub fn cda_in_mime(
    text: &str,
    limits: &mime::MimeLimits,
) -> Result<Option<CarriedCda>, mime::MimeError> {
    let entity = mime::parse_related(text, limits)?;
    let Some(at) = entity
        .parts
        .iter()
        .position(|p| matches!(p.media_type().as_str(), "text/xml" | "application/xml"))
    else {
        return Ok(None);
    };
    let others = entity
        .parts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(i, p)| (i + 1, p.content_id.clone()))
        .collect();
    let base64_bodies = entity
        .parts
        .iter()
        .filter_map(|p| p.base64_at.clone())
        .collect();
    let part = entity.parts.into_iter().nth(at);
    Ok(part.map(|p| CarriedCda {
        bytes: match p.body.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => rest.to_vec(),
            None => p.body,
        },
        content_id: p.content_id,
        others,
        base64_bodies,
    }))
}
