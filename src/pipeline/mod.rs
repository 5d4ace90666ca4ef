//! The one code path that judges what a client system sends: [`process_message`] reads an
//! archive message (SOAP → HL7 wrapper → frame → MIME → CDA) and runs every rule class over
//! it; [`validate_text`] does the same for a bare CDA. The archive endpoint and
//! `kanta-sim validate` both call these, so they cannot disagree.

use crate::finding::RuleId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::budget::Budget;
use crate::document::parse::{CodedValue, InstanceId, Located, ParsedCda, parse_cda_lifted};
use crate::document::{ArchivedDocument, RelatedRef};
use crate::document::{CDA_LIFTED_TEXTS, clinical_document, kanta_verify_options};
use crate::finding::{Finding, Severity};
use crate::identity::SoteRegister;
use crate::message::ack::AckCode;
use crate::message::hl7::{interaction_element, parse_request};
use crate::message::lifecycle::{InvalidationRequest, parse_invalidation};
use crate::message::mime::MimeLimits;
use crate::message::query::{QueryRequest, parse_query};
use crate::message::soap::{Envelope, SoapVersion, envelope_of};
use crate::message::usecase::UseCase;
use crate::pki::TrustStore;
use crate::rules::codes::CodeLists;
use crate::rules::document::{DocumentContext, document_rules};
use crate::rules::signature::signature_rules;
use crate::rules::wrapper::{
    WrapperContext, authorisation_rules, frame_consistency, sender_rule, service_request_matches,
    wrapper_rules,
};
use crate::xml::{Lifted, Limits, NOTHING_LIFTED, Prepared, XmlError, parse};
use crate::xmldsig::{VerifyOptions, verify_parsed};

/// How to validate.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions<'a> {
    /// Trust material for signer certificates (`None`: certificates unchecked).
    pub trust: Option<&'a TrustStore>,
    /// Test-environment identity rule (only 900–999 codes anywhere).
    pub test_identities_only: bool,
    /// Time of receipt.
    pub now: OffsetDateTime,
    /// The SOTE register, for service units signing with their organisation's certificate.
    pub register: Option<&'a SoteRegister>,
    /// The code lists in force.
    pub code_lists: &'a CodeLists,
    /// Severity of codes missing from the lists.
    pub unknown_codes: Severity,
    /// Severity of identifiers with both a root and a nullFlavor.
    pub id_root_with_null_flavor: Severity,
    /// Bounds on every XML document read (message, CDA, display form).
    pub limits: Limits,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// The document OID, when one was found.
    pub document_oid: Option<String>,
    /// Whether the CDA was taken out of a message's MIME part.
    pub carried_in_message: bool,
    /// Every finding, ordered by rule id.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// No error findings.
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
}

fn xml_finding(e: &XmlError, where_: &str) -> Finding {
    Finding::new(e.code(), where_, e.to_string())
}

/// Validates `text`: a bare CDA gets the document and signature rules; a message gets the
/// whole archive pipeline ([`process_message`]).
pub fn validate_text(text: &str, ctx: &MessageContext<'_>) -> Validation {
    let mut v = Validation {
        document_oid: None,
        carried_in_message: false,
        findings: Vec::new(),
    };
    let doc = match parse(text, &ctx.validate.limits) {
        Ok(d) => d,
        Err(e) => {
            v.findings.push(xml_finding(&e, "document"));
            return v;
        }
    };
    if clinical_document(&doc).is_some() {
        validate_cda(text, &doc, &ctx.validate, &mut v);
        return v;
    }
    v.carried_in_message = true;
    // Offline, a frame without its SOAP envelope is read too.
    let ctx = MessageContext {
        accept_bare_hl7: true,
        ..*ctx
    };
    match judge_message(text, &doc, &crate::xml::Lifted::default(), &ctx) {
        Ok(outcome) => {
            v.document_oid = outcome.document.as_ref().map(|d| d.document_oid.clone());
            v.findings = outcome.findings;
        }
        Err(refusal) => v.findings = vec![refusal.finding],
    }
    v
}

fn validate_cda(
    text: &str,
    doc: &roxmltree::Document<'_>,
    opts: &ValidateOptions<'_>,
    v: &mut Validation,
) {
    if let Some(parsed) = check_cda(text, doc, &NOTHING_LIFTED, opts, &mut v.findings) {
        v.document_oid = parsed.id.as_ref().and_then(|i| i.value.root.clone());
    }
    v.findings.sort_by_key(|a| a.code);
}

/// Document (H, B, P) and signature (G) rules over a parsed CDA (`lifted`: the character
/// data taken out of its text before the DOM was built); returns what was read.
fn check_cda<'d>(
    text: &str,
    doc: &'d roxmltree::Document<'_>,
    lifted: &'d Lifted,
    opts: &ValidateOptions<'_>,
    findings: &mut Vec<Finding>,
) -> Option<ParsedCda<'d>> {
    let cda = clinical_document(doc)?;
    let parsed = parse_cda_lifted(cda, lifted);
    findings.extend(document_rules(
        &parsed,
        text,
        &DocumentContext {
            test_identities_only: opts.test_identities_only,
            limits: &opts.limits,
            code_lists: opts.code_lists,
            unknown_codes: opts.unknown_codes,
            id_root_with_null_flavor: opts.id_root_with_null_flavor,
        },
    ));
    let report = verify_parsed(
        doc,
        &VerifyOptions {
            now: opts.now,
            limits: opts.limits,
            lifted,
            ..kanta_verify_options(opts.trust)
        },
    );
    findings.extend(signature_rules(&report, &parsed, opts.register));
    Some(parsed)
}

/// The archiving profile and the parties' context for one message.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// Document and signature options.
    pub validate: ValidateOptions<'a>,
    /// Wrapper profile settings.
    pub wrapper: WrapperContext<'a>,
    /// The register.
    pub register: &'a SoteRegister,
    /// The organisation of the client certificate (`None` offline).
    pub cert_org: Option<&'a str>,
    /// Largest query page.
    pub max_page_size: u32,
    /// Invalidations need a reason.
    pub invalidation_reason_required: bool,
    /// Severity of a frame effectiveTime that differs from the document's.
    pub frame_effective_time_mismatch: Severity,
    /// Bounds on the MIME entity.
    pub mime: MimeLimits,
    /// This request's time budget.
    pub budget: Budget,
    /// A bare HL7 interaction (no SOAP envelope) is read as a request
    /// (`archive.accept_bare_hl7`; always when validating offline).
    pub accept_bare_hl7: bool,
}

