//! Verifying XML signatures, keeping every intermediate value: for each reference the
//! canonical form's length and hash and both digests, for the SignedInfo its canonical
//! form, and every problem as a typed value with a stable `G-` code.

use crate::finding::RuleId;
use crate::pki::{hex, sha256_hex};
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use roxmltree::{Document, Node, NodeId};
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;

use super::algorithms::*;
use super::c14n::{C14nOptions, Method, Reformatting, canonicalize_lifted};
use crate::pki::{CertInfo, CertProblem, Purpose, TrustStore};
use crate::xml::{Lifted, Limits, NOTHING_LIFTED, XmlError, parse, path_of};

/// A profile's rule on what each signature must cover, passed in by the caller. The
/// verifier checks that every reference is sound; the policy says which nodes the
/// references must reach (Kanta's: the archived body and the signature's own timestamp,
/// `document::signature::KantaCoverage`), so this module stays generic XMLDSig.
pub trait CoveragePolicy: Sync + std::fmt::Debug {
    /// Its name in reports (`kanta`).
    fn name(&self) -> &'static str;

    /// The nodes every signature of `doc` must cover: `None` when the policy does not apply
    /// to this document; `Err` (with why) when the document's shape breaks the policy, in
    /// which case each signature's own rules still apply.
    fn document_targets<'a, 'i>(
        &self,
        doc: &'a Document<'i>,
    ) -> Option<Result<Vec<Target<'a, 'i>>, String>>;

    /// What one signature must cover besides, and what its surroundings say of it.
    fn signature_targets<'a, 'i>(&self, signature: Node<'a, 'i>) -> SignatureCoverage<'a, 'i>;
}

/// A node a signature must cover, and how to name it in a finding.
#[derive(Debug, Clone)]
pub struct Target<'a, 'i> {
    /// The node.
    pub node: Node<'a, 'i>,
    /// What it is, e.g. "the archived nonXMLBody".
    pub what: String,
}

/// A policy's view of one signature.
#[derive(Debug, Clone, Default)]
pub struct SignatureCoverage<'a, 'i> {
    /// Nodes this signature must cover.
    pub targets: Vec<Target<'a, 'i>>,
    /// The signing time the surroundings assert.
    pub signing_time: Option<String>,
    /// The signature's type code, as the surroundings give it.
    pub signature_type: Option<String>,
    /// Where the signature or its surroundings break the policy.
    pub problems: Vec<CoverageProblem>,
}

/// How a signature's surroundings break a coverage policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageProblem {
    /// The signature is not where the policy puts signatures.
    Placement(String),
    /// The signing time is missing or not one value.
    SigningTime(String),
}

/// Most References one signature may have; most Transforms one Reference may have.
const MAX_REFERENCES: usize = 16;
const MAX_TRANSFORMS: usize = 4;

/// How to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Attribute names (without namespace) that carry IDs; `xml:id` always does.
    pub id_attributes: &'a [&'a str],
    /// Trust anchors, intermediates and CRLs for the signer's certificate; `None` skips
    /// the certificate checks (the cryptography is still checked).
    pub trust: Option<&'a TrustStore>,
    /// The time of receipt.
    pub now: OffsetDateTime,
    /// What each signature must cover (`None`: any sound reference will do).
    pub coverage: Option<&'a dyn CoveragePolicy>,
    /// Parser limits.
    pub limits: Limits,
    /// Keep each reference's canonical bytes in its report (`dsig verify --dump`); the
    /// archive does not, so a large body is not held twice.
    pub keep_canonical: bool,
    /// The character data taken out of the text the DOM was built from
    /// ([`crate::xml::Prepared`]); canonicalization renders it in place of its stand-ins.
    pub lifted: &'a Lifted,
}

impl<'a> VerifyOptions<'a> {
    /// `ID`/`Id`/`id`, no coverage policy, received now, default limits.
    pub fn new(trust: Option<&'a TrustStore>) -> Self {
        Self {
            id_attributes: &DEFAULT_ID_ATTRIBUTES,
            trust,
            now: OffsetDateTime::now_utc(),
            coverage: None,
            limits: Limits::default(),
            keep_canonical: false,
            lifted: &NOTHING_LIFTED,
        }
    }
}

/// The ID attribute names used unless configured otherwise.
pub const DEFAULT_ID_ATTRIBUTES: [&str; 3] = ["ID", "Id", "id"];

