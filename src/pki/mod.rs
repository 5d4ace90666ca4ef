//! The test PKI: generating a DVV-like TEST hierarchy (`certs init`), reading certificates
//! (`certs show`), and judging a presented chain against trust anchors and CRLs.
//!
//! Real DVV key material never enters the project: everything here is generated, and real
//! DVV TEST roots can only be *added* as trust anchors through the configuration.

mod generate;
mod index;
mod inspect;
mod memo;
mod profile;
mod trust;

pub use generate::{GenerateError, GenerateOptions, generate_kit};
pub use index::{Artefact, INDEX_JSON, INDEX_MD, Index, IndexError, KitTrustFiles};
pub use inspect::{CertInfo, InspectError, KeyDescription, OrgIdSource, read_pem_certs};
pub(crate) use memo::Memo;
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
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        push_hex(&mut out, b, b"0123456789ABCDEF");
    }
    out
}

/// Bytes as lower-case hex (digests, random ids). Written digit by digit: formatting each
/// byte allocated a string for it, on every archived document's hashes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_hex(&mut out, b, b"0123456789abcdef");
    }
    out
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn push_hex(out: &mut String, b: u8, digits: &[u8; 16]) {
    out.push(char::from(digits[usize::from(b >> 4)]));
    out.push(char::from(digits[usize::from(b & 0x0f)]));
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_what_formatting_writes() {
        let all: Vec<u8> = (0..=255).collect();
        let formatted: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&all), formatted);
        let colon: Vec<String> = all.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(super::hex_colon(&all), colon.join(":"));
        // The empty input's digest, as every SHA-256 implementation gives it.
        assert_eq!(
            super::sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
