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
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};

use crate::pki::read_pem_certs;
use crate::tls::provider;

pub mod answer;
pub mod reference;

/// The archive's default port (`server.listen` of the built-in configuration).
pub const DEFAULT_PORT: u16 = 8443;

/// Where the archive is: an address, or a host name (with its port) as `host:port`,
/// `[v6]:port`, `host` (port 8443) or an `https://` URL; the TLS server name is the host
/// as given, so a certificate issued for a name is checked against that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host as given (a name or an address).
    pub host: String,
    /// Where it resolved to.
    pub addr: SocketAddr,
}

/// Why a target is not one.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not HTTPS.
    #[error(
        "{0:?}: the archive speaks HTTPS with client certificates; use https://HOST:PORT or HOST:PORT"
    )]
    Scheme(String),
    /// The port is not a number.
    #[error("{given:?}: {port:?} is not a port number")]
    Port {
        /// What was given.
        given: String,
        /// The port part.
        port: String,
    },
    /// The name does not resolve.
    #[error("{host}: cannot resolve it: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let rest = match given.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
            Some(_) => return Err(TargetError::Scheme(given.to_owned())),
            None => given,
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':')),
                None => (v6, None),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p.parse().map_err(|_| TargetError::Port {
                given: given.to_owned(),
                port: p.to_owned(),
            })?,
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|source| TargetError::Resolve {
                host: host.to_owned(),
                source,
            })?
            .next()
            .ok_or_else(|| TargetError::Resolve {
                host: host.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            })?;
        Ok(Self {
            host: host.to_owned(),
            addr,
        })
    }
}

/// An address to listen on, written as a [`Target`] is (`HOST:PORT`, a host name, an
/// `https://` URL): for `--listen` switches.
pub fn listen_addr(s: &str) -> Result<SocketAddr, TargetError> {
    s.parse::<Target>().map(|t| t.addr)
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Self {
        Self {
            host: addr.ip().to_string(),
            addr,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.parse::<std::net::IpAddr>().is_ok() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}:{} ({})", self.host, self.addr.port(), self.addr.ip())
        }
    }
}

impl Target {
    /// The name the TLS client checks the server's certificate against.
    fn server_name(&self) -> ServerName<'static> {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(self.host.clone())
                .unwrap_or(ServerName::IpAddress(self.addr.ip().into())),
        }
    }

    /// `host:port` for the Host header.
    fn authority(&self) -> String {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(_) => self.addr.to_string(),
            Err(_) => format!("{}:{}", self.host, self.addr.port()),
        }
    }
}

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
    /// The server-certificate verifier could not be built (a CRL it could not use).
    #[error("client configuration: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
    /// A CRL file could not be read.
    #[error("client configuration: CRL {path}: {source}")]
    Crl {
        /// The file.
        path: std::path::PathBuf,
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// No answer in time.
    #[error("no answer from {addr} within {secs} s")]
    Timeout {
        /// The address.
        addr: SocketAddr,
        /// The wait.
        secs: u64,
    },
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
    /// A `Retry-After` in seconds (503 answers).
    pub retry_after: Option<u64>,
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
        Self::checking_revocation(ca, &[], identity, versions, version)
    }

    /// As [`Self::new`], refusing a server certificate that `crls` (PEM files) list as
    /// revoked, as a careful client system does.
    pub fn checking_revocation(
        ca: &Path,
        crls: &[std::path::PathBuf],
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
        let crls = crls
            .iter()
            .map(|p| {
                CertificateRevocationListDer::from_pem_file(p).map_err(|source| ClientError::Crl {
                    path: p.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Only the kit's service CA publishes a CRL; a server certificate from another
        // issuer is not refused for want of one.
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .allow_unknown_revocation_status()
        .build()?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)?
            .with_webpki_verifier(verifier);
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
    pub async fn connect(&self, target: impl Into<Target>) -> Result<Connection, ClientError> {
        let target = target.into();
        let addr = target.addr;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(target.server_name(), tcp)
            .await
            .map_err(|source| ClientError::Handshake { addr, source })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Connection { sender, addr })
    }

    /// One request on a fresh connection.
    pub async fn request(
        &self,
        target: impl Into<Target>,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<ClientResponse, ClientError> {
        let target = target.into();
        let addr = target.addr;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        let name = target.server_name();
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
            .uri(format!("https://{}{path}", target.authority()))
            .header("host", target.authority());
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
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        // Seconds only: an HTTP date is not what the archive sends.
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(ClientResponse {
            status,
            content_type,
            body,
            tls_version,
            alpn,
            retry_after,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_as_people_write_them() {
        let t = |s: &str| s.parse::<Target>();
        assert_eq!(
            t("127.0.0.1:9443").unwrap().addr,
            "127.0.0.1:9443".parse().unwrap()
        );
        assert_eq!(
            t("https://127.0.0.1:9443/archive").unwrap().addr,
            "127.0.0.1:9443".parse().unwrap()
        );
        assert_eq!(t("[::1]:9443").unwrap().addr, "[::1]:9443".parse().unwrap());
        assert_eq!(t("127.0.0.1").unwrap().addr.port(), DEFAULT_PORT);
        let named = t("localhost:9443").unwrap();
        assert_eq!(
            (named.host.as_str(), named.addr.port()),
            ("localhost", 9443)
        );
        assert!(named.addr.ip().is_loopback());
        assert!(matches!(
            named.server_name(),
            ServerName::DnsName(d) if d.as_ref() == "localhost"
        ));
        assert!(matches!(
            t("http://127.0.0.1:8443"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(t("127.0.0.1:port"), Err(TargetError::Port { .. })));
        assert!(matches!(
            t("no-such-host.invalid:8443"),
            Err(TargetError::Resolve { .. })
        ));
    }
}
