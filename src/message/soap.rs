//! SOAP envelopes: recognising the version and the interaction a request carries, and
//! writing faults. [U] Kanta's SOAP profile is not public; both versions are accepted and
//! answered in kind (interface.md §1.8).

use crate::finding::RuleId;
use serde::Serialize;

use crate::finding::{Finding, Severity};
use crate::xml::XmlWriter;

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// Namespace of kanta-sim's finding elements inside fault details.
pub const FINDINGS_NS: &str = "urn:kanta-sim:findings";

/// SOAP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`).
    V11,
    /// SOAP 1.2 (`application/soap+xml`).
    V12,
}

impl SoapVersion {
    /// The version a request's Content-Type implies (SOAP 1.1 when unsure).
    pub fn from_content_type(ct: Option<&str>) -> Self {
        match ct {
            Some(ct) if ct.to_ascii_lowercase().starts_with("application/soap+xml") => Self::V12,
            _ => Self::V11,
        }
    }

    /// Content-Type of a response in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::V11 => "text/xml; charset=UTF-8",
            Self::V12 => "application/soap+xml; charset=UTF-8",
        }
    }

    fn ns(self) -> &'static str {
        match self {
            Self::V11 => SOAP11_NS,
            Self::V12 => SOAP12_NS,
        }
    }
}

/// Who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FaultCode {
    /// The request is wrong (SOAP 1.1 `Client`, 1.2 `Sender`).
    Sender,
    /// The archive cannot serve it (SOAP 1.1 `Server`, 1.2 `Receiver`).
    Receiver,
}

/// A SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Version to answer in.
    pub version: SoapVersion,
    /// Sender or receiver.
    pub code: FaultCode,
    /// The reason, in English, starting with the first finding's rule id.
    pub reason: String,
    /// Every finding.
    pub findings: Vec<Finding>,
}

impl Fault {
    /// A sender fault built from findings; the reason is the first finding's text.
    pub fn sender(version: SoapVersion, findings: Vec<Finding>) -> Self {
        Self::with_code(version, FaultCode::Sender, findings)
    }

    /// A receiver fault (the archive cannot serve the request now: over its budget, busy).
    pub fn receiver(version: SoapVersion, findings: Vec<Finding>) -> Self {
        Self::with_code(version, FaultCode::Receiver, findings)
    }

    fn with_code(version: SoapVersion, code: FaultCode, findings: Vec<Finding>) -> Self {
        let reason = findings
            .first()
            .map(|f| format!("{}: {}", f.code, f.message))
            .unwrap_or_else(|| "request refused".into());
        Self {
            version,
            code,
            reason,
            findings,
        }
    }

    /// HTTP status for the fault (SOAP 1.1: 500 always; SOAP 1.2: 400 Sender, 500 Receiver).
    pub fn http_status(&self) -> u16 {
        match (self.version, self.code) {
            (SoapVersion::V12, FaultCode::Sender) => 400,
            _ => 500,
        }
    }

    /// The envelope as UTF-8 XML.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.decl();
        w.start("env:Envelope", &[("xmlns:env", self.version.ns())]);
        w.start("env:Body", &[]);
        w.start("env:Fault", &[]);
        match self.version {
            SoapVersion::V11 => {
                let code = match self.code {
                    FaultCode::Sender => "env:Client",
                    FaultCode::Receiver => "env:Server",
                };
                w.text("faultcode", &[], code);
                w.text("faultstring", &[("xml:lang", "en")], &self.reason);
                w.start("detail", &[]);
                self.write_findings(&mut w);
                w.end("detail");
            }
            SoapVersion::V12 => {
                let code = match self.code {
                    FaultCode::Sender => "env:Sender",
                    FaultCode::Receiver => "env:Receiver",
                };
                w.start("env:Code", &[]);
                w.text("env:Value", &[], code);
                w.end("env:Code");
                w.start("env:Reason", &[]);
                w.text("env:Text", &[("xml:lang", "en")], &self.reason);
                w.end("env:Reason");
                w.start("env:Detail", &[]);
                self.write_findings(&mut w);
                w.end("env:Detail");
            }
        }
        w.end("env:Fault");
        w.end("env:Body");
        w.end("env:Envelope");
        w.finish()
    }

    fn write_findings(&self, w: &mut XmlWriter) {
        w.start("ks:findings", &[("xmlns:ks", FINDINGS_NS)]);
        for f in &self.findings {
            let severity = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            w.start(
                "ks:finding",
                &[("code", f.code.as_str()), ("severity", severity)],
            );
            w.text("ks:location", &[], &f.location);
            w.text("ks:message", &[], &f.message);
            let rule = f.code.rule();
            w.text("ks:rule", &[("xml:lang", "fi")], rule.fi);
            w.text("ks:rule", &[("xml:lang", "en")], rule.en);
            w.end("ks:finding");
        }
        w.end("ks:findings");
    }
}

