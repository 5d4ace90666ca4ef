//! Rules over a parsed CDA: structure (X), header (H), body (B) and persons (P). Pure functions over
//! [`ParsedCda`]: no I/O, one finding per broken rule with its element path.

use super::codes::{CodeLists, Lookup};
use super::{Finding, Severity};
use crate::document::model::code_systems;
use crate::document::parse::{BodyForm, CodedValue, InstanceId, Located, ParsedCda};
use crate::finding::RuleId;
use crate::identity::{HETU_OID, Hetu, scan_hetus, scan_hetus_outside};
use crate::xml::Limits;

/// H-010: a code absent from its list in the code lists in force (a warning unless the
/// profile makes unknown codes errors).
pub(crate) fn code_list_rule(
    out: &mut Vec<Finding>,
    field: &str,
    v: &Located<CodedValue>,
    lists: &CodeLists,
    severity: Severity,
) {
    let (Some(code), Some(system)) = (&v.value.code, &v.value.code_system) else {
        return;
    };
    if let Lookup::Missing(list) = lists.lookup(system, code) {
        out.push(
            Finding::new(
                RuleId::H010,
                &v.path,
                format!(
                    "{field} code {code:?} is not in kanta-sim's code list {} ({system}); the bundled snapshot is partial: check the code against THL's code service (archive.code_lists_file, archive.unknown_codes)",
                    list.name
                ),
            )
            .with_severity(severity),
        );
    }
}

/// What the rules need to know beyond the document.
#[derive(Debug, Clone, Copy)]
pub struct DocumentContext<'a> {
    /// Test-environment profile: every identity code anywhere must be 900–999 [V].
    pub test_identities_only: bool,
    /// Bounds on the display form's XHTML.
    pub limits: &'a Limits,
    /// The code lists in force.
    pub code_lists: &'a CodeLists,
    /// Severity of a code missing from the lists (H-010, H-005).
    pub unknown_codes: Severity,
    /// Severity of an identifier with both a root and a nullFlavor (H-012).
    pub id_root_with_null_flavor: Severity,
}

impl DocumentContext<'static> {
    /// The built-in profile's context: test identities only, the bundled code lists, unknown
    /// codes and root-with-nullFlavor identifiers warned about.
    pub fn builtin() -> Self {
        static LIMITS: Limits = Limits {
            max_bytes: 64 * 1024 * 1024,
            max_nodes: 4_000_000,
            max_depth: 256,
            max_attributes: 256,
            max_namespace_declarations: 64,
            max_namespaces_in_scope: 256,
            max_text_bytes: 48 * 1024 * 1024,
            max_attribute_value_bytes: 1024 * 1024,
            max_name_bytes: 1024,
        };
        Self {
            test_identities_only: true,
            limits: &LIMITS,
            code_lists: CodeLists::bundled_static(),
            unknown_codes: Severity::Warning,
            id_root_with_null_flavor: Severity::Warning,
        }
    }
}

/// The profile a document claims through its documentGroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    ClientRelationship,
    ClientDocument,
}

pub(crate) fn is_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        })
        && s.split('.').count() >= 2
}

fn is_hl7_ts_with_zone(s: &str) -> bool {
    // YYYYMMDDHHMMSS[.f]±HHMM, as in the samples.
    let (main, zone) = match s.find(['+', '-']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => return false,
    };
    let digits = main.split('.').next().unwrap_or("");
    digits.len() >= 12
        && digits.bytes().all(|b| b.is_ascii_digit())
        && zone.len() == 4
        && zone.bytes().all(|b| b.is_ascii_digit())
}

fn missing(out: &mut Vec<Finding>, what: &str, at: &str, why: &str) {
    out.push(Finding::new(
        RuleId::H001,
        at,
        format!("{what} is required{why} but absent"),
    ));
}

fn group_of(p: &ParsedCda, ctx: &DocumentContext<'_>, out: &mut Vec<Finding>) -> Option<Group> {
    let g = p.document_group.as_ref()?;
    if g.value.code_system.as_deref() != Some(code_systems::DOCUMENT_GROUP) {
        out.push(Finding::new(
            RuleId::H006,
            &g.path,
            format!(
                "documentGroup codeSystem is {:?}, expected {}",
                g.value.code_system.as_deref().unwrap_or(""),
                code_systems::DOCUMENT_GROUP
            ),
        ));
    }
    match g.value.code.as_deref() {
        Some("1") => Some(Group::ClientRelationship),
        Some("5") => Some(Group::ClientDocument),
        other => {
            let code = other.unwrap_or("");
            let named = ctx
                .code_lists
                .display_name(code_systems::DOCUMENT_GROUP, code)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            out.push(
                Finding::new(
                    RuleId::H005,
                    &g.path,
                    format!("documentGroup {code:?}{named} has no profile in kanta-sim (it knows 1 asiakkuusasiakirja and 5 phase-II asiakasasiakirja); only the common header rules were checked"),
                )
                .with_severity(ctx.unknown_codes),
            );
            None
        }
    }
}

