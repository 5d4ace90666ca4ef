//! Producing Kanta-shaped signatures for the reference client: an
//! `hl7fi:signatureCollection/hl7fi:signature` in `hl7fi:localSocialHeader`, holding the
//! `signatureDescription`, an `ID`'d `signatureTimestamp` and a `ds:Signature` with two
//! References (the timestamp and the `nonXMLBody`), exclusive C14N, SHA-256 and RSA-SHA256
//! (ECDSA for EC keys). The XML is compact: whitespace inside a signature is significant.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use roxmltree::Node;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use super::algorithms::*;
use super::c14n::{C14nOptions, canonicalize};
use super::verify::{HL7FI_NS, IdIndex, archived_body, clinical_document};
use crate::pki::read_pem_certs;
use crate::xml::{Limits, XmlError, parse};

/// `signatureDescription` codes (code system 1.2.246.537.5.40127.2006).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureType {
    /// `1` Ammattihenkilön allekirjoitus: a professional's signature.
    Professional,
    /// `3` Järjestelmäallekirjoitus: the system signature.
    System,
}

impl SignatureType {
    fn code(self) -> &'static str {
        match self {
            Self::Professional => "1",
            Self::System => "3",
        }
    }
    fn display_name(self) -> &'static str {
        match self {
            Self::Professional => "Ammattihenkilön allekirjoitus",
            Self::System => "Järjestelmäallekirjoitus",
        }
    }
}

/// Why a document could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The input is not XML we accept.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Not a Kanta CDA.
    #[error("not a Kanta CDA: {0}")]
    NotKanta(String),
    /// Certificate or key unusable.
    #[error("signer: {0}")]
    Signer(String),
    /// The crypto library refused.
    #[error("signing failed: {0}")]
    Crypto(String),
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
        let certs = read_pem_certs(cert).map_err(|e| SignError::Signer(e.to_string()))?;
        let cert_der = certs
            .into_iter()
            .next()
            .ok_or_else(|| SignError::Signer(format!("{}: no certificate", cert.display())))?;
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| SignError::Signer(format!("{}: {e}", key.display())))?;
        let PrivateKeyDer::Pkcs8(pkcs8) = key_der else {
            return Err(SignError::Signer(format!(
                "{}: a PKCS#8 private key is needed",
                key.display()
            )));
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
            return Err(SignError::Signer(format!(
                "{}: not an RSA (2048–8192 bits) or ECDSA P-256/P-384 key",
                key.display()
            )));
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
        let index = crate::pki::Index::load(dir).map_err(|e| SignError::Signer(e.to_string()))?;
        let a = index
            .require(dir, role)
            .map_err(|e| SignError::Signer(e.to_string()))?;
        let key = a
            .key
            .as_ref()
            .ok_or_else(|| SignError::Signer(format!("{role} has no private key in the kit")))?;
        Self::from_pem_files(&dir.join(&a.cert), &dir.join(key))
    }

    fn check_pair(&self) -> Result<(), SignError> {
        let (_, x509) = <x509_parser::prelude::X509Certificate as x509_parser::prelude::FromDer<
            _,
        >>::from_der(&self.cert)
        .map_err(|e| SignError::Signer(e.to_string()))?;
        let cert_key = x509.public_key().subject_public_key.data.as_ref().to_vec();
        let own = match &self.key {
            Key::Rsa(k) => k.public_key().as_ref().to_vec(),
            Key::Ecdsa(k, _) => k.public_key().as_ref().to_vec(),
        };
        if cert_key == own {
            Ok(())
        } else {
            Err(SignError::Signer(
                "the private key does not belong to the certificate".into(),
            ))
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
                )
                .map_err(|e| SignError::Crypto(e.to_string()))?;
                Ok(sig)
            }
            Key::Ecdsa(k, _) => k
                .sign(&rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| SignError::Crypto(e.to_string())),
        }
    }
}

