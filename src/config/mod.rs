//! One typed configuration with an embedded, commented default (`default.toml`). A user
//! file is laid over the default key by key, so it names only what it changes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::{OrgIdSource, Pool};

/// The built-in configuration, with every key documented.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Why a configuration cannot be used. All map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("config {origin}: {source}")]
    Parse {
        /// The file (or `built-in default`).
        origin: String,
        /// What the parser said, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// A value of the right type that cannot be used.
    #[error("config {origin}: {key} = {value:?}: {problem}")]
    Invalid {
        /// The file.
        origin: String,
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong.
        problem: String,
    },
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Strict listener address.
    pub listen: SocketAddr,
    /// Diagnostic listener address.
    pub diagnostic_listen: Option<SocketAddr>,
    /// Handshake timeout.
    pub handshake_timeout_secs: u64,
    /// Header read timeout.
    pub header_timeout_secs: u64,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Ready file.
    pub ready_file: Option<PathBuf>,
    /// Seconds a request body may take to arrive in full.
    pub body_timeout_secs: u64,
    /// Seconds without a byte of the body before it is cut.
    pub body_idle_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in progress.
    pub idle_timeout_secs: u64,
    /// Most connections open at once per listener.
    pub max_connections: usize,
    /// Most requests processed at once (0: twice the number of cores).
    pub max_concurrent_requests: usize,
    /// Memory all requests may hold at once: bodies while they arrive, working sets while
    /// they are judged.
    pub request_memory_bytes: usize,
    /// How long a request waits for a processing slot or body budget before 503.
    pub busy_wait_ms: u64,
    /// Messages up to this size are judged on the connection's own thread (0: every message
    /// on the blocking pool).
    pub inline_judging_bytes: usize,
    /// `Retry-After` of a 503, in seconds.
    pub retry_after_secs: u64,
    /// Seconds to finish in-flight work after SIGTERM/Ctrl-C.
    pub shutdown_grace_secs: u64,
}

/// `[tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Kit directory.
    pub certs_dir: PathBuf,
    /// Explicit server chain.
    pub server_cert: Option<PathBuf>,
    /// Explicit server key.
    pub server_key: Option<PathBuf>,
    /// Extra anchors.
    pub extra_trust_anchors: Vec<PathBuf>,
    /// Extra intermediates.
    pub extra_intermediates: Vec<PathBuf>,
    /// Extra CRLs.
    pub extra_crls: Vec<PathBuf>,
    /// Trust the kit's root.
    pub trust_kit_root: bool,
    /// RSA minimum.
    pub min_rsa_bits: usize,
    /// TLS versions, `"1.2"` and/or `"1.3"`.
    pub versions: Vec<String>,
}

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Where to look for the organisation OID.
    pub org_oid_sources: Vec<OrgIdSource>,
    /// Fingerprint → organisation OID.
    pub fingerprint_map: BTreeMap<String, String>,
}

/// `[archive]`: the archiving profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Expected receiver device id.
    pub receiver_device: String,
    /// Accepted processing codes.
    pub processing_codes: Vec<String>,
    /// Only 900–999 identity codes anywhere.
    pub test_identities_only: bool,
    /// Acknowledgement interaction id.
    pub ack_interaction: String,
    /// Accept a bare HL7 body without SOAP.
    pub accept_bare_hl7: bool,
    /// Interaction ids of every use case.
    pub interactions: Interactions,
    /// Largest page a query may ask for.
    pub max_page_size: u32,
    /// Page size when a query names none.
    pub default_page_size: u32,
    /// Invalidation needs a reason text.
    pub invalidation_reason_required: bool,
    /// The test-identity pool of this profile (`test-env` or `deployment-test`).
    pub identity_pool: Pool,
    /// P-005 when a ledger code is used by an organisation none of its grants names.
    pub ledger_org_check: bool,
    /// P-006 when a ledger code is used outside the profile's pool.
    pub ledger_pool_check: bool,
    /// An identifier with both `@root` and `@nullFlavor` (H-012).
    pub id_root_with_null_flavor: Strictness,
    /// A code missing from the shipped code lists (H-010, H-005, unknown service requests).
    pub unknown_codes: Strictness,
    /// The frame's effectiveTime differs from the document's (H-013).
    pub frame_effective_time_mismatch: Strictness,
    /// Code lists replacing the bundled snapshot (same shape as `data/code-lists.toml`).
    #[serde(default)]
    pub code_lists_file: Option<PathBuf>,
}

