use rustls_pki_types::CertificateDer;
use serde::Serialize;

use crate::config::IdentityConfig;
use crate::pki::{CertInfo, OrgIdSource};

/// How the organisation was identified from the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgIdentity {
    /// The OID found.
    pub oid: String,
    /// Where: `subject.serialNumber`, `subject.OU`, `subject.O` or `fingerprint_map`.
    pub source: String,
}

/// The authenticated client of one connection.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// Socket address.
    pub addr: String,
    /// The leaf certificate, parsed (absent when none was sent: diagnostic listener only).
    pub cert: Option<CertInfo>,
    /// The organisation, when the certificate names one.
    pub organisation: Option<OrgIdentity>,
    /// Negotiated TLS version.
    pub tls_version: String,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
}

impl Peer {
    /// Identifies the peer from its presented chain.
    pub fn identify(
        addr: String,
        chain: Option<&[CertificateDer<'static>]>,
        identity: &IdentityConfig,
        tls_version: String,
        alpn: Option<String>,
    ) -> Self {
        let cert = chain
            .and_then(|c| c.first())
            .and_then(|d| CertInfo::from_der(d).ok());
        let organisation = cert.as_ref().and_then(|c| {
            identity
                .fingerprint_map
                .iter()
                .find(|(fp, _)| fp.eq_ignore_ascii_case(&c.sha256))
                .map(|(_, oid)| OrgIdentity {
                    oid: oid.clone(),
                    source: "fingerprint_map".into(),
                })
                .or_else(|| {
                    c.organisation_oid(&identity.org_oid_sources)
                        .map(|(oid, src)| OrgIdentity {
                            oid,
                            source: match src {
                                OrgIdSource::SerialNumber => "subject.serialNumber",
                                OrgIdSource::OrganisationalUnit => "subject.OU",
                                OrgIdSource::Organisation => "subject.O",
                            }
                            .into(),
                        })
                })
        });
        Self {
            addr,
            cert,
            organisation,
            tls_version,
            alpn,
        }
    }
}
