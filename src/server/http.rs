//! The HTTP layer every listener shares (the archive endpoint, the validation service and
//! the archivist's view): one response type, [`Reply`], kept as plain data until it is
//! sent so the exchange log can keep its body; a connection cap; and connection serving
//! with the header-read timeout and the idle cut.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A response before it becomes hyper's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
    /// Further headers, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A body with its status and type.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// Pretty JSON and a line end.
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self::new(status, "application/json", format!("{v:#}\n"))
    }

    /// UTF-8 text.
    pub fn plain(status: u16, text: impl Into<Bytes>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", text)
    }

    /// The same with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a header.
    pub fn set_header(&mut self, name: &'static str, value: impl Into<String>) {
        self.headers.push((name, value.into()));
    }

    /// hyper's response. A header value that is not a valid header is left out (they are
    /// all written by us; a test covers every one we send).
    pub fn into_hyper(self) -> Response<Full<Bytes>> {
        let body = Full::new(self.body.clone());
        self.into_hyper_with(body)
    }

    /// The same response with its body sent in `pieces` pieces, `gap` apart (a slow
    /// archive on purpose: the fault plan's slow-drip). `Content-Length` stays exact.
    pub fn into_dripping(self, pieces: usize, gap: Duration) -> Response<Drip> {
        let body = Drip::new(self.body.clone(), pieces, gap);
        let len = self.body.len();
        let mut r = self.into_hyper_with(body);
        if let Ok(v) = len.to_string().parse() {
            r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
        }
        r
    }

    fn into_hyper_with<B>(self, body: B) -> Response<B> {
        let mut r = Response::new(body);
        *r.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        if let Ok(v) = self.content_type.parse() {
            h.insert(hyper::header::CONTENT_TYPE, v);
        }
        for (name, value) in self.headers {
            if let Ok(v) = value.parse() {
                h.append(name, v);
            }
        }
        r
    }
}

/// Counts the open connections of one listener; a guard gives its place back on drop.
#[derive(Debug, Default)]
pub struct OpenConnections(AtomicUsize);

/// One admitted connection.
#[derive(Debug)]
pub struct ConnectionGuard(Arc<OpenConnections>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl OpenConnections {
    /// A guard, unless `max` are open already.
    pub fn admit(self: &Arc<Self>, max: usize) -> Option<ConnectionGuard> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        if n >= max {
            self.0.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(ConnectionGuard(self.clone()))
    }
}

/// When a connection last finished a request, and how many it has in progress.
#[derive(Debug)]
pub struct Activity {
    in_progress: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    /// A connection that has just opened.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            in_progress: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    fn idle_for(&self) -> Option<Duration> {
        (self.in_progress.load(Ordering::Relaxed) == 0).then(|| {
            self.last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
        })
    }
}

/// Marks a request in progress on its connection for as long as it lives.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Busy {
    /// Starts a request on `a`.
    pub fn start(a: &Arc<Activity>) -> Self {
        a.in_progress.fetch_add(1, Ordering::Relaxed);
        Self(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How long a connection may take to send its headers, and stay without a request.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimeouts {
    /// Time to read a request's headers (HTTP/1.1).
    pub header: Duration,
    /// Time without a request in progress before the connection is closed.
    pub idle: Duration,
}

impl ConnectionTimeouts {
    /// From `[server]`.
    pub fn of(s: &crate::config::ServerConfig) -> Self {
        Self {
            header: Duration::from_secs(s.header_timeout_secs),
            idle: Duration::from_secs(s.idle_timeout_secs),
        }
    }
}

/// Serves one accepted connection until it ends, or until it has had no request in
/// progress for `timeouts.idle` (then it is shut down gracefully, and cut if it does not
/// go within a few seconds more).
pub async fn serve_until_idle<I, S, B>(
    timeouts: ConnectionTimeouts,
    io: I,
    service: S,
    activity: Arc<Activity>,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = tick.tick() => {
                match closing {
                    Some(since) if since.elapsed() > Duration::from_secs(5) => {
                        tracing::debug!(peer = %peer, "idle connection cut");
                        return;
                    }
                    Some(_) => {}
                    None if activity.idle_for().is_some_and(|d| d > timeouts.idle) => {
                        tracing::debug!(peer = %peer, "closing an idle connection (server.idle_timeout_secs)");
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                    None => {}
                }
            }
        }
    }
}

/// A body sent in pieces with a pause before each.
pub struct Drip {
    pieces: std::collections::VecDeque<Bytes>,
    gap: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Drip {
    fn new(body: Bytes, pieces: usize, gap: Duration) -> Self {
        let step = body.len().div_ceil(pieces.max(1)).max(1);
        let mut queue = std::collections::VecDeque::new();
        let mut at = 0;
        while at < body.len() {
            let end = (at + step).min(body.len());
            queue.push_back(body.slice(at..end));
            at = end;
        }
        Self {
            pieces: queue,
            gap,
            sleep: Box::pin(tokio::time::sleep(gap)),
        }
    }
}

impl hyper::body::Body for Drip {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.pieces.is_empty() {
            return std::task::Poll::Ready(None);
        }
        match self.sleep.as_mut().poll(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(()) => {
                let gap = self.gap;
                self.sleep.as_mut().reset(tokio::time::Instant::now() + gap);
                let piece = self.pieces.pop_front();
                std::task::Poll::Ready(piece.map(|p| Ok(hyper::body::Frame::data(p))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.pieces.iter().map(|p| p.len() as u64).sum())
    }
}

/// What a service may answer with: a whole body, or one sent slowly on purpose.
pub type AnyBody = http_body_util::Either<Full<Bytes>, Drip>;

/// A service's refusal to answer at all: the connection is closed without a response (the
/// fault plan's drop-ack).
#[derive(Debug, thiserror::Error)]
#[error("the answer was dropped on purpose (fault plan)")]
pub struct Dropped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_we_send_survives_the_conversion() {
        let r = Reply::json(503, &serde_json::json!({"a": 1}))
            .with_header("retry-after", "3")
            .with_header("x-kanta-sim-ack", "AE")
            .with_header(
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            )
            .with_header("set-cookie", "ksim_csrf=00; Path=/; HttpOnly; SameSite=Strict")
            .with_header("cache-control", "no-store");
        let h = r.clone().into_hyper();
        assert_eq!(h.status(), 503);
        assert_eq!(h.headers().len(), 1 + r.headers.len());
        assert_eq!(h.headers()["content-type"], "application/json");
    }

    #[test]
    fn the_cap_gives_places_back() {
        let open = Arc::new(OpenConnections::default());
        let a = open.admit(1).unwrap();
        assert!(open.admit(1).is_none());
        drop(a);
        assert!(open.admit(1).is_some());
    }
}
