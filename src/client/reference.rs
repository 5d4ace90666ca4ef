//! The reference client system: builds, signs, wraps and sends every Kanta message of the
//! interface use cases over mutual TLS, as a correct client system would. Suppliers read it
//! to see a correct message; the self-driven test runs and our tests drive the archive
//! with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use time::OffsetDateTime;

use super::{ClientError, HttpVersion, MtlsClient, load_identity};
use crate::config::Interactions;
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
        let index = crate::pki::Index::load(kit)?;
        let cert = index.require(kit, tls_role)?;
        let key = cert.key.as_ref().ok_or_else(|| ReferenceError::NoKey {
            dir: kit.into(),
            role: tls_role.to_owned(),
        })?;
        let root = index.require(kit, "root-ca")?;
        let identity = load_identity(&kit.join(&cert.cert), &kit.join(key))?;
        let http = MtlsClient::new(
            &kit.join(&root.cert),
            Some(identity),
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            HttpVersion::Http1,
        )?;
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
        })
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
            processing_code: "D",
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

    /// Sends any message body to `POST /archive` and reads the answer.
    pub async fn send(&self, body: String) -> Result<Reply, ReferenceError> {
        let r = self
            .http
            .request(
                self.addr.clone(),
                "POST",
                "/archive",
                Some("text/xml; charset=UTF-8"),
                Bytes::from(body.clone()),
            )
            .await?;
        let text = String::from_utf8_lossy(&r.body);
        let parsed = if text.contains(":Fault") || text.contains("<Fault") {
            ParsedResponse::default()
        } else {
            parse_response(&text).map_err(|source| ReferenceError::Response {
                status: r.status,
                source,
            })?
        };
        Ok(Reply {
            status: r.status,
            parsed,
            request: body,
            body: r.body,
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
