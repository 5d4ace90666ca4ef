//! Messages on the wire: SOAP envelopes (1.1 and 1.2) around HL7 V3 interactions, and the
//! faults and acknowledgements the archive answers with.

pub mod ack;
pub mod build;
pub mod hl7;
pub mod mime;
pub mod soap;

use roxmltree::Document;

/// A CDA taken out of a message's MIME entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedCda {
    /// The document bytes (a leading BOM removed).
    pub bytes: Vec<u8>,
    /// The part's Content-ID (the document OID).
    pub content_id: Option<String>,
}

/// The CDA carried by an HL7 message: the first XML part of the MIME entity in
/// `controlActProcess/subject/clinicalDocument/text`. `Ok(None)` when the document is not
/// such a message.
pub fn carried_cda(doc: &Document<'_>) -> Result<Option<CarriedCda>, mime::MimeError> {
    let text = doc
        .descendants()
        .find(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some("urn:hl7-org:v3")
                && n.tag_name().name() == "clinicalDocument"
        })
        .and_then(|cd| {
            cd.children()
                .find(|c| c.is_element() && c.tag_name().name() == "text")
        })
        .map(|t| t.children().filter_map(|c| c.text()).collect::<String>());
    let Some(text) = text else { return Ok(None) };
    let entity = mime::parse_related(&text)?;
    Ok(entity
        .parts
        .into_iter()
        .find(|p| matches!(p.media_type().as_str(), "text/xml" | "application/xml"))
        .map(|p| CarriedCda {
            bytes: p
                .body
                .strip_prefix(b"\xEF\xBB\xBF")
                .map(<[u8]>::to_vec)
                .unwrap_or(p.body),
            content_id: p.content_id,
        }))
}