/// One problem, with the context to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DsigProblem {
    /// No `ds:Signature` at all.
    #[error("the document carries no ds:Signature")]
    NoSignature,
    /// Structure missing or wrong.
    #[error("signature {signature}: {detail}")]
    Malformed {
        /// 1-based signature number.
        signature: usize,
        /// What is wrong.
        detail: String,
    },
    /// An algorithm outside the allowed set.
    #[error("signature {signature}: {element} algorithm {seen:?} is not allowed (allowed: {})", allowed.join(", "))]
    UnsupportedAlgorithm {
        /// 1-based signature number.
        signature: usize,
        /// `CanonicalizationMethod`, `SignatureMethod`, `Transform` or `DigestMethod`.
        element: String,
        /// The URI seen.
        seen: String,
        /// What is allowed there.
        allowed: Vec<String>,
    },
    /// SHA-1 in any role.
    #[error(
        "signature {signature}: {element} {seen:?} uses SHA-1, which is refused; use SHA-256 (http://www.w3.org/2001/04/xmlenc#sha256 / http://www.w3.org/2001/04/xmldsig-more#rsa-sha256)"
    )]
    Sha1Refused {
        /// 1-based signature number.
        signature: usize,
        /// Where.
        element: String,
        /// The URI seen.
        seen: String,
    },
    /// `#id` matches no element.
    #[error(
        "signature {signature}: reference {uri:?} matches no element (ID attributes looked at: {id_attributes})"
    )]
    UnresolvedReference {
        /// 1-based signature number.
        signature: usize,
        /// The URI.
        uri: String,
        /// The ID attribute names consulted.
        id_attributes: String,
    },
    /// Two elements share the referenced ID.
    #[error("ID {id:?} is carried by {} elements: {}; a signature cannot tell which one it covers", paths.len(), paths.join(", "))]
    DuplicateId {
        /// The ID.
        id: String,
        /// Where each is.
        paths: Vec<String>,
    },
    /// Anything but a same-document reference.
    #[error(
        "signature {signature}: reference {uri:?} is not a same-document reference; external data is never fetched"
    )]
    ExternalReference {
        /// 1-based signature number.
        signature: usize,
        /// The URI.
        uri: String,
    },
    /// Digest differs.
    #[error(
        "signature {signature}: reference {uri:?} ({target}) digest mismatch: stated {stated}, computed {computed} over {canonical_len} canonical bytes (SHA-256 of those bytes {canonical_sha256}){}",
        cause.as_ref().map(|c| format!(". Why: {c}")).unwrap_or_default()
    )]
    DigestMismatch {
        /// 1-based signature number.
        signature: usize,
        /// The URI.
        uri: String,
        /// Path of the referenced element.
        target: String,
        /// DigestValue in the document.
        stated: String,
        /// What the archive computed.
        computed: String,
        /// Length of the canonical form digested.
        canonical_len: usize,
        /// Its SHA-256, hex, to compare with a local run.
        canonical_sha256: String,
        /// What changed after signing, when undoing a common reformatting makes the digest
        /// match (re-indentation, comments, line endings).
        cause: Option<String>,
    },
    /// SignatureValue does not verify.
    #[error(
        "signature {signature}: SignatureValue does not verify with the certificate's {key} key under {algorithm} over the canonical SignedInfo ({signed_info_len} bytes, SHA-256 {signed_info_sha256})"
    )]
    SignatureValueInvalid {
        /// 1-based signature number.
        signature: usize,
        /// SignatureMethod.
        algorithm: String,
        /// Key description.
        key: String,
        /// Canonical SignedInfo length.
        signed_info_len: usize,
        /// Its SHA-256, hex.
        signed_info_sha256: String,
    },
    /// No usable certificate.
    #[error("signature {signature}: signer certificate: {detail}")]
    SignerCertificate {
        /// 1-based signature number.
        signature: usize,
        /// What is wrong.
        detail: String,
    },
    /// Certificate refused at the signing time.
    #[error("signature {signature}: at the signing time {at}: {problem}")]
    CertificateAtSigning {
        /// 1-based signature number.
        signature: usize,
        /// The signing time.
        at: String,
        /// What is wrong.
        problem: CertProblem,
    },
    /// Certificate refused at receipt.
    #[error("signature {signature}: at receipt {at}: {problem}")]
    CertificateAtReceipt {
        /// 1-based signature number.
        signature: usize,
        /// The time of receipt.
        at: String,
        /// What is wrong.
        problem: CertProblem,
    },
    /// A required element is not covered.
    #[error("signature {signature}: {what} at {expected_path} is not covered by any reference")]
    NotCovered {
        /// 1-based signature number.
        signature: usize,
        /// What must be covered.
        what: String,
        /// Where it is.
        expected_path: String,
    },
    /// A reference points somewhere it must not.
    #[error("signature {signature}: reference {uri:?} resolves to {target_path}, which is not what this signature must cover ({})", expected.join(", "))]
    UnexpectedReference {
        /// 1-based signature number.
        signature: usize,
        /// The URI.
        uri: String,
        /// Where it points.
        target_path: String,
        /// What it may cover.
        expected: Vec<String>,
    },
    /// Signing time absent or unreadable.
    #[error("signature {signature}: signing time: {detail}")]
    SigningTime {
        /// 1-based signature number.
        signature: usize,
        /// What is wrong.
        detail: String,
    },
}

