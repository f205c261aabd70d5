//! The HTTP/1.1 serving loop shared by podid's listeners, with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
pub use tokio_rustls::TlsAcceptor;

/// Requests larger than this in their head are refused by hyper before any handler runs.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a client gets to complete a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The body of most answers: bytes in hand.
pub type Body = Full<Bytes>;

/// Why a streamed body stopped.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The address of the peer a request came from, in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Answers one request.
pub trait Handler: Send + Sync + 'static {
    /// Whether requests carry the peer's address as a [`PeerAddr`] extension. Off by default:
    /// it costs an allocation per request, which the hot paths that do not need it avoid.
    const WANTS_PEER_ADDRESS: bool = false;

    /// The body of its answers: [`Body`] for answers held in memory, or a streaming body for
    /// answers too large for that. The serving loop's own refusals are made from a [`Body`].
    type ResponseBody: hyper::body::Body<Data = Bytes, Error: Into<BodyError>>
        + From<Body>
        + Send
        + 'static;

    fn handle(
        &self,
        request: Request<Incoming>,
    ) -> impl Future<Output = Response<Self::ResponseBody>> + Send;
}

/// Serves `listener` until `stop` turns true, then stops accepting and waits for the requests
/// in flight, for at most a grace period. With `tls`, each connection is a TLS session first.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    stop: watch::Receiver<bool>,
) {
    serve_with(listener, None, handler, stop).await;
}

/// [`serve`] over TLS.
pub async fn serve_tls<H: Handler>(
    listener: TcpListener,
    tls: TlsAcceptor,
    handler: Arc<H>,
    stop: watch::Receiver<bool>,
) {
    serve_with(listener, Some(tls), handler, stop).await;
}

async fn serve_with<H: Handler>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD_BYTES)
        .header_read_timeout(Duration::from_secs(10));

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = Connection {
                    http: http.clone(),
                    watcher: graceful.watcher(),
                    tls: tls.clone(),
                };
                tokio::spawn(connection.serve(stream, Arc::clone(&handler)));
            }
            () = stopped(&mut stop) => break,
        }
    }

    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}; closing them");
    }
}

/// What serving one accepted connection needs.
struct Connection {
    http: http1::Builder,
    watcher: Watcher,
    tls: Option<TlsAcceptor>,
}

impl Connection {
    /// Serves the connection's requests, after a TLS handshake when TLS is on.
    async fn serve<H: Handler>(self, stream: TcpStream, handler: Arc<H>) {
        let peer = if H::WANTS_PEER_ADDRESS {
            stream.peer_addr().ok().map(PeerAddr)
        } else {
            None
        };
        let service = service_fn(move |mut request: Request<Incoming>| {
            let handler = Arc::clone(&handler);
            if let Some(peer) = peer {
                request.extensions_mut().insert(peer);
            }
            async move {
                if head_bytes(&request) > MAX_HEAD_BYTES {
                    let refused = respond(431, "text/plain", "request header fields too large\n");
                    return Ok::<_, Infallible>(refused.map(H::ResponseBody::from));
                }
                Ok::<_, Infallible>(handler.handle(request).await)
            }
        });
        let result = match self.tls {
            None => {
                let io = TokioIo::new(stream);
                self.watcher
                    .watch(self.http.serve_connection(io, service))
                    .await
            }
            Some(tls) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(session)) => {
                    let io = TokioIo::new(session);
                    self.watcher
                        .watch(self.http.serve_connection(io, service))
                        .await
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            },
        };
        if let Err(error) = result {
            tracing::debug!(%error, "connection ended with an error");
        }
    }
}

/// The size of a request's head as sent. hyper refuses heads much larger than its buffer, but
/// one read can take a head somewhat past it; this makes the limit exact.
fn head_bytes<B>(request: &Request<B>) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |target| target.as_str().len());
    let line = target + 16;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which is as good as a stop.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A response with a body and a content type.
pub fn respond(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
