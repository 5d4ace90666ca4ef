//! XML digital signatures (XMLDSig) and canonicalization (C14N 1.0, exclusive C14N):
//! same-document signatures checked reference by reference with every intermediate value
//! kept for the person whose digest does not match, and signatures produced from a
//! template. Generic: what a profile requires a signature to cover comes in as a
//! [`CoveragePolicy`]; Kanta's and the Kanta document signature are `document::signature`.

pub mod algorithms;
pub mod c14n;
#[cfg(test)]
mod c14n_tests;
mod verify;

pub use verify::{
    CoveragePolicy, CoverageProblem, DEFAULT_ID_ATTRIBUTES, DsigProblem, IdIndex, ReferenceReport,
    SIGNATURE_TEXTS, SignatureCoverage, SignatureReport, Target, VerifyOptions, VerifyReport,
    verify_document, verify_parsed,
};
mod sign;

pub use sign::{SignError, Signer, complete_signature, new_signature_id, signature_template};
