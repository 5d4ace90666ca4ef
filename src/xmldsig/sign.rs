//! Producing signatures from a template: [`signature_template`] writes a `ds:Signature`
//! whose References point at IDs (exclusive C14N, SHA-256, RSA-SHA256 or ECDSA for EC
//! keys) with placeholder values; the caller places it in the document where its profile
//! wants it (Kanta's: `document::signature::sign_kanta_document`); [`complete_signature`]
//! computes the digests over the document as it then is, and the signature value. The XML
//! is compact: whitespace inside a signature is significant.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::algorithms::*;
use super::c14n::{C14nOptions, canonicalize};
use super::verify::IdIndex;
use crate::pki::read_pem_certs;
use crate::xml::{Limits, XmlError, parse};

/// Why a document could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The input is not XML we accept.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The document does not have what the signature needs (an ID to reference, the
    /// place its profile puts signatures).
    #[error("{0}")]
    Document(String),
    /// A reference names an ID the document does not resolve once.
    #[error(transparent)]
    Reference(Box<super::DsigProblem>),
    /// The signer's certificate file.
    #[error("signer: {0}")]
    Certificate(#[from] crate::pki::InspectError),
    /// The certificate file holds no certificate.
    #[error("signer: {path}: no certificate")]
    NoCertificate {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The private key file.
    #[error("signer: {path}: {source}")]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The key is not one we sign with.
    #[error("signer: {path}: {what}")]
    KeyKind {
        /// The file.
        path: std::path::PathBuf,
        /// What it is not.
        what: &'static str,
    },
    /// The kit does not have the role's files.
    #[error("signer: {0}")]
    Kit(#[from] crate::pki::IndexError),
    /// The kit's role has no private key.
    #[error("signer: {role} has no private key in the kit")]
    NoKey {
        /// The role.
        role: String,
    },
    /// The key is not the certificate's.
    #[error("signer: the private key does not belong to the certificate")]
    NotThePair,
    /// The certificate does not parse as X.509.
    #[error("signer: the certificate does not parse: {0}")]
    X509(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// The crypto library refused.
    #[error("signing failed: {0}")]
    Crypto(#[from] aws_lc_rs::error::Unspecified),
    /// The signing time could not be written.
    #[error("signing time: {0}")]
    Time(#[from] time::error::Format),
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair, &'static str),
}

/// A certificate and its private key.
pub struct Signer {
    cert: CertificateDer<'static>,
    key: Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads a certificate (first in the file) and a PKCS#8 private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, SignError> {
        let certs = read_pem_certs(cert)?;
        let cert_der = certs
            .into_iter()
            .next()
            .ok_or_else(|| SignError::NoCertificate {
                path: cert.to_owned(),
            })?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|source| SignError::KeyFile {
            path: key.to_owned(),
            source,
        })?;
        let PrivateKeyDer::Pkcs8(pkcs8) = key_der else {
            return Err(SignError::KeyKind {
                path: key.to_owned(),
                what: "a PKCS#8 private key is needed",
            });
        };
        let bytes = pkcs8.secret_pkcs8_der();
        let key = if let Ok(k) = RsaKeyPair::from_pkcs8(bytes) {
            Key::Rsa(k)
        } else if let Ok(k) = EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            bytes,
        ) {
            Key::Ecdsa(k, ECDSA_SHA256)
        } else if let Ok(k) = EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            bytes,
        ) {
            Key::Ecdsa(k, ECDSA_SHA384)
        } else {
            return Err(SignError::KeyKind {
                path: key.to_owned(),
                what: "not an RSA (2048–8192 bits) or ECDSA P-256/P-384 key",
            });
        };
        let signer = Self {
            cert: cert_der,
            key,
        };
        signer.check_pair()?;
        Ok(signer)
    }

    /// The certificate and key of `role` in the kit at `dir`.
    pub fn from_kit(dir: &Path, role: &str) -> Result<Self, SignError> {
        let index = crate::pki::Index::load(dir)?;
        let a = index.require(dir, role)?;
        let key = a.key.as_ref().ok_or_else(|| SignError::NoKey {
            role: role.to_owned(),
        })?;
        Self::from_pem_files(&dir.join(&a.cert), &dir.join(key))
    }

    fn check_pair(&self) -> Result<(), SignError> {
        let (_, x509) = <x509_parser::prelude::X509Certificate as x509_parser::prelude::FromDer<
            _,
        >>::from_der(&self.cert)
        .map_err(SignError::X509)?;
        let cert_key = x509.public_key().subject_public_key.data.as_ref().to_vec();
        let own = match &self.key {
            Key::Rsa(k) => k.public_key().as_ref().to_vec(),
            Key::Ecdsa(k, _) => k.public_key().as_ref().to_vec(),
        };
        if cert_key == own {
            Ok(())
        } else {
            Err(SignError::NotThePair)
        }
    }

    fn method(&self) -> &'static str {
        match &self.key {
            Key::Rsa(_) => RSA_SHA256,
            Key::Ecdsa(_, m) => m,
        }
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    data,
                    &mut sig,
                )?;
                Ok(sig)
            }
            Key::Ecdsa(k, _) => k
                .sign(&rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(SignError::Crypto),
        }
    }
}