fn coded_in(out: &mut Vec<Finding>, field: &str, v: &Located<CodedValue>, system: &str) {
    if v.value.null_flavor.is_none() && v.value.code_system.as_deref() != Some(system) {
        out.push(Finding::new(
            RuleId::H006,
            &v.path,
            format!(
                "{field} codeSystem is {:?}, expected {system}",
                v.value.code_system.as_deref().unwrap_or("")
            ),
        ));
    }
}

/// The root an identifier names: with a nullFlavor beside it too (H-012 reports that), so a
/// case id written `<id root="…" nullFlavor="NA"/>` is not taken for absent.
fn real_root(v: &Located<InstanceId>) -> Option<&str> {
    v.value.root.as_deref()
}

/// H-012: identifiers with both a root and a nullFlavor (a published SP17 document writes its
/// case id so [V]; whether Kanta accepts it is [U]: `archive.id_root_with_null_flavor`).
fn root_with_null_flavor(p: &ParsedCda, severity: Severity) -> Vec<Finding> {
    [
        ("id", &p.id),
        ("setId", &p.set_id),
        ("the client id", &p.client),
        ("the author id", &p.author),
        ("the custodian id", &p.custodian),
        ("the case id", &p.case_id),
    ]
    .into_iter()
    .filter_map(|(what, v)| {
        let v = v.as_ref()?;
        let (root, nf) = (v.value.root.as_deref()?, v.value.null_flavor.as_deref()?);
        Some(
            Finding::new(
                RuleId::H012,
                &v.path,
                format!("{what} has both root {root:?} and nullFlavor {nf:?}; kanta-sim reads the root (archive.id_root_with_null_flavor)"),
            )
            .with_severity(severity),
        )
    })
    .collect()
}

