//! The test PKI: generating a DVV-like TEST hierarchy (`certs init`), reading certificates
//! (`certs show`), and judging a presented chain against trust anchors and CRLs.
//!
//! Real DVV key material never enters the project: everything here is generated, and real
//! DVV TEST roots can only be *added* as trust anchors through the configuration.

mod generate;
mod index;
mod inspect;
mod profile;
mod trust;

pub use generate::{GenerateError, GenerateOptions, generate_kit};
pub use index::{Artefact, INDEX_JSON, INDEX_MD, Index, IndexError, KitTrustFiles};
pub use inspect::{CertInfo, InspectError, KeyDescription, OrgIdSource, read_pem_certs};
pub use profile::{KeyAlgorithm, PROFESSIONALS, Professional, profile_markdown};
pub use trust::{CertProblem, Purpose, TrustError, TrustStore};

/// SHA-256 of `der`, as colon-separated upper-case hex (the form browsers and `openssl
/// x509 -fingerprint -sha256` print).
pub fn sha256_fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    hex_colon(digest.as_ref())
}

/// Bytes as colon-separated upper-case hex.
pub fn hex_colon(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}
