//! HL7 acknowledgements: AA (accepted), AE (content or rule errors, one
//! `acknowledgementDetail` per finding) and AR (wrapper or transport problems). The
//! interaction id of Kanta's acknowledgement is not public [U]; `MCCI_IN000002UV01` is the
//! HL7 V3 accept acknowledgement and is a profile setting.

use crate::xml::XmlWriter as W;
use serde::Serialize;

use super::soap::SoapVersion;
use crate::finding::{Finding, Severity};

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
    /// processingCode of the answer: the environment's (D in test, P in production).
    pub processing_code: &'a str,
}

/// The code system that kanta-sim's rule ids live in.
pub const RULE_CODE_SYSTEM: &str = "urn:kanta-sim:rules";

/// Writes the `acknowledgement` element: the code, the request it answers, and one
/// `acknowledgementDetail` per finding (rule id, text, location).
fn write_acknowledgement(
    w: &mut W,
    code: AckCode,
    target: Option<(&str, Option<&str>)>,
    findings: &[Finding],
) {
    w.start("acknowledgement", &[("typeCode", code.as_str())]);
    if let Some((root, ext)) = target {
        w.start("targetMessage", &[]);
        match ext {
            Some(e) => w.empty("id", &[("root", root), ("extension", e)]),
            None => w.empty("id", &[("root", root)]),
        }
        w.end("targetMessage");
    }
    for f in findings {
        let type_code = match f.severity {
            Severity::Error => "E",
            Severity::Warning => "W",
        };
        w.start("acknowledgementDetail", &[("typeCode", type_code)]);
        let display = f.code.rule().en;
        w.empty(
            "code",
            &[
                ("code", f.code.as_str()),
                ("codeSystem", RULE_CODE_SYSTEM),
                ("displayName", display),
            ],
        );
        w.text("text", &[], &f.message);
        w.text("location", &[], &f.location);
        w.end("acknowledgementDetail");
    }
    w.end("acknowledgement");
}

impl Ack<'_> {
    /// Opens the envelope and the response's interaction and writes the acknowledgement;
    /// the caller may add a payload (a query response's `controlActProcess`) and then
    /// calls [`super::close_transmission`].
    pub(crate) fn open(&self, w: &mut W) {
        let transmission = super::Transmission {
            soap: self.soap,
            interaction: self.interaction,
            id: self.id,
            creation_time: self.creation_time,
            processing_code: self.processing_code,
            accept_ack: "NE",
            receiver: self.requester_device,
            sender: Some(self.archive_device),
        };
        super::open_transmission(w, &transmission);
        write_acknowledgement(w, self.code, self.target, self.findings);
    }

    /// The SOAP envelope with the acknowledgement.
    pub fn to_xml(&self) -> String {
        let mut w = W::new();
        self.open(&mut w);
        super::close_transmission(&mut w, self.interaction);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_carry_code_text_and_location() {
        let findings = vec![Finding::new(
            crate::finding::RuleId::H001,
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
            processing_code: "D",
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
