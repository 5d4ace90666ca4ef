//! Reading a CDA into typed values once, keeping where each value was found. Nothing here
//! judges: absent values are `None`, and the rules (`rules::document`) decide what is
//! required for which profile.

use std::borrow::Cow;

use roxmltree::{Document, Node};
use serde::Serialize;

use crate::document::{HL7_NS, HL7FI_NS};
use crate::xml::{Lifted, NOTHING_LIFTED, path_of};

/// A value and the element path it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Element path.
    pub path: String,
}

/// An HL7 `II` (instance identifier) as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceId {
    /// `@root`.
    pub root: Option<String>,
    /// `@extension`.
    pub extension: Option<String>,
    /// `@nullFlavor`.
    pub null_flavor: Option<String>,
}

/// An HL7 `CD`/`CE`/`CS` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodedValue {
    /// `@code`.
    pub code: Option<String>,
    /// `@codeSystem`.
    pub code_system: Option<String>,
    /// `@displayName`.
    pub display_name: Option<String>,
    /// `@nullFlavor`.
    pub null_flavor: Option<String>,
}

/// One base64 form in the body (`text` or `hl7fi:json`) as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BodyForm<'a> {
    /// `@mediaType`.
    pub media_type: Option<String>,
    /// The base64 text: the element's own text nodes only, so never a comment's content;
    /// borrowed from the parsed document when it is one text node.
    pub base64: Cow<'a, str>,
    /// The name of an element found inside, where only base64 text belongs.
    pub stray_element: Option<String>,
    /// Where the base64 lay in the document's text, when it was taken out whole before
    /// the DOM ([`Lifted::source_of`]).
    #[serde(skip)]
    pub source: Option<std::ops::Range<usize>>,
}

/// The `nonXMLBody` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedBody<'a> {
    /// `@ID`.
    pub id: Option<String>,
    /// Element path.
    pub path: String,
    /// The display form's `text` (base64 XHTML).
    pub display: Option<Located<BodyForm<'a>>>,
    /// The structured form's `hl7fi:json` (base64 JSON).
    pub structured: Option<Located<BodyForm<'a>>>,
}

/// A CDA header and body as found (the body's base64 borrowed from the document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedCda<'a> {
    /// Path of `ClinicalDocument`.
    pub path: String,
    /// `id`.
    pub id: Option<Located<InstanceId>>,
    /// `setId`.
    pub set_id: Option<Located<InstanceId>>,
    /// `versionNumber/@value` as written.
    pub version: Option<Located<String>>,
    /// `effectiveTime/@value`.
    pub effective_time: Option<Located<String>>,
    /// `title`.
    pub title: Option<Located<String>>,
    /// `code`.
    pub code: Option<Located<CodedValue>>,
    /// `confidentialityCode`.
    pub confidentiality: Option<Located<CodedValue>>,
    /// `languageCode/@code`.
    pub language: Option<Located<String>>,
    /// `recordTarget/patientRole/id`.
    pub client: Option<Located<InstanceId>>,
    /// `author/assignedAuthor/id`.
    pub author: Option<Located<InstanceId>>,
    /// `custodian/assignedCustodian/representedCustodianOrganization/id`.
    pub custodian: Option<Located<InstanceId>>,
    /// `componentOf/encompassingEncounter/id` (the case).
    pub case_id: Option<Located<InstanceId>>,
    /// `hl7fi:localSocialHeader/hl7fi:documentGroup`.
    pub document_group: Option<Located<CodedValue>>,
    /// `…/hl7fi:specificDocumentType`.
    pub specific_document_type: Option<Located<CodedValue>>,
    /// `…/hl7fi:registryType`.
    pub register: Option<Located<CodedValue>>,
    /// `…/hl7fi:outsourcingServiceCustomer/@root`.
    pub organiser: Option<Located<String>>,
    /// `…/hl7fi:encompassingClientRelationship/@root`.
    pub client_relationship: Option<Located<String>>,
    /// `…/hl7fi:functionCode`.
    pub service_task: Option<Located<CodedValue>>,
    /// `…/hl7fi:serviceProcess/hl7fi:code`.
    pub service_process: Option<Located<CodedValue>>,
    /// `component/nonXMLBody`.
    pub body: Option<ParsedBody<'a>>,
    /// The `ClinicalDocument`'s children in the CDA namespace, in document order.
    pub header_sequence: Vec<Located<String>>,
    /// `realmCode/@code`.
    pub realm: Option<Located<String>>,
    /// `typeId` (root, extension).
    pub type_id: Option<Located<InstanceId>>,
    /// `relatedDocument` (type code and the parent it names).
    pub related: Option<Located<RelatedDocument>>,
    /// `…/hl7fi:reasonOfCorrection`.
    pub reason_of_correction: Option<Located<CodedValue>>,
}

