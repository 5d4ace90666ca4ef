//! A Kanta-shaped sample CDA with fictional data (900-series identity codes only, the
//! bundled register's organisations), compact as signed documents are. The element layout
//! follows interface.md §2–3 closely enough for signing and verification; it is not a
//! reference for the metadata rules.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// Parameters of a sample document.
#[derive(Debug, Clone)]
pub struct SampleDocument {
    /// Document OID (also the `nonXMLBody` ID as `OID<oid>`).
    pub document_oid: String,
    /// Custodian (controller) organisation OID.
    pub custodian: String,
    /// Client's identity code (900-series).
    pub client_hetu: String,
    /// Author's registration number.
    pub author: String,
    /// Approximate size of the display form, in bytes (it is padded to reach it).
    pub body_bytes: usize,
}

impl Default for SampleDocument {
    fn default() -> Self {
        Self {
            document_oid: "1.2.246.10.99900016.10.0.20260001".into(),
            custodian: "1.2.246.10.99900016.10.0".into(),
            client_hetu: "010190-902S".into(),
            author: "99900000011".into(),
            body_bytes: 4096,
        }
    }
}

impl SampleDocument {
    /// The document as compact XML.
    pub fn to_xml(&self) -> String {
        let mut xhtml = format!(
            "<div class=\"soc-document\" id=\"OID{}\" xmlns=\"http://www.w3.org/1999/xhtml\"><div class=\"soc-header\">\
             <div class=\"soc-hdr1\">Asiakkuusasiakirja</div></div><div class=\"soc-main-wrapper\">\
             <p class=\"soc-content\">Asiakas: Testi Henkilö (testihenkilö)</p>",
            self.document_oid
        );
        let mut n = 0;
        while xhtml.len() < self.body_bytes {
            n += 1;
            xhtml.push_str(&format!(
                "<p class=\"soc-item\">Kirjaus {n}: asiakkaan tilanne arvioitu; palvelutarve kirjattu ja suunnitelma päivitetty.</p>"
            ));
        }
        xhtml.push_str("</div></div>");
        let json = format!(
            "{{\"asiakkuusasiakirja\":{{\"asiakas\":\"{}\",\"kirjauksia\":{n}}}}}",
            self.client_hetu
        );
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:hl7fi=\"urn:hl7finland\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
<realmCode code=\"FI\"/><typeId extension=\"POCD_HD000040\" root=\"2.16.840.1.113883.1.3\"/>\
<id root=\"{oid}\"/><code code=\"1\" codeSystem=\"1.2.246.537.6.1273.201601\" displayName=\"Asiakkuusasiakirja\"/>\
<title>Asiakkuusasiakirja</title><effectiveTime value=\"20261123100000+0200\"/>\
<confidentialityCode code=\"5\" codeSystem=\"1.2.246.777.5.40140.2003\"/><languageCode code=\"fi\"/>\
<setId root=\"{oid}\"/><versionNumber value=\"1\"/>\
<recordTarget><patientRole><id root=\"1.2.246.21\" extension=\"{hetu}\"/><patient><name><given>Testi</given><family>Henkilö</family></name></patient></patientRole></recordTarget>\
<author><time value=\"20261123100000+0200\"/><assignedAuthor><id root=\"1.2.246.537.26\" extension=\"{author}\"/></assignedAuthor></author>\
<custodian><assignedCustodian><representedCustodianOrganization><id root=\"{custodian}\"/></representedCustodianOrganization></assignedCustodian></custodian>\
<hl7fi:localSocialHeader><hl7fi:documentGroup code=\"1\"/><hl7fi:serviceTask code=\"1\"/></hl7fi:localSocialHeader>\
<component><nonXMLBody ID=\"OID{oid}\"><text mediaType=\"application/xhtml+xml\" representation=\"B64\">{display}</text>\
<hl7fi:json representation=\"B64\">{structured}</hl7fi:json></nonXMLBody></component>\
</ClinicalDocument>",
            oid = self.document_oid,
            hetu = self.client_hetu,
            author = self.author,
            custodian = self.custodian,
            display = B64.encode(xhtml.as_bytes()),
            structured = B64.encode(json.as_bytes()),
        )
    }
}