/// Whether a rule whose fact is not public warns or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strictness {
    /// Reported, never refuses.
    Warning,
    /// Refuses.
    Error,
}

impl From<Strictness> for crate::finding::Severity {
    fn from(s: Strictness) -> Self {
        match s {
            Strictness::Warning => Self::Warning,
            Strictness::Error => Self::Error,
        }
    }
}

/// `[archive.interactions]`: the HL7 interaction id of each interface use case
/// (interface.md §1.4–1.5). Only the archiving one is confirmed [V]; the rest are assumed by
/// analogy with the Patient Data Repository and can be aligned here.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Interactions {
    /// Arkistoi asiakirja (SP1, SP17). [V]
    pub archive: String,
    /// Arkistoi asiakirjasta uusi versio. [I]
    pub new_version: String,
    /// Mitätöi asiakirja. [U]
    pub invalidate: String,
    /// Hae asiakkuus. [U]
    pub query_client_relationships: String,
    /// Hae asia. [U]
    pub query_cases: String,
    /// Hae asiakirjan metatiedot. [U]
    pub query_metadata: String,
    /// Hae asiakirja. [U]
    pub query_document: String,
    /// Hae kooste. [U]
    pub query_summary: String,
    /// The response message of every query. [U]
    pub query_response: String,
}

/// `[register]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterConfig {
    /// Register file; bundled when absent.
    pub file: Option<PathBuf>,
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Data directory.
    pub dir: PathBuf,
    /// The database check before serving.
    pub integrity_check: IntegrityCheck,
    /// Microseconds the store's writer may wait, while messages are being judged, for their
    /// documents to join the commit it is about to make (0: never waits).
    pub commit_gather_us: u64,
}

/// How the database is checked before the archive serves from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrityCheck {
    /// `PRAGMA quick_check`: linear in the file, catches damaged pages.
    Quick,
    /// `PRAGMA integrity_check`: also indexes against tables (slower).
    Full,
    /// No check.
    Off,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[tls]`.
    pub tls: TlsConfig,
    /// `[identity]`.
    pub identity: IdentityConfig,
    /// `[archive]`.
    pub archive: ArchiveConfig,
    /// `[register]`.
    pub register: RegisterConfig,
    /// `[data]`.
    pub data: DataConfig,
    /// `[archivist]`.
    pub archivist: ArchivistConfig,
    /// `[validation]`.
    pub validation: ValidationConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[faults]`.
    pub faults: FaultsConfig,
    /// `[reference_client]`.
    pub reference_client: ReferenceClientConfig,
    /// `[onboarding]`.
    pub onboarding: OnboardingConfig,
    /// `[deployment_test]`.
    pub deployment_test: DeploymentTestConfig,
}

/// `[deployment_test]`: the production-like settings a deployment-test run uses (the test
/// is run in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentTestConfig {
    /// The production archive's device id in receiver/device/id/@root. [U] not public.
    pub receiver_device: String,
    /// processingCode values of production. [I] P.
    pub processing_codes: Vec<String>,
}

impl Config {
    /// This configuration as a deployment-test run sees it: the production receiver and
    /// processingCode, and the deployment-test identity pool.
    pub fn with_deployment_profile(mut self) -> Self {
        self.archive
            .receiver_device
            .clone_from(&self.deployment_test.receiver_device);
        self.archive
            .processing_codes
            .clone_from(&self.deployment_test.processing_codes);
        self.archive.identity_pool = crate::identity::Pool::DeploymentTest;
        self
    }
}

/// `[onboarding]`: the organisations' road to production (docs/ONBOARDING.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardingConfig {
    /// Readiness data (TOML, `data/onboarding.toml`'s layout); the bundled example when
    /// absent.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[reference_client]`: how kanta-sim's own client system behaves (self-driven runs, demos,
/// training, `kanta-sim client`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceClientConfig {
    /// `[reference_client.retry]`.
    pub retry: RetryPolicy,
}

