//! `kanta-sim client build|send|query`: the reference client system by hand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use time::OffsetDateTime;

use super::{Failure, exit};
use crate::client::Target;
use crate::client::reference::{ReferenceClient, Signing};
use crate::config::Config;
use crate::document::{DocumentRef, Metadata};
use crate::message::query::{QueryRequest, RegisterScope, StatusFilter};
use crate::message::usecase::QueryKind;

/// `client …`: the reference client system.
#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// Build (and sign) a message and write it to a file or stdout.
    Build(BuildArgs),
    /// Send a message file, or build one from the same options and send it; print the
    /// outcome and one line per finding (the whole answer with --raw). Exit 0 on AA, 3 on
    /// AE, AR or a fault, 5 when the archive cannot be reached.
    Send {
        /// A message file to send as it is (otherwise one is built from the options).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The archive: HOST:PORT, an address, or the URL a run prints
        /// (https://127.0.0.1:8443/archive).
        #[arg(long)]
        target: Target,
        /// Also print the archive's answer as it came (the SOAP XML).
        #[arg(long)]
        raw: bool,
        /// Send the message again after a lost connection, a 503 (honouring Retry-After) or a
        /// Receiver fault, as `[reference_client.retry]` says; an AE with only W-016/L-001
        /// after a lost answer counts as delivered.
        #[arg(long)]
        retry: bool,
        /// The configuration whose `[reference_client.retry]` --retry follows (default: the
        /// embedded one).
        #[arg(long, requires = "retry")]
        config: Option<PathBuf>,
        /// How to build.
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Run a query and print what it found. Exit 0 on AA, 3 otherwise, 5 when the archive
    /// cannot be reached.
    Query {
        /// client-relationships, cases, metadata, document or summary.
        kind: String,
        /// The archive: HOST:PORT, an address, or an https:// URL.
        #[arg(long)]
        target: Target,
        /// Organisation (its `client:` certificate is used).
        #[arg(long, default_value = crate::testcase::run::DEFAULT_ORG)]
        org: String,
        /// Certificate kit.
        #[arg(long, default_value = "certs/generated")]
        certs: PathBuf,
        /// Client identity code.
        #[arg(long)]
        person: Option<String>,
        /// Document OID.
        #[arg(long)]
        document: Option<String>,
        /// setId.
        #[arg(long)]
        set_id: Option<String>,
        /// Case id.
        #[arg(long)]
        case_id: Option<String>,
        /// current, replaced, invalidated or all.
        #[arg(long, default_value = "current")]
        status: String,
        /// Include replaced versions.
        #[arg(long)]
        history: bool,
        /// all, own or organiser.
        #[arg(long, default_value = "all")]
        register: String,
        /// Page size.
        #[arg(long)]
        page_size: Option<u32>,
        /// Index of the first result.
        #[arg(long, default_value_t = 0)]
        start: u32,
        /// Write the retrieved CDA (document query) here.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What to build. The same options can come from a TOML spec (`--spec`), whose keys are
/// these options' names with underscores.
#[derive(Debug, Clone, Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BuildArgs {
    /// A TOML file with these options (command-line options win).
    #[arg(long)]
    #[serde(skip)]
    pub spec: Option<PathBuf>,
    /// archive, new-version or invalidate.
    #[arg(long, default_value = "archive")]
    #[serde(default = "default_message")]
    pub message: String,
    /// Organisation whose system sends it.
    #[arg(long, default_value = crate::testcase::run::DEFAULT_ORG)]
    #[serde(default = "default_org")]
    pub org: String,
    /// client-relationship or client-document.
    #[arg(long, default_value = "client-relationship")]
    #[serde(default = "default_document")]
    pub document: String,
    /// The client's identity code (900-series).
    #[arg(long, default_value = "010190-902S")]
    #[serde(default = "default_person")]
    pub person: String,
    /// The document OID (default: generated under the organisation).
    #[arg(long)]
    #[serde(default)]
    pub oid: Option<String>,
    /// New version / invalidate: the OID of the version replaced or invalidated.
    #[arg(long)]
    #[serde(default)]
    pub of: Option<String>,
    /// New version / invalidate: its setId (default: the same as --of).
    #[arg(long)]
    #[serde(default)]
    pub of_set_id: Option<String>,
    /// New version / invalidate: its version number.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub of_version: u32,
    /// Archive into this organiser's register (register use right).
    #[arg(long)]
    #[serde(default)]
    pub organiser: Option<String>,
    /// Invalidate: the reason.
    #[arg(long, default_value = "Virheellinen kirjaus")]
    #[serde(default = "default_reason")]
    pub reason: String,
    /// system, professional:REGNO, or unsigned.
    #[arg(long)]
    #[serde(default)]
    pub signing: Option<String>,
    /// Certificate kit.
    #[arg(long, default_value = "certs/generated")]
    #[serde(default = "default_certs")]
    pub certs: PathBuf,
    /// Write here instead of stdout (build).
    #[arg(long)]
    #[serde(default)]
    pub out: Option<PathBuf>,
}

fn default_message() -> String {
    "archive".into()
}

fn default_org() -> String {
    crate::testcase::run::DEFAULT_ORG.into()
}

fn default_document() -> String {
    "client-relationship".into()
}

fn default_person() -> String {
    "010190-902S".into()
}

fn one() -> u32 {
    1
}

fn default_reason() -> String {
    "Virheellinen kirjaus".into()
}

fn default_certs() -> PathBuf {
    "certs/generated".into()
}

impl BuildArgs {
    fn resolved(&self) -> Result<Self, Failure> {
        let Some(spec) = &self.spec else {
            return Ok(self.clone());
        };
        let text = std::fs::read_to_string(spec)
            .map_err(|e| Failure::usage(format!("{}: {e}", spec.display())))?;
        let mut from: Self = toml::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", spec.display())))?;
        from.spec = None;
        Ok(from)
    }
}

/// A transport failure: unreachable (exit 5) when nothing answered at all.
fn transport(e: crate::client::reference::ReferenceError) -> Failure {
    use crate::client::ClientError;
    use crate::client::reference::ReferenceError;
    match &e {
        ReferenceError::Client(ClientError::Connect { .. }) => Failure::unreachable(e),
        _ => Failure::failed(e),
    }
}

fn build(args: &BuildArgs, addr: Target) -> Result<(ReferenceClient, String), Failure> {
    let a = args.resolved()?;
    let interactions = Config::builtin()
        .map_err(Failure::internal)?
        .archive
        .interactions;
    let c = ReferenceClient::new(&a.certs, &a.org, addr, interactions).map_err(Failure::usage)?;
    let oid = a.oid.clone().unwrap_or_else(|| {
        format!(
            "{}.95.{}",
            a.org,
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        )
    });
    let professional = "99900000011";
    let mut meta = match a.document.as_str() {
        "client-relationship" => Metadata::client_relationship_example(&oid, &a.person),
        "client-document" => Metadata::client_document_example(&oid, &a.person, professional),
        other => {
            return Err(Failure::usage(format!(
                "--document {other:?}: client-relationship or client-document"
            )));
        }
    };
    meta.custodian = a.org.clone();
    meta.organiser = a.organiser.clone();
    let signing = match a.signing.as_deref() {
        None if a.document == "client-document" => Signing::Professional(professional.into()),
        None | Some("system") => Signing::System,
        Some("unsigned") => Signing::Unsigned,
        Some(p) if p.starts_with("professional:") => {
            Signing::Professional(p["professional:".len()..].into())
        }
        Some(other) => {
            return Err(Failure::usage(format!(
                "--signing {other:?}: system, professional:REGNO or unsigned"
            )));
        }
    };
    let previous = |of: &str| DocumentRef {
        document_oid: of.to_owned(),
        set_id: a.of_set_id.clone().unwrap_or_else(|| of.to_owned()),
        version: a.of_version,
    };
    let message = match a.message.as_str() {
        "archive" => c.archive_message(&meta, &signing).map_err(Failure::usage)?,
        "new-version" => {
            let of = a.of.as_deref().ok_or_else(|| {
                Failure::usage("a new version needs --of (the current version's OID)")
            })?;
            let prev = previous(of);
            meta.set_id = prev.set_id.clone();
            meta.version = prev.version + 1;
            meta.replaces = Some(prev);
            c.archive_message(&meta, &signing).map_err(Failure::usage)?
        }
        "invalidate" => {
            let of = a.of.as_deref().ok_or_else(|| {
                Failure::usage("an invalidation needs --of (the current version's OID)")
            })?;
            c.invalidation_message(&previous(of), &a.org, &a.reason)
        }
        other => {
            return Err(Failure::usage(format!(
                "--message {other:?}: archive, new-version or invalidate"
            )));
        }
    };
    Ok((c, message))
}

/// Runs `client …`.
pub(super) fn run(cmd: ClientCommand, rt: &tokio::runtime::Runtime) -> Result<u8, Failure> {
    match cmd {
        ClientCommand::Build(args) => {
            let addr: std::net::SocketAddr = "127.0.0.1:0".parse().map_err(Failure::internal)?;
            let (_, message) = build(&args, addr.into())?;
            match &args.resolved()?.out {
                Some(p) => std::fs::write(p, &message)
                    .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
                None => out!("{message}"),
            }
            Ok(exit::OK)
        }
        ClientCommand::Send {
            file,
            target,
            raw,
            retry,
            config,
            build: args,
        } => {
            let (c, built) = build(&args, target)?;
            let c = if retry {
                let cfg = Config::load(config.as_deref()).map_err(Failure::usage)?;
                c.with_retry(cfg.reference_client.retry)
            } else {
                c
            };
            let body = match &file {
                Some(f) => std::fs::read_to_string(f)
                    .map_err(|e| Failure::usage(format!("{}: {e}", f.display())))?,
                None => built,
            };
            let reply = rt.block_on(c.send(body)).map_err(transport)?;
            let text = String::from_utf8_lossy(&reply.body);
            if reply.attempts > 1 {
                outln!("sent {} times", reply.attempts);
            }
            match crate::client::answer::read_answer(&text) {
                Some(a) => outln!("{}", a.summary(reply.status)),
                None => outln!(
                    "HTTP {} (not an HL7 acknowledgement or a SOAP fault)",
                    reply.status
                ),
            }
            if reply.delivered_earlier {
                outln!(
                    "delivered: an earlier send reached the archive (its answer was lost); W-016/L-001 say so"
                );
            }
            if raw {
                outln!("{text}");
            }
            Ok(if reply.ack() == "AA" || reply.delivered_earlier {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        ClientCommand::Query {
            kind,
            target,
            org,
            certs,
            person,
            document,
            set_id,
            case_id,
            status,
            history,
            register,
            page_size,
            start,
            save,
            json,
        } => {
            let kind = QueryKind::parse(&kind).ok_or_else(|| {
                Failure::usage(format!(
                    "{kind:?}: client-relationships, cases, metadata, document or summary"
                ))
            })?;
            let status: StatusFilter = serde_json::from_value(serde_json::Value::String(
                status.clone(),
            ))
            .map_err(|_| {
                Failure::usage(format!(
                    "--status {status:?}: current, replaced, invalidated or all"
                ))
            })?;
            let register: RegisterScope =
                serde_json::from_value(serde_json::Value::String(register.clone())).map_err(
                    |_| Failure::usage(format!("--register {register:?}: all, own or organiser")),
                )?;
            let mut q = match &person {
                Some(p) => QueryRequest::for_client(p),
                None => QueryRequest::default(),
            };
            q.document_oid = document;
            q.set_id = set_id;
            q.case_id = case_id;
            q.status = status;
            q.include_history = history;
            q.register = register;
            q.page_size = page_size;
            q.start = start;
            let interactions = Config::builtin()
                .map_err(Failure::internal)?
                .archive
                .interactions;
            let c =
                ReferenceClient::new(&certs, &org, target, interactions).map_err(Failure::usage)?;
            let reply = rt.block_on(c.query(kind, &q)).map_err(transport)?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&reply.parsed).map_err(Failure::internal)?
                );
            } else {
                let p = &reply.parsed;
                outln!(
                    "{} {} total {} (this page {}, remaining {}) {}",
                    p.ack,
                    p.response_code,
                    p.total,
                    p.current,
                    p.remaining,
                    p.codes.join(" ")
                );
                for d in &p.documents {
                    outln!(
                        "  {} v{} {} client {} register {}",
                        d.document_oid,
                        d.version,
                        d.status,
                        d.client_id,
                        d.register_owner
                    );
                }
                for (id, n) in &p.groups {
                    outln!("  {id}: {n} document(s)");
                }
                for (dim, code, n) in &p.summary {
                    outln!("  {dim} {code}: {n}");
                }
            }
            if let (Some(path), Some(cda)) = (
                &save,
                reply.parsed.documents.first().and_then(|d| d.cda.as_ref()),
            ) {
                std::fs::write(path, cda)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                eprintln!("wrote {}", path.display());
            }
            Ok(if reply.ack() == "AA" {
                exit::OK
            } else {
                exit::FAILED
            })
        }
    }
}
