//! Writing a Kanta CDA from typed metadata and the two body forms, compact (no indentation:
//! whitespace inside signed content is significant) and escaped by quick-xml.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::model::{ClientId, Code, Metadata, code_systems};
use crate::identity::HETU_OID;
use crate::xml::XmlWriter as W;

/// The two forms of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Display form: an XHTML fragment whose root is `div.soc-document`.
    pub xhtml: String,
    /// Structured form: UTF-8 JSON whose top key is the document type.
    pub json: String,
}

impl Body {
    /// A plausible body of about `min_bytes` of XHTML, naming the client.
    pub fn example(meta: &Metadata, min_bytes: usize) -> Self {
        let mut xhtml = format!(
            "<div class=\"soc-document\" id=\"OID{}\" xmlns=\"http://www.w3.org/1999/xhtml\"><div class=\"soc-header\">\
             <div class=\"soc-hdr1\">{}</div></div><div class=\"soc-main-wrapper\">\
             <p class=\"soc-content\">Asiakas: {} {} (testihenkilö)</p>",
            meta.document_oid, meta.title, meta.client_name.0, meta.client_name.1
        );
        let mut n = 0;
        while xhtml.len() < min_bytes {
            n += 1;
            xhtml.push_str(&format!(
                "<p class=\"soc-item\">Kirjaus {n}: asiakkaan tilanne arvioitu; palvelutarve kirjattu ja suunnitelma päivitetty.</p>"
            ));
        }
        xhtml.push_str("</div></div>");
        let client = match &meta.client {
            ClientId::Hetu(h) => h.clone(),
            ClientId::Temporary { extension, .. } => extension.clone(),
        };
        let key = match meta.profile {
            super::model::Profile::ClientRelationship => "asiakkuusasiakirja",
            super::model::Profile::ClientDocument => "asiakassuunnitelma",
        };
        let json = serde_json::json!({ key: { "asiakas": client, "kirjauksia": n } }).to_string();
        Self { xhtml, json }
    }
}

/// CDA-specific shapes on top of the shared writer.
trait CdaWrite {
    fn code(&mut self, name: &str, c: &Code);
    fn id_or_na(&mut self, name: &str, root: Option<&str>);
}

impl CdaWrite for W {
    fn code(&mut self, name: &str, c: &Code) {
        let mut attrs = vec![
            ("code", c.code.as_str()),
            ("codeSystem", c.code_system.as_str()),
        ];
        if let Some(d) = &c.display_name {
            attrs.push(("displayName", d.as_str()));
        }
        self.empty(name, &attrs);
    }
    fn id_or_na(&mut self, name: &str, root: Option<&str>) {
        match root {
            Some(r) => self.empty(name, &[("root", r)]),
            None => self.empty(name, &[("nullFlavor", "NA")]),
        }
    }
}

