use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;

use crate::pki::{CertProblem, Purpose, TrustStore};

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerMode {
    /// Mirrors Kanta: a certificate with any fatal problem ends the handshake.
    Strict,
    /// Accepts any certificate whose key the client proves it holds (or none), then says
    /// what the strict listener would have said.
    Diagnostic,
}

impl ListenerMode {
    /// `strict` / `diagnostic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Diagnostic => "diagnostic",
        }
    }
}

/// What the verifier concluded about the client's certificate chain.
#[derive(Debug, Clone, Default)]
pub struct CertVerdict {
    /// The chain as presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf as parsed while judging it (absent when none was sent or it does not
    /// parse): the peer is identified from it without parsing it again.
    pub leaf: Option<crate::pki::CertInfo>,
    /// Every problem found (empty = acceptable).
    pub problems: Vec<CertProblem>,
}

impl CertVerdict {
    /// Whether the strict listener refuses this chain.
    pub fn refused(&self) -> bool {
        self.problems.iter().any(CertProblem::is_fatal)
    }
}

/// Where one connection's verifier leaves its verdict.
pub type VerdictSlot = Arc<Mutex<Option<CertVerdict>>>;

/// A client-certificate verifier that decides with webpki and explains with
/// [`TrustStore::assess`], recording the explanation for the accept loop.
#[derive(Debug)]
pub struct RecordingVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
    trust: Arc<TrustStore>,
    mode: ListenerMode,
    slot: VerdictSlot,
}

impl RecordingVerifier {
    /// A verifier for one connection.
    pub fn new(
        webpki: Arc<dyn ClientCertVerifier>,
        trust: Arc<TrustStore>,
        mode: ListenerMode,
        slot: VerdictSlot,
    ) -> Self {
        Self {
            webpki,
            trust,
            mode,
            slot,
        }
    }
}

fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap_or(0),
    ))
}

/// The rustls error (and so the TLS alert) that best fits a problem.
fn to_rustls(problem: &CertProblem) -> Error {
    let e = match problem {
        CertProblem::Expired { not_after, at, .. } => CertificateError::ExpiredContext {
            time: unix(*at),
            not_after: unix(*not_after),
        },
        CertProblem::NotYetValid { not_before, at, .. } => CertificateError::NotValidYetContext {
            time: unix(*at),
            not_before: unix(*not_before),
        },
        CertProblem::Revoked { .. } => CertificateError::Revoked,
        CertProblem::UnknownIssuer { .. }
        | CertProblem::UntrustedRoot { .. }
        | CertProblem::IncompleteChain { .. } => CertificateError::UnknownIssuer,
        CertProblem::BadSignature { .. } => CertificateError::BadSignature,
        CertProblem::WrongExtendedKeyUsage { .. } | CertProblem::WrongKeyUsage { .. } => {
            CertificateError::InvalidPurpose
        }
        CertProblem::Unparseable { .. } => CertificateError::BadEncoding,
        CertProblem::NoCertificate => return Error::NoCertificatesPresented,
        other => CertificateError::Other(OtherError(Arc::new(other.clone()))),
    };
    Error::InvalidCertificate(e)
}

impl ClientCertVerifier for RecordingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // The diagnostic listener also serves clients that send no certificate, to tell them so.
        self.mode == ListenerMode::Strict
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match self.mode {
            ListenerMode::Strict => self.webpki.root_hint_subjects(),
            ListenerMode::Diagnostic => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let at =
            OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let chain: Vec<CertificateDer<'static>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        let (leaf, mut problems) = self
            .trust
            .assess_leaf(&chain, at, Purpose::ClientAuth, true);
        let webpki = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now);
        if let Err(e) = &webpki
            && !problems.iter().any(CertProblem::is_fatal)
        {
            // webpki saw something our explanation missed: never accept on our word alone.
            problems.push(CertProblem::PathValidation {
                detail: e.to_string(),
            });
        }
        let verdict = CertVerdict {
            chain,
            leaf,
            problems,
        };
        let first_fatal = verdict.problems.iter().find(|p| p.is_fatal()).cloned();
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        match (self.mode, first_fatal) {
            (ListenerMode::Strict, Some(problem)) => Err(match problem {
                CertProblem::PathValidation { .. } => {
                    webpki.err().unwrap_or_else(|| to_rustls(&problem))
                }
                p => to_rustls(&p),
            }),
            _ => Ok(ClientCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
