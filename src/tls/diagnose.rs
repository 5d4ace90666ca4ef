use crate::finding::RuleId;
use serde::Serialize;

use super::verifier::CertVerdict;
use crate::pki::CertProblem;

/// Why a handshake failed, precisely enough to act on. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HandshakeProblem {
    /// The client certificate was refused.
    #[error("{0}")]
    Certificate(CertProblem),
    /// The client offered no TLS version the archive accepts.
    #[error(
        "protocol version: the client offered no TLS version the archive accepts (TLS 1.2 and 1.3 only): {detail}"
    )]
    ProtocolVersion {
        /// rustls's account.
        detail: String,
    },
    /// The client offered nothing else the archive can use (cipher suites, groups, signature schemes).
    #[error("incompatible client: {detail}")]
    Incompatible {
        /// rustls's account.
        detail: String,
    },
    /// The bytes were not TLS (e.g. plain HTTP sent to the TLS port).
    #[error("not TLS: {detail} (was plain HTTP sent to the TLS port? use https://)")]
    NotTls {
        /// rustls's account.
        detail: String,
    },
    /// The client ended the handshake with an alert.
    #[error("the client aborted the handshake with alert {alert}{hint}")]
    ClientAlert {
        /// The alert description.
        alert: String,
        /// A likely cause.
        hint: String,
    },
    /// The client proved no possession of the certificate's key.
    #[error(
        "bad handshake signature: the client's CertificateVerify does not verify with its certificate's key ({detail})"
    )]
    BadHandshakeSignature {
        /// rustls's account.
        detail: String,
    },
    /// Too slow.
    #[error("handshake not completed within {seconds} s")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
    /// The connection went away mid-handshake.
    #[error("connection closed during the handshake: {detail}")]
    Closed {
        /// The I/O error.
        detail: String,
    },
}

impl HandshakeProblem {
    /// The stable code.
    pub fn code(&self) -> RuleId {
        match self {
            Self::Certificate(p) => p.code(),
            Self::ProtocolVersion { .. } => RuleId::T010,
            Self::NotTls { .. } => RuleId::T011,
            Self::ClientAlert { .. } => RuleId::T012,
            Self::Timeout { .. } => RuleId::T014,
            Self::Closed { .. } => RuleId::T017,
            Self::Incompatible { .. } => RuleId::T018,
            Self::BadHandshakeSignature { .. } => RuleId::T019,
        }
    }
}

/// The TLS versions a ClientHello offers, read from the first bytes of a connection:
/// the `supported_versions` extension when present, else the legacy `client_version`.
/// `None` when the bytes are not (a complete) ClientHello.
pub fn offered_tls_versions(bytes: &[u8]) -> Option<Vec<u16>> {
    fn u16_at(b: &[u8], i: usize) -> Option<usize> {
        Some(usize::from(*b.get(i)?) << 8 | usize::from(*b.get(i + 1)?))
    }
    // Record header: type 22 (handshake), version, length; then handshake type 1.
    if bytes.first() != Some(&0x16) || bytes.get(5) != Some(&0x01) {
        return None;
    }
    let hello = bytes.get(9..)?;
    let legacy = u16::try_from(u16_at(hello, 0)?).ok()?;
    let mut i = 2 + 32;
    i += 1 + usize::from(*hello.get(i)?); // session id
    i += 2 + u16_at(hello, i)?; // cipher suites
    i += 1 + usize::from(*hello.get(i)?); // compression methods
    if i > hello.len() {
        return None;
    }
    let Some(ext_len) = u16_at(hello, i) else {
        return Some(vec![legacy]); // no extensions at all: an old client
    };
    let end = i + 2 + ext_len;
    if end > hello.len() {
        return None;
    }
    i += 2;
    while i + 4 <= end {
        let ty = u16_at(hello, i)?;
        let len = u16_at(hello, i + 2)?;
        if ty == 0x002b {
            let list = hello.get(i + 5..i + 5 + usize::from(*hello.get(i + 4)?))?;
            return Some(
                list.chunks_exact(2)
                    .map(|c| u16::from(c[0]) << 8 | u16::from(c[1]))
                    .collect(),
            );
        }
        i += 4 + len;
    }
    Some(vec![legacy])
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// GREASE values (RFC 8701) are noise, never a real version.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a
}

