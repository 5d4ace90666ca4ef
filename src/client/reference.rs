//! The reference client system: builds, signs, wraps and sends every Kanta message of the
//! interface use cases over mutual TLS, as a correct client system would. Suppliers read it
//! to see a correct message; the self-driven test runs and our tests drive the archive
//! with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use time::OffsetDateTime;

use super::{ClientError, HttpVersion, MtlsClient, load_identity};
use crate::config::{Interactions, RetryPolicy};
use crate::document::{Body, DocumentRef, Metadata, build_cda};
use crate::document::{SignatureType, sign_kanta_document};
use crate::message::build::{KANTA_ARCHIVE_DEVICE, MessageSpec, build_archive_message};
use crate::message::lifecycle::{InvalidationMessage, build_invalidation};
use crate::message::query::{ParsedResponse, QueryRequest, build_query, parse_response};
use crate::message::soap::SoapVersion;
use crate::message::usecase::{QueryKind, UseCase};
use crate::xmldsig::{Signer, new_signature_id};

/// Why the reference client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The certificate kit lacks what is needed.
    #[error("certificate kit: {0}")]
    Kit(#[from] crate::pki::IndexError),
    /// The kit's role has no private key.
    #[error("certificate kit {dir}: {role} has no key")]
    NoKey {
        /// The kit directory.
        dir: PathBuf,
        /// The role.
        role: String,
    },
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] crate::xmldsig::SignError),
    /// Transport failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The archive answered with something that is not an HL7 response.
    #[error("unreadable response (HTTP {status}): {source}")]
    Response {
        /// HTTP status.
        status: u16,
        /// What went wrong.
        #[source]
        source: crate::message::query::ResponseError,
    },
}

/// How to sign a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// With the organisation's system-signature certificate.
    System,
    /// With a professional's certificate (registration number).
    Professional(String),
    /// With a certificate of the kit by role (for deliberately wrong signatures).
    Role(String, SignatureType),
    /// Not at all (a deliberately broken message).
    Unsigned,
}

/// What the archive answered.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The acknowledgement or query response, read.
    pub parsed: ParsedResponse,
    /// The request as sent.
    pub request: String,
    /// The body as received.
    pub body: Bytes,
    /// How many times the message was sent (1 unless the retry policy resent it).
    pub attempts: u32,
    /// An earlier send may have reached the archive (its answer was lost) and this answer
    /// is an AE whose only errors say so (W-016 message id used, L-001 version archived):
    /// the message was delivered by that earlier send.
    pub delivered_earlier: bool,
}

impl Reply {
    /// `AA`, `AE`, `AR`, or empty for a SOAP fault.
    pub fn ack(&self) -> &str {
        &self.parsed.ack
    }

    /// Rule ids of the findings.
    pub fn codes(&self) -> &[String] {
        &self.parsed.codes
    }
}

/// A client system of one organisation.
#[derive(Debug)]
pub struct ReferenceClient {
    kit: PathBuf,
    org: String,
    addr: super::Target,
    http: MtlsClient,
    interactions: Interactions,
    receiver: String,
    run: String,
    counter: AtomicU64,
    policy: RetryPolicy,
    processing_code: String,
}

/// An HTTPS client presenting the kit's certificate `role`, trusting the kit's root and
/// checking the server certificate against the kit's CRL, as a careful client system does.
pub fn kit_tls_client(kit: &Path, role: &str) -> Result<MtlsClient, ReferenceError> {
    let index = crate::pki::Index::load(kit)?;
    let cert = index.require(kit, role)?;
    let key = cert.key.as_ref().ok_or_else(|| ReferenceError::NoKey {
        dir: kit.into(),
        role: role.to_owned(),
    })?;
    let root = index.require(kit, "root-ca")?;
    let identity = load_identity(&kit.join(&cert.cert), &kit.join(key))?;
    Ok(MtlsClient::checking_revocation(
        &kit.join(&root.cert),
        &index.trust_files(kit).crls,
        Some(identity),
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        HttpVersion::Http1,
    )?)
}