impl ParsedCda<'_> {
    /// The same, owning its base64 (to outlive the parsed document).
    pub fn into_owned(self) -> ParsedCda<'static> {
        let own = |f: Option<Located<BodyForm<'_>>>| {
            f.map(|l| Located {
                value: BodyForm {
                    media_type: l.value.media_type,
                    base64: Cow::Owned(l.value.base64.into_owned()),
                    stray_element: l.value.stray_element,
                    source: l.value.source,
                },
                path: l.path,
            })
        };
        ParsedCda {
            body: self.body.map(|b| ParsedBody {
                id: b.id,
                path: b.path,
                display: own(b.display),
                structured: own(b.structured),
            }),
            path: self.path,
            id: self.id,
            set_id: self.set_id,
            version: self.version,
            effective_time: self.effective_time,
            title: self.title,
            code: self.code,
            confidentiality: self.confidentiality,
            language: self.language,
            client: self.client,
            author: self.author,
            custodian: self.custodian,
            case_id: self.case_id,
            document_group: self.document_group,
            specific_document_type: self.specific_document_type,
            register: self.register,
            organiser: self.organiser,
            client_relationship: self.client_relationship,
            service_task: self.service_task,
            service_process: self.service_process,
            header_sequence: self.header_sequence,
            realm: self.realm,
            type_id: self.type_id,
            related: self.related,
            reason_of_correction: self.reason_of_correction,
        }
    }
}

/// `relatedDocument/parentDocument` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedDocument {
    /// `@typeCode` (`RPLC` for a replacing version).
    pub type_code: Option<String>,
    /// `parentDocument/id/@root`.
    pub id: Option<String>,
    /// `parentDocument/setId/@root`.
    pub set_id: Option<String>,
    /// `parentDocument/versionNumber/@value` as written.
    pub version: Option<String>,
}

pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

pub(crate) fn path<'a, 'i>(node: Node<'a, 'i>, steps: &[(&str, &str)]) -> Option<Node<'a, 'i>> {
    steps
        .iter()
        .try_fold(node, |n, (ns, name)| child(n, ns, name))
}

fn attr(node: Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

pub(crate) fn ii(node: Node<'_, '_>) -> Located<InstanceId> {
    Located {
        value: InstanceId {
            root: attr(node, "root"),
            extension: attr(node, "extension"),
            null_flavor: attr(node, "nullFlavor"),
        },
        path: path_of(node),
    }
}

pub(crate) fn cd(node: Node<'_, '_>) -> Located<CodedValue> {
    Located {
        value: CodedValue {
            code: attr(node, "code"),
            code_system: attr(node, "codeSystem"),
            display_name: attr(node, "displayName"),
            null_flavor: attr(node, "nullFlavor"),
        },
        path: path_of(node),
    }
}

/// An element's value: its own text nodes only (never comments or processing instructions,
/// which no signature covers).
pub(crate) fn text(node: Node<'_, '_>) -> String {
    crate::xml::text_content(node).into_owned()
}

fn body_form<'a>(node: Node<'a, '_>, lifted: &'a Lifted) -> Located<BodyForm<'a>> {
    Located {
        value: BodyForm {
            media_type: attr(node, "mediaType"),
            base64: lifted.text_content(node),
            stray_element: crate::xml::first_child_element(node)
                .map(|e| e.tag_name().name().to_owned()),
            source: lifted.source_of_text(node).map(|(r, _)| r),
        },
        path: path_of(node),
    }
}

