//! What every request handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use super::ApiError;
use super::eks_auth::CallerCache;
use crate::config::ServerConfig;
use crate::fetch::Fetcher;
use crate::keys::{ClusterKeys, KeySource};
use crate::metrics::ServerMetrics;
use crate::session_cache::SessionCache;
use crate::sessions::RoleSessions;

#[derive(Debug)]
pub struct ServerState<S> {
    pub config: ServerConfig,
    pub store: Arc<S>,
    pub keys: HashMap<String, Arc<ClusterKeys>>,
    pub sessions: RoleSessions,
    pub metrics: ServerMetrics,
    pub callers: CallerCache,
    pub session_cache: SessionCache,
}

impl<S> ServerState<S> {
    /// Loads every cluster's keys and connects to AWS. A key file that cannot be read or parsed
    /// stops the start; an issuer that cannot be reached is retried later.
    pub async fn build(config: ServerConfig, store: S) -> Result<Self, String> {
        let fetcher = Fetcher::new()?;
        let mut keys = HashMap::new();
        for cluster in &config.clusters {
            let source = KeySource::of(cluster);
            let loaded = ClusterKeys::load(source, fetcher.clone())
                .await
                .map_err(|error| format!("cluster {}: {error}", cluster.name))?;
            let loaded = Arc::new(loaded);
            loaded.refresh_periodically();
            keys.insert(cluster.name.clone(), loaded);
        }
        let sessions = RoleSessions::connect(&config.aws).await;
        Ok(Self {
            config,
            store: Arc::new(store),
            keys,
            sessions,
            metrics: ServerMetrics::default(),
            callers: CallerCache::default(),
            session_cache: SessionCache::default(),
        })
    }

    pub fn keys(&self, cluster: &str) -> Result<&ClusterKeys, ApiError> {
        self.keys
            .get(cluster)
            .map(Arc::as_ref)
            .ok_or_else(|| ApiError::not_found(format!("No cluster found for name: {cluster}.")))
    }
}
