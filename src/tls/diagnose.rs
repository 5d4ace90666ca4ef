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
    pub fn code(&self) -> &'static str {
        match self {
            Self::Certificate(p) => p.code(),
            Self::ProtocolVersion { .. } => "T-010",
            Self::NotTls { .. } => "T-011",
            Self::ClientAlert { .. } => "T-012",
            Self::Timeout { .. } => "T-014",
            Self::Closed { .. } => "T-017",
            Self::Incompatible { .. } => "T-018",
            Self::BadHandshakeSignature { .. } => "T-019",
        }
    }
}

/// Turns a failed handshake into its reasons: the verifier's recorded verdict where it
/// refused the certificate, otherwise what rustls reported.
pub fn classify_handshake_error(
    err: &std::io::Error,
    verdict: Option<&CertVerdict>,
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
            problems: vec![CertProblem::WeakKey {
                subject: "CN=x".into(),
                key: "RSA 1024 bits".into(),
                minimum_rsa_bits: 2048,
            }],
        };
        let p = classify_handshake_error(&io(rustls::Error::General("x".into())), Some(&v));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code(), "T-007");
        assert!(p[0].to_string().contains("RSA 1024 bits"));
    }

    #[test]
    fn rustls_errors_map_to_codes() {
        let code = |e| classify_handshake_error(&io(e), None)[0].code();
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
        );
        assert_eq!(closed[0].code(), "T-017");
    }
}