/// The CDA as compact UTF-8 XML.
pub fn build_cda(meta: &Metadata, body: &Body) -> String {
    let mut w = W::new();
    w.decl();
    w.start(
        "ClinicalDocument",
        &[
            ("xmlns", "urn:hl7-org:v3"),
            ("xmlns:hl7fi", "urn:hl7finland"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    );
    w.empty("realmCode", &[("code", "FI")]);
    w.empty(
        "typeId",
        &[
            ("root", "2.16.840.1.113883.1.3"),
            ("extension", "POCD_HD000040"),
        ],
    );
    w.empty("id", &[("root", &meta.document_oid)]);
    match &meta.document_type {
        Some(c) => w.code("code", c),
        None => w.empty("code", &[("nullFlavor", "NA")]),
    }
    w.text("title", &[], &meta.title);
    w.empty("effectiveTime", &[("value", &meta.effective_time)]);
    w.code("confidentialityCode", &meta.confidentiality);
    w.empty("languageCode", &[("code", &meta.language)]);
    w.empty("setId", &[("root", &meta.set_id)]);
    w.empty("versionNumber", &[("value", &meta.version.to_string())]);

    w.start("recordTarget", &[]);
    w.start("patientRole", &[]);
    match &meta.client {
        ClientId::Hetu(h) => w.empty("id", &[("root", HETU_OID), ("extension", h)]),
        ClientId::Temporary { root, extension } => {
            w.empty("id", &[("root", root), ("extension", extension)])
        }
    }
    w.start("patient", &[]);
    w.start("name", &[]);
    w.text("given", &[], &meta.client_name.0);
    w.text("family", &[], &meta.client_name.1);
    w.end("name");
    w.end("patient");
    w.end("patientRole");
    w.end("recordTarget");

    w.start("author", &[]);
    match &meta.author {
        Some(reg) => {
            w.empty("time", &[("value", &meta.effective_time)]);
            w.start("assignedAuthor", &[]);
            w.empty("id", &[("root", "1.2.246.537.26"), ("extension", reg)]);
        }
        None => {
            w.empty("time", &[("nullFlavor", "NA")]);
            w.start("assignedAuthor", &[]);
            w.empty("id", &[("nullFlavor", "NA")]);
        }
    }
    w.end("assignedAuthor");
    w.end("author");

    w.start("custodian", &[]);
    w.start("assignedCustodian", &[]);
    w.start("representedCustodianOrganization", &[]);
    w.empty("id", &[("root", &meta.custodian)]);
    w.text("name", &[], &meta.custodian_name);
    w.end("representedCustodianOrganization");
    w.end("assignedCustodian");
    w.end("custodian");

    if let Some(r) = &meta.replaces {
        w.start("relatedDocument", &[("typeCode", "RPLC")]);
        w.start("parentDocument", &[]);
        w.empty("id", &[("root", &r.document_oid)]);
        w.empty("setId", &[("root", &r.set_id)]);
        w.empty("versionNumber", &[("value", &r.version.to_string())]);
        w.end("parentDocument");
        w.end("relatedDocument");
    }

    w.start("componentOf", &[]);
    w.start("encompassingEncounter", &[]);
    w.id_or_na("id", meta.case_id.as_deref());
    w.empty("effectiveTime", &[("nullFlavor", "NA")]);
    w.end("encompassingEncounter");
    w.end("componentOf");

    w.start("hl7fi:localSocialHeader", &[]);
    w.empty("hl7fi:creationTime", &[("value", &meta.effective_time)]);
    w.code("hl7fi:documentGroup", &meta.profile.document_group());
    if let Some(c) = &meta.specific_document_type {
        w.code("hl7fi:specificDocumentType", c);
    }
    w.code("hl7fi:registryType", &meta.register);
    if let Some(o) = &meta.organiser {
        w.empty("hl7fi:outsourcingServiceCustomer", &[("root", o)]);
    }
    if let Some(r) = &meta.client_relationship {
        w.empty("hl7fi:encompassingClientRelationship", &[("root", r)]);
    }
    if let Some(c) = &meta.service_task {
        w.code("hl7fi:functionCode", c);
    }
    if let Some(c) = &meta.service_process {
        w.start("hl7fi:serviceProcess", &[]);
        w.text("hl7fi:type", &[], "Sosiaalihuollon palveluprosessi");
        w.code("hl7fi:code", c);
        w.end("hl7fi:serviceProcess");
    }
    w.code(
        "hl7fi:fileFormat",
        &Code::new("2", code_systems::DISPLAY_FORMAT, "XHTML_1.1"),
    );
    w.code(
        "hl7fi:structuredFileFormat",
        &Code::new("5", code_systems::STRUCTURED_FORMAT, "JSON"),
    );
    let (moderator, product, version) = &meta.software;
    w.empty(
        "hl7fi:softwareSupport",
        &[
            ("moderator", moderator),
            ("product", product),
            ("version", version),
        ],
    );
    w.code(
        "hl7fi:recordStatus",
        &Code::new("3", code_systems::RECORD_STATUS, "Arkistointivalmis"),
    );
    w.code(
        "hl7fi:totalRetentionPeriodClass",
        &Code::new("1", code_systems::RETENTION, "Säilytetään pysyvästi"),
    );
    if let Some(c) = &meta.reason_of_correction {
        w.code("hl7fi:reasonOfCorrection", c);
    }
    w.end("hl7fi:localSocialHeader");

    w.start("component", &[]);
    w.start(
        "nonXMLBody",
        &[("ID", &format!("OID{}", meta.document_oid))],
    );
    w.text(
        "text",
        &[
            ("mediaType", "application/xhtml+xml"),
            ("representation", "B64"),
        ],
        &B64.encode(body.xhtml.as_bytes()),
    );
    w.text(
        "hl7fi:json",
        &[("representation", "B64")],
        &B64.encode(body.json.as_bytes()),
    );
    w.end("nonXMLBody");
    w.end("component");
    w.end("ClinicalDocument");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::model::Profile;
    use crate::xml::{Limits, parse};

    fn find<'a>(doc: &'a roxmltree::Document<'_>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
        doc.descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
    }

    #[test]
    fn client_relationship_document_has_the_sp1_shape() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.1", "010190-902S");
        let xml = build_cda(&meta, &Body::example(&meta, 100));
        let doc = parse(&xml, &Limits::default()).unwrap();
        assert_eq!(
            find(&doc, "code").unwrap().attribute("nullFlavor"),
            Some("NA")
        );
        assert_eq!(
            find(&doc, "documentGroup").unwrap().attribute("code"),
            Some("1")
        );
        assert!(find(&doc, "encompassingClientRelationship").is_some());
        assert_eq!(
            find(&doc, "assignedAuthor")
                .unwrap()
                .first_element_child()
                .unwrap()
                .attribute("nullFlavor"),
            Some("NA")
        );
        assert_eq!(
            find(&doc, "nonXMLBody").unwrap().attribute("ID"),
            Some("OID1.2.246.10.99900016.10.0.1")
        );
        assert!(!xml.contains("\n<"), "compact");
        assert_eq!(meta.profile.service_request(), "SP1");
    }

    #[test]
    fn client_document_has_the_sp17_shape_and_bodies_decode() {
        let meta = Metadata::client_document_example(
            "1.2.246.10.99900016.10.0.2",
            "010594Y9032",
            "99900000011",
        );
        assert_eq!(meta.profile, Profile::ClientDocument);
        let body = Body::example(&meta, 500);
        let xml = build_cda(&meta, &body);
        let doc = parse(&xml, &Limits::default()).unwrap();
        assert_eq!(
            find(&doc, "documentGroup").unwrap().attribute("code"),
            Some("5")
        );
        assert_eq!(
            find(&doc, "specificDocumentType")
                .unwrap()
                .attribute("code"),
            Some("15007")
        );
        assert!(find(&doc, "serviceProcess").is_some());
        let author = find(&doc, "assignedAuthor")
            .unwrap()
            .first_element_child()
            .unwrap();
        assert_eq!(author.attribute("extension"), Some("99900000011"));
        let text = find(&doc, "text").unwrap().text().unwrap();
        assert_eq!(B64.decode(text).unwrap(), body.xhtml.as_bytes());
        let json = find(&doc, "json").unwrap().text().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&B64.decode(json).unwrap()).unwrap();
        assert_eq!(v["asiakassuunnitelma"]["asiakas"], "010594Y9032");
        assert!(body.xhtml.len() >= 500);
    }

    #[test]
    fn text_is_escaped() {
        let mut meta = Metadata::client_relationship_example("1.2.3", "010190-902S");
        meta.title = "A & B <C>".into();
        let xml = build_cda(&meta, &Body::example(&meta, 0));
        assert!(xml.contains("<title>A &amp; B &lt;C&gt;</title>"), "{xml}");
        assert!(parse(&xml, &Limits::default()).is_ok());
    }
}