/// Header rules (H): presence per profile, identifiers, versions, code systems, body ID.
pub fn header_rules(p: &ParsedCda, ctx: &DocumentContext<'_>) -> Vec<Finding> {
    let mut out = root_with_null_flavor(p, ctx.id_root_with_null_flavor);
    let at = |sub: &str| format!("{}/{sub}", p.path);
    let group = group_of(p, ctx, &mut out);
    if p.document_group.is_none() {
        missing(
            &mut out,
            "hl7fi:localSocialHeader/hl7fi:documentGroup",
            &at("localSocialHeader"),
            "",
        );
    }
    // Fields every document needs.
    for (present, what) in [
        (p.id.is_some(), "id"),
        (p.set_id.is_some(), "setId"),
        (p.version.is_some(), "versionNumber/@value"),
        (p.effective_time.is_some(), "effectiveTime/@value"),
        (p.confidentiality.is_some(), "confidentialityCode"),
        (p.language.is_some(), "languageCode/@code"),
        (p.client.is_some(), "recordTarget/patientRole/id"),
        (
            p.custodian.is_some(),
            "custodian/assignedCustodian/representedCustodianOrganization/id",
        ),
        (
            p.register.is_some(),
            "hl7fi:localSocialHeader/hl7fi:registryType",
        ),
        (p.body.is_some(), "component/nonXMLBody"),
    ] {
        if !present {
            missing(
                &mut out,
                what,
                &at(what
                    .split('/')
                    .next()
                    .unwrap_or(what)
                    .trim_start_matches("hl7fi:")),
                "",
            );
        }
    }
    // Profile differences (interface.md §3).
    match group {
        Some(Group::ClientRelationship) if p.client_relationship.is_none() => {
            missing(
                &mut out,
                "hl7fi:encompassingClientRelationship/@root",
                &at("localSocialHeader"),
                " for an asiakkuusasiakirja (documentGroup 1)",
            );
        }
        Some(Group::ClientDocument) => {
            let why = " for a phase-II asiakasasiakirja (documentGroup 5)";
            if p.code
                .as_ref()
                .is_none_or(|c| c.value.null_flavor.is_some() || c.value.code.is_none())
            {
                missing(&mut out, "code (general document type)", &at("code"), why);
            }
            if p.specific_document_type.is_none() {
                missing(
                    &mut out,
                    "hl7fi:specificDocumentType",
                    &at("localSocialHeader"),
                    why,
                );
            }
            if p.service_task.is_none() {
                missing(
                    &mut out,
                    "hl7fi:functionCode (service task)",
                    &at("localSocialHeader"),
                    why,
                );
            }
            if p.service_process.is_none() {
                missing(
                    &mut out,
                    "hl7fi:serviceProcess/hl7fi:code",
                    &at("localSocialHeader"),
                    why,
                );
            }
            if p.case_id.as_ref().and_then(real_root).is_none() {
                missing(
                    &mut out,
                    "componentOf/encompassingEncounter/id/@root (case)",
                    &at("componentOf"),
                    why,
                );
            }
            match &p.author {
                Some(a) if a.value.root.as_deref() == Some("1.2.246.537.26") && a.value.extension.is_some() => {}
                Some(a) => out.push(Finding::new(
                    RuleId::H001,
                    &a.path,
                    format!("an author registration number (root 1.2.246.537.26 with extension) is required{why}"),
                )),
                None => missing(&mut out, "author/assignedAuthor/id", &at("author"), why),
            }
        }
        Some(Group::ClientRelationship) | None => {}
    }
    // Identifiers.
    for (what, v) in [
        ("id", &p.id),
        ("setId", &p.set_id),
        ("custodian id", &p.custodian),
    ] {
        if let Some(v) = v {
            match real_root(v) {
                Some(r) if is_oid(r) => {}
                Some(r) if crate::identity::zero_padded_business_arc(r).is_some() => {
                    out.push(Finding::new(
                        RuleId::H002,
                        &v.path,
                        format!(
                            "{what} root {r:?} writes the business id with its leading zero; an OID arc never starts with 0, and JHS 159 drops it (0204819-8 → 1.2.246.10.2048198): {:?}",
                            crate::identity::zero_padded_business_arc(r).unwrap_or_default()
                        ),
                    ));
                }
                other => out.push(Finding::new(
                    RuleId::H002,
                    &v.path,
                    format!(
                        "{what} root must be an OID, found {:?}",
                        other.unwrap_or("")
                    ),
                )),
            }
        }
    }
    if let Some(v) = &p.version {
        match v.value.parse::<u32>() {
            Ok(n) if n >= 1 => {
                if n == 1
                    && let (Some(id), Some(set)) = (&p.id, &p.set_id)
                    && id.value.root != set.value.root
                {
                    out.push(Finding::new(
                        RuleId::H003,
                        &set.path,
                        format!(
                            "version 1 must have setId = id: id {:?}, setId {:?}",
                            id.value.root.as_deref().unwrap_or(""),
                            set.value.root.as_deref().unwrap_or("")
                        ),
                    ));
                }
            }
            _ => out.push(Finding::new(
                RuleId::H004,
                &v.path,
                format!(
                    "versionNumber must be a positive integer, found {:?}",
                    v.value
                ),
            )),
        }
    }
    if let Some(t) = &p.effective_time
        && !is_hl7_ts_with_zone(&t.value)
    {
        out.push(Finding::new(
            RuleId::H008,
            &t.path,
            format!("expected YYYYMMDDHHMMSS±ZZZZ, found {:?}", t.value),
        ));
    }
    if let Some(c) = &p.confidentiality {
        coded_in(
            &mut out,
            "confidentialityCode",
            c,
            code_systems::CONFIDENTIALITY,
        );
    }
    if let Some(c) = &p.register {
        coded_in(&mut out, "registryType", c, code_systems::REGISTER);
    }
    if let Some(c) = &p.service_task {
        coded_in(&mut out, "functionCode", c, code_systems::SERVICE_TASK);
    }
    if let Some(c) = &p.service_process {
        coded_in(
            &mut out,
            "serviceProcess/code",
            c,
            code_systems::SERVICE_PROCESS,
        );
    }
    for (field, v) in [
        ("documentGroup", &p.document_group),
        ("confidentialityCode", &p.confidentiality),
        ("registryType", &p.register),
        ("code", &p.code),
        ("specificDocumentType", &p.specific_document_type),
        ("functionCode", &p.service_task),
        ("serviceProcess/code", &p.service_process),
    ] {
        if let Some(v) = v {
            code_list_rule(&mut out, field, v, ctx.code_lists, ctx.unknown_codes);
        }
    }
    if let (Some(body), Some(id)) = (&p.body, p.id.as_ref().and_then(real_root)) {
        let expected = format!("OID{id}");
        if body.id.as_deref() != Some(expected.as_str()) {
            out.push(Finding::new(
                RuleId::H007,
                &body.path,
                format!(
                    "nonXMLBody ID must be {expected:?}, found {:?}",
                    body.id.as_deref().unwrap_or("(none)")
                ),
            ));
        }
    }
    out
}

