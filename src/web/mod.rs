//! The archivist's view (*arkistonhoitajan näkymä*): server-rendered HTML, no scripts, no
//! external loads. Search the controller's register, read a document (metadata, the display
//! form sanitized, the JSON, the signatures, the versions), compare versions, invalidate with
//! a reason (the same L rules as the message interface), run the deployment test's checklists,
//! fill in the report to Kela, and walk a room through the deployment test.
//!
//! Access: a loopback-only plain HTTP listener by default (the archivist chooses the
//! controller on the page), or mutual TLS with a professional certificate of the test PKI
//! (the controller comes from the professional's organisation). It never listens on another
//! address without client certificates.

mod i18n;
mod pages;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use i18n::Lang;

use crate::archive::{ArchiveStore, ExchangeLog};
use crate::identity::SoteRegister;
use crate::pki::TrustStore;
use crate::server::Reply;
use crate::server::http::{Activity, Busy, ConnectionTimeouts, OpenConnections, serve_until_idle};

/// Why the archivist view could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Binding failed.
    #[error("archivist view: cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Error.
        source: std::io::Error,
    },
    /// Refused to listen on the network without client certificates.
    #[error(
        "archivist view: {addr} is not a loopback address; set archivist.mtls = true to require professional certificates, or listen on 127.0.0.1"
    )]
    NotLoopback {
        /// Address.
        addr: SocketAddr,
    },
    /// TLS setup.
    #[error("archivist view TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The professional-certificate verifier could not be built.
    #[error("archivist view TLS: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// What the pages read.
pub struct WebState {
    /// The store.
    pub store: ArchiveStore,
    /// The exchange log.
    pub log: ExchangeLog,
    /// The register.
    pub register: Arc<SoteRegister>,
    /// The code lists in force (code names on the pages).
    pub code_lists: Arc<crate::rules::codes::CodeLists>,
    /// Trust for signature checks.
    pub trust: Arc<TrustStore>,
    /// The deployment-test case.
    pub deployment_case: crate::cases::TestCase,
    /// Saturdays count as working days.
    pub count_saturdays: bool,
    /// Invalidations need a reason.
    pub reason_required: bool,
    /// Where the data live (shown on the home page).
    pub data_dir: String,
    /// Archivists by registration number (empty: the kit's professionals).
    pub roles: BTreeMap<String, String>,
    /// Further names the view may be reached by (`archivist.host_names`), beside the
    /// address it listens on and `localhost`.
    pub host_names: Vec<String>,
    /// Header-read and idle limits per connection (`[server]`).
    pub timeouts: ConnectionTimeouts,
    /// Connections open at once (`server.max_connections`).
    pub max_connections: usize,
    /// A client system's export to start checklist (b) from
    /// (`archivist.client_system_export`).
    pub client_system_export: Option<std::path::PathBuf>,
    /// The organisations' readiness on the road to production (`[onboarding]`).
    pub onboarding: Arc<crate::onboarding::Onboarding>,
    /// The certificate kit (the onboarding page checks the connection point's certificate).
    pub kit: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Who is looking.
#[derive(Debug, Clone)]
pub(crate) enum Viewer {
    /// On the loopback listener: trusted, chooses the controller.
    Loopback,
    /// A professional by certificate, archivist for one controller.
    Professional {
        /// Registration number.
        registration: String,
        /// Name from the certificate.
        name: String,
        /// The controller acted for.
        org: String,
    },
}

/// The controller an authenticated professional is archivist for [I]: in Kanta the
/// organisation names its archivists in Kanta Ekstranet; here `archivist.roles`, or by
/// default the kit's professionals for their own organisations.
pub fn archivist_org(roles: &BTreeMap<String, String>, registration: &str) -> Option<String> {
    if !roles.is_empty() {
        return roles.get(registration).cloned();
    }
    crate::pki::PROFESSIONALS
        .iter()
        .find(|p| p.registration_number == registration)
        .map(|p| p.organisation.to_owned())
}

fn viewer_from_cert(roles: &BTreeMap<String, String>, der: &CertificateDer<'_>) -> Option<Viewer> {
    let info = crate::pki::CertInfo::from_der(der).ok()?;
    let registration = info.subject_values("serialNumber").next()?.to_owned();
    let org = archivist_org(roles, &registration)?;
    let name = info
        .subject_values("commonName")
        .next()
        .or_else(|| info.subject_values("CN").next())
        .unwrap_or(&registration)
        .to_owned();
    Some(Viewer::Professional {
        registration,
        name,
        org,
    })
}

/// Starts the archivist view on `addr`; with `tls` (mutual TLS over the kit's anchors and
/// the archive's server certificate) it accepts only professional certificates.
pub async fn start(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<WebState>,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), WebError> {
    if tls.is_none() && !addr.ip().is_loopback() {
        return Err(WebError::NotLoopback { addr });
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WebError::Bind { addr, source })?;
    let hosts = Arc::new(allowed_hosts(bound, &state.host_names));
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        let open = Arc::new(OpenConnections::default());
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, peer)) = accepted else { continue };
                    let Some(guard) = open.admit(state.max_connections) else {
                        drop(tcp);
                        continue;
                    };
                    let state = state.clone();
                    let tls = tls.clone();
                    let hosts = hosts.clone();
                    conns.spawn(async move {
                        let _guard = guard;
                        match tls {
                            None => serve_conn(TokioIo::new(tcp), peer, state, Viewer::Loopback, hosts).await,
                            Some(cfg) => {
                                let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                                let Ok(Ok(stream)) = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await else { return };
                                let viewer = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|der| viewer_from_cert(&state.roles, der));
                                match viewer {
                                    Some(v) => serve_conn(TokioIo::new(stream), peer, state, v, hosts).await,
                                    None => serve_forbidden(TokioIo::new(stream), peer, state.timeouts).await,
                                }
                            }
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
    });
    Ok((bound, task))
}