/// How a request is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Envelope {
    /// A SOAP envelope of this version.
    Soap(SoapVersion),
    /// A bare HL7 interaction (only where the profile allows it, `archive.accept_bare_hl7`).
    Bare,
}

/// The wrapping of a parsed request: a SOAP 1.1 or 1.2 `Envelope`, or, when
/// `bare_allowed`, any other root taken as a bare HL7 interaction. W-002 otherwise.
pub fn envelope_of(doc: &roxmltree::Document<'_>, bare_allowed: bool) -> Result<Envelope, Finding> {
    let root = doc.root_element();
    let (ns, local) = (
        root.tag_name().namespace().unwrap_or(""),
        root.tag_name().name(),
    );
    match (ns, local) {
        (SOAP11_NS, "Envelope") => Ok(Envelope::Soap(SoapVersion::V11)),
        (SOAP12_NS, "Envelope") => Ok(Envelope::Soap(SoapVersion::V12)),
        (_, l) if bare_allowed && l != "Envelope" => Ok(Envelope::Bare),
        _ => Err(Finding::new(
            RuleId::W002,
            format!("/{local}"),
            format!(
                "expected a SOAP Envelope ({SOAP11_NS} or {SOAP12_NS}), found element {local:?} in namespace {ns:?}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(x: &str, bare: bool) -> Result<Envelope, RuleId> {
        let doc = crate::xml::parse(x, &crate::xml::Limits::default()).map_err(|e| e.code())?;
        envelope_of(&doc, bare).map_err(|f| f.code)
    }

    #[test]
    fn finds_the_version() {
        let x = format!(
            r#"<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP12_NS}"><s:Header/><s:Body><RCMR_IN200002FI01 xmlns="urn:hl7-org:v3"/></s:Body></s:Envelope>"#
        );
        assert_eq!(envelope(&x, false), Ok(Envelope::Soap(SoapVersion::V12)));
        let x = format!("<s:Envelope xmlns:s='{SOAP11_NS}'><s:Body/></s:Envelope>");
        assert_eq!(envelope(&x, false), Ok(Envelope::Soap(SoapVersion::V11)));
    }

    #[test]
    fn refuses_what_it_must() {
        assert_eq!(
            envelope(
                &format!("<s:Envelope xmlns:s='{SOAP11_NS}'><s:Body></s:Envelope>"),
                false
            ),
            Err(RuleId::W001)
        );
        assert_eq!(envelope("not xml at all", false), Err(RuleId::W001));
        assert_eq!(
            envelope("<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", false),
            Err(RuleId::W003)
        );
        let bare = "<RCMR_IN200002FI01 xmlns='urn:hl7-org:v3'/>";
        assert_eq!(envelope(bare, false), Err(RuleId::W002));
        assert_eq!(envelope(bare, true), Ok(Envelope::Bare));
        // An Envelope in another namespace is not a bare interaction.
        assert_eq!(
            envelope("<Envelope xmlns='urn:x'/>", true),
            Err(RuleId::W002)
        );
    }

    #[test]
    fn fault_is_well_formed_and_carries_codes() {
        for v in [SoapVersion::V11, SoapVersion::V12] {
            let f = Fault::sender(
                v,
                vec![Finding::new(
                    crate::finding::RuleId::A002,
                    "TLS client certificate",
                    "organisation 1.2.3 <unknown> & co",
                )],
            );
            let xml = f.to_xml();
            assert_eq!(envelope(&xml, false), Ok(Envelope::Soap(v)));
            let doc = crate::xml::parse(&xml, &crate::xml::Limits::default()).unwrap();
            let body = doc
                .root_element()
                .children()
                .find(|c| c.tag_name().name() == "Body")
                .unwrap();
            let fault = body.children().find(roxmltree::Node::is_element).unwrap();
            assert_eq!(fault.tag_name().name(), "Fault");
            assert!(xml.contains(r#"code="A-002""#), "{xml}");
            assert!(xml.contains("&lt;unknown&gt; &amp; co"), "{xml}");
            assert!(xml.contains("SOTE-organisaatiorekisterissä"), "{xml}");
        }
        assert_eq!(Fault::sender(SoapVersion::V12, vec![]).http_status(), 400);
        assert_eq!(Fault::sender(SoapVersion::V11, vec![]).http_status(), 500);
    }
}
