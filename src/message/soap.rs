//! SOAP envelopes: recognising the version and the interaction a request carries, and
//! writing faults. [U] Kanta's SOAP profile is not public; both versions are accepted and
//! answered in kind (interface.md §1.8).

use crate::finding::RuleId;
use quick_xml::events::Event;
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

/// What the archive could tell about a request before the full message parser exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSummary {
    /// Version by the envelope's namespace.
    pub version: SoapVersion,
    /// Local name of the first element in the Body: the HL7 interaction id.
    pub interaction: Option<String>,
}

/// Reads just enough of a request to know its SOAP version and interaction. DTDs are
/// refused outright; no entity is ever expanded.
pub fn summarise_envelope(body: &[u8]) -> Result<EnvelopeSummary, Finding> {
    let mut reader = quick_xml::NsReader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut version = None;
    let mut in_body = false;
    loop {
        let ev = match reader.read_resolved_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let at = reader.buffer_position();
                return Err(Finding::new(
                    RuleId::W001,
                    format!("byte {at}"),
                    format!("not well-formed XML: {e}"),
                ));
            }
        };
        match ev {
            (_, Event::DocType(_)) => {
                return Err(Finding::new(
                    RuleId::W003,
                    "prolog",
                    "a DOCTYPE declaration was found; DTDs and entities are refused",
                ));
            }
            (ns, ref event @ (Event::Start(ref e) | Event::Empty(ref e))) => {
                let opens = matches!(event, Event::Start(_));
                let local = e.local_name().as_ref().to_owned();
                let ns = match ns {
                    quick_xml::name::ResolveResult::Bound(n) => n.as_ref().to_owned(),
                    _ => String::new(),
                };
                if depth == 0 {
                    version = match (ns.as_str(), local.as_str()) {
                        (SOAP11_NS, "Envelope") => Some(SoapVersion::V11),
                        (SOAP12_NS, "Envelope") => Some(SoapVersion::V12),
                        _ => {
                            return Err(Finding::new(
                                RuleId::W002,
                                format!("/{local}"),
                                format!(
                                    "expected a SOAP Envelope ({SOAP11_NS} or {SOAP12_NS}), found element {local:?} in namespace {ns:?}"
                                ),
                            ));
                        }
                    };
                } else if depth == 1 && local == "Body" {
                    in_body = true;
                } else if depth == 2 && in_body {
                    return Ok(EnvelopeSummary {
                        version: version.unwrap_or(SoapVersion::V11),
                        interaction: Some(local),
                    });
                }
                if opens {
                    depth += 1;
                }
            }
            (_, Event::End(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_body = false;
                }
            }
            (_, Event::Eof) => break,
            _ => {}
        }
        buf.clear();
    }
    match version {
        Some(version) => Ok(EnvelopeSummary {
            version,
            interaction: None,
        }),
        None => Err(Finding::new(RuleId::W001, "document", "no root element")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_version_and_interaction() {
        let s = summarise_envelope(
            format!(r#"<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP12_NS}"><s:Header/><s:Body><RCMR_IN200002FI01 xmlns="urn:hl7-org:v3"/></s:Body></s:Envelope>"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(s.version, SoapVersion::V12);
        assert_eq!(s.interaction.as_deref(), Some("RCMR_IN200002FI01"));
    }

    #[test]
    fn refuses_what_it_must() {
        let code = |x: &str| summarise_envelope(x.as_bytes()).unwrap_err().code;
        assert_eq!(
            code(&format!(
                "<s:Envelope xmlns:s='{SOAP11_NS}'><s:Body></s:Envelope>"
            )),
            "W-001"
        );
        assert_eq!(code("not xml at all"), "W-001");
        assert_eq!(code("<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>"), "W-003");
        assert_eq!(code("<RCMR_IN200002FI01 xmlns='urn:hl7-org:v3'/>"), "W-002");
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
            let s = summarise_envelope(xml.as_bytes()).unwrap();
            assert_eq!(s.version, v);
            assert_eq!(s.interaction.as_deref(), Some("Fault"));
            assert!(xml.contains(r#"code="A-002""#), "{xml}");
            assert!(xml.contains("&lt;unknown&gt; &amp; co"), "{xml}");
            assert!(xml.contains("SOTE-organisaatiorekisterissä"), "{xml}");
        }
        assert_eq!(Fault::sender(SoapVersion::V12, vec![]).http_status(), 400);
        assert_eq!(Fault::sender(SoapVersion::V11, vec![]).http_status(), 500);
    }
}
