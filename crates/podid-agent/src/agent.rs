//! Starting and stopping the agent's listeners.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cache::{CacheSettings, CredentialCache};
use crate::clock::Clock;
use crate::handler::{AllowedHosts, CredentialHandler};
use crate::metrics::AgentMetrics;
use crate::probes::{MetricsEndpoint, Probes};
use crate::upstream::CredentialSource;
use podid_http::{Handler, serve};

/// Where the agent listens and how it caches; validated before it gets here.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Credential listeners, e.g. `169.254.170.23:80` and `[fd00:ec2::23]:80`.
    pub credential_addresses: Vec<SocketAddr>,
    pub probe_address: SocketAddr,
    pub metrics_address: SocketAddr,
    pub cache: CacheSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address}: {source}{hint}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
        hint: &'static str,
    },
    #[error("no credential listener could be bound")]
    NoListener,
}

/// A started agent: its bound addresses, and the handle that stops it.
#[derive(Debug)]
pub struct RunningAgent {
    pub credential_addresses: Vec<SocketAddr>,
    pub probe_address: SocketAddr,
    pub metrics_address: SocketAddr,
    stop: watch::Sender<bool>,
    servers: JoinSet<()>,
}

impl RunningAgent {
    /// Stops accepting connections and waits for the requests in flight.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.servers.join_next().await.is_some() {}
    }
}

/// Binds every listener, then serves credentials from `source` until shut down.
pub async fn start<S: CredentialSource>(
    config: &AgentConfig,
    source: S,
    clock: Clock,
) -> Result<RunningAgent, StartError> {
    let metrics = AgentMetrics::default();
    let credential_listeners = bind_credential_listeners(&config.credential_addresses).await?;
    let probe_listener = bind(config.probe_address).await?;
    let metrics_listener = bind(config.metrics_address).await?;

    let credential_addresses: Vec<SocketAddr> = credential_listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let cache = CredentialCache::new(source, config.cache.clone(), clock, metrics.clone());
    let hosts = AllowedHosts::for_listeners(&credential_addresses);
    let handler = Arc::new(CredentialHandler::new(cache, hosts, clock, metrics.clone()));

    let (stop, stopped) = watch::channel(false);
    let mut servers = JoinSet::new();
    for listener in credential_listeners {
        servers.spawn(serve(listener, Arc::clone(&handler), stopped.clone()));
    }
    let mut running = RunningAgent {
        credential_addresses,
        probe_address: local_address(&probe_listener, config.probe_address),
        metrics_address: local_address(&metrics_listener, config.metrics_address),
        stop,
        servers,
    };

    let probes = Probes::default();
    probes.set_ready(true);
    spawn_server(&mut running.servers, probe_listener, probes, &stopped);
    spawn_server(
        &mut running.servers,
        metrics_listener,
        MetricsEndpoint::new(metrics.registry()),
        &stopped,
    );
    for address in &running.credential_addresses {
        tracing::info!(%address, "serving pod credentials");
    }
    let (probes, metrics) = (running.probe_address, running.metrics_address);
    tracing::info!(%probes, %metrics, "agent ready");
    Ok(running)
}

fn spawn_server<H: Handler>(
    servers: &mut JoinSet<()>,
    listener: TcpListener,
    handler: H,
    stopped: &watch::Receiver<bool>,
) {
    servers.spawn(serve(listener, Arc::new(handler), stopped.clone()));
}

fn local_address(listener: &TcpListener, configured: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(configured)
}

/// Binds each credential address. An IPv6 address the node cannot have (no IPv6, or the address
/// was never assigned) is skipped with a warning, since IPv4-only nodes are common; any other
/// failure stops the agent.
async fn bind_credential_listeners(
    addresses: &[SocketAddr],
) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::new();
    for &address in addresses {
        match bind(address).await {
            Ok(listener) => listeners.push(listener),
            Err(StartError::Bind { source, .. }) if address.is_ipv6() && lacks_address(&source) => {
                tracing::warn!(%address, error = %source,
                    "skipping an IPv6 credential address this node does not have");
            }
            Err(error) => return Err(error),
        }
    }
    if listeners.is_empty() {
        return Err(StartError::NoListener);
    }
    Ok(listeners)
}

fn lacks_address(error: &io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    error.kind() == io::ErrorKind::AddrNotAvailable || error.raw_os_error() == Some(EAFNOSUPPORT)
}

async fn bind(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address).await.map_err(|source| {
        let hint = match source.kind() {
            io::ErrorKind::AddrNotAvailable => {
                "; the address is on no link of this node: run `podid agent init` first"
            }
            io::ErrorKind::PermissionDenied => {
                "; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability"
            }
            io::ErrorKind::AddrInUse => "; another process holds it (an ingress controller?)",
            _ => "",
        };
        StartError::Bind {
            address,
            source,
            hint,
        }
    })
}
