//! XML digital signatures as Kanta uses them: detached same-document signatures with
//! exclusive C14N 1.0, SHA-256 digests and RSA-SHA256, checked reference by reference with
//! every intermediate value kept for the person whose digest does not match.

pub mod algorithms;
pub mod c14n;
#[cfg(test)]
mod c14n_tests;
mod verify;

pub use verify::{
    DEFAULT_ID_ATTRIBUTES, DsigProblem, HL7_NS, HL7FI_NS, IdIndex, ReferenceReport,
    SignatureReport, VerifyOptions, VerifyReport, archived_body, clinical_document,
    verify_document, verify_parsed,
};
mod sign;

pub use sign::{SignError, SignatureType, Signer, new_signature_id, sign_kanta_document};
#[cfg(test)]
mod tests;