/// The decoded body forms, for the body and person rules.
#[derive(Debug, Clone, Default)]
pub struct DecodedBody {
    /// XHTML, when it decodes to UTF-8.
    pub xhtml: Option<String>,
    /// JSON text, when it decodes to UTF-8.
    pub json: Option<String>,
}

/// The order of a CDA R2 `ClinicalDocument`'s children (POCD_MT000040).
const CDA_SEQUENCE: [&str; 27] = [
    "realmCode",
    "typeId",
    "templateId",
    "id",
    "code",
    "title",
    "effectiveTime",
    "confidentialityCode",
    "languageCode",
    "setId",
    "versionNumber",
    "copyTime",
    "recordTarget",
    "author",
    "dataEnterer",
    "informant",
    "custodian",
    "informationRecipient",
    "legalAuthenticator",
    "authenticator",
    "participant",
    "inFulfillmentOf",
    "documentationOf",
    "relatedDocument",
    "authorization",
    "componentOf",
    "component",
];

/// Schema-level structure (X): the CDA R2 header's elements known and in order, the
/// Finnish realm and the CDA typeId. [I] Kanta validates against CDA_Fi_sos.xsd, which is not
/// public in full; these are the parts of it that CDA R2 itself fixes.
pub fn structure_rules(p: &ParsedCda) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut last = 0usize;
    for el in &p.header_sequence {
        match CDA_SEQUENCE.iter().position(|n| *n == el.value) {
            None => out.push(Finding::new(
                RuleId::X001,
                &el.path,
                format!("{:?} is not an element of a CDA R2 ClinicalDocument (urn:hl7-org:v3); Finnish extensions belong to urn:hl7finland", el.value),
            )),
            Some(i) if i < last => out.push(Finding::new(
                RuleId::X002,
                &el.path,
                format!("{} is out of order: CDA R2 puts it before {}", el.value, CDA_SEQUENCE[last]),
            )),
            Some(i) => last = i,
        }
    }
    match &p.realm {
        Some(r) if r.value == "FI" => {}
        Some(r) => out.push(Finding::new(
            RuleId::X003,
            &r.path,
            format!("realmCode must be FI, found {:?}", r.value),
        )),
        None => out.push(Finding::new(
            RuleId::X003,
            &p.path,
            "realmCode (FI) is absent",
        )),
    }
    let type_ok = p.type_id.as_ref().is_some_and(|t| {
        t.value.root.as_deref() == Some("2.16.840.1.113883.1.3")
            && t.value.extension.as_deref() == Some("POCD_HD000040")
    });
    if !type_ok {
        out.push(Finding::new(
            RuleId::X004,
            p.type_id
                .as_ref()
                .map_or(p.path.as_str(), |t| t.path.as_str()),
            "typeId must be root 2.16.840.1.113883.1.3, extension POCD_HD000040",
        ));
    }
    out
}

