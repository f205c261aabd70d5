//! Starting and stopping the server: the API listener and the operations listener
//! (`/healthz`, `/readyz`, `/metrics`).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};
use podid_http::{Body, Handler, TlsAcceptor, respond, serve, serve_tls};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{Api, ServerState};
use crate::config::ServerConfig;
use crate::store::AssociationStore;

#[derive(Debug)]
pub struct RunningServer<S> {
    pub address: SocketAddr,
    pub ops_address: SocketAddr,
    /// The API itself, for a process that embeds the control plane and passes requests to it
    /// in memory.
    pub api: Arc<Api<S>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl<S> RunningServer<S> {
    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// Starts serving. `tls`, made from the configuration's certificate by
/// [`crate::tls::acceptor`] before anything else starts, turns the API listener into HTTPS.
pub async fn start<S: AssociationStore>(
    config: ServerConfig,
    store: S,
    tls: Option<TlsAcceptor>,
) -> Result<RunningServer<S>, StartError> {
    let (listen, ops_listen) = (config.listen, config.ops_listen);
    let state = ServerState::build(config, store)
        .await
        .map_err(StartError::Setup)?;
    let listener = bind(listen).await?;
    let ops_listener = bind(ops_listen).await?;
    let address = listener.local_addr().unwrap_or(listen);
    let ops_address = ops_listener.local_addr().unwrap_or(ops_listen);
    let clusters: Vec<&str> = state
        .config
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, scheme, ops = %ops_address, clusters = ?clusters,
        "serving the EKS pod identity API");

    let operations = Operations {
        registry: state.metrics.registry(),
    };
    let api = Arc::new(Api::new(Arc::new(state)));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    match tls {
        Some(tls) => tasks.spawn(serve_tls(listener, tls, Arc::clone(&api), stopped.clone())),
        None => tasks.spawn(serve(listener, Arc::clone(&api), stopped.clone())),
    };
    tasks.spawn(serve(ops_listener, Arc::new(operations), stopped));
    Ok(RunningServer {
        address,
        ops_address,
        api,
        stop,
        tasks,
    })
}

async fn bind(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Probes and metrics. The server is ready once it serves: its state is built before binding.
#[derive(Debug)]
struct Operations {
    registry: Registry,
}

impl Handler for Operations {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        match request.uri().path() {
            "/healthz" | "/readyz" => respond(200, "text/plain", "ok\n"),
            "/metrics" => {
                let mut text = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
                respond(200, "text/plain; version=0.0.4; charset=utf-8", text)
            }
            _ => respond(404, "text/plain", "try /healthz, /readyz or /metrics\n"),
        }
    }
}
