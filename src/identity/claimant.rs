//! Who an authenticated client says it is, as plain data: the transport fills it in from
//! the client certificate (`tls::Peer`) and the access rules read it, so the rules need not
//! know TLS.

use serde::Serialize;

/// How the organisation was identified from the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgIdentity {
    /// The OID found.
    pub oid: String,
    /// Where: `subject.serialNumber`, `subject.OU`, `subject.O` or `fingerprint_map`.
    pub source: String,
}

/// What a client certificate claims: its subject (for messages) and the organisation it
/// names, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimant<'a> {
    /// Certificate subject (empty when no certificate was sent).
    pub subject: &'a str,
    /// The organisation, when the certificate names one.
    pub organisation: Option<&'a OrgIdentity>,
}
