//! Starting and stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;

use podid_http::serve;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::Api;
use crate::config::ServerConfig;
use crate::store::AssociationStore;

#[derive(Debug)]
pub struct RunningServer {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub async fn start<S: AssociationStore>(
    config: ServerConfig,
    store: S,
) -> Result<RunningServer, std::io::Error> {
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let clusters: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    tracing::info!(%address, clusters = ?clusters, "serving the EKS pod identity API");

    let api = Arc::new(Api::new(Arc::new(config), Arc::new(store)));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, api, stopped));
    Ok(RunningServer {
        address,
        stop,
        task,
    })
}