const V3: &str = HL7_NS;
const FI: &str = HL7FI_NS;

/// Where the body's two forms stand (local names): the display form's base64
/// (`nonXMLBody/text`) and the structured form's (`nonXMLBody/hl7fi:json`), a CDA's large
/// text nodes, which only the body reader and the canonicaliser read; taken out of the text
/// before the DOM is built ([`crate::xml::Prepared::lifting`]).
pub const BODY_FORM_TEXTS: &[&[&str]] = &[&["nonXMLBody", "text"], &["nonXMLBody", "json"]];

/// What the archive takes out of a carried CDA before its DOM is built: the body's two forms
/// ([`BODY_FORM_TEXTS`]) and the signature's base64 texts
/// ([`crate::xmldsig::SIGNATURE_TEXTS`]), together nearly all of a document's character data.
pub const CDA_LIFTED_TEXTS: &[&[&str]] = &[
    BODY_FORM_TEXTS[0],
    BODY_FORM_TEXTS[1],
    crate::xmldsig::SIGNATURE_TEXTS[0],
    crate::xmldsig::SIGNATURE_TEXTS[1],
];

/// Reads the CDA rooted at `cda` (a `urn:hl7-org:v3` `ClinicalDocument`).
pub fn parse_cda<'a>(cda: Node<'a, '_>) -> ParsedCda<'a> {
    parse_cda_lifted(cda, &NOTHING_LIFTED)
}

/// [`parse_cda`] over a DOM built from a prepared text (`lifted`: what was taken out).
pub fn parse_cda_lifted<'a>(cda: Node<'a, '_>, lifted: &'a Lifted) -> ParsedCda<'a> {
    let header = child(cda, FI, "localSocialHeader");
    let in_header = |name: &str| header.and_then(|h| child(h, FI, name));
    let value_at = |n: Node<'_, '_>, a: &str| {
        n.attribute(a).map(|v| Located {
            value: v.to_owned(),
            path: path_of(n),
        })
    };
    ParsedCda {
        path: path_of(cda),
        id: child(cda, V3, "id").map(ii),
        set_id: child(cda, V3, "setId").map(ii),
        version: child(cda, V3, "versionNumber").and_then(|n| value_at(n, "value")),
        effective_time: child(cda, V3, "effectiveTime").and_then(|n| value_at(n, "value")),
        title: child(cda, V3, "title").map(|n| Located {
            value: text(n),
            path: path_of(n),
        }),
        code: child(cda, V3, "code").map(cd),
        confidentiality: child(cda, V3, "confidentialityCode").map(cd),
        language: child(cda, V3, "languageCode").and_then(|n| value_at(n, "code")),
        client: path(
            cda,
            &[(V3, "recordTarget"), (V3, "patientRole"), (V3, "id")],
        )
        .map(ii),
        author: path(cda, &[(V3, "author"), (V3, "assignedAuthor"), (V3, "id")]).map(ii),
        custodian: path(
            cda,
            &[
                (V3, "custodian"),
                (V3, "assignedCustodian"),
                (V3, "representedCustodianOrganization"),
                (V3, "id"),
            ],
        )
        .map(ii),
        case_id: path(
            cda,
            &[
                (V3, "componentOf"),
                (V3, "encompassingEncounter"),
                (V3, "id"),
            ],
        )
        .map(ii),
        document_group: in_header("documentGroup").map(cd),
        specific_document_type: in_header("specificDocumentType").map(cd),
        register: in_header("registryType").map(cd),
        organiser: in_header("outsourcingServiceCustomer").and_then(|n| value_at(n, "root")),
        client_relationship: in_header("encompassingClientRelationship")
            .and_then(|n| value_at(n, "root")),
        service_task: in_header("functionCode").map(cd),
        service_process: in_header("serviceProcess")
            .and_then(|p| child(p, FI, "code"))
            .map(cd),
        header_sequence: cda
            .children()
            .filter(|c| c.is_element() && c.tag_name().namespace() == Some(V3))
            .map(|c| Located {
                value: c.tag_name().name().to_owned(),
                path: path_of(c),
            })
            .collect(),
        realm: child(cda, V3, "realmCode").and_then(|n| value_at(n, "code")),
        type_id: child(cda, V3, "typeId").map(ii),
        related: child(cda, V3, "relatedDocument").map(|r| {
            let parent = child(r, V3, "parentDocument");
            let at = |name: &str, a: &str| {
                parent
                    .and_then(|p| child(p, V3, name))
                    .and_then(|n| attr(n, a))
            };
            Located {
                value: RelatedDocument {
                    type_code: attr(r, "typeCode"),
                    id: at("id", "root"),
                    set_id: at("setId", "root"),
                    version: at("versionNumber", "value"),
                },
                path: path_of(r),
            }
        }),
        reason_of_correction: in_header("reasonOfCorrection").map(cd),
        body: path(cda, &[(V3, "component"), (V3, "nonXMLBody")]).map(|b| ParsedBody {
            id: attr(b, "ID"),
            path: path_of(b),
            display: child(b, V3, "text").map(|n| body_form(n, lifted)),
            structured: child(b, FI, "json").map(|n| body_form(n, lifted)),
        }),
    }
}

