//! Judging a certificate chain: trust anchors, known intermediates, CRLs, validity, purpose
//! and key strength. Unlike a bare path validator it reports *every* problem it finds, each
//! with the context a supplier needs, so that the diagnostic listener and `certs show` can
//! say all at once why a certificate would be refused.

use crate::finding::RuleId;
use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use serde::Serialize;
use x509_parser::prelude::*;

use super::inspect::{CertInfo, KeyDescription, read_pem_certs};

/// What a certificate is being judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Purpose {
    /// TLS client authentication at the archive's endpoint.
    ClientAuth,
    /// TLS server authentication (the archive's own certificate).
    ServerAuth,
    /// Signing documents (system or professional signature): needs nonRepudiation.
    DocumentSigning,
}

/// One reason a certificate chain is not acceptable. Each has a stable code (see
/// [`CertProblem::code`]) that appears in logs, faults and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CertProblem {
    /// The client sent no certificate.
    #[error("no client certificate was presented; the archive requires mutual TLS")]
    NoCertificate,
    /// DER that does not parse.
    #[error("certificate {position} cannot be parsed: {detail}")]
    Unparseable {
        /// 0 = leaf.
        position: usize,
        /// The parser's message.
        detail: String,
    },
    /// No trusted issuer for a certificate of the chain.
    #[error(
        "unknown issuer: {subject:?} was issued by {issuer:?}, which is neither a trust anchor nor a known intermediate"
    )]
    UnknownIssuer {
        /// The certificate whose issuer is unknown.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// The chain ends at a self-signed certificate that is not a trust anchor.
    #[error(
        "untrusted root: the chain ends at the self-signed {subject:?}, which is not a configured trust anchor"
    )]
    UntrustedRoot {
        /// The self-signed certificate.
        subject: String,
    },
    /// The issuer's name matches but its key did not make the signature.
    #[error(
        "bad signature: {subject:?} names {issuer:?} as issuer but is not signed by that CA's key"
    )]
    BadSignature {
        /// The certificate.
        subject: String,
        /// The claimed issuer.
        issuer: String,
    },
    /// Validity ended before the time of use.
    #[error(
        "certificate expired: {subject:?} notAfter {}, checked at {}",
        rfc3339(not_after),
        rfc3339(at)
    )]
    Expired {
        /// The certificate.
        subject: String,
        /// Its notAfter.
        #[serde(with = "::time::serde::rfc3339")]
        not_after: OffsetDateTime,
        /// The time of the check.
        #[serde(with = "::time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Validity starts after the time of use.
    #[error(
        "certificate not yet valid: {subject:?} notBefore {}, checked at {}",
        rfc3339(not_before),
        rfc3339(at)
    )]
    NotYetValid {
        /// The certificate.
        subject: String,
        /// Its notBefore.
        #[serde(with = "::time::serde::rfc3339")]
        not_before: OffsetDateTime,
        /// The time of the check.
        #[serde(with = "::time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Listed in a CRL.
    #[error("certificate revoked: serial {serial} of {subject:?} is listed in the CRL of {crl_issuer:?} (revoked {}{})", rfc3339(revoked_at), reason.as_deref().map(|r| format!(", reason {r}")).unwrap_or_default())]
    Revoked {
        /// The certificate.
        subject: String,
        /// Its serial, colon hex.
        serial: String,
        /// Who issued the CRL.
        crl_issuer: String,
        /// The revocation date.
        #[serde(with = "::time::serde::rfc3339")]
        revoked_at: OffsetDateTime,
        /// The CRL reason code, where given.
        reason: Option<String>,
    },
    /// Extended key usage does not allow the purpose.
    #[error("wrong purpose: {subject:?} has extended key usage [{}], {required} is required", presented.join(", "))]
    WrongExtendedKeyUsage {
        /// The certificate.
        subject: String,
        /// The needed EKU.
        required: String,
        /// What the certificate allows.
        presented: Vec<String>,
    },
    /// Key usage bits do not allow the purpose.
    #[error("wrong key usage: {subject:?} has key usage [{}], {required} is required", presented.join(", "))]
    WrongKeyUsage {
        /// The certificate.
        subject: String,
        /// The needed bit.
        required: String,
        /// What the certificate has.
        presented: Vec<String>,
    },
    /// Key too weak or of an unsupported kind.
    #[error(
        "weak key: {subject:?} has {key}; at least RSA {minimum_rsa_bits} bits or ECDSA P-256/P-384 is required"
    )]
    WeakKey {
        /// The certificate.
        subject: String,
        /// The key as found.
        key: String,
        /// The configured RSA minimum.
        minimum_rsa_bits: usize,
    },
    /// The chain could be completed only with an intermediate the client did not send.
    #[error(
        "incomplete chain: the client sent {subject:?} without its issuing CA {issuer:?}; send the whole chain (leaf followed by the issuing CA)"
    )]
    IncompleteChain {
        /// The certificate whose issuer was missing.
        subject: String,
        /// The issuer the client should have sent.
        issuer: String,
    },
    /// The path validator refused the chain for a reason the checks above did not name.
    #[error("chain refused by path validation: {detail}")]
    PathValidation {
        /// The validator's message.
        detail: String,
    },
    /// A CRL that applies is past its nextUpdate; revocation status is stale.
    #[error(
        "stale CRL: the CRL of {crl_issuer:?} was due for renewal at {}",
        rfc3339(next_update)
    )]
    StaleCrl {
        /// Who issued the CRL.
        crl_issuer: String,
        /// Its nextUpdate.
        #[serde(with = "::time::serde::rfc3339")]
        next_update: OffsetDateTime,
    },
}

