//! Reading a certificate into the facts a supplier needs (`certs show`) and the facts the
//! archive uses (organisation OID, registration number, key strength).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use x509_parser::prelude::*;

use super::{hex_colon, sha256_fingerprint};
pub use crate::identity::OrgIdSource;
use crate::identity::looks_like_org_oid;

/// Why a certificate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No PEM certificate in the file, or a broken one.
    #[error("{path}: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// DER that is not an X.509 certificate.
    #[error("not a valid X.509 certificate: {detail}")]
    Der {
        /// The parser's message.
        detail: String,
    },
}

/// Key algorithm and strength.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum KeyDescription {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus size.
        bits: usize,
    },
    /// ECDSA on a named curve.
    Ec {
        /// `P-256`, `P-384`, … or the curve OID.
        curve: String,
        /// Field size.
        bits: usize,
    },
    /// Anything else.
    Other {
        /// The algorithm OID.
        algorithm: String,
    },
}

impl std::fmt::Display for KeyDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA {bits} bits"),
            Self::Ec { curve, .. } => write!(f, "ECDSA {curve}"),
            Self::Other { algorithm } => write!(f, "unsupported key algorithm {algorithm}"),
        }
    }
}

/// What a certificate says, parsed once.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// Subject DN.
    pub subject: String,
    /// Subject attributes in order, as (short name, value).
    pub subject_attributes: Vec<(String, String)>,
    /// Raw DER of the subject name, for exact issuer matching.
    #[serde(skip)]
    pub subject_raw: Vec<u8>,
    /// Issuer DN.
    pub issuer: String,
    /// Raw DER of the issuer name.
    #[serde(skip)]
    pub issuer_raw: Vec<u8>,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// Raw serial bytes (big-endian, as encoded).
    #[serde(skip)]
    pub serial_raw: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Key algorithm and size.
    pub key: KeyDescription,
    /// The subject public key as the certificate encodes it (the SubjectPublicKeyInfo's bit
    /// string: for RSA the PKCS#1 RSAPublicKey), which a signature verifier takes.
    #[serde(skip)]
    pub public_key: Vec<u8>,
    /// Signature algorithm of the certificate, by name where known.
    pub signature_algorithm: String,
    /// Key usage bits by name; empty when the extension is absent.
    pub key_usage: Vec<String>,
    /// Whether key usage is marked critical.
    pub key_usage_critical: bool,
    /// Extended key usages by name; `None` when the extension is absent (any purpose).
    pub extended_key_usage: Option<Vec<String>>,
    /// Subject alternative names (`DNS:…`, `IP:…`, `email:…`).
    pub subject_alt_names: Vec<String>,
    /// Basic constraints CA flag.
    pub is_ca: bool,
    /// SHA-256 of the DER.
    pub sha256: String,
}

/// Short names for the attribute types that appear in Kanta DNs.
fn attribute_name(oid: &str) -> &str {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => other,
    }
}

fn name_attributes(name: &X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes()
        .map(|a| {
            let oid = a.attr_type().to_id_string();
            let value = a
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| format!("#{}", hex_colon(a.attr_value().data)));
            (attribute_name(&oid).to_owned(), value)
        })
        .collect()
}

fn dn_string(attrs: &[(String, String)]) -> String {
    attrs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn asn1_time(t: ASN1Time) -> OffsetDateTime {
    // ASN1Time holds an OffsetDateTime internally; its timestamp always converts back.
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn signature_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512".into(),
        other => other.to_owned(),
    }
}

impl CertInfo {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, InspectError> {
        // The same few certificates arrive with every connection and every signed document
        // (a system's signing certificate, its CA); reading one is dozens of microseconds of
        // DER and name formatting. Reading is a function of the bytes, so a reading is kept
        // by the bytes' SHA-256; only successes.
        static PARSED: super::Memo<[u8; 32], CertInfo> = super::Memo::new(1024);
        let key: [u8; 32] = {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
            let mut k = [0u8; 32];
            k.copy_from_slice(d.as_ref());
            k
        };
        if let Some(info) = PARSED.get(&key) {
            return Ok(info);
        }
        let info = Self::read_der(der)?;
        PARSED.insert(key, info.clone());
        Ok(info)
    }

