//! Class G at document level: the XMLDSig verdict as findings, plus the Kanta consistency of
//! signature type and signer (interface.md §4.4 point 6).

use super::Finding;
use crate::document::parse::ParsedCda;
use crate::finding::RuleId;
use crate::xmldsig::{DsigProblem, VerifyReport};

fn location(p: &DsigProblem, report: &VerifyReport) -> String {
    let sig = |n: usize| {
        report
            .signatures
            .get(n.wrapping_sub(1))
            .map(|s| s.path.clone())
            .unwrap_or_default()
    };
    match p {
        DsigProblem::DigestMismatch { target, .. } => target.clone(),
        DsigProblem::UnexpectedReference { target_path, .. } => target_path.clone(),
        DsigProblem::NotCovered { expected_path, .. } => expected_path.clone(),
        DsigProblem::DuplicateId { paths, .. } => paths.join(" | "),
        DsigProblem::NoSignature => {
            "/ClinicalDocument/localSocialHeader/signatureCollection".into()
        }
        DsigProblem::Malformed { signature, .. }
        | DsigProblem::UnsupportedAlgorithm { signature, .. }
        | DsigProblem::Sha1Refused { signature, .. }
        | DsigProblem::UnresolvedReference { signature, .. }
        | DsigProblem::ExternalReference { signature, .. }
        | DsigProblem::SignatureValueInvalid { signature, .. }
        | DsigProblem::SignerCertificate { signature, .. }
        | DsigProblem::CertificateAtSigning { signature, .. }
        | DsigProblem::CertificateAtReceipt { signature, .. }
        | DsigProblem::SigningTime { signature, .. } => sig(*signature),
    }
}

/// Every signature problem as a finding, then the type/signer consistency: a system
/// signature (`3`) needs a certificate whose `serialNumber` is the custodian's or the
/// organiser's OID (G-016); a professional signature (`1`) one whose `serialNumber` is the
/// author's registration number (G-017).
///
/// With a register, a custodian that is a service unit (palveluyksikkö) accepts its
/// organisation's system-signature certificate: DVV issues those to the toimintayksikkö.
pub fn signature_rules(
    report: &VerifyReport,
    cda: &ParsedCda,
    register: Option<&crate::identity::SoteRegister>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = report
        .problems
        .iter()
        .chain(report.signatures.iter().flat_map(|s| s.problems.iter()))
        .map(|p| {
            let mut f = Finding::new(p.code(), location(p, report), p.to_string());
            if !p.is_fatal() {
                f.severity = super::Severity::Warning;
            }
            f
        })
        .collect();
    let custodian = cda.custodian.as_ref().and_then(|c| c.value.root.clone());
    let organiser = cda.organiser.as_ref().map(|o| o.value.clone());
    let author = cda
        .author
        .as_ref()
        .filter(|a| a.value.root.as_deref() == Some("1.2.246.537.26"))
        .and_then(|a| a.value.extension.clone());
    for s in &report.signatures {
        let Some(cert) = &s.signer else { continue };
        let serial: Vec<&str> = cert.subject_values("serialNumber").collect();
        match s.signature_type.as_deref() {
            Some("3") => {
                let owners: Vec<String> = custodian
                    .iter()
                    .chain(organiser.iter())
                    .filter_map(|o| {
                        register
                            .and_then(|r| r.resolve(o))
                            .map(|org| org.oid.clone())
                    })
                    .collect();
                let allowed: Vec<&String> = custodian
                    .iter()
                    .chain(organiser.iter())
                    .chain(owners.iter())
                    .collect();
                if !serial
                    .iter()
                    .any(|v| allowed.iter().any(|a| a.as_str() == *v))
                {
                    out.push(Finding::new(
                        RuleId::G016,
                        &s.path,
                        format!(
                            "a system signature (signatureDescription 3) must be made with the system-signature certificate of the custodian or organiser ({}); the certificate's serialNumber is {:?}",
                            allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" or "),
                            serial.join(", ")
                        ),
                    ));
                }
            }
            Some("1") => {
                if author.as_deref().is_none_or(|a| !serial.contains(&a)) {
                    out.push(Finding::new(
                        RuleId::G017,
                        &s.path,
                        format!(
                            "a professional signature (signatureDescription 1) must be made with the author's certificate: author registration number {:?}, certificate serialNumber {:?}",
                            author.as_deref().unwrap_or("(none)"),
                            serial.join(", ")
                        ),
                    ));
                }
            }
            other => out.push(Finding::new(
                RuleId::G002,
                &s.path,
                format!(
                    "signatureDescription code must be 1 (professional) or 3 (system), found {:?}",
                    other.unwrap_or("(none)")
                ),
            )),
        }
    }
    out
}