/// The archiving profile, owned: built once from the configuration.
#[derive(Debug, Clone)]
pub struct ArchiveProfile {
    /// Expected receiver device.
    pub receiver_device: String,
    /// Accepted processing codes.
    pub processing_codes: Vec<String>,
    /// Only 900–999 identity codes anywhere.
    pub test_identities_only: bool,
    /// The register.
    pub register: SoteRegister,
    /// Interaction ids by use case.
    pub interactions: crate::config::Interactions,
    /// Largest query page.
    pub max_page_size: u32,
    /// Query page when none is asked for.
    pub default_page_size: u32,
    /// Invalidations need a reason.
    pub invalidation_reason_required: bool,
    /// The code lists in force.
    pub code_lists: CodeLists,
    /// Severity of codes missing from the lists.
    pub unknown_codes: Severity,
    /// Severity of identifiers with both a root and a nullFlavor.
    pub id_root_with_null_flavor: Severity,
    /// Severity of a frame effectiveTime that differs from the document's.
    pub frame_effective_time_mismatch: Severity,
    /// Bounds on every XML document read.
    pub limits: Limits,
    /// Bounds on the MIME entity.
    pub mime: MimeLimits,
    /// Time one request's work may take (`None`: unbounded, offline).
    pub budget: Option<std::time::Duration>,
    /// A bare HL7 interaction (no SOAP envelope) is read as a request.
    pub accept_bare_hl7: bool,
}

impl ArchiveProfile {
    /// From the configuration's `[archive]` and `[limits]` sections, the register and the
    /// code lists in force.
    pub fn new(
        config: &crate::config::Config,
        register: SoteRegister,
        code_lists: CodeLists,
    ) -> Self {
        let cfg = &config.archive;
        let l = &config.limits;
        Self {
            limits: l.xml(config.server.max_body_bytes),
            mime: MimeLimits {
                max_parts: l.mime_max_parts,
                max_headers: l.mime_max_headers,
                max_header_bytes: l.mime_max_header_bytes,
            },
            budget: Some(std::time::Duration::from_millis(l.request_budget_ms)),
            accept_bare_hl7: cfg.accept_bare_hl7,
            code_lists,
            unknown_codes: cfg.unknown_codes.into(),
            id_root_with_null_flavor: cfg.id_root_with_null_flavor.into(),
            frame_effective_time_mismatch: cfg.frame_effective_time_mismatch.into(),
            receiver_device: cfg.receiver_device.clone(),
            processing_codes: cfg.processing_codes.clone(),
            test_identities_only: cfg.test_identities_only,
            register,
            interactions: cfg.interactions.clone(),
            max_page_size: cfg.max_page_size,
            default_page_size: cfg.default_page_size,
            invalidation_reason_required: cfg.invalidation_reason_required,
        }
    }

    /// The context for one message.
    pub fn context<'a>(
        &'a self,
        trust: Option<&'a TrustStore>,
        cert_org: Option<&'a str>,
        now: OffsetDateTime,
    ) -> MessageContext<'a> {
        MessageContext {
            validate: ValidateOptions {
                trust,
                test_identities_only: self.test_identities_only,
                now,
                register: Some(&self.register),
                code_lists: &self.code_lists,
                unknown_codes: self.unknown_codes,
                id_root_with_null_flavor: self.id_root_with_null_flavor,
                limits: self.limits,
            },
            wrapper: WrapperContext {
                receiver_device: &self.receiver_device,
                processing_codes: &self.processing_codes,
                interactions: &self.interactions,
                code_lists: &self.code_lists,
                unknown_codes: self.unknown_codes,
            },
            register: &self.register,
            cert_org,
            max_page_size: self.max_page_size,
            invalidation_reason_required: self.invalidation_reason_required,
            frame_effective_time_mismatch: self.frame_effective_time_mismatch,
            mime: self.mime,
            budget: self.budget.map_or_else(Budget::unlimited, Budget::new),
            accept_bare_hl7: self.accept_bare_hl7,
        }
    }
}

/// The verdict on one message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageOutcome {
    /// AA, AE or AR.
    pub ack: AckCode,
    /// Every finding, ordered by rule id.
    pub findings: Vec<Finding>,
    /// The request's message id (root, extension).
    pub message_id: Option<(String, Option<String>)>,
    /// The sender device.
    pub sender: Option<String>,
    /// How the request was wrapped (the answer is written in the same SOAP version).
    pub envelope: Envelope,
    /// The use case the interaction carries.
    pub use_case: Option<UseCase>,
    /// What to archive when the verdict is AA (archive, new version).
    pub document: Option<ArchivedDocument>,
    /// What to invalidate when the verdict is AA.
    pub invalidation: Option<InvalidationRequest>,
    /// What to look up when the verdict is AA.
    pub query: Option<QueryRequest>,
}

/// The validation service's request (Kela's public JSON contract, interface.md §5.2).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationServiceRequest {
    /// Caller's id for the request.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Service request code, e.g. `SP1`.
    pub palvelu_pyynto: String,
    /// Meaning unknown [U]; always "1" in the published examples.
    #[serde(default)]
    pub level: Option<String>,
    /// The frame (`RCMR_IN200002FI01` …), without the SOAP envelope.
    pub siirtokehys_xml: String,
    /// The CDA.
    pub asiakirja_xml: String,
}

/// Validates a frame and a document given separately, as Kela's validation service does:
/// wrapper, service request, document, signature and frame-consistency rules (no
/// authorisation: the service judges content, not the caller).
pub fn validate_pair(req: &ValidationServiceRequest, ctx: &MessageContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let frame_doc = match parse(&req.siirtokehys_xml, &ctx.validate.limits) {
        Ok(d) => d,
        Err(e) => return vec![xml_finding(&e, "siirtokehysXml")],
    };
    let Some(root) = interaction_element(&frame_doc) else {
        return vec![Finding::new(
            RuleId::W002,
            "siirtokehysXml",
            "no HL7 interaction",
        )];
    };
    let hl7 = parse_request(root);
    findings.extend(wrapper_rules(&hl7, &ctx.wrapper));
    if let Some(sr) = hl7.service_requests.first()
        && sr.value.code.as_deref() != Some(req.palvelu_pyynto.as_str())
    {
        findings.push(Finding::new(
            RuleId::S005,
            &sr.path,
            format!(
                "palveluPyynto {:?} differs from the frame's service request {:?}",
                req.palvelu_pyynto,
                sr.value.code.as_deref().unwrap_or("")
            ),
        ));
    }
    match parse(&req.asiakirja_xml, &ctx.validate.limits) {
        Err(e) => findings.push(xml_finding(&e, "asiakirjaXml")),
        Ok(cda_doc) => {
            match check_cda(
                &req.asiakirja_xml,
                &cda_doc,
                &NOTHING_LIFTED,
                &ctx.validate,
                &mut findings,
            ) {
                None => findings.push(Finding::new(
                    RuleId::H001,
                    "asiakirjaXml",
                    "no urn:hl7-org:v3 ClinicalDocument",
                )),
                Some(parsed) => {
                    findings.extend(service_request_matches(
                        &hl7,
                        &parsed,
                        ctx.validate.code_lists,
                    ));
                    findings.extend(frame_consistency(
                        &hl7,
                        &parsed,
                        ctx.frame_effective_time_mismatch,
                    ));
                }
            }
        }
    }
    findings.sort_by_key(|a| a.code);
    findings
}

