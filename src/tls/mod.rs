//! Mutual TLS at the archive's endpoint: server configuration (rustls with the aws-lc-rs
//! provider, the only crypto provider in the build), client-certificate verification that
//! records *why* it refuses, handshake diagnostics and the peer's identity.

mod diagnose;
mod material;
mod peer;
mod verifier;

pub use diagnose::{HandshakeProblem, classify_handshake_error, offered_tls_versions};
pub use material::{ServerMaterial, StartupError, load_chain, provider};
pub use peer::{OrgIdentity, Peer};
pub use verifier::{CertVerdict, ListenerMode, RecordingVerifier, VerdictSlot};