impl CertProblem {
    /// The stable rule code.
    pub fn code(&self) -> RuleId {
        match self {
            Self::NoCertificate => RuleId::T001,
            Self::UnknownIssuer { .. } | Self::UntrustedRoot { .. } => RuleId::T002,
            Self::Expired { .. } => RuleId::T003,
            Self::NotYetValid { .. } => RuleId::T004,
            Self::Revoked { .. } => RuleId::T005,
            Self::WrongExtendedKeyUsage { .. } | Self::WrongKeyUsage { .. } => RuleId::T006,
            Self::WeakKey { .. } => RuleId::T007,
            Self::BadSignature { .. } => RuleId::T008,
            Self::Unparseable { .. } => RuleId::T009,
            Self::StaleCrl { .. } => RuleId::T013,
            Self::IncompleteChain { .. } => RuleId::T015,
            Self::PathValidation { .. } => RuleId::T016,
        }
    }

    /// Whether the problem refuses the certificate (a stale CRL only warns).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::StaleCrl { .. })
    }
}

/// Why trust material cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A certificate file is unreadable.
    #[error(transparent)]
    Cert(#[from] super::InspectError),
    /// The kit's index is missing or broken.
    #[error(transparent)]
    Index(#[from] super::IndexError),
    /// A CRL file could not be read.
    #[error("CRL {path}: {source}")]
    CrlRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CRL file is not a CRL.
    #[error("CRL {path}: {detail}")]
    Crl {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

struct Known {
    der: CertificateDer<'static>,
    info: CertInfo,
}

#[derive(Debug, Clone)]
struct Crl {
    issuer_raw: Vec<u8>,
    issuer: String,
    next_update: Option<OffsetDateTime>,
    revoked: Vec<(Vec<u8>, OffsetDateTime, Option<String>)>,
}

/// Trust anchors, known intermediates and CRLs, parsed once.
pub struct TrustStore {
    anchors: Vec<Known>,
    intermediates: Vec<Known>,
    crls: Vec<Crl>,
    crl_ders: Vec<CertificateRevocationListDer<'static>>,
    /// Smallest acceptable RSA modulus.
    pub min_rsa_bits: usize,
    /// Certificate signatures already verified: (certificate, issuer whose key signed it),
    /// by the fingerprints the readings carry, so a walk hashes nothing; at most 4 096 pairs. The same signer's chain is checked for every document it signs,
    /// and an RSA verification costs more than everything else in the walk. Only successes
    /// are kept; a signature does not stop being valid.
    verified: super::Memo<(String, String), ()>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field(
                "anchors",
                &self
                    .anchors
                    .iter()
                    .map(|k| &k.info.subject)
                    .collect::<Vec<_>>(),
            )
            .field("intermediates", &self.intermediates.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

/// RFC 3339, the form every message and report uses for times.
pub(crate) fn rfc3339(t: &OffsetDateTime) -> String {
    t.format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

fn to_odt(t: ASN1Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl TrustStore {
    /// Loads trust anchors, intermediates (certificates that may complete a chain but are
    /// not trusted by themselves) and CRLs from PEM (or DER) files.
    pub fn load(
        anchors: &[PathBuf],
        intermediates: &[PathBuf],
        crls: &[PathBuf],
    ) -> Result<Self, TrustError> {
        let read = |paths: &[PathBuf]| -> Result<Vec<Known>, TrustError> {
            let mut out = Vec::new();
            for p in paths {
                for der in read_pem_certs(p)? {
                    let info = CertInfo::from_der(&der).map_err(|e| super::InspectError::Pem {
                        path: p.clone(),
                        detail: e.to_string(),
                    })?;
                    out.push(Known { der, info });
                }
            }
            Ok(out)
        };
        let mut store = Self {
            verified: super::Memo::new(4096),
            anchors: read(anchors)?,
            intermediates: read(intermediates)?,
            crls: Vec::new(),
            crl_ders: Vec::new(),
            min_rsa_bits: 2048,
        };
        for p in crls {
            store.add_crl_file(p)?;
        }
        Ok(store)
    }

    /// The trust material of a kit written by `certs init`.
    pub fn from_kit(dir: &Path) -> Result<Self, TrustError> {
        let files = super::Index::load(dir)?.trust_files(dir);
        Self::load(&files.anchors, &files.intermediates, &files.crls)
    }

    fn add_crl_file(&mut self, path: &Path) -> Result<(), TrustError> {
        let err = |detail: String| TrustError::Crl {
            path: path.to_owned(),
            detail,
        };
        let bytes = std::fs::read(path).map_err(|source| TrustError::CrlRead {
            path: path.to_owned(),
            source,
        })?;
        let mut ders = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("unreadable PEM: {e}")))?;
        if ders.is_empty() {
            ders.push(CertificateRevocationListDer::from(bytes));
        }
        for der in ders {
            let (_, crl) =
                parse_x509_crl(der.as_ref()).map_err(|e| err(format!("not an X.509 CRL: {e}")))?;
            let issuer_attrs = crl.issuer().to_string();
            self.crls.push(Crl {
                issuer_raw: crl.issuer().as_raw().to_vec(),
                issuer: issuer_attrs,
                next_update: crl.next_update().map(to_odt),
                revoked: crl
                    .iter_revoked_certificates()
                    .map(|r| {
                        (
                            strip_zeros(r.raw_serial()).to_vec(),
                            to_odt(r.revocation_date),
                            r.reason_code().map(|(_, c)| format!("{c}")),
                        )
                    })
                    .collect(),
            });
            self.crl_ders.push(der);
        }
        Ok(())
    }

    /// The trust anchors as DER.
    pub fn anchor_ders(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.anchors.iter().map(|k| &k.der)
    }

    /// Known intermediates as DER.
    pub fn intermediate_ders(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.intermediates.iter().map(|k| &k.der)
    }

    /// The CRLs as DER, for handing to a path validator.
    pub fn crl_ders(&self) -> &[CertificateRevocationListDer<'static>] {
        &self.crl_ders
    }

    /// Subjects of the trust anchors.
    pub fn anchor_subjects(&self) -> Vec<String> {
        self.anchors
            .iter()
            .map(|k| k.info.subject.clone())
            .collect()
    }

    /// Every problem with `chain` (leaf first) for `purpose` at time `at`. Empty means
    /// acceptable. With `chain_must_be_complete` (TLS), an intermediate that only the
    /// configuration knows is reported; without it (signatures carry the leaf only) the
    /// configured intermediates complete the chain silently.
    pub fn assess(
        &self,
        chain: &[CertificateDer<'_>],
        at: OffsetDateTime,
        purpose: Purpose,
        chain_must_be_complete: bool,
    ) -> Vec<CertProblem> {
        self.assess_leaf(chain, at, purpose, chain_must_be_complete)
            .1
    }

    /// [`Self::assess`], also giving back the leaf as parsed, so that whoever identifies
    /// the peer next does not parse it again.
    pub fn assess_leaf(
        &self,
        chain: &[CertificateDer<'_>],
        at: OffsetDateTime,
        purpose: Purpose,
        chain_must_be_complete: bool,
    ) -> (Option<CertInfo>, Vec<CertProblem>) {
        let Some(leaf_der) = chain.first() else {
            return (None, vec![CertProblem::NoCertificate]);
        };
        let leaf = match CertInfo::from_der(leaf_der) {
            Ok(i) => i,
            Err(e) => {
                return (
                    None,
                    vec![CertProblem::Unparseable {
                        position: 0,
                        detail: e.to_string(),
                    }],
                );
            }
        };
        let problems = self.assess_parsed(
            (leaf_der, &leaf),
            &chain[1..],
            at,
            purpose,
            chain_must_be_complete,
        );
        (Some(leaf), problems)
    }

    /// [`Self::assess`] of a leaf already read (its DER and its reading) with the
    /// intermediates presented beside it: a signature check that has read the signer's
    /// certificate assesses it at two times without reading it twice more.
    pub fn assess_parsed(
        &self,
        (leaf_der, leaf): (&CertificateDer<'_>, &CertInfo),
        intermediates: &[CertificateDer<'_>],
        at: OffsetDateTime,
        purpose: Purpose,
        chain_must_be_complete: bool,
    ) -> Vec<CertProblem> {
        let mut problems = Vec::new();
        self.check_key(leaf, &mut problems);
        check_validity(leaf, at, &mut problems);
        check_purpose(leaf, purpose, &mut problems);

        let presented: Vec<(CertificateDer<'static>, CertInfo)> = intermediates
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match CertInfo::from_der(d) {
                Ok(info) => Some((d.clone().into_owned(), info)),
                Err(e) => {
                    problems.push(CertProblem::Unparseable {
                        position: i + 1,
                        detail: e.to_string(),
                    });
                    None
                }
            })
            .collect();

        // Borrowed at every step: the path's certificates stay where they are.
        let (mut current_der, mut current): (&CertificateDer<'_>, &CertInfo) = (leaf_der, leaf);
        for _depth in 0..8 {
            if self.anchors.iter().any(|a| a.info.sha256 == current.sha256) {
                break;
            }
            if current.subject_raw == current.issuer_raw {
                // A self-signed certificate that is not an anchor ends the path untrusted.
                problems.push(CertProblem::UntrustedRoot {
                    subject: current.subject.clone(),
                });
                break;
            }
            self.check_revocation(current, at, &mut problems);
            let candidates = presented
                .iter()
                .map(|(d, i)| (d, i, false, true))
                .chain(
                    self.intermediates
                        .iter()
                        .map(|k| (&k.der, &k.info, false, false)),
                )
                .chain(self.anchors.iter().map(|k| (&k.der, &k.info, true, false)))
                .filter(|(_, info, _, _)| info.subject_raw == current.issuer_raw)
                .collect::<Vec<_>>();
            if candidates.is_empty() {
                problems.push(CertProblem::UnknownIssuer {
                    subject: current.subject.clone(),
                    issuer: current.issuer.clone(),
                });
                break;
            }
            let signer = candidates
                .into_iter()
                .find(|(d, info, _, _)| self.signed_by((current_der, current), (d, info)));
            let Some((issuer_der, issuer_info, is_anchor, was_presented)) = signer else {
                problems.push(CertProblem::BadSignature {
                    subject: current.subject.clone(),
                    issuer: current.issuer.clone(),
                });
                break;
            };
            if is_anchor {
                break;
            }
            if chain_must_be_complete && !was_presented {
                problems.push(CertProblem::IncompleteChain {
                    subject: current.subject.clone(),
                    issuer: issuer_info.subject.clone(),
                });
            }
            check_validity(issuer_info, at, &mut problems);
            current_der = issuer_der;
            current = issuer_info;
        }
        problems
    }

    fn check_key(&self, info: &CertInfo, problems: &mut Vec<CertProblem>) {
        let weak = match &info.key {
            KeyDescription::Rsa { bits } => *bits < self.min_rsa_bits,
            KeyDescription::Ec { curve, .. } => curve != "P-256" && curve != "P-384",
            KeyDescription::Other { .. } => true,
        };
        if weak {
            problems.push(CertProblem::WeakKey {
                subject: info.subject.clone(),
                key: info.key.to_string(),
                minimum_rsa_bits: self.min_rsa_bits,
            });
        }
    }

    fn check_revocation(
        &self,
        info: &CertInfo,
        at: OffsetDateTime,
        problems: &mut Vec<CertProblem>,
    ) {
        let serial = strip_zeros(&info.serial_raw);
        for crl in self.crls.iter().filter(|c| c.issuer_raw == info.issuer_raw) {
            if let Some(next) = crl.next_update
                && next < at
            {
                problems.push(CertProblem::StaleCrl {
                    crl_issuer: crl.issuer.clone(),
                    next_update: next,
                });
            }
            if let Some((_, when, reason)) =
                crl.revoked.iter().find(|(s, _, _)| s.as_slice() == serial)
            {
                problems.push(CertProblem::Revoked {
                    subject: info.subject.clone(),
                    serial: info.serial.clone(),
                    crl_issuer: crl.issuer.clone(),
                    revoked_at: *when,
                    reason: reason.clone(),
                });
            }
        }
    }
}

impl TrustStore {
    /// Whether `issuer`'s key signed `cert` (each with its reading), remembered once true.
    fn signed_by(
        &self,
        (cert, cert_info): (&CertificateDer<'_>, &CertInfo),
        (issuer, issuer_info): (&CertificateDer<'_>, &CertInfo),
    ) -> bool {
        let pair = (cert_info.sha256.clone(), issuer_info.sha256.clone());
        if self.verified.get(&pair).is_some() {
            return true;
        }
        let ok = signed_by(cert, issuer);
        if ok {
            self.verified.insert(pair, ());
        }
        ok
    }
}

fn signed_by(cert: &CertificateDer<'_>, issuer: &CertificateDer<'_>) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (
        X509Certificate::from_der(cert),
        X509Certificate::from_der(issuer),
    ) else {
        return false;
    };
    c.verify_signature(Some(i.public_key())).is_ok()
}

fn check_validity(info: &CertInfo, at: OffsetDateTime, problems: &mut Vec<CertProblem>) {
    if at > info.not_after {
        problems.push(CertProblem::Expired {
            subject: info.subject.clone(),
            not_after: info.not_after,
            at,
        });
    }
    if at < info.not_before {
        problems.push(CertProblem::NotYetValid {
            subject: info.subject.clone(),
            not_before: info.not_before,
            at,
        });
    }
}

fn check_purpose(info: &CertInfo, purpose: Purpose, problems: &mut Vec<CertProblem>) {
    let (eku, ku) = match purpose {
        Purpose::ClientAuth => (Some("clientAuth"), "digitalSignature"),
        Purpose::ServerAuth => (Some("serverAuth"), "digitalSignature"),
        Purpose::DocumentSigning => (None, "nonRepudiation"),
    };
    if let (Some(required), Some(presented)) = (eku, &info.extended_key_usage)
        && !presented
            .iter()
            .any(|p| p == required || p == "anyExtendedKeyUsage")
    {
        problems.push(CertProblem::WrongExtendedKeyUsage {
            subject: info.subject.clone(),
            required: required.to_owned(),
            presented: presented.clone(),
        });
    }
    if (purpose == Purpose::DocumentSigning || !info.key_usage.is_empty())
        && !info.key_usage.iter().any(|k| k == ku)
    {
        problems.push(CertProblem::WrongKeyUsage {
            subject: info.subject.clone(),
            required: ku.to_owned(),
            presented: info.key_usage.clone(),
        });
    }
}