/// A fresh signature id, `sig_` and 32 hex digits.
pub fn new_signature_id() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    format!("sig_{}", crate::pki::hex(&b))
}

/// The placeholder written where reference `n`'s digest will go.
fn digest_placeholder(n: usize) -> String {
    format!("KANTA-SIM-DIGEST-{n}")
}

const SV: &str = "KANTA-SIM-SIGNATURE-VALUE";

/// A `ds:Signature` with `Id="{ds_id}"` whose References point at the elements with the
/// given IDs (same-document, exclusive C14N, SHA-256), the signer's certificate in
/// KeyInfo, and placeholders for the digests and the value: place it in the document, then
/// call [`complete_signature`].
pub fn signature_template(signer: &Signer, ds_id: &str, reference_ids: &[&str]) -> String {
    let references: String = reference_ids
        .iter()
        .enumerate()
        .map(|(n, uri)| {
            format!(
                "<ds:Reference URI=\"#{uri}\"><ds:Transforms><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms>\
                 <ds:DigestMethod Algorithm=\"{SHA256}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
                digest_placeholder(n + 1)
            )
        })
        .collect();
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\" Id=\"{ds_id}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{method}\"/>{references}</ds:SignedInfo>\
         <ds:SignatureValue>{SV}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></ds:Signature>",
        method = signer.method(),
        cert = B64.encode(&signer.cert),
    )
}

/// Fills in a placed [`signature_template`]: the digest of every referenced element over
/// the document as it now is, then the value over the canonical SignedInfo of the
/// signature with `Id="{ds_id}"`.
pub fn complete_signature(
    xml: &str,
    signer: &Signer,
    ds_id: &str,
    reference_ids: &[&str],
) -> Result<String, SignError> {
    let limits = Limits::default();
    let mut out = xml.to_owned();
    {
        let doc = parse(xml, &limits)?;
        let ids = IdIndex::new(&doc, &["ID", "Id", "id"]);
        for (n, id) in reference_ids.iter().enumerate() {
            let node = ids.resolve(id, 1, id).map_err(SignError::Reference)?;
            let bytes = canonicalize(&doc, Some(node), None, &C14nOptions::exclusive());
            let digest = B64.encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &bytes,
            ));
            out = out.replacen(&digest_placeholder(n + 1), &digest, 1);
        }
    }
    let value = {
        let doc = parse(&out, &limits)?;
        let signed_info = doc
            .descendants()
            .find(|n| {
                n.tag_name().namespace() == Some(DSIG_NS)
                    && n.tag_name().name() == "SignedInfo"
                    && n.parent().and_then(|p| p.attribute("Id")) == Some(ds_id)
            })
            .ok_or_else(|| {
                SignError::Document(format!("the placed signature {ds_id:?} has no SignedInfo"))
            })?;
        let bytes = canonicalize(&doc, Some(signed_info), None, &C14nOptions::exclusive());
        B64.encode(signer.sign(&bytes)?)
    };
    Ok(out.replacen(SV, &value, 1))
}
