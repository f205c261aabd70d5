//! The public keys of each cluster's token issuer, kept current without restarts.
//!
//! Keys come from a JWKS file, a JWKS URL, or OIDC discovery on the issuer. They are fetched at
//! start, again on a schedule, and again when a token names a key id the server has not seen
//! (the cluster rotated its keys), at most once per `REFETCH_INTERVAL` so that a stream of
//! tokens with made-up key ids cannot turn the server into a load generator for the issuer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::config::ClusterConfig;
use crate::fetch::Fetcher;
use crate::tokens::{JwkSet, parse_jwks};

/// The least time between two fetches caused by unknown key ids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How often keys are fetched anyway.
pub const REFRESH_PERIOD: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
    Discovery(String),
}

impl KeySource {
    pub fn of(cluster: &ClusterConfig) -> Self {
        match (&cluster.jwks_file, &cluster.jwks_url) {
            (Some(file), _) => KeySource::File(file.clone()),
            (None, Some(url)) => KeySource::Url(url.clone()),
            (None, None) => KeySource::Discovery(cluster.issuer.clone()),
        }
    }
}

#[derive(Debug)]
pub struct ClusterKeys {
    source: KeySource,
    fetcher: Fetcher,
    current: RwLock<Arc<JwkSet>>,
    last_fetch: Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl ClusterKeys {
    /// Loads the keys once. A file must be readable and valid now; a URL that fails is retried
    /// later, so that a server can start while an issuer is briefly unreachable.
    pub async fn load(source: KeySource, fetcher: Fetcher) -> Result<Self, String> {
        let keys = Self {
            source,
            fetcher,
            current: RwLock::new(Arc::new(JwkSet::default())),
            last_fetch: Mutex::new(None),
        };
        match keys.fetch().await {
            Ok(set) => keys.replace(set),
            Err(error) if matches!(keys.source, KeySource::File(_)) => return Err(error),
            Err(error) => tracing::warn!(%error, "cluster keys unavailable; retrying later"),
        }
        Ok(keys)
    }

    pub fn current(&self) -> Arc<JwkSet> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Fetches again if the last fetch is old enough; returns the new set if it changed.
    pub async fn refetch(&self) -> Option<Arc<JwkSet>> {
        {
            let mut last = self.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(set) if set != *self.current() => {
                self.replace(set);
                Some(self.current())
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "refetching cluster keys failed");
                None
            }
        }
    }

