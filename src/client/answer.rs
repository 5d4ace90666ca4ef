//! Reading what an archive answered, as a client system would: the acknowledgement's code
//! and details, or a SOAP fault's reason and findings. Codes are read as text (a real
//! archive's codes are not kanta-sim's catalogue).

use roxmltree::{Document, Node};

/// One finding of an answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnswerDetail {
    /// `E`/`W` (acknowledgement) or `error`/`warning` (fault).
    pub severity: String,
    /// The rule's code.
    pub code: String,
    /// The rule's text (English), when given.
    pub rule: String,
    /// What was expected and seen.
    pub message: String,
    /// Where.
    pub location: String,
}

impl AnswerDetail {
    /// Whether it refuses.
    pub fn is_error(&self) -> bool {
        matches!(self.severity.as_str(), "E" | "error")
    }
}

/// What the archive answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    /// `AA`, `AE`, `AR`, or `fault`.
    pub outcome: String,
    /// A fault's reason.
    pub reason: Option<String>,
    /// A fault's code as written (`env:Server`, `env:Receiver`, `env:Client`, `env:Sender`).
    pub fault_code: Option<String>,
    /// The findings, in the answer's order.
    pub details: Vec<AnswerDetail>,
}

fn named<'a, 'i>(node: Node<'a, 'i>, name: &str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn child_text(node: Node<'_, '_>, name: &str) -> String {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .map(|c| crate::xml::text_content(c).trim().to_owned())
        .unwrap_or_default()
}

/// Reads an acknowledgement or a SOAP fault; `None` when the body is neither.
pub fn read_answer(body: &str) -> Option<Answer> {
    let doc = Document::parse(body).ok()?;
    let root = doc.root_element();
    if let Some(fault) = named(root, "Fault").next() {
        let reason = named(fault, "faultstring")
            .chain(named(fault, "Text"))
            .next()
            .map(|n| crate::xml::text_content(n).trim().to_owned());
        let details = named(fault, "finding")
            .map(|f| AnswerDetail {
                severity: f.attribute("severity").unwrap_or("error").to_owned(),
                code: f.attribute("code").unwrap_or("").to_owned(),
                rule: f
                    .children()
                    .find(|c| {
                        c.tag_name().name() == "rule"
                            && c.attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
                                == Some("en")
                    })
                    .map(|c| crate::xml::text_content(c).trim().to_owned())
                    .unwrap_or_default(),
                message: child_text(f, "message"),
                location: child_text(f, "location"),
            })
            .collect();
        let fault_code = named(fault, "faultcode")
            .chain(named(fault, "Code").flat_map(|c| named(c, "Value")))
            .next()
            .map(|n| crate::xml::text_content(n).trim().to_owned());
        return Some(Answer {
            outcome: "fault".into(),
            reason,
            fault_code,
            details,
        });
    }
    let ack = named(root, "acknowledgement").next()?;
    let details = named(ack, "acknowledgementDetail")
        .map(|d| {
            let code = d
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == "code");
            AnswerDetail {
                severity: d.attribute("typeCode").unwrap_or("E").to_owned(),
                code: code
                    .and_then(|c| c.attribute("code"))
                    .unwrap_or("")
                    .to_owned(),
                rule: code
                    .and_then(|c| c.attribute("displayName"))
                    .unwrap_or("")
                    .to_owned(),
                message: child_text(d, "text"),
                location: child_text(d, "location"),
            }
        })
        .collect();
    Some(Answer {
        outcome: ack.attribute("typeCode").unwrap_or("").to_owned(),
        reason: None,
        fault_code: None,
        details,
    })
}

impl Answer {
    /// A SOAP fault that blames the archive (1.1 `Server`, 1.2 `Receiver`): worth sending
    /// the same message again later.
    pub fn is_receiver_fault(&self) -> bool {
        self.fault_code.as_deref().is_some_and(|c| {
            let local = c.rsplit(':').next().unwrap_or(c);
            local == "Server" || local == "Receiver"
        })
    }

    /// One line for the outcome, then one per finding: severity, code, location, message
    /// and the rule's text.
    pub fn summary(&self, status: u16) -> String {
        let mut out = match &self.reason {
            Some(r) => format!("HTTP {status} SOAP fault: {r}"),
            None => format!("HTTP {status} {}", self.outcome),
        };
        out.push_str(&match self.details.len() {
            0 => String::new(),
            1 => ": 1 finding".into(),
            n => format!(": {n} findings"),
        });
        for d in &self.details {
            out.push_str(&format!(
                "\n  {} {} at {}: {}{}",
                if d.is_error() { "error  " } else { "warning" },
                d.code,
                d.location,
                d.message,
                if d.rule.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", d.rule)
                }
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, RuleId};
    use crate::message::soap::{Fault, SoapVersion};

    #[test]
    fn reads_what_the_archive_writes() {
        let f = Fault::sender(
            SoapVersion::V12,
            vec![Finding::new(RuleId::W003, "prolog", "a DOCTYPE & entities")],
        );
        let a = read_answer(&f.to_xml()).unwrap();
        assert_eq!(a.outcome, "fault");
        assert_eq!(a.details[0].code, "W-003");
        assert_eq!(a.details[0].message, "a DOCTYPE & entities");
        assert!(a.details[0].is_error());
        let s = a.summary(400);
        assert!(
            s.contains("error   W-003 at prolog: a DOCTYPE & entities"),
            "{s}"
        );
        assert!(read_answer("<x/>").is_none());
    }
}