    fn read_der(der: &[u8]) -> Result<Self, InspectError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| InspectError::Der {
            detail: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(InspectError::Der {
                detail: format!(
                    "{} bytes of trailing data after the certificate",
                    rest.len()
                ),
            });
        }
        let subject_attributes = name_attributes(cert.subject());
        let issuer_attributes = name_attributes(cert.issuer());
        let spki = cert.public_key();
        let key = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => KeyDescription::Rsa {
                bits: rsa.key_size(),
            },
            Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
                let curve_oid = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                let curve = match curve_oid.as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_owned(),
                    "1.3.132.0.34" => "P-384".to_owned(),
                    "1.3.132.0.35" => "P-521".to_owned(),
                    other => other.to_owned(),
                };
                KeyDescription::Ec {
                    curve,
                    bits: ec.key_size(),
                }
            }
            _ => KeyDescription::Other {
                algorithm: spki.algorithm.algorithm.to_id_string(),
            },
        };
        let (key_usage, key_usage_critical) = match cert.key_usage() {
            Ok(Some(ku)) => {
                let v = ku.value;
                let names = [
                    (v.digital_signature(), "digitalSignature"),
                    (v.non_repudiation(), "nonRepudiation"),
                    (v.key_encipherment(), "keyEncipherment"),
                    (v.data_encipherment(), "dataEncipherment"),
                    (v.key_agreement(), "keyAgreement"),
                    (v.key_cert_sign(), "keyCertSign"),
                    (v.crl_sign(), "cRLSign"),
                ];
                (
                    names
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, n)| (*n).to_owned())
                        .collect(),
                    ku.critical,
                )
            }
            _ => (Vec::new(), false),
        };
        let extended_key_usage = match cert.extended_key_usage() {
            Ok(Some(eku)) => {
                let e = eku.value;
                let mut v: Vec<String> = [
                    (e.any, "anyExtendedKeyUsage"),
                    (e.server_auth, "serverAuth"),
                    (e.client_auth, "clientAuth"),
                    (e.code_signing, "codeSigning"),
                    (e.email_protection, "emailProtection"),
                    (e.time_stamping, "timeStamping"),
                    (e.ocsp_signing, "OCSPSigning"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| (*n).to_owned())
                .collect();
                v.extend(e.other.iter().map(|o| o.to_id_string()));
                Some(v)
            }
            _ => None,
        };
        let subject_alt_names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .map(|g| match g {
                    GeneralName::DNSName(d) => format!("DNS:{d}"),
                    GeneralName::RFC822Name(m) => format!("email:{m}"),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .map(|a| format!("IP:{}", IpAddr::from(a)))
                            .unwrap_or_default(),
                        16 => <[u8; 16]>::try_from(*b)
                            .map(|a| format!("IP:{}", IpAddr::from(a)))
                            .unwrap_or_default(),
                        _ => format!("IP:{}", hex_colon(b)),
                    },
                    other => format!("{other:?}"),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            subject: dn_string(&subject_attributes),
            subject_raw: cert.subject().as_raw().to_vec(),
            subject_attributes,
            issuer: dn_string(&issuer_attributes),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            serial: hex_colon(cert.raw_serial()),
            serial_raw: cert.raw_serial().to_vec(),
            not_before: asn1_time(cert.validity().not_before),
            not_after: asn1_time(cert.validity().not_after),
            key,
            public_key: spki.subject_public_key.data.to_vec(),
            signature_algorithm: signature_algorithm_name(
                &cert.signature_algorithm.algorithm.to_id_string(),
            ),
            key_usage,
            key_usage_critical,
            extended_key_usage,
            subject_alt_names,
            is_ca: cert.is_ca(),
            sha256: sha256_fingerprint(der),
        })
    }

    /// Values of one subject attribute (`CN`, `serialNumber`, …).
    pub fn subject_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.subject_attributes
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The organisation OID, looked for in `sources` in order; returns where it was found.
    pub fn organisation_oid(&self, sources: &[OrgIdSource]) -> Option<(String, OrgIdSource)> {
        sources.iter().find_map(|src| {
            let attr = match src {
                OrgIdSource::SerialNumber => "serialNumber",
                OrgIdSource::OrganisationalUnit => "OU",
                OrgIdSource::Organisation => "O",
            };
            self.subject_values(attr).find_map(|v| {
                v.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                    .find(|t| looks_like_org_oid(t))
                    .map(|t| (t.to_owned(), *src))
            })
        })
    }

    /// A Valvira-style registration number: an all-digit subject `serialNumber`.
    pub fn registration_number(&self) -> Option<&str> {
        self.subject_values("serialNumber")
            .find(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Whether the certificate is valid at `at`.
    pub fn valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// The readable description printed by `certs show`.
    pub fn describe(&self) -> String {
        let rfc = |t: &OffsetDateTime| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        let mut s = String::new();
        let _ = writeln!(s, "Subject:        {}", self.subject);
        for (k, v) in &self.subject_attributes {
            let _ = writeln!(s, "  {k:<14}{v}");
        }
        let _ = writeln!(s, "Issuer:         {}", self.issuer);
        let _ = writeln!(s, "Serial:         {}", self.serial);
        let _ = writeln!(
            s,
            "Valid:          {} → {}",
            rfc(&self.not_before),
            rfc(&self.not_after)
        );
        let days = (self.not_after - self.not_before).whole_days();
        let _ = writeln!(s, "Lifetime:       {days} days");
        let _ = writeln!(s, "Key:            {}", self.key);
        let _ = writeln!(s, "Signature:      {}", self.signature_algorithm);
        let _ = writeln!(
            s,
            "Key usage:      {}{}",
            if self.key_usage.is_empty() {
                "(none)".to_owned()
            } else {
                self.key_usage.join(", ")
            },
            if self.key_usage_critical {
                " (critical)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "Ext. key usage: {}",
            self.extended_key_usage
                .as_ref()
                .map(|v| v.join(", "))
                .unwrap_or_else(|| "(absent: any purpose)".into())
        );
        let _ = writeln!(
            s,
            "SAN:            {}",
            if self.subject_alt_names.is_empty() {
                "(none)".to_owned()
            } else {
                self.subject_alt_names.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "CA:             {}",
            if self.is_ca { "yes" } else { "no" }
        );
        let _ = writeln!(s, "SHA-256:        {}", self.sha256);
        s
    }
}

/// Every certificate in a PEM file, in order.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, InspectError> {
    let bytes = std::fs::read(path).map_err(|source| InspectError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InspectError::Pem {
            path: path.to_owned(),
            detail: format!("unreadable PEM: {e}"),
        })?;
    if certs.is_empty() {
        // A bare DER file is accepted too: DVV delivers both forms.
        if X509Certificate::from_der(&bytes).is_ok() {
            return Ok(vec![CertificateDer::from(bytes)]);
        }
        return Err(InspectError::Pem {
            path: path.to_owned(),
            detail: "no CERTIFICATE block found (neither PEM nor DER)".into(),
        });
    }
    Ok(certs)
}