impl DsigProblem {
    /// The stable code.
    pub fn code(&self) -> RuleId {
        match self {
            Self::NoSignature => RuleId::G001,
            Self::Malformed { .. } => RuleId::G002,
            Self::UnsupportedAlgorithm { .. } => RuleId::G003,
            Self::Sha1Refused { .. } => RuleId::G004,
            Self::UnresolvedReference { .. } => RuleId::G005,
            Self::DuplicateId { .. } => RuleId::G006,
            Self::ExternalReference { .. } => RuleId::G007,
            Self::DigestMismatch { .. } => RuleId::G008,
            Self::SignatureValueInvalid { .. } => RuleId::G009,
            Self::SignerCertificate { .. } => RuleId::G010,
            Self::CertificateAtSigning { .. } => RuleId::G011,
            Self::CertificateAtReceipt { .. } => RuleId::G012,
            Self::NotCovered { .. } => RuleId::G013,
            Self::SigningTime { .. } => RuleId::G014,
            Self::UnexpectedReference { .. } => RuleId::G015,
        }
    }

    /// Whether it refuses the signature (certificate warnings such as a stale CRL do not).
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::CertificateAtSigning { problem, .. }
            | Self::CertificateAtReceipt { problem, .. } => problem.is_fatal(),
            _ => true,
        }
    }
}

/// What was computed for one Reference.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceReport {
    /// The URI as written.
    pub uri: String,
    /// Path of the element it resolved to.
    pub target: Option<String>,
    /// Transform URIs in order.
    pub transforms: Vec<String>,
    /// DigestMethod URI.
    pub digest_method: String,
    /// Length of the bytes digested.
    pub canonical_len: usize,
    /// SHA-256 (hex) of the bytes digested.
    pub canonical_sha256: String,
    /// DigestValue as stated.
    pub stated_digest: String,
    /// Digest computed, base64.
    pub computed_digest: Option<String>,
    /// Stated = computed.
    pub digest_ok: bool,
    /// When the digest differs and undoing a common reformatting makes it match: what
    /// changed after signing.
    pub cause: Option<String>,
    /// The bytes digested, when `VerifyOptions::keep_canonical` asked for them.
    #[serde(skip)]
    pub canonical: Vec<u8>,
}

/// Everything about one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// 1-based number in document order.
    pub number: usize,
    /// Path of the ds:Signature element.
    pub path: String,
    /// Its Id attribute.
    pub id: Option<String>,
    /// CanonicalizationMethod URI.
    pub canonicalization: String,
    /// SignatureMethod URI.
    pub signature_method: String,
    /// Canonical SignedInfo length.
    pub signed_info_len: usize,
    /// Its SHA-256, hex.
    pub signed_info_sha256: String,
    /// Per reference.
    pub references: Vec<ReferenceReport>,
    /// SignatureValue verified.
    pub signature_value_ok: bool,
    /// The signer's certificate.
    pub signer: Option<CertInfo>,
    /// The signer-asserted signing time (as the coverage policy reads it).
    pub signing_time: Option<String>,
    /// The signature's type code (as the coverage policy reads it).
    pub signature_type: Option<String>,
    /// Every problem.
    pub problems: Vec<DsigProblem>,
}

impl SignatureReport {
    /// No fatal problem.
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(DsigProblem::is_fatal)
    }
}

/// The verification of a whole document.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The coverage policy applied, when one applied to this document.
    pub coverage: Option<&'static str>,
    /// One per ds:Signature.
    pub signatures: Vec<SignatureReport>,
    /// Problems not tied to one signature.
    pub problems: Vec<DsigProblem>,
}

impl VerifyReport {
    /// Every signature valid, at least one present, no document problem.
    pub fn is_valid(&self) -> bool {
        !self.signatures.is_empty()
            && self.problems.is_empty()
            && self.signatures.iter().all(SignatureReport::is_valid)
    }

    /// Every problem's code, in order.
    pub fn codes(&self) -> Vec<RuleId> {
        self.problems
            .iter()
            .chain(self.signatures.iter().flat_map(|s| s.problems.iter()))
            .map(DsigProblem::code)
            .collect()
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn ds_child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(DSIG_NS) && c.tag_name().name() == name
    })
}

fn ds_children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(DSIG_NS) && c.tag_name().name() == name
    })
}

/// A signature value's text: text nodes only, so a comment inside a DigestValue or a
/// certificate is neither read nor able to change what is verified; a run taken out before
/// the DOM was built (see [`SIGNATURE_TEXTS`]) read in place of its stand-in.
fn text_of<'a>(lifted: &'a Lifted, node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
    lifted.text_content(node)
}

/// Where a signature's large base64 texts stand (local names): the signer's certificate
/// (`X509Data/X509Certificate`, a kilobyte and more) and the signature value. Only the
/// verifier reads them, so a caller who prepares the text of a signed document
/// ([`crate::xml::Prepared::lifting`]) may take them out before the DOM is built (whose
/// builder reads character data one character at a time) and give the verifier what it
/// took out ([`VerifyOptions::lifted`]).
pub const SIGNATURE_TEXTS: &[&[&str]] = &[
    &["X509Data", "X509Certificate"],
    &["Signature", "SignatureValue"],
];

