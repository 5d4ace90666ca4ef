//! Rules over the HL7 request (W wrapper, S service request), the frame ↔ document
//! consistency (H-009) and who may archive what (A-004…A-006). Pure functions.

use crate::finding::RuleId;
use time::Date;

use super::codes::{CodeLists, Lookup, systems};
use super::{Finding, Severity};
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
    /// The code lists in force (service requests, usage situations, archiving groups).
    pub code_lists: &'a CodeLists,
    /// Severity of a code missing from the lists.
    pub unknown_codes: Severity,
}

/// W and S rules.
pub fn wrapper_rules(r: &Hl7Request, ctx: &WrapperContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = &r.interaction.path;
    match &r.interaction_id {
        Some(id) if id.value == r.interaction.value => {}
        Some(id) => out.push(Finding::new(
            RuleId::W010,
            &id.path,
            format!(
                "interactionId/@extension {:?} differs from the root element {:?}",
                id.value, r.interaction.value
            ),
        )),
        None => out.push(Finding::new(RuleId::W010, at, "interactionId is absent")),
    }
    let use_case = ctx.interactions.use_case(&r.interaction.value);
    if use_case.is_none() {
        out.push(Finding::new(
            RuleId::W011,
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
            RuleId::W012,
            &d.path,
            format!(
                "receiver device {:?} is not the archive ({})",
                d.value, ctx.receiver_device
            ),
        )),
        None => out.push(Finding::new(
            RuleId::W012,
            at,
            "receiver/device/id is absent",
        )),
    }
    if r.creation_time
        .as_ref()
        .is_none_or(|t| t.value.len() < 8 || !t.value[..8].bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(Finding::new(
            RuleId::W014,
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
            RuleId::W015,
            at,
            "the message id (id/@root) is absent",
        ));
    }
    match &r.processing_code {
        Some(p) if ctx.processing_codes.contains(&p.value) => {}
        Some(p) => out.push(Finding::new(
            RuleId::W017,
            &p.path,
            format!(
                "processingCode {:?} is not accepted by this profile ({})",
                p.value,
                ctx.processing_codes.join(", ")
            ),
        )),
        None => out.push(Finding::new(RuleId::W017, at, "processingCode is absent")),
    }
    // Service request and usage situation are known for the document-carrying messages
    // only [V]; whether invalidations and queries carry them is not public [U].
    if use_case.is_none_or(|u| !u.carries_document()) {
        return out;
    }
    match r.service_requests.as_slice() {
        [one] => {
            let code = one.value.code.as_deref().unwrap_or("");
            match ctx.code_lists.lookup(systems::SERVICE_REQUEST, code) {
                Lookup::Known(name) if ctx.code_lists.groups_archived_by(code).is_none() => {
                    out.push(Finding::new(
                        RuleId::S002,
                        &one.path,
                        format!(
                            "service request {code:?} ({name}) does not archive a document (archiving requests: {})",
                            ctx.code_lists.archiving_requests().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                Lookup::Known(_) => {}
                Lookup::Missing(_) | Lookup::NoList => out.push(
                    Finding::new(
                        RuleId::H010,
                        &one.path,
                        format!(
                            "service request {code:?} is not in kanta-sim's code list {}; the archiving requests it knows are {} (archive.code_lists_file, archive.unknown_codes)",
                            systems::SERVICE_REQUEST,
                            ctx.code_lists.archiving_requests().collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_severity(ctx.unknown_codes),
                ),
            }
        }
        [] => out.push(Finding::new(
            RuleId::S001,
            at,
            "no reasonCode in the service-request code system 1.2.246.537.6.1503.201601",
        )),
        many => out.push(Finding::new(
            RuleId::S001,
            &many[1].path,
            format!("{} service requests; exactly one is allowed", many.len()),
        )),
    }
    for u in &r.usage_situations {
        super::document::code_list_rule(
            &mut out,
            "usage situation",
            u,
            ctx.code_lists,
            ctx.unknown_codes,
        );
    }
    if r.usage_situations.is_empty() {
        out.push(Finding::new(
            RuleId::S004,
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
            RuleId::M002,
            &f.path,
            "clinicalDocument/text/@mediaType must be multipart/related",
        ));
    }
    out
}

/// S-003: the service request must carry the document's group (`[[archiving]]` in the code
/// lists: SP1 ↔ 1, SP17 ↔ 5 [V]). Unknown requests or groups are warned about elsewhere.
pub fn service_request_matches(r: &Hl7Request, cda: &ParsedCda, lists: &CodeLists) -> Vec<Finding> {
    let (Some(sr), Some(group)) = (r.service_requests.first(), cda.document_group.as_ref()) else {
        return Vec::new();
    };
    let code = sr.value.code.as_deref().unwrap_or("");
    let group_code = group.value.code.as_deref().unwrap_or("");
    let Some(groups) = lists.groups_archived_by(code) else {
        return Vec::new();
    };
    if groups.iter().any(|g| g == group_code) {
        return Vec::new();
    }
    let carriers: Vec<&str> = lists
        .archiving_requests()
        .filter(|sp| {
            lists
                .groups_archived_by(sp)
                .is_some_and(|g| g.iter().any(|g| g == group_code))
        })
        .collect();
    if carriers.is_empty()
        && !matches!(
            lists.lookup(systems::DOCUMENT_GROUP, group_code),
            Lookup::Known(_)
        )
    {
        // A group the lists do not know: H-010 and H-005 say so.
        return Vec::new();
    }
    vec![Finding::new(
        RuleId::S003,
        &sr.path,
        format!(
            "service request {code:?} does not match documentGroup {group_code:?} ({code} archives group {}; group {group_code} is archived with {})",
            groups.join(", "),
            if carriers.is_empty() {
                "no request kanta-sim knows".to_owned()
            } else {
                carriers.join(", ")
            }
        ),
    )]
}

fn root(v: &Option<Located<InstanceId>>) -> Option<&str> {
    v.as_ref().and_then(|l| l.value.root.as_deref())
}

/// H-009: the frame must agree with the document (id and setId [V: the SHARK client checks
/// them before sending]; versionNumber, client and custodian [I]). H-013: the effectiveTime
/// should agree too, but a published SP17 frame/document pair differs there, so whether
/// Kanta refuses it is [U] (`archive.frame_effective_time_mismatch`).
pub fn frame_consistency(
    r: &Hl7Request,
    cda: &ParsedCda,
    effective_time_mismatch: Severity,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(f) = &r.frame else {
        out.push(Finding::new(
            RuleId::H009,
            &r.interaction.path,
            "controlActProcess/subject/clinicalDocument (the frame) is absent",
        ));
        return out;
    };
    let mut same = |code: RuleId, what: &str, frame: Option<&str>, doc: Option<&str>| {
        if frame != doc {
            let f = Finding::new(
                code,
                &f.path,
                format!(
                    "frame {what} {:?} differs from the document's {:?}",
                    frame.unwrap_or("(absent)"),
                    doc.unwrap_or("(absent)")
                ),
            );
            out.push(if code == RuleId::H013 {
                f.with_severity(effective_time_mismatch)
            } else {
                f
            });
        }
    };
    same(RuleId::H009, "id", root(&f.id), root(&cda.id));
    same(RuleId::H009, "setId", root(&f.set_id), root(&cda.set_id));
    same(
        RuleId::H009,
        "versionNumber",
        f.version.as_ref().map(|v| v.value.as_str()),
        cda.version.as_ref().map(|v| v.value.as_str()),
    );
    same(
        RuleId::H013,
        "effectiveTime",
        f.effective_time.as_ref().map(|v| v.value.as_str()),
        cda.effective_time.as_ref().map(|v| v.value.as_str()),
    );
    same(
        RuleId::H009,
        "client id",
        f.client.as_ref().and_then(|c| c.value.extension.as_deref()),
        cda.client
            .as_ref()
            .and_then(|c| c.value.extension.as_deref()),
    );
    same(
        RuleId::H009,
        "custodian",
        root(&f.custodian),
        root(&cda.custodian),
    );
    if let Some(at) = &f.custodian_misplaced {
        out.push(Finding::new(
            RuleId::H011,
            at,
            "the frame's custodian was read from custodian/assignedEntity/representedOrganization/id; every published frame writes custodian/assignedCustodian/representedOrganization/id",
        ));
    }
    out
}

/// the sender device is the client certificate's organisation (or one of its units).
pub fn sender_rule(r: &Hl7Request, cert_org: &str, register: &SoteRegister) -> Option<Finding> {
    let s = r.sender.as_ref()?;
    let org = register.resolve(&s.value).map(|o| o.oid.as_str());
    (org != Some(cert_org) && s.value != cert_org).then(|| {
        Finding::new(
            RuleId::A004,
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
            None => out.push(Finding::new(RuleId::A002, &c.path, format!("custodian {custodian} is not in the SOTE organisation register"))),
            Some(o) if !o.active => out.push(Finding::new(RuleId::A003, &c.path, format!("custodian {custodian} ({}) is inactive in the register", o.name))),
            Some(o) if o.oid != cert_org => out.push(Finding::new(
                RuleId::A005,
                &c.path,
                format!("custodian {custodian} ({}) is not the organisation of the client certificate ({cert_org})", o.name),
            )),
            Some(o) => {
                if let Some(org) = &cda.organiser
                    && org.value != o.oid
                {
                    match register.resolve(&org.value) {
                        None => out.push(Finding::new(RuleId::A002, &org.path, format!("organiser {} is not in the SOTE organisation register", org.value))),
                        Some(organiser) if !register.may_write_into(&o.oid, &organiser.oid, today) => out.push(Finding::new(
                            RuleId::A006,
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
        codes_with(xml, CodeLists::bundled_static(), Severity::Warning)
    }

    fn codes_with(xml: &str, lists: &CodeLists, unknown_codes: Severity) -> Vec<String> {
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
            code_lists: lists,
            unknown_codes,
        };
        wrapper_rules(&r, &ctx)
            .into_iter()
            .map(|f| {
                if f.is_error() {
                    f.code.to_string()
                } else {
                    format!("{}(warning)", f.code)
                }
            })
            .collect()
    }

    #[test]
    fn service_requests_are_judged_by_the_code_lists() {
        let g = good();
        let sp9 = g.replacen("code=\"SP1\"", "code=\"SP9\"", 1);
        // Not in the (partial) bundled list: a warning by default, an error when strict.
        assert_eq!(codes(&sp9), vec!["H-010(warning)"]);
        assert_eq!(
            codes_with(&sp9, CodeLists::bundled_static(), Severity::Error),
            vec!["H-010"]
        );
        // A full list that knows SP9 as something other than archiving: S-002.
        let full = CodeLists::parse(
            &crate::rules::codes::BUNDLED_CODE_LISTS.replacen(
                "\"SP17\" = \"Asiakasasiakirjan arkistointi\"",
                "\"SP17\" = \"Asiakasasiakirjan arkistointi\", \"SP9\" = \"Hakupalvelu\"",
                1,
            ),
            "t",
        )
        .unwrap();
        assert_eq!(codes_with(&sp9, &full, Severity::Warning), vec!["S-002"]);
        // An unknown usage situation warns.
        let u = g.replacen(
            "<reasonCode code=\"1\" codeSystem=\"1.2.246.537.6.1289.201901\"",
            "<reasonCode code=\"7\" codeSystem=\"1.2.246.537.6.1289.201901\"",
            1,
        );
        assert_eq!(codes(&u), vec!["H-010(warning)"]);
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
