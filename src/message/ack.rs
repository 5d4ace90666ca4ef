//! HL7 acknowledgements: AA (accepted), AE (content or rule errors, one
//! `acknowledgementDetail` per finding) and AR (wrapper or transport problems). The
//! interaction id of Kanta's acknowledgement is not public [U]; `MCCI_IN000002UV01` is the
//! HL7 V3 accept acknowledgement and is a profile setting.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;

use super::soap::{SOAP11_NS, SOAP12_NS, SoapVersion};
use crate::rules::{Finding, Severity, rule_by_id};

/// Acknowledgement type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
}

impl AckCode {
    /// The code as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AA => "AA",
            Self::AE => "AE",
            Self::AR => "AR",
        }
    }
}

/// Everything an acknowledgement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack<'a> {
    /// SOAP version to answer in.
    pub soap: SoapVersion,
    /// Interaction id of the acknowledgement.
    pub interaction: &'a str,
    /// The acknowledgement's own id (root, extension).
    pub id: (&'a str, &'a str),
    /// HL7 TS.
    pub creation_time: &'a str,
    /// The archive's device id.
    pub archive_device: &'a str,
    /// The requester's device id, when known.
    pub requester_device: Option<&'a str>,
    /// The request's id (root, extension), when known.
    pub target: Option<(&'a str, Option<&'a str>)>,
    /// AA, AE or AR.
    pub code: AckCode,
    /// Findings (warnings with AA, errors with AE/AR).
    pub findings: &'a [Finding],
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
    fn text(&mut self, name: &str, t: &str) {
        self.el(name, &[], false);
        self.ev(Event::Text(BytesText::new(t)));
        self.end(name);
    }
}

/// The code system that kanta-sim's rule ids live in.
pub const RULE_CODE_SYSTEM: &str = "urn:kanta-sim:rules";

impl Ack<'_> {
    /// The SOAP envelope with the acknowledgement.
    pub fn to_xml(&self) -> String {
        let mut w = W(Writer::new(Vec::new()));
        w.ev(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        let ns = match self.soap {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        };
        w.el("soap:Envelope", &[("xmlns:soap", ns)], false);
        w.el("soap:Body", &[], false);
        w.el(
            self.interaction,
            &[("xmlns", "urn:hl7-org:v3"), ("ITSVersion", "XML_1.0")],
            false,
        );
        w.el("id", &[("root", self.id.0), ("extension", self.id.1)], true);
        w.el("creationTime", &[("value", self.creation_time)], true);
        w.el(
            "interactionId",
            &[
                ("root", "2.16.840.1.113883.1.6"),
                ("extension", self.interaction),
            ],
            true,
        );
        w.el("processingCode", &[("code", "D")], true);
        w.el("processingModeCode", &[("code", "T")], true);
        w.el("acceptAckCode", &[("code", "NE")], true);
        for (role, type_code, id) in [
            ("receiver", "RCV", self.requester_device),
            ("sender", "SND", Some(self.archive_device)),
        ] {
            if let Some(id) = id {
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
        }
        w.el(
            "acknowledgement",
            &[("typeCode", self.code.as_str())],
            false,
        );
        if let Some((root, ext)) = self.target {
            w.el("targetMessage", &[], false);
            match ext {
                Some(e) => w.el("id", &[("root", root), ("extension", e)], true),
                None => w.el("id", &[("root", root)], true),
            }
            w.end("targetMessage");
        }
        for f in self.findings {
            let type_code = match f.severity {
                Severity::Error => "E",
                Severity::Warning => "W",
            };
            w.el("acknowledgementDetail", &[("typeCode", type_code)], false);
            let display = rule_by_id(&f.code).map_or("", |r| r.en);
            w.el(
                "code",
                &[
                    ("code", &f.code),
                    ("codeSystem", RULE_CODE_SYSTEM),
                    ("displayName", display),
                ],
                true,
            );
            w.text("text", &f.message);
            w.text("location", &f.location);
            w.end("acknowledgementDetail");
        }
        w.end("acknowledgement");
        w.end(self.interaction);
        w.end("soap:Body");
        w.end("soap:Envelope");
        String::from_utf8(w.0.into_inner()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_carry_code_text_and_location() {
        let findings = vec![Finding::new(
            "H-001",
            "/ClinicalDocument/setId",
            "setId is required <but> absent",
        )];
        let ack = Ack {
            soap: SoapVersion::V11,
            interaction: "MCCI_IN000002UV01",
            id: ("1.2.246.556.18007.2", "7"),
            creation_time: "20261123100000+0000",
            archive_device: "1.2.246.556.18007.2",
            requester_device: Some("1.2.246.10.99900016.10.0"),
            target: Some(("1.2.3", Some("42"))),
            code: AckCode::AE,
            findings: &findings,
        };
        let xml = ack.to_xml();
        let doc = crate::xml::parse(&xml, &crate::xml::Limits::default()).unwrap();
        let find = |n: &str| {
            doc.descendants()
                .find(|x| x.is_element() && x.tag_name().name() == n)
                .unwrap()
        };
        assert_eq!(find("acknowledgement").attribute("typeCode"), Some("AE"));
        assert_eq!(
            find("targetMessage")
                .first_element_child()
                .unwrap()
                .attribute("extension"),
            Some("42")
        );
        assert_eq!(
            find("acknowledgementDetail").attribute("typeCode"),
            Some("E")
        );
        assert_eq!(find("code").attribute("code"), Some("H-001"));
        assert_eq!(find("text").text(), Some("setId is required <but> absent"));
        assert_eq!(find("location").text(), Some("/ClinicalDocument/setId"));
    }
}