/// Reads the CDA of a parsed document, if it has one.
pub fn parse_document<'a>(doc: &'a Document<'_>) -> Option<ParsedCda<'a>> {
    super::clinical_document(doc).map(parse_cda)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::document::{Metadata, Profile};
    use crate::xml::{Limits, parse};

    #[test]
    fn the_archive_takes_out_the_body_forms_and_the_signature_texts() {
        let both: Vec<&[&str]> = BODY_FORM_TEXTS
            .iter()
            .chain(crate::xmldsig::SIGNATURE_TEXTS)
            .copied()
            .collect();
        assert_eq!(CDA_LIFTED_TEXTS, both.as_slice());
    }

    #[test]
    fn what_the_builder_writes_the_parser_reads() {
        for profile in [Profile::ClientRelationship, Profile::ClientDocument] {
            let sample = SampleDocument {
                profile,
                ..SampleDocument::default()
            };
            let meta: Metadata = sample.metadata();
            let xml = sample.to_xml();
            let doc = parse(&xml, &Limits::default()).unwrap();
            let p = parse_document(&doc).unwrap();
            assert_eq!(
                p.id.as_ref().unwrap().value.root.as_deref(),
                Some(meta.document_oid.as_str())
            );
            assert_eq!(p.set_id.unwrap().value.root, Some(meta.set_id.clone()));
            assert_eq!(p.version.unwrap().value, "1");
            assert_eq!(
                p.client.unwrap().value.extension.as_deref(),
                Some("010190-902S")
            );
            assert_eq!(
                p.custodian.unwrap().value.root,
                Some(meta.custodian.clone())
            );
            assert_eq!(
                p.document_group.unwrap().value.code.as_deref(),
                Some(meta.profile.document_group().code.as_str())
            );
            let body = p.body.unwrap();
            assert_eq!(body.id, Some(format!("OID{}", meta.document_oid)));
            assert_eq!(body.path, "/ClinicalDocument/component/nonXMLBody");
            assert!(body.structured.is_some());
            match profile {
                Profile::ClientRelationship => {
                    assert_eq!(p.author.unwrap().value.null_flavor.as_deref(), Some("NA"));
                    assert_eq!(p.case_id.unwrap().value.null_flavor.as_deref(), Some("NA"));
                    assert!(p.client_relationship.is_some());
                }
                Profile::ClientDocument => {
                    assert_eq!(
                        p.author.unwrap().value.extension.as_deref(),
                        Some("99900000011")
                    );
                    assert!(p.case_id.unwrap().value.root.is_some());
                    assert!(p.service_process.is_some());
                    assert!(p.specific_document_type.is_some());
                }
            }
        }
    }

    #[test]
    fn absent_values_are_none_with_no_guessing() {
        let doc = parse(
            r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/></ClinicalDocument>"#,
            &Limits::default(),
        )
        .unwrap();
        let p = parse_document(&doc).unwrap();
        assert_eq!(p.id.unwrap().path, "/ClinicalDocument/id");
        assert!(p.set_id.is_none() && p.body.is_none() && p.document_group.is_none());
    }
}
