use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::verifier::{ListenerMode, RecordingVerifier, VerdictSlot};
use crate::config::Config;
use crate::identity::{RegisterError, SoteRegister};
use crate::pki::{Index, IndexError, TrustError, TrustStore, read_pem_certs};

/// The one crypto provider of the build.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Why the server cannot start. Every variant names the file and the problem; all map to
/// exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The certificate kit's index is missing or broken.
    #[error("{0} (run `kanta-sim certs init --out DIR` and pass --certs DIR)")]
    Index(#[from] IndexError),
    /// A file named by the configuration does not exist.
    #[error("{what} {path} does not exist")]
    Missing {
        /// What the file is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// A PEM file cannot be read.
    #[error("{what} {path}: {detail}")]
    Pem {
        /// What the file is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The key is not the certificate's.
    #[error("server key {key} does not match the certificate {cert}: {detail}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's message.
        detail: String,
    },
    /// Trust material problem.
    #[error("trust material: {0}")]
    Trust(#[from] TrustError),
    /// No trust anchor at all.
    #[error(
        "no trust anchor configured: the kit's root is disabled (tls.trust_kit_root = false) and tls.extra_trust_anchors is empty"
    )]
    NoTrustAnchor,
    /// The register cannot be used.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// rustls refused a trust anchor.
    #[error("TLS configuration: trust anchor rejected: {0}")]
    Anchor(#[source] rustls::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("TLS configuration: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Everything the listeners need, loaded and checked once at start-up.
pub struct ServerMaterial {
    /// The archive's certificate and key.
    pub certified_key: Arc<CertifiedKey>,
    /// Anchors, intermediates and CRLs.
    pub trust: Arc<TrustStore>,
    /// The authoritative path validator (webpki), built over the same anchors and CRLs.
    pub webpki: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    /// The organisation register.
    pub register: Arc<SoteRegister>,
    /// TLS versions enabled.
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// The kit's alternate server certificates by role (`server:expired`,
    /// `server:revoked`), which a fault plan can serve in place of the real one.
    pub alternates: std::collections::BTreeMap<String, Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ServerMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMaterial")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

fn exists(what: &'static str, path: &Path) -> Result<PathBuf, StartupError> {
    if path.is_file() {
        Ok(path.to_owned())
    } else {
        Err(StartupError::Missing {
            what,
            path: path.to_owned(),
        })
    }
}

impl ServerMaterial {
    /// Loads certificates, keys, trust material and the register named by `cfg`.
    pub fn load(cfg: &Config) -> Result<Self, StartupError> {
        let dir = &cfg.tls.certs_dir;
        let index = match (&cfg.tls.server_cert, cfg.tls.trust_kit_root) {
            (Some(_), false) => None,
            _ => Some(Index::load(dir)?),
        };
        let (cert_path, key_path) = match (&cfg.tls.server_cert, &cfg.tls.server_key) {
            (Some(c), Some(k)) => (exists("server certificate", c)?, exists("server key", k)?),
            _ => {
                let idx = index.as_ref().ok_or(StartupError::NoTrustAnchor)?;
                let a = idx.require(dir, "server")?;
                let key = a.key.as_ref().ok_or_else(|| StartupError::Pem {
                    what: "server key",
                    path: dir.join(crate::pki::INDEX_JSON),
                    detail: "the index lists no key for role \"server\"".into(),
                })?;
                (
                    exists("server certificate", &dir.join(&a.cert))?,
                    exists("server key", &dir.join(key))?,
                )
            }
        };
        let chain = read_pem_certs(&cert_path).map_err(|e| StartupError::Pem {
            what: "server certificate",
            path: cert_path.clone(),
            detail: e.to_string(),
        })?;
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| StartupError::Pem {
            what: "server key",
            path: key_path.clone(),
            detail: format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM expected): {e}"),
        })?;
        let provider = provider();
        let certified_key = CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
            StartupError::KeyMismatch {
                cert: cert_path.clone(),
                key: key_path.clone(),
                detail: e.to_string(),
            }
        })?;

        // Alternates come from the kit only; a configured server certificate has none.
        let mut alternates = std::collections::BTreeMap::new();
        if cfg.tls.server_cert.is_none()
            && let Some(idx) = &index
        {
            for role in ALTERNATE_SERVER_ROLES {
                if let Ok(a) = idx.require(dir, role)
                    && let Some(k) = &a.key
                {
                    let chain =
                        read_pem_certs(&dir.join(&a.cert)).map_err(|e| StartupError::Pem {
                            what: "alternate server certificate",
                            path: dir.join(&a.cert),
                            detail: e.to_string(),
                        })?;
                    let key = PrivateKeyDer::from_pem_file(dir.join(k)).map_err(|e| {
                        StartupError::Pem {
                            what: "alternate server key",
                            path: dir.join(k),
                            detail: e.to_string(),
                        }
                    })?;
                    let ck = CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
                        StartupError::KeyMismatch {
                            cert: dir.join(&a.cert),
                            key: dir.join(k),
                            detail: e.to_string(),
                        }
                    })?;
                    alternates.insert((*role).to_owned(), Arc::new(ck));
                }
            }
        }

        let mut anchors = Vec::new();
        let mut intermediates = Vec::new();
        let mut crls = Vec::new();
        if let Some(idx) = &index {
            let files = idx.trust_files(dir);
            if cfg.tls.trust_kit_root {
                idx.require(dir, "root-ca")?;
                for p in &files.anchors {
                    anchors.push(exists("trust anchor", p)?);
                }
            }
            for p in &files.intermediates {
                intermediates.push(exists("intermediate CA", p)?);
            }
            for p in &files.crls {
                crls.push(exists("CRL", p)?);
            }
        }
        for p in &cfg.tls.extra_trust_anchors {
            anchors.push(exists("trust anchor", p)?);
        }
        for p in &cfg.tls.extra_intermediates {
            intermediates.push(exists("intermediate CA", p)?);
        }
        for p in &cfg.tls.extra_crls {
            crls.push(exists("CRL", p)?);
        }
        if anchors.is_empty() {
            return Err(StartupError::NoTrustAnchor);
        }
        let mut trust = TrustStore::load(&anchors, &intermediates, &crls)?;
        trust.min_rsa_bits = cfg.tls.min_rsa_bits;

        let mut roots = RootCertStore::empty();
        for der in trust.anchor_ders() {
            roots.add(der.clone()).map_err(StartupError::Anchor)?;
        }
        let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(trust.crl_ders().iter().cloned())
            // Only the leaf's issuer publishes a CRL in the kit; real DVV roots added by
            // users come without CRLs, so an unknown status is not a refusal.
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status()
            .build()?;

        let register = match &cfg.register.file {
            Some(p) => SoteRegister::load(p)?,
            None => SoteRegister::bundled()?,
        };
        let versions = cfg
            .tls
            .versions
            .iter()
            .map(|v| {
                if v == "1.3" {
                    &rustls::version::TLS13
                } else {
                    &rustls::version::TLS12
                }
            })
            .collect();
        Ok(Self {
            certified_key: Arc::new(certified_key),
            trust: Arc::new(trust),
            webpki,
            register: Arc::new(register),
            versions,
            alternates,
        })
    }

    /// Why `roles` (alternate server certificates a fault plan wants to serve) cannot be
    /// served: the first missing one, with what to do.
    pub fn missing_alternate<'a>(
        &self,
        mut roles: impl Iterator<Item = &'a str>,
    ) -> Option<String> {
        roles.find(|r| !self.alternates.contains_key(*r)).map(|r| {
            format!(
                "the certificate kit has no {r} certificate (older kits lack it, and a configured tls.server_cert has no alternates); regenerate the kit with `kanta-sim certs generate --force`"
            )
        })
    }

    /// A server configuration for one connection: its verifier records the verdict on the
    /// client's certificate into `slot`, so the accept loop can log the precise reason next
    /// to the peer address.
    pub fn server_config(
        &self,
        mode: ListenerMode,
        slot: VerdictSlot,
    ) -> Result<Arc<ServerConfig>, StartupError> {
        self.server_config_as(mode, slot, None)
    }

    /// As [`Self::server_config`], serving the alternate server certificate `role` when one
    /// is given and the kit has it (a fault plan's certificate faults).
    pub fn server_config_as(
        &self,
        mode: ListenerMode,
        slot: VerdictSlot,
        role: Option<&str>,
    ) -> Result<Arc<ServerConfig>, StartupError> {
        let verifier = RecordingVerifier::new(self.webpki.clone(), self.trust.clone(), mode, slot);
        let key = role
            .and_then(|r| self.alternates.get(r))
            .unwrap_or(&self.certified_key);
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&self.versions)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
                (**key).clone(),
            )));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The kit's alternate server certificates a fault plan can serve.
pub const ALTERNATE_SERVER_ROLES: &[&str] = &["server:expired", "server:revoked"];

/// Reads a PEM certificate chain for a TLS client (used by the demo and tests).
pub fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, StartupError> {
    read_pem_certs(path).map_err(|e| StartupError::Pem {
        what: "certificate",
        path: path.to_owned(),
        detail: e.to_string(),
    })
}