    /// Fetches on a schedule, for as long as the keys are in use.
    pub fn refresh_periodically(self: &Arc<Self>) {
        let keys = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_PERIOD).await;
                let Some(keys) = keys.upgrade() else { return };
                match keys.fetch().await {
                    Ok(set) => keys.replace(set),
                    Err(error) => tracing::warn!(%error, "scheduled key refresh failed"),
                }
            }
        });
    }

    fn replace(&self, set: JwkSet) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let document = match &self.source {
            KeySource::File(path) => std::fs::read(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?
                .into(),
            KeySource::Url(url) => self.fetcher.get(url).await?,
            KeySource::Discovery(issuer) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let discovery: Discovery =
                    serde_json::from_slice(&self.fetcher.get(&url).await?)
                        .map_err(|e| format!("{url}: not an OpenID configuration: {e}"))?;
                self.fetcher.get(&discovery.jwks_uri).await?
            }
        };
        parse_jwks(&document).map_err(|error| format!("{}: {error}", self.describe()))
    }

    fn describe(&self) -> String {
        match &self.source {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Url(url) => url.clone(),
            KeySource::Discovery(issuer) => format!("keys discovered from {issuer}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Issuer, jwks_of};

    fn write(path: &std::path::Path, issuers: &[&Issuer]) {
        std::fs::write(path, jwks_of(issuers)).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_key_ids_refetch_at_most_every_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let (a, b, c) = (
            Issuer::generate_ec().unwrap(),
            Issuer::generate_ec().unwrap(),
            Issuer::generate_ec().unwrap(),
        );
        write(&path, &[&a]);
        let keys = ClusterKeys::load(KeySource::File(path.clone()), Fetcher::new().unwrap())
            .await
            .unwrap();
        assert!(keys.current().get(a.kid()).is_some());

        write(&path, &[&a, &b]);
        let rotated = keys
            .refetch()
            .await
            .expect("the first refetch goes through");
        assert!(rotated.get(b.kid()).is_some());

        write(&path, &[&a, &b, &c]);
        assert!(
            keys.refetch().await.is_none(),
            "a second refetch within the interval waits"
        );
        tokio::time::advance(REFETCH_INTERVAL).await;
        assert!(
            keys.refetch()
                .await
                .expect("allowed again")
                .get(c.kid())
                .is_some()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_refreshed_on_a_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let (old, new) = (
            Issuer::generate_ec().unwrap(),
            Issuer::generate_ec().unwrap(),
        );
        write(&path, &[&old]);
        let keys = Arc::new(
            ClusterKeys::load(KeySource::File(path.clone()), Fetcher::new().unwrap())
                .await
                .unwrap(),
        );
        keys.refresh_periodically();
        write(&path, &[&new]);
        tokio::time::sleep(REFRESH_PERIOD + Duration::from_secs(1)).await;
        assert!(keys.current().get(new.kid()).is_some());
        assert!(
            keys.current().get(old.kid()).is_none(),
            "a retired key stops verifying"
        );
    }

    /// Serves each document at its path on a loopback port; returns the base URL.
    async fn serve_documents(documents: Vec<(&'static str, String)>) -> String {
        use std::convert::Infallible;
        use std::sync::Arc;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let documents = Arc::new(documents);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let documents = Arc::clone(&documents);
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let found = documents
                        .iter()
                        .find(|(path, _)| *path == request.uri().path())
                        .map(|(_, body)| body.clone());
                    async move {
                        let (status, body) = match found {
                            Some(body) => (200, body),
                            None => (404, String::new()),
                        };
                        Ok::<_, Infallible>(podid_http::respond(status, "application/json", body))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                );
            }
        });
        base
    }

    #[tokio::test]
    async fn keys_from_a_jwks_url_and_from_oidc_discovery() {
        let issuer = Issuer::generate_rsa().unwrap();
        let jwks = jwks_of(&[&issuer]);
        let jwks_url = serve_documents(vec![("/openid/v1/jwks", jwks)]).await + "/openid/v1/jwks";
        // The issuer's discovery document, served elsewhere, points at that JWKS.
        let discovery = format!(r#"{{"issuer": "https://issuer.test", "jwks_uri": "{jwks_url}"}}"#);
        let issuer_url =
            serve_documents(vec![("/.well-known/openid-configuration", discovery)]).await;
        let fetcher = Fetcher::new().unwrap();

        let by_url = ClusterKeys::load(KeySource::Url(jwks_url), fetcher.clone())
            .await
            .unwrap();
        assert!(by_url.current().get(issuer.kid()).is_some());

        let discovered = KeySource::Discovery(issuer_url);
        let by_discovery = ClusterKeys::load(discovered, fetcher).await.unwrap();
        assert!(by_discovery.current().get(issuer.kid()).is_some());
    }

    #[tokio::test]
    async fn an_unreachable_issuer_does_not_stop_the_start() {
        let keys = ClusterKeys::load(
            KeySource::Url("http://127.0.0.1:9/jwks".into()),
            Fetcher::new().unwrap(),
        )
        .await
        .unwrap();
        assert!(
            keys.current().is_empty(),
            "started without keys, to fetch them later"
        );
    }

    #[tokio::test]
    async fn an_unreadable_key_file_stops_the_start() {
        let missing = KeySource::File("/nonexistent/jwks.json".into());
        let error = ClusterKeys::load(missing, Fetcher::new().unwrap())
            .await
            .unwrap_err();
        assert!(error.contains("/nonexistent/jwks.json"), "{error}");
    }
}