/// When and how the reference client sends a message again: after a transport failure
/// (refused or reset connection, TLS failure, no answer in time), an HTTP 503 or a SOAP
/// fault with a Receiver code. Never after an AE/AR: those are the archive's verdict. A
/// resend is the same message (same message id), so the archive recognises it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// At most this many sends of one message, the first included (1: never resend).
    pub attempts: u32,
    /// Wait before the first resend, in milliseconds; doubled after each.
    pub first_backoff_ms: u64,
    /// The longest wait between sends, in milliseconds.
    pub max_backoff_ms: u64,
    /// Give up once this many seconds have passed since the first send.
    pub give_up_after_secs: u64,
    /// How long one send waits for the answer, in seconds.
    pub answer_timeout_secs: u64,
    /// Wait at least what a 503's `Retry-After` asks.
    pub honour_retry_after: bool,
}

impl RetryPolicy {
    /// One send, never again, waiting 30 s for the answer: a client whose owner has not
    /// asked for retries (`kanta-sim client` without `--retry`).
    pub fn once() -> Self {
        Self {
            attempts: 1,
            first_backoff_ms: 1000,
            max_backoff_ms: 8000,
            give_up_after_secs: 120,
            answer_timeout_secs: 30,
            honour_retry_after: true,
        }
    }

    /// Never resend (the `no-retry` deviation).
    pub fn none(&self) -> Self {
        Self {
            attempts: 1,
            ..self.clone()
        }
    }
}

/// `[faults]`: archive-side faults on purpose (see `docs/FAULTS.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// The fault plan in force from the start (none when absent).
    #[serde(default)]
    pub plan: Option<PathBuf>,
    /// The admin listener (plain HTTP, loopback only) that `kanta-sim faults set|clear|list`
    /// talks to (off when absent).
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
}

/// `[limits]`: what one message may make the archive do. Every limit is checked before the
/// work it limits, in one linear pass, and each has a rule id (W-006 XML, M-007 MIME, W-007
/// the time budget).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most nodes in one XML document.
    pub max_nodes: u32,
    /// Most attributes on one element.
    pub max_attributes: usize,
    /// Most namespace declarations on one element.
    pub max_namespace_declarations: usize,
    /// Most namespace declarations in scope.
    pub max_namespaces_in_scope: usize,
    /// Longest text node, in bytes.
    pub max_text_bytes: usize,
    /// Longest attribute value, in bytes.
    pub max_attribute_value_bytes: usize,
    /// Longest element or attribute name, in bytes.
    pub max_name_bytes: usize,
    /// Most parts in the MIME entity.
    pub mime_max_parts: usize,
    /// Most header lines of the entity or of one part.
    pub mime_max_headers: usize,
    /// Longest header line (folded lines together), in bytes.
    pub mime_max_header_bytes: usize,
    /// Time one request's work may take, in milliseconds.
    pub request_budget_ms: u64,
}

impl LimitsConfig {
    /// The XML limits, for a document of at most `max_bytes`.
    pub fn xml(&self, max_bytes: usize) -> crate::xml::Limits {
        crate::xml::Limits {
            max_bytes,
            max_nodes: self.max_nodes,
            max_depth: self.max_depth,
            max_attributes: self.max_attributes,
            max_namespace_declarations: self.max_namespace_declarations,
            max_namespaces_in_scope: self.max_namespaces_in_scope,
            max_text_bytes: self.max_text_bytes,
            max_attribute_value_bytes: self.max_attribute_value_bytes,
            max_name_bytes: self.max_name_bytes,
        }
    }
}

/// `[log]`: how much the exchange log keeps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Rows older than this many days are deleted (0: kept forever).
    pub retention_days: u32,
    /// At most this many rows are kept, the oldest deleted first (0: no limit).
    pub max_rows: u64,
    /// How much of a refused request's body is kept, in bytes.
    pub refused_body_bytes: usize,
    /// Refused handshakes from one peer address for one reason are logged once per window
    /// of this many seconds and counted after that.
    pub handshake_window_secs: u64,
    /// Successful `GET /health` checks from one peer address and organisation are logged
    /// once per window of this many seconds and counted after that (0: a row for each).
    /// While a test-case run watches the archive, every check is logged.
    pub health_window_secs: u64,
}

/// `[validation]`: Kela's validation-service contract on a plain-HTTP listener of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Where it listens (off when absent).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Allow a non-loopback address (plain HTTP, no client authentication).
    pub allow_network: bool,
}