/// The Host values the view answers to: the bound address, `localhost` and the loopback
/// names with its port, and the configured names.
fn allowed_hosts(bound: SocketAddr, names: &[String]) -> Vec<String> {
    let port = bound.port();
    let mut hosts = vec![
        bound.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ];
    hosts.extend(names.iter().cloned());
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The rustls configuration for the mutual-TLS archivist view: the archive's server
/// certificate, client certificates chained to the kit's anchors (the professional CA).
pub fn tls_config(
    material: &crate::tls::ServerMaterial,
) -> Result<Arc<rustls::ServerConfig>, WebError> {
    let mut roots = rustls::RootCertStore::empty();
    for der in material.trust.anchor_ders() {
        roots.add(der.clone())?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        crate::tls::provider(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
            (*material.certified_key).clone(),
        )));
    Ok(Arc::new(config))
}

async fn serve_forbidden<I>(io: I, peer: SocketAddr, timeouts: ConnectionTimeouts)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(
            Reply::plain(
                403,
                "403: the archivist view needs a professional certificate of a registered archivist\n",
            )
            .into_hyper(),
        )
    });
    serve_until_idle(timeouts, io, svc, Activity::new(), peer).await;
}

async fn serve_conn<I>(
    io: I,
    peer: SocketAddr,
    state: Arc<WebState>,
    viewer: Viewer,
    hosts: Arc<Vec<String>>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let timeouts = state.timeouts;
    let activity = Activity::new();
    let svc = {
        let activity = activity.clone();
        service_fn(move |req: Request<hyper::body::Incoming>| {
            let state = state.clone();
            let viewer = viewer.clone();
            let hosts = hosts.clone();
            let activity = activity.clone();
            async move {
                let _busy = Busy::start(&activity);
                Ok::<_, std::convert::Infallible>(
                    handle(state, viewer, hosts, req).await.into_hyper(),
                )
            }
        })
    };
    serve_until_idle(timeouts, io, svc, activity, peer).await;
}

/// A parsed request the pages work from.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) form: BTreeMap<String, String>,
    pub(crate) lang: Lang,
    pub(crate) viewer: Viewer,
    /// This browser session's anti-forgery token: every state-changing form carries it.
    pub(crate) csrf: String,
}