/// Whether a transport failure is worth sending the same message again: the archive was
/// unreachable, reset the connection or did not answer. A refused certificate (either
/// side's) or a protocol mismatch needs a person, not another try.
fn transient(e: &ClientError) -> bool {
    use rustls::AlertDescription as A;
    match e {
        ClientError::Connect { .. } | ClientError::Timeout { .. } | ClientError::Http(_) => true,
        ClientError::Handshake { source, .. } => {
            match source
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                None => true,
                Some(rustls::Error::AlertReceived(a)) => !matches!(
                    a,
                    A::BadCertificate
                        | A::UnsupportedCertificate
                        | A::CertificateRevoked
                        | A::CertificateExpired
                        | A::CertificateUnknown
                        | A::UnknownCA
                        | A::AccessDenied
                        | A::CertificateRequired
                        | A::ProtocolVersion
                ),
                Some(_) => false,
            }
        }
        _ => false,
    }
}

/// Whether the request may have reached the archive before the failure (so a later
/// "already received" is this message's own).
fn maybe_received(e: &ClientError) -> bool {
    matches!(e, ClientError::Http(_) | ClientError::Timeout { .. })
}

impl ReferenceClient {
    /// The client system of `org`, connecting with its `client:<org>` certificate from the
    /// kit in `kit` to the archive at `addr`.
    pub fn new(
        kit: &Path,
        org: &str,
        addr: impl Into<super::Target>,
        interactions: Interactions,
    ) -> Result<Self, ReferenceError> {
        Self::with_tls_role(kit, org, &format!("client:{org}"), addr, interactions)
    }

    /// As [`Self::new`], presenting the kit's certificate `tls_role` instead.
    pub fn with_tls_role(
        kit: &Path,
        org: &str,
        tls_role: &str,
        addr: impl Into<super::Target>,
        interactions: Interactions,
    ) -> Result<Self, ReferenceError> {
        let addr = addr.into();
        let http = kit_tls_client(kit, tls_role)?;
        Ok(Self {
            kit: kit.to_owned(),
            org: org.to_owned(),
            addr,
            http,
            interactions,
            receiver: KANTA_ARCHIVE_DEVICE.to_owned(),
            // Message ids must never repeat against a persistent archive: a run tag.
            run: OffsetDateTime::now_utc().unix_timestamp_nanos().to_string(),
            counter: AtomicU64::new(0),
            policy: RetryPolicy::once(),
            processing_code: "D".to_owned(),
        })
    }

    /// Sends messages again as `policy` says (the default is never: one send).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Addresses messages to `receiver` with processingCode `processing_code` (the
    /// production values in a deployment-test run; the test environment's by default).
    pub fn for_environment(mut self, receiver: &str, processing_code: &str) -> Self {
        receiver.clone_into(&mut self.receiver);
        processing_code.clone_into(&mut self.processing_code);
        self
    }