/// `[archivist]`: the archivist's view.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchivistConfig {
    /// Where it listens (off when absent).
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// Require professional certificates (mutual TLS); needed for any non-loopback address.
    pub mtls: bool,
    /// Saturdays count as working days for the report's due date.
    pub count_saturdays: bool,
    /// The deployment test's case id.
    pub deployment_case: String,
    /// Archivists: professional registration number → the controller (organisation OID)
    /// they act for. Empty: the kit's professionals, each for their own organisation.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, String>,
    /// Further `Host` names (with port) the view answers to, beside its listen address and
    /// `localhost`; any other Host is refused (DNS-rebinding defence).
    #[serde(default)]
    pub host_names: Vec<String>,
    /// A client system's export of the documents it recorded (TOML, the shape the
    /// deployment page's checklist (b) takes): the page starts from it when the file exists,
    /// otherwise from the archive's own data. `train` writes one.
    #[serde(default)]
    pub client_system_export: Option<PathBuf>,
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse {
        origin: origin.to_owned(),
        source: e,
    })
}

impl ServerConfig {
    /// Requests processed at once: the setting, or twice the cores when it is 0.
    pub fn concurrent_requests(&self) -> usize {
        if self.max_concurrent_requests > 0 {
            self.max_concurrent_requests
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
        }
    }
}

impl Config {
    /// The built-in default.
    pub fn builtin() -> Result<Self, ConfigError> {
        Self::from_layers(None, Path::new("."))
    }

