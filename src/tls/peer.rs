use serde::Serialize;

use crate::config::IdentityConfig;
use crate::identity::Claimant;
pub use crate::identity::OrgIdentity;
use crate::pki::{CertInfo, OrgIdSource};

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
    /// Identifies the peer from its leaf certificate, as the verifier parsed it.
    pub fn identify(
        addr: String,
        cert: Option<CertInfo>,
        identity: &IdentityConfig,
        tls_version: String,
        alpn: Option<String>,
    ) -> Self {
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

    /// What its certificate claims, for the access rules.
    pub fn claimant(&self) -> Claimant<'_> {
        Claimant {
            subject: self.cert.as_ref().map_or("", |c| c.subject.as_str()),
            organisation: self.organisation.as_ref(),
        }
    }
}
