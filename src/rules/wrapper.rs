//! Rules over the HL7 request (W wrapper, S service request), the frame ↔ document
//! consistency (H-009) and who may archive what (A-004…A-006). Pure functions.

use time::Date;

use super::Finding;
use crate::config::Interactions;
use crate::document::parse::{InstanceId, Located, ParsedCda};
use crate::identity::SoteRegister;
use crate::message::hl7::Hl7Request;

/// What the wrapper rules compare against (profile settings).
#[derive(Debug, Clone, Copy)]
pub struct WrapperContext<'a> {
    /// The archive's own device id (`receiver/device/id/@root`).
    pub receiver_device: &'a str,
    /// Accepted `processingCode`s (`D` in test environments [V], `P` in production [I]).
    pub processing_codes: &'a [String],
    /// Interactions this archive implements, by use case.
    pub interactions: &'a Interactions,
}

/// W and S rules.
pub fn wrapper_rules(r: &Hl7Request, ctx: &WrapperContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = &r.interaction.path;
    match &r.interaction_id {
        Some(id) if id.value == r.interaction.value => {}
        Some(id) => out.push(Finding::new(
            "W-010",
            &id.path,
            format!(
                "interactionId/@extension {:?} differs from the root element {:?}",
                id.value, r.interaction.value
            ),
        )),
        None => out.push(Finding::new("W-010", at, "interactionId is absent")),
    }
    let use_case = ctx.interactions.use_case(&r.interaction.value);
    if use_case.is_none() {
        out.push(Finding::new(
            "W-011",
            at,
            format!(
                "interaction {:?} is not one this archive accepts here ({}; archive.interactions)",
                r.interaction.value,
                ctx.interactions
                    .all()
                    .iter()
                    .map(|(u, id)| format!("{id} {}", u.describe()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    match &r.receiver {
        Some(d) if d.value == ctx.receiver_device => {}
        Some(d) => out.push(Finding::new(
            "W-012",
            &d.path,
            format!(
                "receiver device {:?} is not the archive ({})",
                d.value, ctx.receiver_device
            ),
        )),
        None => out.push(Finding::new("W-012", at, "receiver/device/id is absent")),
    }
    if r.creation_time
        .as_ref()
        .is_none_or(|t| t.value.len() < 8 || !t.value[..8].bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(Finding::new(
            "W-014",
            at,
            "creationTime/@value is absent or not an HL7 timestamp",
        ));
    }
    if r.message_id
        .as_ref()
        .and_then(|m| m.value.root.as_ref())
        .is_none()
    {
        out.push(Finding::new(
            "W-015",
            at,
            "the message id (id/@root) is absent",
        ));
    }
    match &r.processing_code {
        Some(p) if ctx.processing_codes.contains(&p.value) => {}
        Some(p) => out.push(Finding::new(
            "W-017",
            &p.path,
            format!(
                "processingCode {:?} is not accepted by this profile ({})",
                p.value,
                ctx.processing_codes.join(", ")
            ),
        )),
        None => out.push(Finding::new("W-017", at, "processingCode is absent")),
    }
    // Service request and usage situation are known for the document-carrying messages
    // only [V]; whether invalidations and queries carry them is not public [U].
    if use_case.is_none_or(|u| !u.carries_document()) {
        return out;
    }
    match r.service_requests.as_slice() {
        [one] => {
            let code = one.value.code.as_deref().unwrap_or("");
            if code != "SP1" && code != "SP17" {
                out.push(Finding::new("S-002", &one.path, format!("service request {code:?} does not archive a document (SP1 or SP17 expected)")));
            }
        }
        [] => out.push(Finding::new(
            "S-001",
            at,
            "no reasonCode in the service-request code system 1.2.246.537.6.1503.201601",
        )),
        many => out.push(Finding::new(
            "S-001",
            &many[1].path,
            format!("{} service requests; exactly one is allowed", many.len()),
        )),
    }
    if r.usage_situations.is_empty() {
        out.push(Finding::new(
            "S-004",
            at,
            "no reasonCode in the usage-situation code system 1.2.246.537.6.1289.201901",
        ));
    }
    if let Some(f) = &r.frame
        && f.media_type
            .as_ref()
            .is_none_or(|m| m.value != "multipart/related")
    {
        out.push(Finding::new(
            "M-002",
            &f.path,
            "clinicalDocument/text/@mediaType must be multipart/related",
        ));
    }
    out
}

/// S-003: the service request must match the document group (SP1 ↔ 1, SP17 ↔ 5).
pub fn service_request_matches(r: &Hl7Request, cda: &ParsedCda) -> Vec<Finding> {
    let (Some(sr), Some(group)) = (r.service_requests.first(), cda.document_group.as_ref()) else {
        return Vec::new();
    };
    let expected = match group.value.code.as_deref() {
        Some("1") => "SP1",
        Some("5") => "SP17",
        _ => return Vec::new(),
    };
    let code = sr.value.code.as_deref().unwrap_or("");
    if code == expected {
        Vec::new()
    } else {
        vec![Finding::new(
            "S-003",
            &sr.path,
            format!(
                "service request {code:?} does not match documentGroup {:?} (expects {expected})",
                group.value.code.as_deref().unwrap_or("")
            ),
        )]
    }
}

fn root(v: &Option<Located<InstanceId>>) -> Option<&str> {
    v.as_ref().and_then(|l| l.value.root.as_deref())
}

/// H-009: the frame must agree with the document.
pub fn frame_consistency(r: &Hl7Request, cda: &ParsedCda) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(f) = &r.frame else {
        out.push(Finding::new(
            "H-009",
            &r.interaction.path,
            "controlActProcess/subject/clinicalDocument (the frame) is absent",
        ));
        return out;
    };
    let mut same = |what: &str, frame: Option<&str>, doc: Option<&str>| {
        if frame != doc {
            out.push(Finding::new(
                "H-009",
                &f.path,
                format!(
                    "frame {what} {:?} differs from the document's {:?}",
                    frame.unwrap_or("(absent)"),
                    doc.unwrap_or("(absent)")
                ),
            ));
        }
    };
    same("id", root(&f.id), root(&cda.id));
    same("setId", root(&f.set_id), root(&cda.set_id));
    same(
        "versionNumber",
        f.version.as_ref().map(|v| v.value.as_str()),
        cda.version.as_ref().map(|v| v.value.as_str()),
    );
    same(
        "effectiveTime",
        f.effective_time.as_ref().map(|v| v.value.as_str()),
        cda.effective_time.as_ref().map(|v| v.value.as_str()),
    );
    same(
        "client id",
        f.client.as_ref().and_then(|c| c.value.extension.as_deref()),
        cda.client
            .as_ref()
            .and_then(|c| c.value.extension.as_deref()),
    );
    same("custodian", root(&f.custodian), root(&cda.custodian));
    out
}

/// the sender device is the client certificate's organisation (or one of its units).
pub fn sender_rule(r: &Hl7Request, cert_org: &str, register: &SoteRegister) -> Option<Finding> {
    let s = r.sender.as_ref()?;
    let org = register.resolve(&s.value).map(|o| o.oid.as_str());
    (org != Some(cert_org) && s.value != cert_org).then(|| {
        Finding::new(
            "A-004",
            &s.path,
            format!(
                "sender device {:?} is not the organisation of the client certificate ({cert_org})",
                s.value
            ),
        )
    })
}

/// A-rules at document level: the sender device and the custodian are the certificate's
/// organisation (or one of its units), the custodian is registered and active, and a
/// document for another organiser's register needs a register use right [I: the custodian
/// is taken to be the producing organisation; `outsourcingServiceCustomer` names the
/// organiser whose register receives it].
pub fn authorisation_rules(
    r: &Hl7Request,
    cda: &ParsedCda,
    cert_org: &str,
    register: &SoteRegister,
    today: Date,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = sender_rule(r, cert_org, register).into_iter().collect();
    if let Some(c) = &cda.custodian
        && let Some(custodian) = &c.value.root
    {
        match register.resolve(custodian) {
            None => out.push(Finding::new("A-002", &c.path, format!("custodian {custodian} is not in the SOTE organisation register"))),
            Some(o) if !o.active => out.push(Finding::new("A-003", &c.path, format!("custodian {custodian} ({}) is inactive in the register", o.name))),
            Some(o) if o.oid != cert_org => out.push(Finding::new(
                "A-005",
                &c.path,
                format!("custodian {custodian} ({}) is not the organisation of the client certificate ({cert_org})", o.name),
            )),
            Some(o) => {
                if let Some(org) = &cda.organiser
                    && org.value != o.oid
                {
                    match register.resolve(&org.value) {
                        None => out.push(Finding::new("A-002", &org.path, format!("organiser {} is not in the SOTE organisation register", org.value))),
                        Some(organiser) if !register.may_write_into(&o.oid, &organiser.oid, today) => out.push(Finding::new(
                            "A-006",
                            &org.path,
                            format!(
                                "{} ({}) has no register use right into the register of {} ({}) on {today}",
                                o.oid, o.name, organiser.oid, organiser.name
                            ),
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::message::build::{MessageSpec, build_archive_message};
    use crate::message::hl7::{interaction_element, parse_request};
    use crate::xml::{Limits, parse};

    fn codes(xml: &str) -> Vec<String> {
        let doc = parse(xml, &Limits::default()).unwrap();
        let r = parse_request(interaction_element(&doc).unwrap());
        let codes = ["D".to_owned()];
        let ctx = WrapperContext {
            receiver_device: "1.2.246.556.18007.2",
            processing_codes: &codes,
            interactions: &crate::config::Config::builtin()
                .unwrap()
                .archive
                .interactions,
        };
        wrapper_rules(&r, &ctx)
            .into_iter()
            .map(|f| f.code)
            .collect()
    }

    fn good() -> String {
        let s = SampleDocument::default();
        let meta = s.metadata();
        build_archive_message(&MessageSpec::for_document(&meta, "1"), &meta, &s.to_xml())
    }

    #[test]
    fn a_good_wrapper_passes_and_each_defect_is_named() {
        let g = good();
        assert_eq!(codes(&g), Vec::<String>::new());
        let cases = [
            (g.replacen("<creationTime value=\"20261123100000+0200\"/>", "", 1), "W-014"),
            (g.replacen("<id root=\"1.2.246.10.99900016.10.0.99\" extension=\"1\"/>", "", 1), "W-015"),
            (g.replacen("extension=\"RCMR_IN200002FI01\"", "extension=\"RCMR_IN200016FI01\"", 1), "W-010"),
            (g.replacen("<receiver typeCode=\"RCV\">", "<receiverX typeCode=\"RCV\">", 1).replacen("</receiver>", "</receiverX>", 1), "W-012"),
            (g.replacen("<processingCode code=\"D\"/>", "<processingCode code=\"P\"/>", 1), "W-017"),
            (g.replacen("code=\"SP1\" codeSystem=\"1.2.246.537.6.1503.201601\"", "code=\"SP1\" codeSystem=\"1.2.3\"", 1), "S-001"),
            (g.replacen("<reasonCode code=\"1\" codeSystem=\"1.2.246.537.6.1289.201901\"/>", "", 1), "S-004"),
            (g.replacen("<reasonCode code=\"SP1\"", "<reasonCode code=\"SP1\" codeSystem=\"1.2.246.537.6.1503.201601\"/><reasonCode code=\"SP17\"", 1), "S-001"),
            (g.replacen("mediaType=\"multipart/related\"", "mediaType=\"text/plain\"", 1), "M-002"),
        ];
        for (xml, code) in cases {
            let got = codes(&xml);
            assert!(got.contains(&code.to_owned()), "{code}: {got:?}");
        }
    }
}
