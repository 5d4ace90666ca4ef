//! The reference client system's transport: HTTPS with a client certificate, over HTTP/1.1
//! or HTTP/2. Building and signing Kanta messages will live here too.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::pki::read_pem_certs;
use crate::tls::provider;

pub mod reference;

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A certificate file could not be read.
    #[error("client configuration: {0}")]
    Certificates(#[from] crate::pki::InspectError),
    /// The key file could not be read.
    #[error("client configuration: {path}: {source}")]
    Key {
        /// The file.
        path: std::path::PathBuf,
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused a CA certificate.
    #[error("client configuration: CA {path}: {source}")]
    Anchor {
        /// The file.
        path: std::path::PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the configuration (versions, the key for the certificate).
    #[error("client configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// TCP connect failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// HTTP failed after the handshake.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 (negotiated by ALPN).
    Http2,
}

/// A response, with what the TLS layer negotiated.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// HTTP status.
    pub status: u16,
    /// Content-Type, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
    /// Negotiated TLS version, e.g. `TLSv1_3`.
    pub tls_version: String,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
}

/// An HTTPS client with an optional client certificate.
#[derive(Debug, Clone)]
pub struct MtlsClient {
    config: Arc<ClientConfig>,
    version: HttpVersion,
}

/// Reads a certificate chain and its key from PEM files.
pub fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ClientError> {
    let chain = read_pem_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| ClientError::Key {
        path: key.to_owned(),
        source,
    })?;
    Ok((chain, key))
}

impl MtlsClient {
    /// A client trusting `ca` (PEM file), presenting `identity` when given, limited to
    /// `versions`, speaking `version`.
    pub fn new(
        ca: &Path,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        versions: &[&'static SupportedProtocolVersion],
        version: HttpVersion,
    ) -> Result<Self, ClientError> {
        let mut roots = RootCertStore::empty();
        for der in read_pem_certs(ca)? {
            roots.add(der).map_err(|source| ClientError::Anchor {
                path: ca.to_owned(),
                source,
            })?;
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = match version {
            HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
            HttpVersion::Http2 => vec![b"h2".to_vec()],
        };
        Ok(Self {
            config: Arc::new(config),
            version,
        })
    }

    /// The TLS stream alone, for a caller that writes HTTP itself (hostile-input tests: a
    /// body that stalls, a connection that says nothing).
    pub async fn tls_stream(
        &self,
        addr: SocketAddr,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ClientError> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(ServerName::IpAddress(addr.ip().into()), tcp)
            .await
            .map_err(|source| ClientError::Handshake { addr, source })
    }

    /// A kept-alive HTTP/1.1 connection for many requests.
    pub async fn connect(&self, addr: SocketAddr) -> Result<Connection, ClientError> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(ServerName::IpAddress(addr.ip().into()), tcp)
            .await
            .map_err(|source| ClientError::Handshake { addr, source })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Connection { sender, addr })
    }

    /// One request on a fresh connection.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<ClientResponse, ClientError> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let name = ServerName::IpAddress(addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| ClientError::Handshake { addr, source })?;
        let (_, conn) = tls.get_ref();
        let tls_version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{addr}{path}"))
            .header("host", addr.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(body))?;
        let io = TokioIo::new(tls);
        let resp = match self.version {
            HttpVersion::Http1 => {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
                tokio::spawn(conn);
                sender.send_request(req).await?
            }
            HttpVersion::Http2 => {
                let (mut sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
                tokio::spawn(conn);
                sender.send_request(req).await?
            }
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(ClientResponse {
            status,
            content_type,
            body,
            tls_version,
            alpn,
        })
    }
}

/// A kept-alive connection (HTTP/1.1).
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Connection {
    /// Sends one request and reads the whole response: (status, body).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Bytes), ClientError> {
        self.sender.ready().await?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(body))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        Ok((status, resp.into_body().collect().await?.to_bytes()))
    }
}