    /// The default with `path` laid over it (when given); relative paths in the file are
    /// resolved against its directory.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            None => Self::builtin(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                let base = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                Self::from_layers(Some((&text, &p.display().to_string())), base)
            }
        }
    }

    /// Parses `overlay` (text, origin) over the default; `base` resolves relative paths.
    pub fn from_layers(overlay: Option<(&str, &str)>, base: &Path) -> Result<Self, ConfigError> {
        let mut table = parse_table(DEFAULT_CONFIG, "built-in default")?;
        let origin = overlay.map_or("built-in default", |(_, o)| o).to_owned();
        if let Some((text, o)) = overlay {
            merge(&mut table, parse_table(text, o)?);
        }
        let mut cfg: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: origin.clone(),
                    source: e,
                })?;
        cfg.resolve_paths(base);
        cfg.check(&origin)?;
        Ok(cfg)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && base != Path::new(".") {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.tls.certs_dir);
        self.tls.server_cert.iter_mut().for_each(fix);
        self.tls.server_key.iter_mut().for_each(fix);
        self.onboarding.file.iter_mut().for_each(fix);
        self.tls.extra_trust_anchors.iter_mut().for_each(fix);
        self.tls.extra_intermediates.iter_mut().for_each(fix);
        self.tls.extra_crls.iter_mut().for_each(fix);
        self.register.file.iter_mut().for_each(fix);
        self.archive.code_lists_file.iter_mut().for_each(fix);
        self.server.ready_file.iter_mut().for_each(fix);
        fix(&mut self.data.dir);
        self.faults.plan.iter_mut().for_each(fix);
    }

    fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: String, problem: &str| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            value,
            problem: problem.to_owned(),
        };
        if self.tls.versions.is_empty() {
            return Err(invalid(
                "tls.versions",
                "[]".into(),
                "at least one of \"1.2\", \"1.3\" is needed",
            ));
        }
        for v in &self.tls.versions {
            if v != "1.2" && v != "1.3" {
                return Err(invalid(
                    "tls.versions",
                    v.clone(),
                    "only \"1.2\" and \"1.3\" are supported",
                ));
            }
        }
        if self.tls.server_cert.is_some() != self.tls.server_key.is_some() {
            return Err(invalid(
                "tls.server_cert / tls.server_key",
                String::new(),
                "give both or neither",
            ));
        }
        if self.tls.min_rsa_bits < 1024 {
            return Err(invalid(
                "tls.min_rsa_bits",
                self.tls.min_rsa_bits.to_string(),
                "below 1024 is never acceptable",
            ));
        }
        if self.identity.org_oid_sources.is_empty() && self.identity.fingerprint_map.is_empty() {
            return Err(invalid(
                "identity.org_oid_sources",
                "[]".into(),
                "with no sources and no fingerprint_map no organisation can ever be identified",
            ));
        }
        if let Some(a) = self.archivist.listen
            && !a.ip().is_loopback()
            && !self.archivist.mtls
        {
            return Err(invalid(
                "archivist.listen",
                a.to_string(),
                "the archivist view listens on the network only with archivist.mtls = true (professional certificates)",
            ));
        }
        if self.server.request_memory_bytes < self.server.max_body_bytes {
            return Err(invalid(
                "server.request_memory_bytes",
                self.server.request_memory_bytes.to_string(),
                "must be at least server.max_body_bytes, or the largest allowed request could never be read",
            ));
        }
        if self.server.max_connections == 0 {
            return Err(invalid(
                "server.max_connections",
                "0".into(),
                "at least 1 connection is needed",
            ));
        }
        if let Some(a) = self.validation.listen
            && !a.ip().is_loopback()
            && !self.validation.allow_network
        {
            return Err(invalid(
                "validation.listen",
                a.to_string(),
                "the validation service is plain HTTP without client authentication: it listens on a non-loopback address only with validation.allow_network = true",
            ));
        }
        if let Some(a) = self.faults.admin_listen
            && !a.ip().is_loopback()
        {
            return Err(invalid(
                "faults.admin_listen",
                a.to_string(),
                "the fault admin listener is plain HTTP without authentication: loopback addresses only",
            ));
        }
        if let Some(id) = self.archive.interactions.duplicate() {
            return Err(invalid(
                "archive.interactions",
                id.to_owned(),
                "two use cases share this interaction id, so messages could not be routed",
            ));
        }
        let a = &self.archive;
        if a.max_page_size == 0 || a.default_page_size == 0 || a.default_page_size > a.max_page_size
        {
            return Err(invalid(
                "archive.default_page_size / archive.max_page_size",
                format!("{} / {}", a.default_page_size, a.max_page_size),
                "both must be at least 1, and the default no larger than the maximum",
            ));
        }
        Ok(())
    }

    /// Applies `KANTA_SIM_LISTEN`, `KANTA_SIM_CERTS` and `KANTA_SIM_DATA`.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Ok(v) = std::env::var("KANTA_SIM_LISTEN") {
            self.server.listen =
                v.parse()
                    .map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
                        origin: "environment".into(),
                        key: "KANTA_SIM_LISTEN".into(),
                        value: v.clone(),
                        problem: e.to_string(),
                    })?;
        }
        if let Some(v) = std::env::var_os("KANTA_SIM_CERTS") {
            self.tls.certs_dir = v.into();
        }
        if let Some(v) = std::env::var_os("KANTA_SIM_DATA") {
            self.data.dir = v.into();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_parses() {
        let c = Config::builtin().unwrap();
        assert_eq!(c.server.listen.port(), 8443);
        assert!(c.server.diagnostic_listen.is_none());
        assert_eq!(c.identity.org_oid_sources[0], OrgIdSource::SerialNumber);
        assert_eq!(c.tls.min_rsa_bits, 2048);
        // The reference client resends by default; the deployment test runs in production.
        assert!(c.reference_client.retry.attempts > 1);
        let d = c.with_deployment_profile();
        assert_eq!(d.archive.processing_codes, ["P"]);
        assert_eq!(
            d.archive.identity_pool,
            crate::identity::Pool::DeploymentTest
        );
    }

    #[test]
    fn overlay_changes_only_what_it_names_and_resolves_paths() {
        let c = Config::from_layers(
            Some((
                "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\ncerts_dir = \"kit\"",
                "t.toml",
            )),
            Path::new("/etc/ks"),
        )
        .unwrap();
        assert_eq!(c.server.listen.port(), 0);
        assert_eq!(c.server.handshake_timeout_secs, 10);
        assert_eq!(c.tls.certs_dir, PathBuf::from("/etc/ks/kit"));
        assert_eq!(c.data.dir, PathBuf::from("/etc/ks/kanta-sim-data"));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_layers(Some(("[server]\nlisten_on = 1", "t.toml")), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.toml") && err.contains("listen_on"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_layers(
            Some(("[tls]\nversions = [\"1.1\"]", "t.toml")),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls.versions") && err.contains("1.1"), "{err}");
        let err = Config::from_layers(
            Some(("[identity]\norg_oid_sources = [\"subject.CN\"]", "t.toml")),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("subject.CN"), "{err}");
    }
}