/// A base64 value ignoring whitespace (the ASCII whitespace that `decode_base64` skips),
/// without a copy of the compacted text; a value that does not decode is decoded again
/// compacted, so that its error is the `base64` crate's on the whole value.
fn b64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    crate::xml::decode_base64(std::iter::once(s)).or_else(|_| {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        B64.decode(compact)
    })
}

/// The ID → elements index.
pub struct IdIndex<'a, 'i> {
    map: HashMap<&'a str, Vec<Node<'a, 'i>>>,
    names: String,
}

impl<'a, 'i> IdIndex<'a, 'i> {
    /// Indexes `doc` by the given attribute names and `xml:id`.
    pub fn new(doc: &'a Document<'i>, id_attributes: &[&str]) -> Self {
        let mut map: HashMap<&'a str, Vec<Node<'a, 'i>>> = HashMap::new();
        for node in doc.descendants().filter(Node::is_element) {
            for a in node.attributes() {
                let is_id = match a.namespace() {
                    None => id_attributes.contains(&a.name()),
                    Some(ns) => ns == super::c14n::XML_NS && a.name() == "id",
                };
                if is_id {
                    map.entry(a.value()).or_default().push(node);
                }
            }
        }
        Self {
            map,
            names: id_attributes.join(", "),
        }
    }

    /// The one element with `id`, or the problem.
    pub fn resolve(
        &self,
        id: &str,
        signature: usize,
        uri: &str,
    ) -> Result<Node<'a, 'i>, Box<DsigProblem>> {
        match self.map.get(id).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(many) if many.len() > 1 => Err(Box::new(DsigProblem::DuplicateId {
                id: id.to_owned(),
                paths: many.iter().map(|n| path_of(*n)).collect(),
            })),
            _ => Err(Box::new(DsigProblem::UnresolvedReference {
                signature,
                uri: uri.to_owned(),
                id_attributes: format!("{}, xml:id", self.names),
            })),
        }
    }
}

/// What a reference's data is while transforms run.
enum Data<'a, 'i> {
    Nodes {
        apex: Option<Node<'a, 'i>>,
        exclude: Option<NodeId>,
        comments: bool,
    },
    Octets(Vec<u8>),
}

fn c14n_options(uri: &str, element: Node<'_, '_>) -> C14nOptions {
    let exclusive = uri == EXC_C14N || uri == EXC_C14N_WITH_COMMENTS;
    let with_comments = uri.ends_with("#WithComments");
    let method = if exclusive {
        let prefixes = element
            .children()
            .find(|c| {
                c.is_element()
                    && c.tag_name().namespace() == Some(EXC_C14N)
                    && c.tag_name().name() == "InclusiveNamespaces"
            })
            .and_then(|n| n.attribute("PrefixList"))
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Method::Exclusive {
            inclusive_prefixes: prefixes,
        }
    } else {
        Method::Inclusive
    };
    C14nOptions {
        method,
        with_comments,
    }
}

fn check_algorithm(
    signature: usize,
    element: &str,
    uri: &str,
    allowed: &[&str],
) -> Result<(), Box<DsigProblem>> {
    if allowed.contains(&uri) {
        Ok(())
    } else if is_sha1(uri) {
        Err(Box::new(DsigProblem::Sha1Refused {
            signature,
            element: element.to_owned(),
            seen: uri.to_owned(),
        }))
    } else {
        Err(Box::new(DsigProblem::UnsupportedAlgorithm {
            signature,
            element: element.to_owned(),
            seen: uri.to_owned(),
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        }))
    }
}

/// Verifies every `ds:Signature` in `text`.
pub fn verify_document(text: &str, opts: &VerifyOptions<'_>) -> Result<VerifyReport, XmlError> {
    let doc = parse(text, &opts.limits)?;
    Ok(verify_parsed(&doc, opts))
}

/// Verifies every `ds:Signature` in an already parsed document.
pub fn verify_parsed(doc: &Document<'_>, opts: &VerifyOptions<'_>) -> VerifyReport {
    let ids = IdIndex::new(doc, opts.id_attributes);
    let mut problems = Vec::new();
    let policy = opts
        .coverage
        .and_then(|p| p.document_targets(doc).map(|t| (p, t)))
        .map(|(p, targets)| {
            let targets = targets.unwrap_or_else(|detail| {
                problems.push(DsigProblem::Malformed {
                    signature: 0,
                    detail,
                });
                Vec::new()
            });
            (p, targets)
        });
    let signatures: Vec<_> = doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(DSIG_NS)
                && n.tag_name().name() == "Signature"
        })
        .collect();
    if signatures.is_empty() {
        problems.push(DsigProblem::NoSignature);
    }
    let reports = signatures
        .iter()
        .enumerate()
        .map(|(i, sig)| {
            let policy = policy.as_ref().map(|(p, t)| (*p, t.as_slice()));
            verify_signature(doc, *sig, i + 1, &ids, policy, opts)
        })
        .collect();
    VerifyReport {
        coverage: policy.map(|(p, _)| p.name()),
        signatures: reports,
        problems,
    }
}