/// Body rules (B): display form present, base64, well-formed XHTML rooted at
/// `div.soc-document`; structured form present, base64, valid JSON.
pub fn body_rules(p: &ParsedCda, limits: &Limits) -> (Vec<Finding>, DecodedBody) {
    let mut out = Vec::new();
    let mut decoded = DecodedBody::default();
    let Some(body) = &p.body else {
        return (out, decoded);
    };
    let b64 = |s: &str| crate::xml::decode_base64(std::iter::once(s));
    let stray = |out: &mut Vec<Finding>, code: RuleId, form: &Located<BodyForm>, what: &str| {
        if let Some(e) = &form.value.stray_element {
            out.push(Finding::new(
                code,
                &form.path,
                format!("{what} must be base64 text only; found an element <{e}> inside it"),
            ));
        }
    };
    match &body.display {
        None => out.push(Finding::new(
            RuleId::B001,
            &body.path,
            "the display form (text, base64 XHTML) is absent",
        )),
        Some(d) => {
            stray(&mut out, RuleId::B001, d, "the display form");
            let media = &d.value.media_type;
            if media.as_deref() != Some("application/xhtml+xml") {
                out.push(Finding::new(
                    RuleId::B004,
                    &d.path,
                    format!(
                        "text/@mediaType must be application/xhtml+xml, found {:?}",
                        media.as_deref().unwrap_or("")
                    ),
                ));
            }
            match b64(&d.value.base64).map(String::from_utf8) {
                Err(e) => out.push(Finding::new(
                    RuleId::B001,
                    &d.path,
                    format!("the display form is not valid base64: {e}"),
                )),
                Ok(Err(e)) => out.push(Finding::new(
                    RuleId::B001,
                    &d.path,
                    format!("the display form is not UTF-8: {e}"),
                )),
                Ok(Ok(xhtml)) => {
                    // Only its well-formedness and its root are judged: no DOM when the
                    // pre-pass can vouch for it.
                    match crate::xml::root_of(&xhtml, limits) {
                        Err(e) => out.push(Finding::new(
                            RuleId::B002,
                            &d.path,
                            format!("the display form is not well-formed XHTML: {e}"),
                        )),
                        Ok(root) => {
                            let ok = root.local == "div"
                                && root.namespace.as_deref()
                                    == Some("http://www.w3.org/1999/xhtml")
                                && root.class.as_deref().is_some_and(|c| {
                                    c.split_whitespace().any(|x| x == "soc-document")
                                });
                            if !ok {
                                out.push(Finding::new(
                                    RuleId::B002,
                                    &d.path,
                                    format!("the display form's root must be an XHTML div with class soc-document, found <{}>", root.local),
                                ));
                            }
                        }
                    }
                    decoded.xhtml = Some(xhtml);
                }
            }
        }
    }
    match &body.structured {
        None => out.push(Finding::new(
            RuleId::B003,
            &body.path,
            "the structured form (hl7fi:json, base64 JSON) is absent",
        )),
        Some(j) => {
            stray(&mut out, RuleId::B003, j, "the structured form");
            match b64(&j.value.base64).map(String::from_utf8) {
                Err(e) => out.push(Finding::new(
                    RuleId::B003,
                    &j.path,
                    format!("the structured form is not valid base64: {e}"),
                )),
                Ok(Err(e)) => out.push(Finding::new(
                    RuleId::B003,
                    &j.path,
                    format!("the structured form is not UTF-8: {e}"),
                )),
                Ok(Ok(json)) => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
                        out.push(Finding::new(
                            RuleId::B003,
                            &j.path,
                            format!("the structured form is not valid JSON: {e}"),
                        ));
                    }
                    decoded.json = Some(json);
                }
            }
        }
    }
    (out, decoded)
}

