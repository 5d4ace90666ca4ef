//! Messages on the wire: SOAP envelopes (1.1 and 1.2) around HL7 V3 interactions, and the
//! faults and acknowledgements the archive answers with.

pub mod mime;
pub mod soap;

use roxmltree::Document;

/// The CDA carried by an HL7 message: the first XML part of the MIME entity in
/// `controlActProcess/subject/clinicalDocument/text`, with its Content-ID. `Ok(None)` when
/// the document is not such a message.
pub fn carried_cda(
    doc: &Document<'_>,
) -> Result<Option<(Vec<u8>, Option<String>)>, mime::MimeError> {
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
    let part = entity
        .parts
        .into_iter()
        .find(|p| matches!(p.media_type().as_str(), "text/xml" | "application/xml"))
        .or(None);
    Ok(part.map(|p| {
        let body = p
            .body
            .strip_prefix(b"\xEF\xBB\xBF")
            .map(<[u8]>::to_vec)
            .unwrap_or(p.body);
        (body, p.content_id)
    }))
}