fn verify_signature<'a, 'i>(
    doc: &'a Document<'i>,
    sig: Node<'a, 'i>,
    number: usize,
    ids: &IdIndex<'a, 'i>,
    policy: Option<(&dyn CoveragePolicy, &[Target<'a, 'i>])>,
    opts: &VerifyOptions<'_>,
) -> SignatureReport {
    let mut report = SignatureReport {
        number,
        path: path_of(sig),
        id: sig.attribute("Id").map(str::to_owned),
        canonicalization: String::new(),
        signature_method: String::new(),
        signed_info_len: 0,
        signed_info_sha256: String::new(),
        references: Vec::new(),
        signature_value_ok: false,
        signer: None,
        signing_time: None,
        signature_type: None,
        problems: Vec::new(),
    };
    let malformed = |detail: &str| DsigProblem::Malformed {
        signature: number,
        detail: detail.to_owned(),
    };
    let Some(signed_info) = ds_child(sig, "SignedInfo") else {
        report.problems.push(malformed("ds:SignedInfo is missing"));
        return report;
    };
    if ds_children(sig, "SignedInfo").count() > 1 {
        report
            .problems
            .push(malformed("more than one ds:SignedInfo"));
        return report;
    }
    let c14n_method = ds_child(signed_info, "CanonicalizationMethod");
    let sig_method = ds_child(signed_info, "SignatureMethod");
    report.canonicalization = c14n_method
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or("")
        .to_owned();
    report.signature_method = sig_method
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or("")
        .to_owned();
    let mut algorithms_ok = true;
    for (element, uri, allowed) in [
        (
            "CanonicalizationMethod",
            &report.canonicalization,
            &C14N_METHODS[..],
        ),
        ("SignatureMethod", &report.signature_method, &SIGNATURES[..]),
    ] {
        if let Err(p) = check_algorithm(number, element, uri, allowed) {
            report.problems.push(*p);
            algorithms_ok = false;
        }
    }

    // The policy: what this signature must cover.
    let mut required: Vec<(NodeId, String, String)> = Vec::new();
    if let Some((policy, document_targets)) = policy {
        let own = policy.signature_targets(sig);
        report.signature_type = own.signature_type;
        report.signing_time = own.signing_time;
        for t in document_targets.iter().chain(&own.targets) {
            required.push((t.node.id(), t.what.clone(), path_of(t.node)));
        }
        for p in own.problems {
            report.problems.push(match p {
                CoverageProblem::Placement(detail) => malformed(&detail),
                CoverageProblem::SigningTime(detail) => DsigProblem::SigningTime {
                    signature: number,
                    detail,
                },
            });
        }
    }

    // References.
    let refs: Vec<_> = ds_children(signed_info, "Reference").collect();
    if refs.is_empty() {
        report
            .problems
            .push(malformed("ds:SignedInfo has no ds:Reference"));
    }
    if refs.len() > MAX_REFERENCES {
        report.problems.push(malformed(&format!(
            "{} references; at most {MAX_REFERENCES} are processed",
            refs.len()
        )));
        return report;
    }
    let mut covered: Vec<NodeId> = Vec::new();
    for r in refs {
        let (rr, target) = verify_reference(doc, sig, r, number, ids, &mut report.problems, opts);
        if let Some(t) = target {
            if !required.is_empty() && !required.iter().any(|(id, _, _)| *id == t.id()) {
                report.problems.push(DsigProblem::UnexpectedReference {
                    signature: number,
                    uri: rr.uri.clone(),
                    target_path: path_of(t),
                    expected: required
                        .iter()
                        .map(|(_, what, path)| format!("{what} at {path}"))
                        .collect(),
                });
            }
            covered.push(t.id());
        }
        report.references.push(rr);
    }
    for (id, what, path) in &required {
        if !covered.contains(id) {
            report.problems.push(DsigProblem::NotCovered {
                signature: number,
                what: what.clone(),
                expected_path: path.clone(),
            });
        }
    }

    // SignedInfo.
    let canonical_si = canonicalize_lifted(
        doc,
        opts.lifted,
        Some(signed_info),
        None,
        &c14n_options(&report.canonicalization, c14n_method.unwrap_or(signed_info)),
        Reformatting::None,
    );
    report.signed_info_len = canonical_si.len();
    report.signed_info_sha256 = sha256_hex(&canonical_si);

    // Key and signature value.
    let cert_der = ds_child(sig, "KeyInfo")
        .and_then(|k| ds_child(k, "X509Data"))
        .and_then(|d| ds_child(d, "X509Certificate"))
        .map(|c| text_of(opts.lifted, c));
    let cert = match cert_der.as_deref().map(b64_decode) {
        None => {
            report.problems.push(DsigProblem::SignerCertificate {
                signature: number,
                detail: "no ds:KeyInfo/ds:X509Data/ds:X509Certificate; the signer's certificate must be included".into(),
            });
            None
        }
        Some(Err(e)) => {
            report.problems.push(DsigProblem::SignerCertificate {
                signature: number,
                detail: format!("X509Certificate is not valid base64: {e}"),
            });
            None
        }
        Some(Ok(der)) => match CertInfo::from_der(&der) {
            Ok(info) => {
                report.signer = Some(info);
                Some(der)
            }
            Err(e) => {
                report.problems.push(DsigProblem::SignerCertificate {
                    signature: number,
                    detail: e.to_string(),
                });
                None
            }
        },
    };
    let value = ds_child(sig, "SignatureValue").map(|v| text_of(opts.lifted, v));
    match (&cert, value.as_deref().map(b64_decode), algorithms_ok) {
        (_, None, _) => report
            .problems
            .push(malformed("ds:SignatureValue is missing")),
        (_, Some(Err(e)), _) => report.problems.push(malformed(&format!(
            "SignatureValue is not valid base64: {e}"
        ))),
        (Some(_), Some(Ok(sig_bytes)), true) => {
            // The certificate was read into `report.signer` (remembered by its bytes), with
            // its public key: not parsed a second time for the key alone.
            if let Some(signer) = report.signer.as_ref() {
                report.signature_value_ok =
                    signature_verifies(signer, &report.signature_method, &canonical_si, &sig_bytes);
            }
            if !report.signature_value_ok {
                report.problems.push(DsigProblem::SignatureValueInvalid {
                    signature: number,
                    algorithm: report.signature_method.clone(),
                    key: report
                        .signer
                        .as_ref()
                        .map(|s| s.key.to_string())
                        .unwrap_or_default(),
                    signed_info_len: report.signed_info_len,
                    signed_info_sha256: report.signed_info_sha256.clone(),
                });
            }
        }
        _ => {}
    }

    // The signer's certificate, at the signing time and at receipt.
    if let (Some(trust), Some(der), Some(signer)) = (opts.trust, cert, report.signer.as_ref()) {
        let der = CertificateDer::from(der);
        let assess =
            |at| trust.assess_parsed((&der, signer), &[], at, Purpose::DocumentSigning, false);
        if let Some(ts) = &report.signing_time {
            match OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339) {
                Ok(at) => {
                    for problem in assess(at) {
                        report.problems.push(DsigProblem::CertificateAtSigning {
                            signature: number,
                            at: rfc3339(at),
                            problem,
                        });
                    }
                }
                Err(e) => report.problems.push(DsigProblem::SigningTime {
                    signature: number,
                    detail: format!("{ts:?} is not an xs:dateTime with time zone: {e}"),
                }),
            }
        }
        for problem in assess(opts.now) {
            report.problems.push(DsigProblem::CertificateAtReceipt {
                signature: number,
                at: rfc3339(opts.now),
                problem,
            });
        }
    }
    report
}