/// Person rules (P): the client's identifier, temporary identifier roots, and in test
/// profiles any identity code outside 900–999 anywhere (XML text, XHTML, JSON).
pub fn person_rules(
    p: &ParsedCda,
    xml_text: &str,
    decoded: &DecodedBody,
    ctx: &DocumentContext<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(c) = &p.client {
        let root = c.value.root.as_deref().unwrap_or("");
        let ext = c.value.extension.as_deref().unwrap_or("");
        if root == HETU_OID {
            if let Err(e) = ext.parse::<Hetu>() {
                out.push(Finding::new(
                    RuleId::P001,
                    &c.path,
                    format!("the client's identity code is invalid: {e}"),
                ));
            }
        } else if root.contains(".22.") {
            if let Err(e) = crate::identity::temporary_root(root) {
                out.push(Finding::new(RuleId::P003, &c.path, format!("a temporary identifier's root must be 1.2.246.10.<business id>.22.<year> (or <organisation OID>.22.<year>): {e}")));
            }
            if ext.len() != 11 {
                out.push(Finding::new(
                    RuleId::P003,
                    &c.path,
                    format!("a temporary identifier has 11 characters, found {ext:?}"),
                ));
            }
        } else {
            out.push(Finding::new(
                RuleId::P004,
                &c.path,
                format!("the client id root must be {HETU_OID} (identity code) or 1.2.246.10.<business id>.22.<year> (temporary identifier), found {root:?}"),
            ));
        }
    }
    if ctx.test_identities_only {
        // A body form's base64 is not text a code is written in: where it decoded, it is
        // scanned decoded instead (and skipped in the XML when it lay there whole).
        let body = p.body.as_ref();
        let mut skip: Vec<std::ops::Range<usize>> = [
            (
                body.and_then(|b| b.display.as_ref()),
                decoded.xhtml.is_some(),
            ),
            (
                body.and_then(|b| b.structured.as_ref()),
                decoded.json.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(form, read)| form.filter(|_| read)?.value.source.clone())
        .filter(|r| xml_text.get(r.clone()).is_some())
        .collect();
        skip.sort_by_key(|r| r.start);
        for (where_, found) in [
            (
                "the document XML",
                Some(scan_hetus_outside(xml_text, &skip)),
            ),
            (
                "the display form (XHTML)",
                decoded.xhtml.as_deref().map(scan_hetus),
            ),
            (
                "the structured form (JSON)",
                decoded.json.as_deref().map(scan_hetus),
            ),
        ] {
            let Some(found) = found else { continue };
            for cand in found {
                if cand.test_range == Some(false) {
                    out.push(Finding::new(
                        RuleId::P002,
                        where_,
                        format!("identity code {} at byte {} is outside the 900–999 test series; only Kela-issued test codes may be used", cand.text, cand.offset),
                    ));
                }
            }
        }
    }
    out
}

/// All document rules (H, B, P) in order.
pub fn document_rules(p: &ParsedCda, xml_text: &str, ctx: &DocumentContext<'_>) -> Vec<Finding> {
    let mut out = structure_rules(p);
    out.extend(header_rules(p, ctx));
    let (body, decoded) = body_rules(p, ctx.limits);
    out.extend(body);
    out.extend(person_rules(p, xml_text, &decoded, ctx));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse::parse_document;
    use crate::document::sample::SampleDocument;
    use crate::document::{Body, Metadata, Profile, build_cda};
    use crate::xml::parse;

    fn ctx() -> DocumentContext<'static> {
        DocumentContext::builtin()
    }

    fn codes_for(xml: &str) -> Vec<String> {
        let doc = parse(xml, &Limits::default()).unwrap();
        let p = parse_document(&doc).unwrap();
        document_rules(&p, xml, &ctx())
            .into_iter()
            .map(|f| f.code.to_string())
            .collect()
    }

    /// The P-002 findings of `xml` as (where, message), its body forms taken out before
    /// the DOM (`lifting`) or read from the DOM.
    fn identity_findings(xml: &str, lifting: bool) -> Vec<(String, String)> {
        let limits = Limits::default();
        let prepared = if lifting {
            crate::xml::Prepared::lifting(xml, &limits, crate::document::BODY_FORM_TEXTS)
        } else {
            crate::xml::Prepared::lifting(xml, &limits, &[])
        }
        .unwrap();
        let doc = prepared.parse(&limits).unwrap();
        let cda = doc
            .descendants()
            .find(|n| n.has_tag_name((crate::document::HL7_NS, "ClinicalDocument")))
            .unwrap();
        let p = crate::document::parse::parse_cda_lifted(cda, prepared.lifted());
        let (_, decoded) = body_rules(&p, &limits);
        person_rules(&p, xml, &decoded, &ctx())
            .into_iter()
            .filter(|f| f.code == RuleId::P002)
            .map(|f| (f.location.clone(), f.message.clone()))
            .collect()
    }

    #[test]
    fn a_body_forms_base64_is_scanned_decoded_not_as_text() {
        let xml = sample(Profile::ClientRelationship);
        let opening = "representation=\"B64\">";
        let at = xml.find(opening).unwrap() + opening.len();
        // A valid code outside the 900 series, shaped inside the base64 (at the text's
        // start, before a `+`; it decodes to UTF-8, so the display form is still read),
        // and the same kind of code in the XML itself (a comment).
        let planted = format!(
            "{}040314V0452+{}",
            &xml[..at],
            &xml[at..].replacen(
                "</ClinicalDocument>",
                "<!-- 311299-1236 --></ClinicalDocument>",
                1
            )
        );
        let outside = planted.find("311299-1236").unwrap();
        let lifted = identity_findings(&planted, true);
        let whole = identity_findings(&planted, false);
        let in_xml = |v: &[(String, String)], code: &str| {
            v.iter()
                .any(|(w, m)| w == "the document XML" && m.contains(code))
        };
        // Read from the DOM (no source known): the base64 is scanned as text, as before.
        assert!(in_xml(&whole, "040314V0452"), "{whole:?}");
        // Taken out whole: skipped, and what lies outside it found where it lies.
        assert!(!in_xml(&lifted, "040314V0452"), "{lifted:?}");
        assert!(
            lifted
                .iter()
                .any(|(_, m)| m.contains(&format!("identity code 311299-1236 at byte {outside} "))),
            "{lifted:?}"
        );
        assert_eq!(lifted.len() + 1, whole.len(), "{lifted:?} {whole:?}");
        // A display form that does not decode is not read decoded, so its text is scanned.
        let undecodable = planted.replacen("040314V0452+", "040314V0452+!", 1);
        assert!(in_xml(
            &identity_findings(&undecodable, true),
            "040314V0452"
        ));
    }

    fn sample(profile: Profile) -> String {
        SampleDocument {
            profile,
            ..SampleDocument::default()
        }
        .to_xml()
    }

    #[test]
    fn valid_documents_of_both_profiles_pass() {
        for profile in [Profile::ClientRelationship, Profile::ClientDocument] {
            assert_eq!(
                codes_for(&sample(profile)),
                Vec::<String>::new(),
                "{profile:?}"
            );
        }
    }

    #[test]
    fn each_header_rule_fails_on_its_defect() {
        let sp1 = sample(Profile::ClientRelationship);
        let sp17 = sample(Profile::ClientDocument);
        let cases: Vec<(String, &str)> = vec![
            (sp1.replacen("<hl7fi:encompassingClientRelationship root=\"1.2.246.10.99900016.10.0.20260001.1\"/>", "", 1), "H-001"),
            (sp17.replacen("<hl7fi:specificDocumentType", "<hl7fi:otherType", 1), "H-001"),
            (sp17.replacen("extension=\"99900000011\"", "", 1), "H-001"),
            (sp1.replacen("<id root=\"1.2.246.10.99900016.10.0.20260001\"/>", "<id root=\"not-an-oid\"/>", 1), "H-002"),
            (sp1.replacen("<setId root=\"1.2.246.10.99900016.10.0.20260001\"/>", "<setId root=\"1.2.246.10.99900016.10.0.9\"/>", 1), "H-003"),
            (sp1.replacen("<versionNumber value=\"1\"/>", "<versionNumber value=\"zero\"/>", 1), "H-004"),
            (sp1.replacen("<hl7fi:documentGroup code=\"1\"", "<hl7fi:documentGroup code=\"9\"", 1), "H-005"),
            (sp1.replacen("1.2.246.537.6.1264.201701", "1.2.3.4", 1), "H-006"),
            (sp1.replacen("nonXMLBody ID=\"OID", "nonXMLBody ID=\"X", 1), "H-007"),
            (sp1.replacen("<effectiveTime value=\"20261123100000+0200\"/>", "<effectiveTime value=\"2026-11-23\"/>", 1), "H-008"),
        ];
        for (xml, code) in cases {
            let codes = codes_for(&xml);
            assert!(codes.contains(&code.to_owned()), "{code}: got {codes:?}");
        }
    }

    #[test]
    fn structure_rules_fail_on_their_defects() {
        let sp1 = sample(Profile::ClientRelationship);
        let cases = [
            (
                sp1.replacen("<title>", "<subtitle>x</subtitle><title>", 1),
                "X-001",
            ),
            (
                sp1.replacen("<realmCode code=\"FI\"/>", "", 1).replacen(
                    "<languageCode code=\"fi\"/>",
                    "<languageCode code=\"fi\"/><realmCode code=\"FI\"/>",
                    1,
                ),
                "X-002",
            ),
            (
                sp1.replacen("<realmCode code=\"FI\"/>", "<realmCode code=\"SE\"/>", 1),
                "X-003",
            ),
            (sp1.replacen("POCD_HD000040", "POCD_HD000041", 1), "X-004"),
        ];
        for (xml, code) in cases {
            let got = codes_for(&xml);
            assert!(got.contains(&code.to_owned()), "{code}: {got:?}");
        }
    }

    #[test]
    fn codes_outside_the_snapshot_warn_without_refusing() {
        let xml = sample(Profile::ClientDocument).replacen("code=\"24\"", "code=\"99\"", 1);
        let doc = parse(&xml, &Limits::default()).unwrap();
        let p = parse_document(&doc).unwrap();
        let findings = document_rules(&p, &xml, &ctx());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "H-010");
        assert!(!findings[0].is_error());
        // A profile that makes unknown codes errors refuses the same document.
        let strict = DocumentContext {
            unknown_codes: Severity::Error,
            ..ctx()
        };
        let findings = document_rules(&p, &xml, &strict);
        assert!(findings[0].is_error(), "{findings:?}");
        // An unknown document group: warned about twice (not in the list, no profile), and
        // only the common header rules apply.
        let xml = sample(Profile::ClientRelationship).replacen(
            "<hl7fi:documentGroup code=\"1\"",
            "<hl7fi:documentGroup code=\"3\"",
            1,
        );
        let doc = parse(&xml, &Limits::default()).unwrap();
        let p = parse_document(&doc).unwrap();
        let findings = document_rules(&p, &xml, &ctx());
        let codes: Vec<_> = findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, vec!["H-005", "H-010"], "{findings:?}");
        assert!(findings.iter().all(|f| !f.is_error()));
    }

    #[test]
    fn an_id_with_root_and_null_flavor_is_read_and_warned_about() {
        // As a published SP17 document writes its case id.
        let xml = sample(Profile::ClientDocument).replacen(
            "<encompassingEncounter><id root=\"",
            "<encompassingEncounter><id nullFlavor=\"NA\" root=\"",
            1,
        );
        assert!(
            xml.contains("nullFlavor=\"NA\" root="),
            "the sample changed shape"
        );
        let doc = parse(&xml, &Limits::default()).unwrap();
        let p = parse_document(&doc).unwrap();
        let findings = document_rules(&p, &xml, &ctx());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "H-012");
        assert!(!findings[0].is_error());
        assert!(findings[0].location.ends_with("encompassingEncounter/id"));
        let strict = DocumentContext {
            id_root_with_null_flavor: Severity::Error,
            ..ctx()
        };
        assert!(document_rules(&p, &xml, &strict)[0].is_error());
    }

    #[test]
    fn body_rules_fail_on_their_defects() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.5", "010190-902S");
        let good = Body::example(&meta, 10);
        let bad_xhtml = Body {
            xhtml: "<p>not a soc-document</p>".into(),
            ..good.clone()
        };
        assert!(codes_for(&build_cda(&meta, &bad_xhtml)).contains(&"B-002".to_owned()));
        let broken_xhtml = Body {
            xhtml: "<div".into(),
            ..good.clone()
        };
        assert!(codes_for(&build_cda(&meta, &broken_xhtml)).contains(&"B-002".to_owned()));
        let bad_json = Body {
            json: "{not json".into(),
            ..good.clone()
        };
        assert!(codes_for(&build_cda(&meta, &bad_json)).contains(&"B-003".to_owned()));
        let xml = build_cda(&meta, &good);
        assert!(
            codes_for(&xml.replacen("representation=\"B64\">", "representation=\"B64\">!!", 1))
                .contains(&"B-001".to_owned())
        );
        assert!(
            codes_for(&xml.replacen("application/xhtml+xml", "text/html", 1))
                .contains(&"B-004".to_owned())
        );
    }

    #[test]
    fn person_rules_fail_on_their_defects() {
        let sp1 = sample(Profile::ClientRelationship);
        assert!(
            codes_for(&sp1.replacen("010190-902S", "010190-902T", 1)).contains(&"P-001".to_owned())
        );
        // 311299F1236: outside the test series (nobody is born in 2099), hidden in the JSON.
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.6", "010190-902S");
        let mut body = Body::example(&meta, 10);
        body.json =
            r#"{"asiakkuusasiakirja":{"asiakas":"010190-902S","huoltaja":"311299F1236"}}"#.into();
        let codes = codes_for(&build_cda(&meta, &body));
        assert_eq!(codes, vec!["P-002"], "{codes:?}");
        let temp = sp1.replacen(
            "root=\"1.2.246.21\" extension=\"010190-902S\"",
            "root=\"1.2.246.10.99900016.10.0.22.2026\" extension=\"010190T9001\"",
            1,
        );
        assert_eq!(codes_for(&temp), Vec::<String>::new());
        let bad_temp = sp1.replacen(
            "root=\"1.2.246.21\" extension=\"010190-902S\"",
            "root=\"1.2.246.10.99900016.10.0.23.2026\" extension=\"x\"",
            1,
        );
        assert!(codes_for(&bad_temp).contains(&"P-004".to_owned()));
        let bad_year = sp1.replacen(
            "root=\"1.2.246.21\" extension=\"010190-902S\"",
            "root=\"1.2.246.10.99900016.10.0.22.26\" extension=\"010190T9001\"",
            1,
        );
        assert!(codes_for(&bad_year).contains(&"P-003".to_owned()));
        // The recommended root hangs from the business id (as published:
        // 1.2.246.10.2012566.22.2026), and from the legacy root too.
        for root in [
            "1.2.246.10.99900016.22.2026",
            "1.2.246.10.9990063.22.2026",
            "1.2.246.537.10.99900067.22.2026",
        ] {
            let t = sp1.replacen(
                "root=\"1.2.246.21\" extension=\"010190-902S\"",
                &format!("root=\"{root}\" extension=\"010190T9001\""),
                1,
            );
            assert_eq!(codes_for(&t), Vec::<String>::new(), "{root}");
        }
        // Not a temporary-id root: something that is no organisation in front of .22.
        let not_org = sp1.replacen(
            "root=\"1.2.246.21\" extension=\"010190-902S\"",
            "root=\"1.2.246.21.22.2026\" extension=\"010190T9001\"",
            1,
        );
        assert!(codes_for(&not_org).contains(&"P-003".to_owned()));
    }

    #[test]
    fn outside_test_profiles_real_range_codes_are_allowed() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.7", "311299F1236");
        let xml = build_cda(&meta, &Body::example(&meta, 10));
        let doc = parse(&xml, &Limits::default()).unwrap();
        let p = parse_document(&doc).unwrap();
        assert!(
            document_rules(
                &p,
                &xml,
                &DocumentContext {
                    test_identities_only: false,
                    ..ctx()
                }
            )
            .is_empty()
        );
        assert!(!document_rules(&p, &xml, &ctx()).is_empty());
    }
}