/// A fresh signature id, `sig_` and 32 hex digits.
pub fn new_signature_id() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    format!(
        "sig_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn qname_of<'i>(text: &'i str, node: Node<'_, 'i>) -> &'i str {
    let rest = text.get(node.range().start + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Byte offset where content can be appended inside `node` (before its end tag), and
/// whether the element is self-closing (`<x/>`) and must be opened first.
fn insertion_point(text: &str, node: Node<'_, '_>) -> (usize, bool) {
    let r = node.range();
    let src = &text[r.clone()];
    if src.ends_with("/>") && !src.contains("</") {
        (r.end - 2, true)
    } else {
        (r.start + src.rfind("</").unwrap_or(src.len()), false)
    }
}

const D1: &str = "KANTA-SIM-DIGEST-1";
const D2: &str = "KANTA-SIM-DIGEST-2";
const SV: &str = "KANTA-SIM-SIGNATURE-VALUE";

/// Adds a Kanta signature to a CDA and returns the signed document.
pub fn sign_kanta_document(
    xml: &str,
    signer: &Signer,
    kind: SignatureType,
    at: OffsetDateTime,
    signature_id: &str,
) -> Result<String, SignError> {
    let limits = Limits::default();
    let doc = parse(xml, &limits)?;
    let cda = clinical_document(&doc)
        .ok_or_else(|| SignError::NotKanta("no urn:hl7-org:v3 ClinicalDocument".into()))?;
    let body = archived_body(cda).map_err(SignError::NotKanta)?;
    let body_id = body
        .attribute("ID")
        .ok_or_else(|| SignError::NotKanta("nonXMLBody has no ID attribute to reference".into()))?
        .to_owned();
    let header = cda
        .children()
        .find(|c| {
            c.is_element()
                && c.tag_name().namespace() == Some(HL7FI_NS)
                && c.tag_name().name() == "localSocialHeader"
        })
        .ok_or_else(|| {
            SignError::NotKanta("no hl7fi:localSocialHeader in ClinicalDocument".into())
        })?;
    let collection = header.children().find(|c| {
        c.is_element()
            && c.tag_name().namespace() == Some(HL7FI_NS)
            && c.tag_name().name() == "signatureCollection"
    });

    // Use the document's own prefix for urn:hl7finland, declaring one where there is none.
    let (prefix, declare) = match header.lookup_prefix(HL7FI_NS) {
        Some(p) if !p.is_empty() => (format!("{p}:"), String::new()),
        Some(_) => (String::new(), String::new()),
        None => ("hl7fi:".to_owned(), format!(" xmlns:hl7fi=\"{HL7FI_NS}\"")),
    };
    let ts_id = format!("{signature_id}.timestamp");
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| SignError::Crypto(e.to_string()))?;
    let cert_b64 = B64.encode(&signer.cert);
    let method = signer.method();
    let reference = |uri: &str, placeholder: &str| {
        format!(
            "<ds:Reference URI=\"#{uri}\"><ds:Transforms><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{SHA256}\"/><ds:DigestValue>{placeholder}</ds:DigestValue></ds:Reference>"
        )
    };
    let signature = format!(
        "<{prefix}signature{decl} ID=\"{signature_id}\"><{prefix}signatureDescription code=\"{code}\" codeSystem=\"1.2.246.537.5.40127.2006\" \
         codeSystemName=\"KanTa-palvelut - Sähköisen allekirjoituksen tyyppi\" displayName=\"{display}\"/>\
         <{prefix}signatureTimestamp ID=\"{ts_id}\">{stamp}</{prefix}signatureTimestamp>\
         <ds:Signature xmlns:ds=\"{DSIG_NS}\" Id=\"{signature_id}.ds\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{method}\"/>{r1}{r2}</ds:SignedInfo>\
         <ds:SignatureValue>{SV}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></ds:Signature></{prefix}signature>",
        decl = if collection.is_some() {
            declare.as_str()
        } else {
            ""
        },
        code = kind.code(),
        display = kind.display_name(),
        r1 = reference(&ts_id, D1),
        r2 = reference(&body_id, D2),
    );
    let (at_byte, open, fragment) = match collection {
        Some(c) => {
            let (pos, self_closing) = insertion_point(xml, c);
            let frag = if self_closing {
                format!(">{signature}</{}>", qname_of(xml, c))
            } else {
                signature
            };
            (pos, self_closing, frag)
        }
        None => {
            let (pos, self_closing) = insertion_point(xml, header);
            let coll = format!(
                "<{prefix}signatureCollection{declare}>{signature}</{prefix}signatureCollection>"
            );
            let frag = if self_closing {
                format!(">{coll}</{}>", qname_of(xml, header))
            } else {
                coll
            };
            (pos, self_closing, frag)
        }
    };
    let end_skip = if open { 2 } else { 0 };
    let mut out = String::with_capacity(xml.len() + fragment.len());
    out.push_str(&xml[..at_byte]);
    out.push_str(&fragment);
    out.push_str(&xml[at_byte + end_skip..]);

    // Digests over the document as it now is.
    let (d1, d2) = {
        let doc = parse(&out, &limits)?;
        let ids = IdIndex::new(&doc, &["ID", "Id", "id"]);
        let digest = |id: &str| -> Result<String, SignError> {
            let node = ids
                .resolve(id, 1, id)
                .map_err(|p| SignError::NotKanta(p.to_string()))?;
            let bytes = canonicalize(&doc, Some(node), None, &C14nOptions::exclusive());
            Ok(B64.encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &bytes,
            )))
        };
        (digest(&ts_id)?, digest(&body_id)?)
    };
    let out = out.replacen(D1, &d1, 1).replacen(D2, &d2, 1);
    let value = {
        let doc = parse(&out, &limits)?;
        let signed_info = doc
            .descendants()
            .find(|n| {
                n.tag_name().namespace() == Some(DSIG_NS)
                    && n.tag_name().name() == "SignedInfo"
                    && n.parent().and_then(|p| p.attribute("Id"))
                        == Some(&format!("{signature_id}.ds"))
            })
            .ok_or_else(|| SignError::Crypto("inserted SignedInfo not found".into()))?;
        let bytes = canonicalize(&doc, Some(signed_info), None, &C14nOptions::exclusive());
        B64.encode(signer.sign(&bytes)?)
    };
    Ok(out.replacen(SV, &value, 1))
}