/// Kela's failure description: numbered, semicolon-separated messages in Finnish (the rule's
/// Finnish text, then the detail and the place).
pub fn kela_description(findings: &[Finding]) -> String {
    findings
        .iter()
        .filter(|f| f.is_error())
        .enumerate()
        .map(|(i, f)| {
            let fi = f.code.rule().fi;
            format!(
                "{}: {} {} ({}; {})",
                i + 1,
                f.code,
                fi,
                f.message,
                f.location
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Invalidations and queries: the sender must be the certificate's organisation; then AA
/// unless a finding is an error.
fn finish_without_document(
    mut out: MessageOutcome,
    req: &crate::message::hl7::Hl7Request,
    ctx: &MessageContext<'_>,
) -> MessageOutcome {
    if let Some(org) = ctx.cert_org {
        out.findings.extend(sender_rule(req, org, ctx.register));
    }
    out.findings.sort_by_key(|a| a.code);
    if !out.findings.iter().any(Finding::is_error) {
        out.ack = AckCode::AA;
    }
    out
}

/// The answer to a request whose time budget ran out: W-007 and nothing else (the route
/// answers it with a Receiver fault).
fn over_budget(mut out: MessageOutcome, e: &crate::budget::OverBudget) -> MessageOutcome {
    out.ack = AckCode::AR;
    out.findings = vec![Finding::new(RuleId::W007, "request", e.to_string())];
    out.document = None;
    out
}

/// A request refused before any HL7 rule: not UTF-8, beyond the limits, not well-formed
/// XML, a DTD, or not a SOAP envelope. The endpoint answers it with a SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRefusal {
    /// The SOAP version, when the envelope showed one.
    pub version: Option<SoapVersion>,
    /// Why.
    pub finding: Finding,
}

impl From<Finding> for EnvelopeRefusal {
    fn from(finding: Finding) -> Self {
        Self {
            version: None,
            finding,
        }
    }
}

/// Reads and judges an archive message, parsing it once: an envelope that is not one is
/// refused ([`EnvelopeRefusal`]); wrapper problems give AR and stop there; content problems
/// give AE; otherwise AA (with any warnings) and the document to archive.
pub fn process_message(
    body: &[u8],
    ctx: &MessageContext<'_>,
) -> Result<MessageOutcome, EnvelopeRefusal> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Finding::new(
            RuleId::W001,
            "message",
            format!("the message is not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let prepared =
        crate::xml::Prepared::new(text, &ctx.validate.limits, crate::message::CARRIED_TEXT)
            .map_err(|e| xml_finding(&e, "message"))?;
    let doc = prepared
        .parse(&ctx.validate.limits)
        .map_err(|e| xml_finding(&e, "message"))?;
    judge_message(text, &doc, prepared.lifted(), ctx)
}

/// [`process_message`] over a request already parsed.
fn judge_message(
    text: &str,
    doc: &roxmltree::Document<'_>,
    lifted: &crate::xml::Lifted,
    ctx: &MessageContext<'_>,
) -> Result<MessageOutcome, EnvelopeRefusal> {
    let envelope = envelope_of(doc, ctx.accept_bare_hl7)?;
    let out = MessageOutcome {
        ack: AckCode::AR,
        findings: Vec::new(),
        message_id: None,
        sender: None,
        envelope,
        use_case: None,
        document: None,
        invalidation: None,
        query: None,
    };
    Ok(judge_wrapped(text, doc, lifted, out, ctx))
}

/// The identity-code candidates of a message frame (`text`, as received), in order. When
/// the MIME entity was taken out of the text before the DOM (see [`crate::xml::Prepared`])
/// and the text needed no line ends normalised, the entity is scanned as read (references
/// resolved) without the parts' base64 (`base64`, where it lies in the entity): base64 is
/// not text a code is written in, and the carried CDA is scanned decoded. Offsets are the
/// frame's bytes either way.
fn frame_identity_codes(
    text: &str,
    doc: &roxmltree::Document<'_>,
    lifted: &crate::xml::Lifted,
    base64: &[std::ops::Range<usize>],
) -> Vec<crate::identity::HetuCandidate> {
    let entity = crate::message::carried_text_element(doc).and_then(|t| lifted.source_of_text(t));
    let Some((source, value)) = entity.filter(|_| !base64.is_empty()) else {
        return crate::identity::scan_hetus(text);
    };
    // Before and after the entity: its ends are `>` and `<`, which no code holds, so the
    // text around it is scanned as the whole would be.
    let mut found = crate::identity::scan_hetus_outside(text, std::slice::from_ref(&source));
    // Inside, the entity as read: a part's base64 begins after a line end and ends before
    // one, which no code holds either.
    let raw = &text[source.clone()];
    for mut c in crate::identity::scan_hetus_outside(value, base64) {
        c.offset = source.start + crate::xml::source_offset(raw, c.offset);
        found.push(c);
    }
    found.sort_by_key(|c| c.offset);
    found
}

fn judge_wrapped(
    text: &str,
    doc: &roxmltree::Document<'_>,
    lifted: &crate::xml::Lifted,
    mut out: MessageOutcome,
    ctx: &MessageContext<'_>,
) -> MessageOutcome {
    if let Err(e) = ctx.budget.check("reading the wrapper") {
        return over_budget(out, &e);
    }
    let Some(root) = interaction_element(doc) else {
        out.findings.push(Finding::new(
            RuleId::W002,
            "/Envelope/Body",
            "the SOAP Body holds no HL7 interaction",
        ));
        return out;
    };
    let req = parse_request(root);
    out.message_id = req
        .message_id
        .as_ref()
        .and_then(|m| m.value.root.clone().map(|r| (r, m.value.extension.clone())));
    out.sender = req.sender.as_ref().map(|s| s.value.clone());
    // Known even when the wrapper is refused, so a report can say what was attempted.
    out.use_case = ctx.wrapper.interactions.use_case(&req.interaction.value);
    out.findings.extend(wrapper_rules(&req, &ctx.wrapper));
    // The MIME entity is read once, before the frame's identity codes, whose scan skips the
    // parts' base64 (read decoded where it is read at all): only for a sound wrapper whose
    // use case carries a document, as before the scan.
    let carried = if !out.findings.iter().any(Finding::is_error)
        && matches!(out.use_case, Some(UseCase::Archive | UseCase::NewVersion))
    {
        if let Err(e) = ctx.budget.check("reading the MIME entity") {
            return over_budget(out, &e);
        }
        Some(crate::message::carried_cda(doc, lifted, &ctx.mime))
    } else {
        None
    };
    if ctx.validate.test_identities_only {
        // The frame repeats the client's id: the test-series rule covers it too.
        let base64 = match &carried {
            Some(Ok(Some(c))) => c.base64_bodies.as_slice(),
            _ => &[],
        };
        for cand in frame_identity_codes(text, doc, lifted, base64) {
            if cand.test_range == Some(false) {
                out.findings.push(Finding::new(
                    RuleId::P002,
                    "message frame",
                    format!(
                        "identity code {} at byte {} is outside the 900–999 test series",
                        cand.text, cand.offset
                    ),
                ));
            }
        }
    }
    if out.findings.iter().any(Finding::is_error) {
        return out;
    }
    out.ack = AckCode::AE;
    let use_case = match out.use_case {
        Some(u @ (UseCase::Archive | UseCase::NewVersion)) => u,
        Some(UseCase::Invalidate) => {
            let (inv, findings) = parse_invalidation(root, ctx.invalidation_reason_required);
            out.findings.extend(findings);
            out.invalidation = Some(inv);
            return finish_without_document(out, &req, ctx);
        }
        Some(UseCase::Query(kind)) => {
            let (q, findings) = parse_query(
                root,
                kind,
                ctx.max_page_size,
                ctx.validate.test_identities_only,
            );
            out.findings.extend(findings);
            out.query = Some(q);
            return finish_without_document(out, &req, ctx);
        }
        // Unreachable after the wrapper rules (W-011), kept total.
        None => return out,
    };
    let carried =
        match carried.unwrap_or_else(|| crate::message::carried_cda(doc, lifted, &ctx.mime)) {
            Ok(Some(c)) => c,
            Ok(None) => {
                out.findings.push(Finding::new(
                    RuleId::H009,
                    &req.interaction.path,
                    "no controlActProcess/subject/clinicalDocument/text carrying the document",
                ));
                return out;
            }
            Err(e) => {
                out.findings.push(Finding::new(
                    e.code(),
                    "clinicalDocument/text",
                    e.to_string(),
                ));
                return out;
            }
        };
    let cda_text = match String::from_utf8(carried.bytes) {
        Ok(t) => t,
        Err(e) => {
            out.findings.push(Finding::new(
                RuleId::M005,
                "clinicalDocument/text",
                format!("the carried CDA is not UTF-8: {e}"),
            ));
            return out;
        }
    };
    if let Err(e) = ctx.budget.check("parsing the document") {
        return over_budget(out, &e);
    }
    // The body forms' and the signature's base64 are taken out before the DOM is built
    // (the DOM builder reads character data one character at a time); the canonicaliser,
    // the body's reader and the verifier get them back through `lifted`.
    let prepared = match Prepared::lifting(&cda_text, &ctx.validate.limits, CDA_LIFTED_TEXTS) {
        Ok(p) => p,
        Err(e) => {
            out.findings.push(xml_finding(&e, "carried CDA"));
            return out;
        }
    };
    let cda_doc = match prepared.parse(&ctx.validate.limits) {
        Ok(d) => d,
        Err(e) => {
            out.findings.push(xml_finding(&e, "carried CDA"));
            return out;
        }
    };
    if let Err(e) = ctx.budget.check("checking the document and its signatures") {
        return over_budget(out, &e);
    }
    // Attachments travel as further parts that the document references by `cid:` [I]; a
    // part nothing refers to would be archived for no reason.
    for (number, cid) in &carried.others {
        let referenced = cid
            .as_deref()
            .is_some_and(|c| cda_text.contains(&format!("cid:{c}")));
        if !referenced {
            out.findings.push(Finding::new(
                RuleId::M009,
                "clinicalDocument/text",
                format!(
                    "MIME part {number} ({}) is not referenced by the document (no \"cid:\" reference to it); only the document and the attachments it references may be sent",
                    cid.as_deref().map_or("no Content-ID".to_owned(), |c| format!("Content-ID {c}"))
                ),
            ));
        }
    }
    let Some(parsed) = check_cda(
        &cda_text,
        &cda_doc,
        prepared.lifted(),
        &ctx.validate,
        &mut out.findings,
    ) else {
        out.findings.push(Finding::new(
            RuleId::H001,
            "carried CDA",
            "the MIME part holds no ClinicalDocument",
        ));
        return out;
    };
    if let Err(e) = ctx.budget.check("the consistency and authorisation rules") {
        return over_budget(out, &e);
    }
    let oid = parsed.id.as_ref().and_then(|i| i.value.root.clone());
    if let (Some(cid), Some(oid)) = (&carried.content_id, &oid)
        && cid != oid
    {
        out.findings.push(Finding::new(
            RuleId::M008,
            "clinicalDocument/text",
            format!("Content-ID {cid:?} differs from the document id {oid:?}"),
        ));
    }
    out.findings.extend(service_request_matches(
        &req,
        &parsed,
        ctx.validate.code_lists,
    ));
    out.findings.extend(frame_consistency(
        &req,
        &parsed,
        ctx.frame_effective_time_mismatch,
    ));
    let version = parsed
        .version
        .as_ref()
        .and_then(|v| v.value.parse().ok())
        .unwrap_or(1);
    out.findings
        .extend(crate::rules::lifecycle::version_fits_interaction(
            use_case, version,
        ));
    if let Some(org) = ctx.cert_org {
        out.findings.extend(authorisation_rules(
            &req,
            &parsed,
            org,
            ctx.register,
            ctx.validate.now.date(),
        ));
    }
    out.findings.sort_by_key(|a| a.code);
    if out.findings.iter().any(Finding::is_error) {
        return out;
    }
    out.ack = AckCode::AA;
    let code = |c: &Option<Located<CodedValue>>| c.as_ref().and_then(|c| c.value.code.clone());
    let root = |c: &Option<Located<InstanceId>>| c.as_ref().and_then(|c| c.value.root.clone());
    let custodian = root(&parsed.custodian).unwrap_or_default();
    // The custodian's organisation in the register (a unit OID resolves to its owner);
    // offline, without a register entry, the custodian as written.
    let producer = ctx
        .register
        .resolve(&custodian)
        .map_or_else(|| custodian.clone(), |o| o.oid.clone());
    let organiser = parsed.organiser.as_ref().map(|o| o.value.clone());
    let register_owner = organiser
        .as_deref()
        .map(|o| {
            ctx.register
                .resolve(o)
                .map_or(o, |r| r.oid.as_str())
                .to_owned()
        })
        .unwrap_or_else(|| producer.clone());
    out.document = Some(ArchivedDocument {
        document_oid: oid.unwrap_or_default(),
        set_id: root(&parsed.set_id).unwrap_or_default(),
        version,
        client_id: parsed
            .client
            .as_ref()
            .and_then(|c| c.value.extension.clone().or(c.value.root.clone()))
            .unwrap_or_default(),
        custodian,
        organiser,
        producer,
        register_owner,
        replaces: parsed.related.as_ref().map(|r| RelatedRef {
            type_code: r.value.type_code.clone(),
            document_oid: r.value.id.clone(),
            set_id: r.value.set_id.clone(),
            version: r.value.version.as_deref().and_then(|v| v.parse().ok()),
        }),
        reason_of_correction: code(&parsed.reason_of_correction),
        register: code(&parsed.register),
        document_group: code(&parsed.document_group),
        document_type: code(&parsed.specific_document_type),
        case_id: parsed.case_id.as_ref().and_then(|c| c.value.root.clone()),
        client_relationship: parsed.client_relationship.as_ref().map(|c| c.value.clone()),
        effective_time: parsed.effective_time.as_ref().map(|e| e.value.clone()),
        cda: cda_text.into_bytes(),
        cda_in_message: true,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample::SampleDocument;
    use crate::document::{Body, Metadata, Profile, build_cda};
    use crate::document::{SignatureType, sign_kanta_document};
    use crate::message::build::{MessageSpec, build_archive_message};
    use crate::pki::{GenerateOptions, generate_kit};
    use crate::xmldsig::Signer;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    fn kit() -> &'static (PathBuf, tempfile::TempDir) {
        static KIT: OnceLock<(PathBuf, tempfile::TempDir)> = OnceLock::new();
        KIT.get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("kit");
            generate_kit(&GenerateOptions::new(dir.clone()).unwrap()).unwrap();
            (dir, tmp)
        })
    }

    fn profile() -> ArchiveProfile {
        ArchiveProfile::new(
            &crate::config::Config::builtin().unwrap(),
            SoteRegister::bundled().unwrap(),
            CodeLists::bundled().unwrap(),
        )
    }

    #[test]
    fn what_is_not_an_envelope_is_refused_before_any_rule() {
        let p = profile();
        let ctx = p.context(None, Some(TESTILA), OffsetDateTime::now_utc());
        let refused = |body: &[u8], ctx: &MessageContext<'_>| {
            process_message(body, ctx)
                .map(|_| ())
                .unwrap_err()
                .finding
                .code
        };
        assert_eq!(refused(b"\xff\xfe<x/>", &ctx), RuleId::W001);
        assert_eq!(refused(b"<a><b></a>", &ctx), RuleId::W001);
        assert_eq!(
            refused(b"<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", &ctx),
            RuleId::W003
        );
        let bare = b"<RCMR_IN200002FI01 xmlns='urn:hl7-org:v3'/>";
        assert_eq!(refused(bare, &ctx), RuleId::W002);
        // Where the profile allows bare interactions, the same one is read (and judged).
        let allowed = MessageContext {
            accept_bare_hl7: true,
            ..ctx
        };
        let o = process_message(bare, &allowed).unwrap();
        assert_eq!(o.envelope, Envelope::Bare);
        assert_eq!(o.ack, AckCode::AR);
        let soap12 = format!(
            "<s:Envelope xmlns:s='{}'><s:Body/></s:Envelope>",
            crate::message::soap::SOAP12_NS
        );
        let o = process_message(soap12.as_bytes(), &ctx).unwrap();
        assert_eq!(o.envelope, Envelope::Soap(SoapVersion::V12));
        assert_eq!(codes_of(&o), ["W-002"]);
    }

    fn sign(xml: &str, role: &str, kind: SignatureType) -> String {
        let s = Signer::from_kit(&kit().0, role).unwrap();
        sign_kanta_document(xml, &s, kind, OffsetDateTime::now_utc(), "sig_v").unwrap()
    }

    fn codes(text: &str) -> Vec<String> {
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let p = profile();
        let v = validate_text(
            text,
            &p.context(Some(&trust), None, OffsetDateTime::now_utc()),
        );
        v.findings.into_iter().map(|f| f.code.to_string()).collect()
    }

    fn process(body: &str, cert_org: &str) -> MessageOutcome {
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let p = profile();
        process_message(
            body.as_bytes(),
            &p.context(Some(&trust), Some(cert_org), OffsetDateTime::now_utc()),
        )
        .unwrap()
    }

    /// Identity codes found: (offset, code).
    type Found = Vec<(usize, String)>;

    /// The frame's identity codes as `process_message` finds them, and as a scan of the
    /// whole text finds them.
    fn frame_scans(text: &str) -> (Found, Found) {
        let limits = crate::xml::Limits::default();
        let prepared =
            crate::xml::Prepared::new(text, &limits, crate::message::CARRIED_TEXT).unwrap();
        let doc = prepared.parse(&limits).unwrap();
        let carried = crate::message::carried_cda(
            &doc,
            prepared.lifted(),
            &crate::message::mime::MimeLimits::default(),
        )
        .unwrap()
        .unwrap();
        let pairs = |v: Vec<crate::identity::HetuCandidate>| {
            v.into_iter()
                .map(|c| (c.offset, c.text))
                .collect::<Vec<_>>()
        };
        (
            pairs(frame_identity_codes(
                text,
                &doc,
                prepared.lifted(),
                &carried.base64_bodies,
            )),
            pairs(crate::identity::scan_hetus(text)),
        )
    }

    #[test]
    fn the_frames_scan_skips_only_the_parts_base64_and_gives_the_senders_offsets() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.9.1", "010190-902S");
        let cda = build_cda(&meta, &Body::example(&meta, 2000));
        let built = build_archive_message(&MessageSpec::for_document(&meta, "m1"), &meta, &cda);
        // The builder writes the MIME entity's carriage returns as references, as XML
        // writers do: the entity's offsets differ from the frame's after the first.
        assert!(built.contains("&#13;\n"));
        let (frame, whole) = frame_scans(&built);
        assert_eq!(frame, whole);
        // A code in a part's headers, in the frame before the entity and after it: found
        // where the sender wrote it.
        let with_codes = built
            .replacen(
                "Content-ID: &lt;",
                "Content-Description: 311299-123X&#13;\nContent-ID: &lt;",
                1,
            )
            .replacen("<soap:Body>", "<soap:Body><!-- 010101-1234 -->", 1)
            .replacen("</soap:Body>", "<!-- 020202A5678 --></soap:Body>", 1);
        let (frame, whole) = frame_scans(&with_codes);
        assert_eq!(frame, whole);
        let texts: Vec<&str> = frame.iter().map(|(_, t)| t.as_str()).collect();
        // The client's id, which the frame repeats after the entity, among them.
        assert_eq!(
            texts,
            ["010101-1234", "311299-123X", "010190-902S", "020202A5678"]
        );
        for (at, code) in &frame {
            assert_eq!(&with_codes[*at..*at + 11], code);
        }
        // A code-shaped string inside the base64 (at a line's start, before a `+`): the
        // whole-text scan sees it, the frame's scan does not; the base64 still decodes.
        let b64_line = with_codes
            .split("&#13;\n")
            .find(|l| l.len() == 76)
            .unwrap()
            .to_owned();
        let spurious = format!("010101A9015+{}", &b64_line[12..]);
        let with_spurious = with_codes.replacen(&b64_line, &spurious, 1);
        let (frame, whole) = frame_scans(&with_spurious);
        assert_eq!(whole.len(), frame.len() + 1, "{whole:?}");
        assert!(whole.iter().any(|(_, t)| t == "010101A9015"));
        assert!(frame.iter().all(|(_, t)| t != "010101A9015"));
        // Carriage returns in the frame itself (normalised before parsing): the offsets
        // would not be the sender's, so the whole text is scanned.
        let crlf = with_spurious.replace("><", ">\r\n<");
        let (frame, whole) = frame_scans(&crlf);
        assert_eq!(frame, whole);
    }

    fn codes_of(o: &MessageOutcome) -> Vec<&str> {
        o.findings.iter().map(|f| f.code.as_str()).collect()
    }

    const TESTILA: &str = "1.2.246.10.99900016.10.0";
    const KOKEILUMAKI: &str = "1.2.246.10.99900024.10.0";
    const SIMULAATIOHOIVA: &str = "1.2.246.10.99900032.10.0";
    const SYSTEM_TESTILA: &str = "system-signature:1.2.246.10.99900016.10.0";

    /// A signed message for `meta`, with `spec` adjusted by `tweak`.
    fn message(
        meta: &Metadata,
        role: &str,
        kind: SignatureType,
        tweak: impl FnOnce(&mut MessageSpec),
    ) -> String {
        let cda = sign(&build_cda(meta, &Body::example(meta, 200)), role, kind);
        let mut spec = MessageSpec::for_document(meta, "1");
        tweak(&mut spec);
        build_archive_message(&spec, meta, &cda)
    }

    fn sp1() -> Metadata {
        Metadata::client_relationship_example("1.2.246.10.99900016.10.0.31", "010190-902S")
    }

    #[test]
    fn properly_signed_documents_of_both_profiles_pass() {
        let sp1 = sign(
            &SampleDocument::default().to_xml(),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        assert_eq!(codes(&sp1), Vec::<String>::new());
        let sp17 = SampleDocument {
            profile: Profile::ClientDocument,
            ..SampleDocument::default()
        }
        .to_xml();
        let sp17 = sign(
            &sp17,
            "professional:99900000011",
            SignatureType::Professional,
        );
        assert_eq!(codes(&sp17), Vec::<String>::new());
    }

    #[test]
    fn a_service_unit_signs_with_its_organisations_system_certificate() {
        let mut meta = sp1();
        meta.custodian = "1.2.246.10.99900016.10.1".into();
        let o = process(
            &message(&meta, SYSTEM_TESTILA, SignatureType::System, |_| {}),
            TESTILA,
        );
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec![]));
        // Another organisation's unit: Testilä's certificate does not sign for it.
        let mut m = meta.clone();
        m.custodian = "1.2.246.10.99900024.10.1".into();
        let o = process(
            &message(&m, SYSTEM_TESTILA, SignatureType::System, |_| {}),
            TESTILA,
        );
        assert!(codes_of(&o).contains(&"G-016"), "{:?}", codes_of(&o));
    }

    #[test]
    fn another_organisations_system_certificate_is_refused() {
        let xml = sign(
            &SampleDocument::default().to_xml(),
            "system-signature:1.2.246.10.99900024.10.0",
            SignatureType::System,
        );
        assert_eq!(codes(&xml), vec!["G-016"]);
    }

    #[test]
    fn a_professional_signature_by_someone_else_is_refused() {
        let sp17 = SampleDocument {
            profile: Profile::ClientDocument,
            ..SampleDocument::default()
        }
        .to_xml();
        let xml = sign(
            &sp17,
            "professional:99900000029",
            SignatureType::Professional,
        );
        assert_eq!(codes(&xml), vec!["G-017"]);
    }

    #[test]
    fn unsigned_and_hidden_real_range_codes_are_found_together() {
        let meta =
            Metadata::client_relationship_example("1.2.246.10.99900016.10.0.8", "010190-902S");
        let mut body = Body::example(&meta, 10);
        body.json = r#"{"asiakkuusasiakirja":{"huoltaja":"311299F1236"}}"#.into();
        assert_eq!(codes(&build_cda(&meta, &body)), vec!["G-001", "P-002"]);
        assert_eq!(codes("<x"), vec!["W-001"]);
    }

    #[test]
    fn valid_messages_are_accepted_with_the_document_to_archive() {
        let o = process(
            &message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |_| {}),
            TESTILA,
        );
        assert_eq!(codes_of(&o), Vec::<&str>::new());
        assert_eq!(o.ack, AckCode::AA);
        let d = o.document.unwrap();
        assert_eq!(d.document_oid, "1.2.246.10.99900016.10.0.31");
        assert_eq!(d.client_id, "010190-902S");
        assert!(
            String::from_utf8(d.cda)
                .unwrap()
                .contains("<ds:SignatureValue>")
        );
        let sp17 = Metadata::client_document_example(
            "1.2.246.10.99900016.10.0.32",
            "010594Y9032",
            "99900000011",
        );
        let o = process(
            &message(
                &sp17,
                "professional:99900000011",
                SignatureType::Professional,
                |_| {},
            ),
            TESTILA,
        );
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec![]));
    }

    #[test]
    fn wrapper_problems_are_rejected_with_ar() {
        let o = process(
            &message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |s| {
                s.receiver = "1.2.3".into()
            }),
            TESTILA,
        );
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AR, vec!["W-012"]));
        let o = process(
            &message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |s| {
                s.processing_code = "P".into()
            }),
            TESTILA,
        );
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AR, vec!["W-017"]));
        // A service request the code lists do not know: refused as a wrapper problem when
        // the profile makes unknown codes errors…
        let sp9 = message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |s| {
            s.service_request = "SP9".into()
        });
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let mut strict = profile();
        strict.unknown_codes = Severity::Error;
        let o = process_message(
            sp9.as_bytes(),
            &strict.context(Some(&trust), Some(TESTILA), OffsetDateTime::now_utc()),
        )
        .unwrap();
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AR, vec!["H-010"]));
        // …and warned about by default (the bundled lists are partial).
        let o = process(&sp9, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec!["H-010"]));
        // A full code list that knows SP9 as a non-archiving request: S-002.
        let mut full = profile();
        full.code_lists = CodeLists::parse(
            &crate::rules::codes::BUNDLED_CODE_LISTS.replacen(
                "\"SP17\" = \"Asiakasasiakirjan arkistointi\"",
                "\"SP17\" = \"Asiakasasiakirjan arkistointi\", \"SP9\" = \"Kooste\"",
                1,
            ),
            "t",
        )
        .unwrap();
        let o = process_message(
            sp9.as_bytes(),
            &full.context(Some(&trust), Some(TESTILA), OffsetDateTime::now_utc()),
        )
        .unwrap();
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AR, vec!["S-002"]));
        let o = process(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><RCMR_IN299999FI01 xmlns=\"urn:hl7-org:v3\"/></soap:Body></soap:Envelope>",
            TESTILA,
        );
        assert_eq!(o.ack, AckCode::AR);
        assert!(
            codes_of(&o).contains(&"W-011") && codes_of(&o).contains(&"W-010"),
            "{:?}",
            codes_of(&o)
        );
    }

    #[test]
    fn content_problems_are_errors_with_ae() {
        // SP17 for a client-relationship document.
        let o = process(
            &message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |s| {
                s.service_request = "SP17".into()
            }),
            TESTILA,
        );
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["S-003"]));
        // The frame names another document.
        let meta = sp1();
        let cda = sign(
            &build_cda(&meta, &Body::example(&meta, 50)),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        let mut frame_meta = meta.clone();
        frame_meta.client = crate::document::ClientId::Hetu("150515A911Y".into());
        let xml = build_archive_message(&MessageSpec::for_document(&meta, "1"), &frame_meta, &cda);
        let o = process(&xml, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["H-009"]));
        assert!(o.document.is_none());
        // Only the effectiveTime differs: a published SP17 pair does that, so by default a
        // warning (H-013); a profile can make it refuse.
        let mut frame_meta = meta.clone();
        frame_meta.effective_time = "20250101100000+0200".into();
        let xml = build_archive_message(&MessageSpec::for_document(&meta, "2"), &frame_meta, &cda);
        let o = process(&xml, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec!["H-013"]));
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let mut strict = profile();
        strict.frame_effective_time_mismatch = Severity::Error;
        let o = process_message(
            xml.as_bytes(),
            &strict.context(Some(&trust), Some(TESTILA), OffsetDateTime::now_utc()),
        )
        .unwrap();
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["H-013"]));
    }

    #[test]
    fn a_frame_custodian_under_assigned_entity_is_read_with_a_warning() {
        let xml = message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |_| {});
        assert!(xml.contains("<assignedCustodian classCode=\"ASSIGNED\">"));
        let old_shape = xml
            .replacen(
                "<assignedCustodian classCode=\"ASSIGNED\">",
                "<assignedEntity>",
                1,
            )
            .replacen("</assignedCustodian>", "</assignedEntity>", 1);
        let o = process(&old_shape, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec!["H-011"]));
        assert!(
            o.findings[0]
                .location
                .ends_with("custodian/assignedEntity/representedOrganization/id")
        );
        // Neither shape: the custodian is absent from the frame.
        let none = xml
            .replacen("<assignedCustodian classCode=\"ASSIGNED\">", "<other>", 1)
            .replacen("</assignedCustodian>", "</other>", 1);
        let o = process(&none, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["H-009"]));
    }

    #[test]
    fn a_request_over_its_budget_stops_with_w007() {
        let xml = message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |_| {});
        let trust = TrustStore::from_kit(&kit().0).unwrap();
        let p = profile();
        let mut ctx = p.context(Some(&trust), Some(TESTILA), OffsetDateTime::now_utc());
        ctx.budget = Budget::new(std::time::Duration::ZERO);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let o = process_message(xml.as_bytes(), &ctx).unwrap();
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AR, vec!["W-007"]));
        assert!(o.document.is_none());
        assert!(o.findings[0].message.contains("limits.request_budget_ms"));
    }

    #[test]
    fn a_mime_part_the_document_does_not_reference_is_refused() {
        let meta = sp1();
        let xml = message(&meta, SYSTEM_TESTILA, SignatureType::System, |_| {});
        let close = "------=_Part_1_kanta_sim--";
        assert!(xml.contains(close), "the builder's boundary changed");
        let extra = |cid: &str| {
            xml.replacen(
                close,
                &format!(
                    "------=_Part_1_kanta_sim\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: BASE64\r\nContent-ID: &lt;{cid}&gt;\r\n\r\nJVBERi0xLjc=\r\n{close}"
                ),
                1,
            )
        };
        let o = process(&extra("liite-1"), TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["M-009"]));
        assert!(o.findings[0].message.contains("liite-1"));
        // A part the document refers to (a cid: URI in its XML, as a CDA `reference` would)
        // is an attachment and passes.
        let mut meta = meta;
        meta.title = "Asiakkuusasiakirja, liite cid:liite-1".into();
        let cda = sign(
            &build_cda(&meta, &Body::example(&meta, 100)),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        let with_ref = build_archive_message(&MessageSpec::for_document(&meta, "1"), &meta, &cda);
        let o = process(
            &with_ref.replacen(
                close,
                &format!(
                    "------=_Part_1_kanta_sim\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: BASE64\r\nContent-ID: &lt;liite-1&gt;\r\n\r\nJVBERi0xLjc=\r\n{close}"
                ),
                1,
            ),
            TESTILA,
        );
        assert_eq!(codes_of(&o), Vec::<&str>::new());
    }

    #[test]
    fn another_organisations_certificate_cannot_archive_for_the_custodian() {
        let o = process(
            &message(&sp1(), SYSTEM_TESTILA, SignatureType::System, |_| {}),
            KOKEILUMAKI,
        );
        assert_eq!(o.ack, AckCode::AE);
        assert_eq!(codes_of(&o), vec!["A-004", "A-005"]);
    }

    #[test]
    fn a_producer_needs_a_register_use_right() {
        let producer_doc = |organiser: &str| {
            let mut m =
                Metadata::client_relationship_example("1.2.246.10.99900032.10.0.77", "010190-902S");
            m.custodian = SIMULAATIOHOIVA.into();
            m.custodian_name = "Simulaatiohoiva Oy".into();
            m.organiser = Some(organiser.into());
            message(
                &m,
                "system-signature:1.2.246.10.99900032.10.0",
                SignatureType::System,
                |_| {},
            )
        };
        let o = process(&producer_doc(TESTILA), SIMULAATIOHOIVA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec![]));
        let o = process(&producer_doc(KOKEILUMAKI), SIMULAATIOHOIVA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["A-006"]));
    }

    #[test]
    fn a_hidden_real_range_code_in_the_json_is_caught_through_the_message() {
        let meta = sp1();
        let mut body = Body::example(&meta, 10);
        body.json = r#"{"asiakkuusasiakirja":{"huoltaja":"311299F1236"}}"#.into();
        let cda = sign(
            &build_cda(&meta, &body),
            SYSTEM_TESTILA,
            SignatureType::System,
        );
        let xml = build_archive_message(&MessageSpec::for_document(&meta, "1"), &meta, &cda);
        let o = process(&xml, TESTILA);
        assert_eq!((o.ack, codes_of(&o)), (AckCode::AE, vec!["P-002"]));
        // And offline validation of the same message says the same (without the certificate).
        assert_eq!(codes(&xml), vec!["P-002"]);
    }

    #[test]
    fn a_large_structured_form_is_read_and_verified_as_taken_out() {
        // Both body forms long enough to be taken out before the CDA's DOM: the signature
        // must verify over them and the JSON must be read whole, its last field included.
        let meta = sp1();
        let filler = "kirjaus ".repeat(400);
        for (hidden, expected) in [("010190-902S", vec![]), ("311299F1236", vec!["P-002"])] {
            let mut body = Body::example(&meta, 2_000);
            body.json = format!(
                r#"{{"asiakkuusasiakirja":{{"teksti":"{filler}","huoltaja":"{hidden}"}}}}"#
            );
            let cda = sign(
                &build_cda(&meta, &body),
                SYSTEM_TESTILA,
                SignatureType::System,
            );
            let prepared =
                crate::xml::Prepared::lifting(&cda, &Limits::default(), CDA_LIFTED_TEXTS).unwrap();
            assert!(
                prepared.lifted().taken_bytes() > 2 * filler.len(),
                "both forms taken out"
            );
            let xml = build_archive_message(&MessageSpec::for_document(&meta, "1"), &meta, &cda);
            let o = process(&xml, TESTILA);
            assert_eq!(codes_of(&o), expected, "{:?}", o.findings);
            let ack = if expected.is_empty() {
                AckCode::AA
            } else {
                AckCode::AE
            };
            assert_eq!(o.ack, ack);
        }
    }

    #[test]
    fn damaged_invalidations_and_queries_get_findings_never_a_panic() {
        use crate::message::RequestWrapper;
        use crate::message::lifecycle::{InvalidationMessage, build_invalidation};
        use crate::message::query::{QueryRequest, build_query};
        let interactions = crate::config::Config::builtin()
            .unwrap()
            .archive
            .interactions;
        let wrapper = |interaction| RequestWrapper {
            soap: SoapVersion::V11,
            interaction,
            id: ("1.2.246.10.99900016.10.0.99", "1"),
            creation_time: "20261123100000+0200",
            sender: TESTILA,
            receiver: "1.2.246.556.18007.2",
            processing_code: "D",
        };
        let inv = build_invalidation(&InvalidationMessage {
            wrapper: wrapper(&interactions.invalidate),
            document_oid: "1.2.3",
            set_id: "1.2.3",
            version: 1,
            custodian: TESTILA,
            reason: "syy",
        });
        let q = build_query(
            &wrapper(&interactions.query_metadata),
            &QueryRequest {
                page_size: Some(5),
                from: Some("20260101".into()),
                ..QueryRequest::for_client("010190-902S")
            },
        );
        for good in [&inv, &q] {
            let o = process(good, TESTILA);
            assert_eq!((o.ack, codes_of(&o)), (AckCode::AA, vec![]), "{good}");
            // Every truncation and a byte swapped at every position: an outcome, with a
            // finding whenever it is not accepted.
            for cut in (0..good.len()).step_by(7) {
                for text in [good[..cut].to_owned(), {
                    let mut b = good.as_bytes().to_vec();
                    b[cut] = if b[cut] == b'"' { b'x' } else { b'"' };
                    String::from_utf8_lossy(&b).into_owned()
                }] {
                    let trust = TrustStore::from_kit(&kit().0).unwrap();
                    let p = profile();
                    let ctx = p.context(Some(&trust), Some(TESTILA), OffsetDateTime::now_utc());
                    // An envelope refusal carries its finding by construction.
                    if let Ok(o) = process_message(text.as_bytes(), &ctx) {
                        assert!(
                            o.ack == AckCode::AA || !o.findings.is_empty(),
                            "no finding for {text}"
                        );
                    }
                }
            }
        }
    }
}
