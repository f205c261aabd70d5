//! The per-pod credential cache.
//!
//! One entry per pod (issuer, namespace, service account, pod uid), not per token: a pod whose
//! token the kubelet rotated keeps one entry. A token is served from an entry only once upstream
//! has accepted that exact token, because the agent cannot check signatures itself; a forged
//! token that merely names a cached pod therefore always goes upstream, and fails there.
//!
//! Misses go upstream through a singleflight keyed by the token, behind a rate limiter that is
//! fair between pods. Each entry refreshes itself ahead of expiry on its own jittered schedule
//! (see `refresh`), keeps serving its credentials while upstream is unavailable, and is dropped
//! when upstream rejects it for good, when its pod's token expires, or when its pod stops asking.

mod entry;
mod refresh;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use podid_core::Secret;
use podid_core::container::{RoleCredentials, credentials_body};
use podid_core::eks_auth::ErrorCode;
use podid_core::token::{PodIdentity, UnverifiedToken};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::limiter::FairLimiter;
use crate::metrics::{AgentMetrics, CodeLabel};
use crate::singleflight::{Role, SingleFlight};
use crate::upstream::{CredentialSource, UpstreamError};
use entry::Entries;

/// How the cache behaves; see the agent's flags for the defaults.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Pods kept at most; the least recently used pod makes room. Zero disables caching.
    pub max_entries: usize,
    /// The longest credentials are kept before a refresh. Zero disables caching.
    pub max_retention: Duration,
    /// Credentials closer than this to expiry are never served.
    pub min_remaining: Duration,
    /// The base delay before retrying a refresh that failed for a transient reason.
    pub retry_after_failure: Duration,
    /// Upstream calls a second, on average, shared fairly between pods.
    pub upstream_per_second: f64,
    /// Upstream calls allowed at once before the rate applies.
    pub upstream_burst: u32,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_entries: 2000,
            max_retention: Duration::from_secs(3 * 3600),
            min_remaining: Duration::from_secs(15),
            retry_after_failure: Duration::from_secs(60),
            upstream_per_second: 20.0,
            upstream_burst: 200,
        }
    }
}

impl CacheSettings {
    pub fn caching_enabled(&self) -> bool {
        self.max_entries > 0 && !self.max_retention.is_zero()
    }
}

/// Credentials as handed to pods, with the response body rendered once.
#[derive(Debug)]
pub struct Served {
    pub credentials: RoleCredentials,
    pub body: Bytes,
    /// Unix seconds at which upstream issued them.
    fetched_at: i64,
}

impl Served {
    fn new(credentials: RoleCredentials, fetched_at: i64) -> Self {
        let body = Bytes::from(credentials_body(&credentials));
        Self {
            credentials,
            body,
            fetched_at,
        }
    }

    /// Seconds between issue and expiry.
    fn lifetime(&self) -> i64 {
        (self.credentials.expiration - self.fetched_at).max(0)
    }
}

pub type FetchResult = Result<Arc<Served>, UpstreamError>;

/// Credentials of the pods on this node. Cloning shares the cache.
#[derive(Debug)]
pub struct CredentialCache<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for CredentialCache<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Debug)]
struct Shared<S> {
    source: S,
    clock: Clock,
    settings: CacheSettings,
    entries: Mutex<Entries>,
    flights: SingleFlight<Box<str>, FetchResult>,
    limiter: FairLimiter<PodIdentity>,
    metrics: AgentMetrics,
}

impl<S: CredentialSource> CredentialCache<S> {
    pub fn new(source: S, settings: CacheSettings, clock: Clock, metrics: AgentMetrics) -> Self {
        let limiter = FairLimiter::new(settings.upstream_per_second, settings.upstream_burst);
        Self {
            shared: Arc::new(Shared {
                source,
                clock,
                settings,
                entries: Mutex::new(Entries::default()),
                flights: SingleFlight::new(),
                limiter,
                metrics,
            }),
        }
    }

    /// Credentials for the pod `token` speaks for, from the cache or from upstream.
    pub async fn get(&self, token: &UnverifiedToken) -> FetchResult {
        let shared = &self.shared;
        if let Some(served) = shared.lookup(token) {
            shared.metrics.cache_hits.inc();
            return Ok(served);
        }
        shared.metrics.cache_misses.inc();

        let exchange = Arc::clone(shared).exchange(token.clone());
        let (role, flight) =
            shared
                .flights
                .run(token.raw().expose().into(), exchange, exchange_panicked);
        if role == Role::Waiter {
            shared.metrics.singleflight_waiters.inc();
        }
        flight.await
    }

    /// Pods currently cached.
    pub fn len(&self) -> usize {
        self.shared.lock_entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn exchange_panicked() -> FetchResult {
    Err(UpstreamError::new(
        ErrorCode::InternalServer,
        "the credential exchange failed unexpectedly",
    ))
}

impl<S: CredentialSource> Shared<S> {
    fn lookup(&self, token: &UnverifiedToken) -> Option<Arc<Served>> {
        let serve_until = self.clock.now_unix() + self.settings.min_remaining.as_secs() as i64;
        let mut entries = self.lock_entries();
        let entry = entries.get_mut(token.pod())?;
        let usable =
            entry.accepts(token.raw()) && entry.served.credentials.expiration > serve_until;
        if !usable {
            return None;
        }
        entry.last_access = Instant::now();
        Some(Arc::clone(&entry.served))
    }

    /// The exchange behind a miss: one upstream call, and the result stored for the pod.
    async fn exchange(self: Arc<Self>, token: UnverifiedToken) -> FetchResult {
        self.limiter
            .acquire(token.pod().clone())
            .await
            .map_err(|throttled| {
                UpstreamError::new(ErrorCode::Throttling, throttled.to_string())
            })?;
        let credentials = self.call_upstream(token.raw()).await?;
        let served = Arc::new(Served::new(credentials, self.clock.now_unix()));
        if self.settings.caching_enabled() {
            self.store(&token, Arc::clone(&served));
        }
        Ok(served)
    }

    async fn call_upstream(&self, token: &Secret) -> Result<RoleCredentials, UpstreamError> {
        self.metrics.upstream_calls.inc();
        let started = Instant::now();
        let result = self.source.fetch(token).await;
        self.metrics
            .upstream_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Err(error) = &result {
            let code = CodeLabel {
                code: error.code.short_name(),
            };
            self.metrics.upstream_errors.get_or_create(&code).inc();
            tracing::debug!(code = code.code, %error, "upstream refused credentials");
        }
        result
    }

    fn lock_entries(&self) -> MutexGuard<'_, Entries> {
        // Entries are updated in single steps under the lock, so poisoning leaves them whole.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