/// The session cookie that carries the anti-forgery token.
const CSRF_COOKIE: &str = "ksim_csrf";

fn new_token() -> String {
    let mut b = [0u8; 24];
    // aws-lc's system RNG; a failure leaves a token no form can match (forms refused).
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return String::new();
    }
    crate::pki::hex(&b)
}

fn cookie(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 48 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Why a request is refused before any page runs (403).
fn forbidden_reason(
    req: &Request<hyper::body::Incoming>,
    allowed_hosts: &[String],
) -> Option<String> {
    // DNS rebinding: a page of another site resolving its name to this machine reaches the
    // view with its own name in Host. Only the names the view listens by are served.
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(&h)) => {}
        Some(h) => {
            return Some(format!(
                "Host {h:?} is not a name of this view ({}; archivist.host_names)",
                allowed_hosts.join(", ")
            ));
        }
        None => return Some("no Host header".into()),
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        if let Some(site) = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            && site != "same-origin"
            && site != "none"
        {
            return Some(format!("a cross-site form (Sec-Fetch-Site: {site})"));
        }
        if let Some(origin) = req
            .headers()
            .get(hyper::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        {
            let same = allowed_hosts.iter().any(|a| {
                origin.eq_ignore_ascii_case(&format!("http://{a}"))
                    || origin.eq_ignore_ascii_case(&format!("https://{a}"))
            });
            if !same {
                return Some(format!("a form from another origin ({origin})"));
            }
        }
    }
    None
}

/// A refusal before any page runs: plain text, never cached.
fn plain(status: u16, text: String) -> Reply {
    Reply::plain(status, text).with_header("cache-control", "no-store")
}

fn parse_pairs(s: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

async fn handle(
    state: Arc<WebState>,
    viewer: Viewer,
    hosts: Arc<Vec<String>>,
    req: Request<hyper::body::Incoming>,
) -> Reply {
    if let Some(why) = forbidden_reason(&req, &hosts) {
        tracing::warn!(
            "archivist view: refused {} {}: {why}",
            req.method(),
            req.uri().path()
        );
        return plain(403, format!("403: refused: {why}\n"));
    }
    let session = cookie(req.headers(), CSRF_COOKIE);
    let csrf = session.clone().unwrap_or_else(new_token);
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = parse_pairs(req.uri().query().unwrap_or(""));
    let accept = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lang = Lang::choose(query.get("lang").map(String::as_str), accept.as_deref());
    let form = if method == "POST" {
        match Limited::new(req.into_body(), 1 << 20).collect().await {
            Ok(b) => parse_pairs(&String::from_utf8_lossy(&b.to_bytes())),
            Err(e) => {
                // Refused whole: an action on half a form could do the wrong thing.
                return plain(
                    413,
                    format!("413: the form was not read ({e}); forms are limited to 1 MiB\n"),
                );
            }
        }
    } else {
        BTreeMap::new()
    };
    // Every state-changing form carries this session's token (double submit: the cookie
    // is SameSite=Strict and HttpOnly, the form field comes from a page this view served).
    if method == "POST" && (session.is_none() || form.get("csrf") != session.as_ref()) {
        tracing::warn!("archivist view: refused POST {path}: no valid anti-forgery token");
        return plain(
            403,
            "403: refused: the form carries no valid anti-forgery token (reload the page and send the form again)\n".into(),
        );
    }
    let r = Req {
        method,
        path,
        query,
        form,
        lang,
        viewer,
        csrf: csrf.clone(),
    };
    let mut page = tokio::task::spawn_blocking(move || pages::route(&state, &r))
        .await
        .unwrap_or_else(|_| Reply::plain(500, "internal error"));
    // Defence in depth: even a sanitizer miss cannot run a script or load anything.
    page.set_header(
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    page.set_header("x-content-type-options", "nosniff");
    page.set_header("referrer-policy", "no-referrer");
    // Documents about clients: never kept by a browser or a proxy.
    page.set_header("cache-control", "no-store");
    if session.is_none() && !csrf.is_empty() {
        page.set_header(
            "set-cookie",
            format!("{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict"),
        );
    }
    page
}