/// Turns a failed handshake into its reasons: the verifier's recorded verdict where it
/// refused the certificate; a version problem where the ClientHello (`offered`, from
/// [`offered_tls_versions`]) offered nothing from TLS 1.2 up; otherwise what rustls
/// reported.
pub fn classify_handshake_error(
    err: &std::io::Error,
    verdict: Option<&CertVerdict>,
    offered: Option<&[u16]>,
) -> Vec<HandshakeProblem> {
    if let Some(v) = verdict
        && v.refused()
    {
        return v
            .problems
            .iter()
            .cloned()
            .map(HandshakeProblem::Certificate)
            .collect();
    }
    // rustls checks other extensions before versions, so an old client would otherwise be
    // told about signature algorithms instead of its real problem.
    if let Some(versions) = offered {
        let real: Vec<u16> = versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .collect();
        if !real.is_empty() && real.iter().all(|v| *v < 0x0303) {
            let names: Vec<String> = real.iter().map(|v| version_name(*v)).collect();
            return vec![HandshakeProblem::ProtocolVersion {
                detail: format!("the client offered {}", names.join(", ")),
            }];
        }
    }
    let rustls_err = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let Some(e) = rustls_err else {
        return vec![HandshakeProblem::Closed {
            detail: err.to_string(),
        }];
    };
    let mut problems = match e {
        rustls::Error::NoCertificatesPresented => {
            vec![HandshakeProblem::Certificate(CertProblem::NoCertificate)]
        }
        rustls::Error::PeerIncompatible(p) => {
            let detail = format!("{p:?}");
            if detail.contains("Tls12") || detail.contains("Version") {
                vec![HandshakeProblem::ProtocolVersion { detail }]
            } else {
                vec![HandshakeProblem::Incompatible { detail }]
            }
        }
        rustls::Error::InvalidMessage(m) => vec![HandshakeProblem::NotTls {
            detail: format!("{m:?}"),
        }],
        rustls::Error::InappropriateHandshakeMessage { .. }
        | rustls::Error::InappropriateMessage { .. } => {
            vec![HandshakeProblem::NotTls {
                detail: e.to_string(),
            }]
        }
        rustls::Error::AlertReceived(alert) => {
            let hint = match alert {
                rustls::AlertDescription::UnknownCA | rustls::AlertDescription::BadCertificate => {
                    "; the client does not trust the archive's server certificate: give it the kit's root-ca.pem as CA"
                }
                rustls::AlertDescription::CertificateExpired => {
                    "; the client finds the archive's server certificate expired"
                }
                _ => "",
            };
            vec![HandshakeProblem::ClientAlert {
                alert: format!("{alert:?}"),
                hint: hint.to_owned(),
            }]
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
        | rustls::Error::PeerMisbehaved(_) => {
            vec![HandshakeProblem::BadHandshakeSignature {
                detail: e.to_string(),
            }]
        }
        rustls::Error::InvalidCertificate(c) => {
            vec![HandshakeProblem::Certificate(CertProblem::PathValidation {
                detail: format!("{c:?}"),
            })]
        }
        other => vec![HandshakeProblem::Closed {
            detail: other.to_string(),
        }],
    };
    // A verdict that did not refuse may still carry warnings worth keeping next to the failure.
    if let Some(v) = verdict {
        problems.extend(
            v.problems
                .iter()
                .cloned()
                .map(HandshakeProblem::Certificate),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn recorded_verdict_wins() {
        let v = CertVerdict {
            chain: vec![],
            leaf: None,
            problems: vec![CertProblem::WeakKey {
                subject: "CN=x".into(),
                key: "RSA 1024 bits".into(),
                minimum_rsa_bits: 2048,
            }],
        };
        let p = classify_handshake_error(&io(rustls::Error::General("x".into())), Some(&v), None);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code(), "T-007");
        assert!(p[0].to_string().contains("RSA 1024 bits"));
    }

    #[test]
    fn rustls_errors_map_to_codes() {
        let code = |e| classify_handshake_error(&io(e), None, None)[0].code();
        assert_eq!(code(rustls::Error::NoCertificatesPresented), "T-001");
        assert_eq!(
            code(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::Tls12NotOffered
            )),
            "T-010"
        );
        assert_eq!(
            code(rustls::Error::AlertReceived(
                rustls::AlertDescription::UnknownCA
            )),
            "T-012"
        );
        let closed = classify_handshake_error(
            &std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            None,
            None,
        );
        assert_eq!(closed[0].code(), "T-017");
    }

    fn hello(version: [u8; 2], extensions: &[u8]) -> Vec<u8> {
        let mut body = version.to_vec();
        body.extend([7u8; 32]);
        body.push(0);
        body.extend([0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
        if !extensions.is_empty() {
            body.extend(u16::try_from(extensions.len()).unwrap().to_be_bytes());
            body.extend(extensions);
        }
        let mut hs = vec![0x01, 0x00];
        hs.extend(u16::try_from(body.len()).unwrap().to_be_bytes());
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend(u16::try_from(hs.len()).unwrap().to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn offered_versions_are_read_from_the_client_hello() {
        assert_eq!(
            offered_tls_versions(&hello([3, 2], &[])),
            Some(vec![0x0302])
        );
        // server_name (empty), then supported_versions [GREASE, 1.3, 1.2]
        let ext = [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x07, 0x06, 0x1a, 0x1a, 0x03, 0x04, 0x03,
            0x03,
        ];
        let full = hello([3, 3], &ext);
        assert_eq!(
            offered_tls_versions(&full),
            Some(vec![0x1a1a, 0x0304, 0x0303])
        );
        assert_eq!(offered_tls_versions(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(offered_tls_versions(&full[..60]), None);
        let general = || io(rustls::Error::General("x".into()));
        let p = classify_handshake_error(&general(), None, Some(&[0x0301, 0x0302]));
        assert_eq!(p[0].code(), "T-010");
        assert!(p[0].to_string().contains("TLS 1.0, TLS 1.1"), "{}", p[0]);
        let p = classify_handshake_error(&general(), None, Some(&[0x1a1a, 0x0303]));
        assert_ne!(p[0].code(), "T-010");
    }
}