    /// Its retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The organisation this client system belongs to.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The next unused message id (root, extension).
    pub fn next_message_id(&self) -> (String, String) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        (format!("{}.99", self.org), format!("{}.{n}", self.run))
    }

    fn now_ts() -> String {
        OffsetDateTime::now_utc()
            .format(&time::macros::format_description!(
                "[year][month][day][hour][minute][second]+0000"
            ))
            .unwrap_or_default()
    }

    /// A signed CDA for `meta`.
    pub fn signed_document(
        &self,
        meta: &Metadata,
        signing: &Signing,
    ) -> Result<String, ReferenceError> {
        self.sign(&build_cda(meta, &Body::example(meta, 2_000)), meta, signing)
    }

    /// Signs any CDA text as `meta`'s custodian or author would.
    pub fn sign(
        &self,
        cda: &str,
        meta: &Metadata,
        signing: &Signing,
    ) -> Result<String, ReferenceError> {
        let (role, kind) = match signing {
            Signing::Unsigned => return Ok(cda.to_owned()),
            Signing::System => (
                format!("system-signature:{}", meta.custodian),
                SignatureType::System,
            ),
            Signing::Professional(reg) => {
                (format!("professional:{reg}"), SignatureType::Professional)
            }
            Signing::Role(role, kind) => (role.clone(), *kind),
        };
        let signer = Signer::from_kit(&self.kit, &role)?;
        Ok(sign_kanta_document(
            cda,
            &signer,
            kind,
            OffsetDateTime::now_utc(),
            &new_signature_id(),
        )?)
    }

    /// The archiving message for `meta` (the new-version interaction from version 2 on).
    pub fn archive_message(
        &self,
        meta: &Metadata,
        signing: &Signing,
    ) -> Result<String, ReferenceError> {
        let cda = self.signed_document(meta, signing)?;
        Ok(self.wrap(meta, &cda, |_| {}))
    }

    /// Wraps a (signed) CDA into its archiving or new-version message; `tweak` may change the
    /// wrapper (for deliberately wrong messages).
    pub fn wrap(&self, meta: &Metadata, cda: &str, tweak: impl FnOnce(&mut MessageSpec)) -> String {
        let (root, ext) = self.next_message_id();
        let mut spec = MessageSpec::for_document(meta, &ext);
        spec.message_root = root;
        spec.sender = self.org.clone();
        spec.receiver = self.receiver.clone();
        spec.processing_code.clone_from(&self.processing_code);
        spec.interaction = self
            .interactions
            .id(if meta.version > 1 {
                UseCase::NewVersion
            } else {
                UseCase::Archive
            })
            .to_owned();
        tweak(&mut spec);
        build_archive_message(&spec, meta, cda)
    }

    /// The kit it uses.
    pub fn kit(&self) -> &Path {
        &self.kit
    }

    fn wrapper<'a>(
        &'a self,
        use_case: UseCase,
        id: (&'a str, &'a str),
        now: &'a str,
    ) -> crate::message::RequestWrapper<'a> {
        crate::message::RequestWrapper {
            soap: SoapVersion::V11,
            interaction: self.interactions.id(use_case),
            id,
            creation_time: now,
            sender: &self.org,
            receiver: &self.receiver,
            processing_code: &self.processing_code,
        }
    }

    /// The invalidation message for `target`.
    pub fn invalidation_message(
        &self,
        target: &DocumentRef,
        custodian: &str,
        reason: &str,
    ) -> String {
        let (root, ext) = self.next_message_id();
        let now = Self::now_ts();
        build_invalidation(&InvalidationMessage {
            wrapper: self.wrapper(UseCase::Invalidate, (&root, &ext), &now),
            document_oid: &target.document_oid,
            set_id: &target.set_id,
            version: target.version,
            custodian,
            reason,
        })
    }

    /// The query message.
    pub fn query_message(&self, kind: QueryKind, q: &QueryRequest) -> String {
        let (root, ext) = self.next_message_id();
        let now = Self::now_ts();
        build_query(&self.wrapper(UseCase::Query(kind), (&root, &ext), &now), q)
    }

    async fn send_once(
        &self,
        body: &Bytes,
        policy: &RetryPolicy,
        hedge_after: Option<Duration>,
    ) -> Result<super::ClientResponse, ClientError> {
        let secs = policy.answer_timeout_secs.max(1);
        // Each send is a task of its own, so a send that loses the race below goes on (and
        // the archive answers it) instead of being cancelled with its connection.
        let spawn_one = || {
            let (http, addr, body) = (self.http.clone(), self.addr.clone(), body.clone());
            tokio::spawn(async move {
                let a = addr.addr;
                tokio::time::timeout(
                    Duration::from_secs(secs),
                    http.request(
                        addr,
                        "POST",
                        "/archive",
                        Some("text/xml; charset=UTF-8"),
                        body,
                    ),
                )
                .await
                .unwrap_or(Err(ClientError::Timeout { addr: a, secs }))
            })
        };
        let joined =
            |r: Result<Result<super::ClientResponse, ClientError>, tokio::task::JoinError>| {
                r.unwrap_or_else(|e| {
                    Err(ClientError::Connect {
                        addr: self.addr.addr,
                        source: std::io::Error::other(e),
                    })
                })
            };
        let mut first = spawn_one();
        let Some(after) = hedge_after else {
            return joined((&mut first).await);
        };
        tokio::select! {
            r = &mut first => joined(r),
            () = tokio::time::sleep(after) => {
                tracing::info!("no answer after {} ms: sending the same message on a second connection", after.as_millis());
                let mut second = spawn_one();
                // Whichever answers first; the other goes on by itself.
                tokio::select! {
                    r = &mut first => joined(r),
                    r = &mut second => joined(r),
                }
            }
        }
    }

    /// Sends any message body to `POST /archive` and reads the answer, sending it again as
    /// the retry policy says after a transport failure, a 503 or a Receiver fault.
    pub async fn send(&self, body: String) -> Result<Reply, ReferenceError> {
        self.send_with(body, &self.policy, None).await
    }

    /// As [`Self::send`] under `policy`; with `hedge_after`, the same message is also sent on
    /// a second connection when the first has no answer by then, without giving up the
    /// first (what the resilience suite's `parallel-resend` deviation rehearses: a slow
    /// archive then sees the message twice at once).
    pub async fn send_with(
        &self,
        body: String,
        p: &RetryPolicy,
        hedge_after: Option<Duration>,
    ) -> Result<Reply, ReferenceError> {
        let bytes = Bytes::from(body.clone());
        let started = Instant::now();
        let give_up = Duration::from_secs(p.give_up_after_secs);
        let mut backoff = Duration::from_millis(p.first_backoff_ms);
        let mut attempts = 0u32;
        let mut lost_answer = false;
        let r = loop {
            attempts += 1;
            let result = self.send_once(&bytes, p, hedge_after).await;
            let wait = match &result {
                Ok(r) if r.status == 503 => Some(match r.retry_after {
                    Some(s) if p.honour_retry_after => backoff.max(Duration::from_secs(s)),
                    _ => backoff,
                }),
                Ok(r) => super::answer::read_answer(&String::from_utf8_lossy(&r.body))
                    .is_some_and(|a| a.is_receiver_fault())
                    .then_some(backoff),
                Err(e) if transient(e) => {
                    lost_answer |= maybe_received(e);
                    Some(backoff)
                }
                Err(_) => None,
            };
            match wait {
                Some(w) if attempts < p.attempts && started.elapsed() + w < give_up => {
                    tracing::info!(
                        attempt = attempts,
                        wait_ms = u64::try_from(w.as_millis()).unwrap_or(u64::MAX),
                        "sending the message again: {}",
                        match &result {
                            Ok(r) => format!("HTTP {}", r.status),
                            Err(e) => e.to_string(),
                        }
                    );
                    tokio::time::sleep(w).await;
                    backoff = (backoff * 2).min(Duration::from_millis(p.max_backoff_ms));
                }
                _ => break result?,
            }
        };
        let text = String::from_utf8_lossy(&r.body);
        let parsed = if text.contains(":Fault") || text.contains("<Fault") {
            ParsedResponse::default()
        } else {
            parse_response(&text).map_err(|source| ReferenceError::Response {
                status: r.status,
                source,
            })?
        };
        let delivered_earlier = lost_answer
            && parsed.ack == "AE"
            && !parsed.codes.is_empty()
            && parsed.codes.iter().all(|c| c == "W-016" || c == "L-001");
        Ok(Reply {
            status: r.status,
            parsed,
            request: body,
            body: r.body,
            attempts,
            delivered_earlier,
        })
    }

    /// Archives `meta` (first or later version).
    pub async fn archive(
        &self,
        meta: &Metadata,
        signing: &Signing,
    ) -> Result<Reply, ReferenceError> {
        let body = self.archive_message(meta, signing)?;
        self.send(body).await
    }

    /// Invalidates `target`.
    pub async fn invalidate(
        &self,
        target: &DocumentRef,
        custodian: &str,
        reason: &str,
    ) -> Result<Reply, ReferenceError> {
        self.send(self.invalidation_message(target, custodian, reason))
            .await
    }

    /// Runs a query.
    pub async fn query(&self, kind: QueryKind, q: &QueryRequest) -> Result<Reply, ReferenceError> {
        self.send(self.query_message(kind, q)).await
    }
}