/// Whether `signature` is `signer`'s signature of `message` under the SignatureMethod
/// `method`. The parsed public key (for RSA with its Montgomery context, worked out on its
/// first use) is remembered per certificate and method, as the certificate's reading is:
/// a system signs every document it sends with the same certificate, and parsing the key
/// again each time cost a fifth of the verification. Only keys that parse are kept.
fn signature_verifies(signer: &CertInfo, method: &str, message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature::ParsedPublicKey;
    use std::sync::Arc;
    static KEYS: crate::pki::Memo<(String, String), Arc<ParsedPublicKey>> =
        crate::pki::Memo::new(256);
    let Some(algorithm) = verification_for(method) else {
        return false;
    };
    let id = (signer.sha256.clone(), method.to_owned());
    let key = match KEYS.get(&id) {
        Some(k) => k,
        None => match ParsedPublicKey::new(algorithm, &signer.public_key) {
            Ok(k) => {
                let k = Arc::new(k);
                KEYS.insert(id, k.clone());
                k
            }
            Err(_) => return false,
        },
    };
    key.verify_sig(message, signature).is_ok()
}

/// Tries to undo the reformattings that commonly happen to a document after it was signed
/// (pretty-printing, comments, line endings) and says which one makes `stated` match.
fn why_digest_differs(
    doc: &Document<'_>,
    lifted: &Lifted,
    apex: Option<Node<'_, '_>>,
    exclude: Option<NodeId>,
    opts: &C14nOptions,
    alg: &'static aws_lc_rs::digest::Algorithm,
    stated: &[u8],
) -> Option<String> {
    let matches = |o: &C14nOptions, r: Reformatting| {
        let octets = canonicalize_lifted(doc, lifted, apex, exclude, o, r);
        aws_lc_rs::digest::digest(alg, &octets).as_ref() == stated
    };
    let without_comments = C14nOptions {
        with_comments: false,
        ..opts.clone()
    };
    let has_comments = apex
        .unwrap_or_else(|| doc.root())
        .descendants()
        .any(|n| n.is_comment());
    let comments_too = if has_comments {
        " Comments were added too; exclusive C14N leaves them out, but they usually come with the reformatting."
    } else {
        ""
    };
    const SIGN_AS_SENT: &str = "Whitespace is significant in exclusive C14N: sign exactly the bytes you send, or send exactly the bytes you signed.";
    if opts.with_comments && matches(&without_comments, Reformatting::None) {
        return Some(format!(
            "comments were added after signing: without them the digest matches (the reference's WithComments transform covers comments). {SIGN_AS_SENT}"
        ));
    }
    if matches(&without_comments, Reformatting::DropIndentation) {
        return Some(format!(
            "the element was re-indented after signing: without the whitespace between elements the digest matches.{comments_too} {SIGN_AS_SENT}"
        ));
    }
    if matches(&without_comments, Reformatting::DropIndentationAndTrim) {
        return Some(format!(
            "the element was pretty-printed after signing: without the whitespace between elements and around text values (e.g. a base64 value moved onto its own indented lines) the digest matches.{comments_too} {SIGN_AS_SENT}"
        ));
    }
    if matches(opts, Reformatting::DropCarriageReturns) {
        return Some(format!(
            "line endings were changed after signing: without the carriage returns (written as &#13;) the digest matches. {SIGN_AS_SENT}"
        ));
    }
    None
}

