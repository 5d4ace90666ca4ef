//! Algorithm identifiers: what is allowed, what is refused and why.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// XMLDSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive C14N namespace (also of `InclusiveNamespaces`).
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Exclusive C14N with comments.
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// Canonical XML 1.0.
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Canonical XML 1.0 with comments.
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// SHA-384 digest.
pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
/// SHA-512 digest.
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
/// SHA-1 digest (refused).
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// RSA PKCS#1 v1.5 with SHA-384.
pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
/// RSA PKCS#1 v1.5 with SHA-512.
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
/// RSA with SHA-1 (refused).
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
/// ECDSA P-256 with SHA-256.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// ECDSA P-384 with SHA-384.
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";

/// Canonicalization methods accepted in `CanonicalizationMethod` and `Transform`.
pub const C14N_METHODS: [&str; 4] = [EXC_C14N, EXC_C14N_WITH_COMMENTS, C14N, C14N_WITH_COMMENTS];
/// Transforms accepted.
pub const TRANSFORMS: [&str; 5] = [
    ENVELOPED,
    EXC_C14N,
    EXC_C14N_WITH_COMMENTS,
    C14N,
    C14N_WITH_COMMENTS,
];
/// Digest methods accepted.
pub const DIGESTS: [&str; 3] = [SHA256, SHA384, SHA512];
/// Signature methods accepted.
pub const SIGNATURES: [&str; 5] = [
    RSA_SHA256,
    RSA_SHA384,
    RSA_SHA512,
    ECDSA_SHA256,
    ECDSA_SHA384,
];

/// The digest algorithm for a DigestMethod URI.
pub fn digest_for(uri: &str) -> Option<&'static digest::Algorithm> {
    match uri {
        SHA256 => Some(&digest::SHA256),
        SHA384 => Some(&digest::SHA384),
        SHA512 => Some(&digest::SHA512),
        _ => None,
    }
}

/// The verification algorithm for a SignatureMethod URI. XMLDSig ECDSA values are the
/// fixed-width r‖s concatenation.
pub fn verification_for(uri: &str) -> Option<&'static dyn VerificationAlgorithm> {
    match uri {
        RSA_SHA256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        RSA_SHA384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        RSA_SHA512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        ECDSA_SHA256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
        ECDSA_SHA384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
        _ => None,
    }
}

/// Whether a URI names a SHA-1 based algorithm (refused with its own message).
pub fn is_sha1(uri: &str) -> bool {
    uri == SHA1
        || uri == RSA_SHA1
        || uri.ends_with("#dsa-sha1")
        || uri.ends_with("#ecdsa-sha1")
        || uri.ends_with("#hmac-sha1")
}
