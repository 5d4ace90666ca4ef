//! The reference client performing a step, correctly or with the step's deviation: what
//! a self-driven run (demos, training, our own tests) sends in place of a supplier's system.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::engine::Labels;
use crate::cases::{Action, Deviation, DocKind, Step};
use crate::client::reference::{ReferenceClient, ReferenceError, Signing};
use crate::config::{Interactions, RetryPolicy};
use crate::document::{Body, Metadata, build_cda};
use crate::message::query::QueryRequest;
use crate::message::usecase::QueryKind;

/// The professional who signs client documents in self-driven runs (in the kit).
pub const DRIVER_PROFESSIONAL: &str = "99900000011";
/// An identity code outside the test series (born 2099, so never a real person's today).
pub const NON_TEST_CODE: &str = "311299F1236";

/// Why the reference client could not perform a step.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The reference client failed.
    #[error(transparent)]
    Client(#[from] ReferenceError),
    /// The step refers to a document the driver never archived.
    #[error("the step acts on {0:?}, which no earlier step archived")]
    MissingLabel(String),
    /// The step lacks what the action needs (a lint error).
    #[error("the step lacks {0}")]
    Incomplete(&'static str),
}

/// Performs steps for every organisation of a run.
#[derive(Debug)]
pub struct Driver {
    kit: PathBuf,
    addr: SocketAddr,
    interactions: Interactions,
    register: crate::identity::SoteRegister,
    clients: BTreeMap<String, ReferenceClient>,
    documents: BTreeMap<String, Metadata>,
    seed: u64,
    counter: u64,
    certificates: BTreeMap<String, String>,
    retry: RetryPolicy,
    environment: (String, String),
}

impl Driver {
    /// A driver against the archive at `addr`, using the kit in `kit`; document OIDs are
    /// derived from `seed`, so a run with the same seed sends the same documents.
    pub fn new(
        kit: &Path,
        addr: SocketAddr,
        interactions: Interactions,
        register: crate::identity::SoteRegister,
        seed: u64,
    ) -> Self {
        Self {
            kit: kit.to_owned(),
            addr,
            interactions,
            register,
            clients: BTreeMap::new(),
            documents: BTreeMap::new(),
            seed,
            counter: 0,
            certificates: BTreeMap::new(),
            // One send unless the run gives its policy (`with_retry`).
            retry: RetryPolicy::once(),
            environment: (
                crate::message::build::KANTA_ARCHIVE_DEVICE.to_owned(),
                "D".to_owned(),
            ),
        }
    }

    /// Addresses messages as the archive's profile expects (receiver device,
    /// processingCode).
    pub fn for_environment(mut self, receiver: &str, processing_code: &str) -> Self {
        self.environment = (receiver.to_owned(), processing_code.to_owned());
        self.clients.clear();
        self
    }

    /// Sends messages again as `policy` says (`[reference_client.retry]`).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self.clients.clear();
        self
    }

    /// Presents the kit's certificate `role` for `org` instead of its `client:` one (a
    /// broken client for training: e.g. `bad:expired`).
    pub fn use_certificate(&mut self, org: &str, role: &str) {
        self.certificates.insert(org.to_owned(), role.to_owned());
        self.clients.remove(org);
    }

    /// Forgets the documents of the previous case (labels are per case).
    pub fn new_case(&mut self) {
        self.documents.clear();
    }

    fn client(&mut self, org: &str) -> Result<&ReferenceClient, ReferenceError> {
        use std::collections::btree_map::Entry;
        match self.clients.entry(org.to_owned()) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let role = self
                    .certificates
                    .get(org)
                    .cloned()
                    .unwrap_or_else(|| format!("client:{org}"));
                let c = ReferenceClient::with_tls_role(
                    &self.kit,
                    org,
                    &role,
                    self.addr,
                    self.interactions.clone(),
                )?
                .with_retry(self.retry.clone())
                .for_environment(&self.environment.0, &self.environment.1);
                Ok(v.insert(c))
            }
        }
    }

    fn next_oid(&mut self, org: &str) -> String {
        self.counter += 1;
        format!("{org}.95.{}.{}", self.seed, self.counter)
    }

    /// Sends what `step` asks of `org`'s system, departing from a correct message as
    /// `deviation` says. The archive's answer is not judged here; the engine reads it from
    /// the exchange log.
    pub async fn perform(
        &mut self,
        step: &Step,
        org: &str,
        deviation: Option<Deviation>,
        _labels: &Labels,
    ) -> Result<(), DriveError> {
        let dev = |d: Deviation| deviation == Some(d);
        match step.action {
            Action::Archive => {
                let kind = step.document.ok_or(DriveError::Incomplete("document"))?;
                let person = step
                    .person
                    .clone()
                    .ok_or(DriveError::Incomplete("person"))?;
                let person = if dev(Deviation::RealIdentityCode) {
                    NON_TEST_CODE.to_owned()
                } else {
                    person
                };
                let oid = self.next_oid(org);
                let mut meta = match kind {
                    DocKind::ClientRelationship => {
                        Metadata::client_relationship_example(&oid, &person)
                    }
                    DocKind::ClientDocument => {
                        Metadata::client_document_example(&oid, &person, DRIVER_PROFESSIONAL)
                    }
                };
                meta.custodian = org.to_owned();
                if let Some(o) = self.register.organisation(org) {
                    meta.custodian_name = o.name.clone();
                }
                meta.organiser = step.organiser.clone();
                self.send_document(&meta, kind, deviation, org).await?;
                if let Some(l) = &step.label {
                    self.documents.insert(l.clone(), meta);
                }
            }
            Action::NewVersion => {
                let of = step.of.clone().ok_or(DriveError::Incomplete("of"))?;
                let prev = self
                    .documents
                    .get(&of)
                    .cloned()
                    .ok_or_else(|| DriveError::MissingLabel(of.clone()))?;
                let oid = self.next_oid(org);
                let mut meta = prev.next_version(&oid, &prev.effective_time);
                if dev(Deviation::VersionGap) {
                    meta.version += 1;
                }
                let kind = if prev.author.is_some() {
                    DocKind::ClientDocument
                } else {
                    DocKind::ClientRelationship
                };
                self.send_document(&meta, kind, deviation, org).await?;
                if let Some(l) = &step.label {
                    self.documents.insert(l.clone(), meta);
                }
            }
            Action::Invalidate => {
                let of = step.of.clone().ok_or(DriveError::Incomplete("of"))?;
                let target = self
                    .documents
                    .get(&of)
                    .cloned()
                    .ok_or_else(|| DriveError::MissingLabel(of.clone()))?;
                let reason = if dev(Deviation::NoReason) {
                    String::new()
                } else {
                    step.reason
                        .clone()
                        .unwrap_or_else(|| "Virheellinen kirjaus".into())
                };
                let c = self.client(org)?;
                c.invalidate(&target.reference(), &target.custodian, &reason)
                    .await?;
            }
            Action::Query => {
                let kind = step.query_kind().ok_or(DriveError::Incomplete("query"))?;
                let mut q = match (&step.person, &step.of) {
                    (_, Some(of)) if kind == QueryKind::Document => {
                        let d = self
                            .documents
                            .get(of)
                            .ok_or_else(|| DriveError::MissingLabel(of.clone()))?;
                        QueryRequest::for_document(&d.document_oid)
                    }
                    (Some(p), _) => QueryRequest::for_client(p),
                    (None, _) => QueryRequest::default(),
                };
                if dev(Deviation::NoClientId) {
                    q.client_id = None;
                    q.client_root = None;
                }
                self.client(org)?.query(kind, &q).await?;
            }
            Action::Connect => {
                let role = step
                    .certificate
                    .clone()
                    .ok_or(DriveError::Incomplete("certificate"))?;
                let http = crate::client::reference::kit_tls_client(&self.kit, &role)?;
                // A refused handshake is the expected outcome of most connect steps.
                let _ = http
                    .request(self.addr, "GET", "/health", None, Bytes::new())
                    .await;
            }
            // The run puts the plan in force; nothing is sent.
            Action::FaultPlan => {}
        }
        Ok(())
    }

    async fn send_document(
        &mut self,
        meta: &Metadata,
        kind: DocKind,
        deviation: Option<Deviation>,
        org: &str,
    ) -> Result<(), DriveError> {
        let dev = |d: Deviation| deviation == Some(d);
        let mut body = Body::example(meta, 2_000);
        if dev(Deviation::NotXhtml) {
            body.xhtml = "<p>Asiakkaan tilanne arvioitu.</p>".into();
        }
        let mut cda = build_cda(meta, &body);
        if dev(Deviation::MissingSetId) {
            cda = cda.replacen(&format!("<setId root=\"{}\"/>", meta.set_id), "", 1);
        }
        if dev(Deviation::RealmNotFi) {
            cda = cda.replacen("<realmCode code=\"FI\"/>", "<realmCode code=\"SE\"/>", 1);
        }
        let signing = if dev(Deviation::Unsigned) {
            Signing::Unsigned
        } else {
            match kind {
                DocKind::ClientRelationship => Signing::System,
                DocKind::ClientDocument => Signing::Professional(DRIVER_PROFESSIONAL.into()),
            }
        };
        let retry = self.retry.clone();
        let c = self.client(org)?;
        let mut signed = c.sign(&cda, meta, &signing)?;
        if dev(Deviation::BadSignature)
            && let Some(i) = signed.find("<ds:SignatureValue>")
        {
            // Flip one base64 character of the value: the signature no longer verifies.
            let at = i + "<ds:SignatureValue>".len() + 10;
            let flipped = if signed.as_bytes().get(at) == Some(&b'A') {
                "B"
            } else {
                "A"
            };
            signed.replace_range(at..at + 1, flipped);
        }
        let mut message = c.wrap(meta, &signed, |spec| {
            if dev(Deviation::WrongReceiver) {
                spec.receiver = "1.2.246.556.99999.2".into();
            }
            if dev(Deviation::WrongServiceRequest) {
                spec.service_request = if spec.service_request == "SP1" {
                    "SP17".into()
                } else {
                    "SP1".into()
                };
            }
        });
        if dev(Deviation::ContentIdMismatch) {
            message = message.replacen(
                &format!("Content-ID: &lt;{}&gt;", meta.document_oid),
                &format!("Content-ID: &lt;{}.9&gt;", meta.document_oid),
                1,
            );
        }
        // How the client behaves when the archive fails: its retry policy, or a deviation
        // from it that the resilience suite must catch.
        let (policy, hedge) = match deviation {
            Some(Deviation::NoRetry | Deviation::ResendAsNew) => (retry.none(), None),
            Some(Deviation::IgnoreRetryAfter) => (
                RetryPolicy {
                    honour_retry_after: false,
                    first_backoff_ms: 500,
                    max_backoff_ms: 500,
                    ..retry.clone()
                },
                None,
            ),
            Some(Deviation::ParallelResend) => {
                (retry.none(), Some(std::time::Duration::from_secs(1)))
            }
            _ => (retry.clone(), None),
        };
        match c.send_with(message, &policy, hedge).await {
            Err(ReferenceError::Client(e)) if dev(Deviation::ResendAsNew) => {
                // The answer was lost: the same content again, as a new document.
                tracing::info!("no answer ({e}): sending the content again as a new document");
                let mut again = meta.clone();
                again.document_oid = self.next_oid(org);
                again.set_id.clone_from(&again.document_oid);
                let c = self.client(org)?;
                let signed = c.sign(&build_cda(&again, &body), &again, &signing)?;
                let message = c.wrap(&again, &signed, |_| {});
                c.send_with(message, &retry, None).await?;
            }
            r => {
                r?;
            }
        }
        Ok(())
    }
}