fn verify_reference<'a, 'i>(
    doc: &'a Document<'i>,
    sig: Node<'a, 'i>,
    r: Node<'a, 'i>,
    number: usize,
    ids: &IdIndex<'a, 'i>,
    problems: &mut Vec<DsigProblem>,
    opts: &VerifyOptions<'_>,
) -> (ReferenceReport, Option<Node<'a, 'i>>) {
    let keep = opts.keep_canonical;
    let uri = r.attribute("URI").unwrap_or("").to_owned();
    let digest_method_node = ds_child(r, "DigestMethod");
    let digest_method = digest_method_node
        .and_then(|d| d.attribute("Algorithm"))
        .unwrap_or("")
        .to_owned();
    let stated = ds_child(r, "DigestValue")
        .map(|d| text_of(opts.lifted, d))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let transform_nodes: Vec<_> = ds_child(r, "Transforms")
        .map(|t| ds_children(t, "Transform").collect())
        .unwrap_or_default();
    let mut rr = ReferenceReport {
        uri: uri.clone(),
        target: None,
        transforms: transform_nodes
            .iter()
            .map(|t| t.attribute("Algorithm").unwrap_or("").to_owned())
            .collect(),
        digest_method: digest_method.clone(),
        canonical_len: 0,
        canonical_sha256: String::new(),
        stated_digest: stated.clone(),
        computed_digest: None,
        digest_ok: false,
        cause: None,
        canonical: Vec::new(),
    };
    // Dereference.
    let (mut data, target) = if uri.is_empty() {
        (
            Data::Nodes {
                apex: None,
                exclude: None,
                comments: false,
            },
            None,
        )
    } else if uri == "#xpointer(/)" {
        (
            Data::Nodes {
                apex: None,
                exclude: None,
                comments: true,
            },
            None,
        )
    } else if let Some(rest) = uri.strip_prefix('#') {
        let (id, comments) = match rest
            .strip_prefix("xpointer(id(")
            .and_then(|s| s.strip_suffix("))"))
        {
            Some(quoted) => (quoted.trim_matches(|c| c == '\'' || c == '"'), true),
            None => (rest, false),
        };
        match ids.resolve(id, number, &uri) {
            Ok(node) => {
                rr.target = Some(path_of(node));
                (
                    Data::Nodes {
                        apex: Some(node),
                        exclude: None,
                        comments,
                    },
                    Some(node),
                )
            }
            Err(p) => {
                problems.push(*p);
                return (rr, None);
            }
        }
    } else {
        problems.push(DsigProblem::ExternalReference {
            signature: number,
            uri,
        });
        return (rr, None);
    };
    if transform_nodes.len() > MAX_TRANSFORMS {
        problems.push(DsigProblem::Malformed {
            signature: number,
            detail: format!(
                "reference {:?} has {} transforms; at most {MAX_TRANSFORMS} are processed",
                rr.uri,
                transform_nodes.len()
            ),
        });
        return (rr, target);
    }
    // What the octets were canonicalized from, to explain a mismatch afterwards.
    let mut canonicalized: Option<(Option<Node<'a, 'i>>, Option<NodeId>, C14nOptions)> = None;
    for t in &transform_nodes {
        let alg = t.attribute("Algorithm").unwrap_or("");
        if let Err(p) = check_algorithm(number, "Transform", alg, &TRANSFORMS) {
            problems.push(*p);
            return (rr, target);
        }
        data = match (alg, data) {
            (ENVELOPED, Data::Nodes { apex, comments, .. }) => Data::Nodes {
                apex,
                exclude: Some(sig.id()),
                comments,
            },
            (
                _,
                Data::Nodes {
                    apex,
                    exclude,
                    comments,
                },
            ) => {
                let mut o = c14n_options(alg, *t);
                o.with_comments &= comments;
                let octets =
                    canonicalize_lifted(doc, opts.lifted, apex, exclude, &o, Reformatting::None);
                canonicalized = Some((apex, exclude, o));
                Data::Octets(octets)
            }
            (_, Data::Octets(_)) => {
                problems.push(DsigProblem::Malformed {
                    signature: number,
                    detail: format!("reference {:?}: transform {alg} after canonicalization needs re-parsing, which is not supported", rr.uri),
                });
                return (rr, target);
            }
        };
    }
    let octets = match data {
        Data::Octets(o) => o,
        Data::Nodes {
            apex,
            exclude,
            comments,
        } => {
            let o = C14nOptions {
                method: Method::Inclusive,
                with_comments: comments,
            };
            let octets =
                canonicalize_lifted(doc, opts.lifted, apex, exclude, &o, Reformatting::None);
            canonicalized = Some((apex, exclude, o));
            octets
        }
    };
    rr.canonical_len = octets.len();
    // Kanta's references use SHA-256, so the report's hash and the digest compared are one
    // computation over the (document-sized) octets.
    let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &octets);
    rr.canonical_sha256 = hex(sha256.as_ref());
    if let Err(p) = check_algorithm(number, "DigestMethod", &digest_method, &DIGESTS) {
        problems.push(*p);
        if keep {
            rr.canonical = octets;
        }
        return (rr, target);
    }
    if let Some(alg) = digest_for(&digest_method) {
        let digest = if alg == &aws_lc_rs::digest::SHA256 {
            sha256
        } else {
            aws_lc_rs::digest::digest(alg, &octets)
        };
        let computed = B64.encode(digest.as_ref());
        let stated_bytes = b64_decode(&stated).ok();
        rr.digest_ok = stated_bytes.as_deref() == Some(digest.as_ref());
        if !rr.digest_ok {
            rr.cause = match (&canonicalized, &stated_bytes) {
                (Some((apex, exclude, o)), Some(stated)) => {
                    why_digest_differs(doc, opts.lifted, *apex, *exclude, o, alg, stated)
                }
                _ => None,
            };
            problems.push(DsigProblem::DigestMismatch {
                signature: number,
                uri: rr.uri.clone(),
                target: rr
                    .target
                    .clone()
                    .unwrap_or_else(|| "the whole document".into()),
                stated: stated.clone(),
                computed: computed.clone(),
                canonical_len: octets.len(),
                canonical_sha256: rr.canonical_sha256.clone(),
                cause: rr.cause.clone(),
            });
        }
        rr.computed_digest = Some(computed);
    }
    if keep {
        rr.canonical = octets;
    }
    (rr, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A signature's base64 values read as the `base64` crate reads them compacted:
        /// the same bytes, and for what does not decode the same error.
        #[test]
        fn base64_values_read_as_the_compacted_value(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    "QUJD", "RA==", "QQ", "=", "A", "!", " ", "\n", "\r\n", "\t", "\u{c}", "é",
                ]),
                0..24,
            )
        ) {
            let s = pieces.concat();
            let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            prop_assert_eq!(b64_decode(&s), B64.decode(compact));
        }
    }

    #[test]
    fn a_remembered_key_still_checks_every_signature_and_only_its_own_certificates() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let signer = || {
            let kp = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(Vec::<String>::new())
                .unwrap()
                .self_signed(&kp)
                .unwrap();
            let info = CertInfo::from_der(cert.der()).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &kp.serialize_der())
                    .unwrap();
            (info, key)
        };
        let ((a, a_key), (b, b_key)) = (signer(), signer());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sign = |k: &EcdsaKeyPair, m: &[u8]| k.sign(&rng, m).unwrap().as_ref().to_vec();
        let by_a = sign(&a_key, b"signed info");
        // Twice: the second time with the remembered key.
        for _ in 0..2 {
            assert!(signature_verifies(&a, ECDSA_SHA256, b"signed info", &by_a));
            assert!(!signature_verifies(
                &a,
                ECDSA_SHA256,
                b"signed info!",
                &by_a
            ));
            let mut changed = by_a.clone();
            changed[5] ^= 1;
            assert!(!signature_verifies(
                &a,
                ECDSA_SHA256,
                b"signed info",
                &changed
            ));
            // Another certificate's key is never taken for this one's.
            assert!(!signature_verifies(&b, ECDSA_SHA256, b"signed info", &by_a));
            let by_b = sign(&b_key, b"signed info");
            assert!(signature_verifies(&b, ECDSA_SHA256, b"signed info", &by_b));
            assert!(!signature_verifies(&a, ECDSA_SHA256, b"signed info", &by_b));
        }
        // A method the key does not fit, and one not known, verify nothing.
        assert!(!signature_verifies(&a, RSA_SHA256, b"signed info", &by_a));
        assert!(!signature_verifies(
            &a,
            "urn:unknown",
            b"signed info",
            &by_a
        ));
    }
}
