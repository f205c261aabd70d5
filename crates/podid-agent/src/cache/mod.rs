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
use refresh::RefreshQueue;

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

/// Credentials as handed to pods: the response body, rendered once, and when it expires.
/// The credentials themselves live only inside the body.
#[derive(Debug)]
pub struct Served {
    pub body: Bytes,
    /// Unix seconds.
    pub expiration: i64,
    /// Unix seconds at which upstream issued them.
    fetched_at: i64,
}

impl Served {
    fn new(credentials: &RoleCredentials, fetched_at: i64) -> Self {
        // Copied so that the body holds exactly its bytes, not the rendering's spare capacity.
        let body = Bytes::copy_from_slice(credentials_body(credentials).as_bytes());
        Self {
            body,
            expiration: credentials.expiration,
            fetched_at,
        }
    }

    /// Seconds between issue and expiry.
    fn lifetime(&self) -> i64 {
        (self.expiration - self.fetched_at).max(0)
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
    refresh_queue: Arc<RefreshQueue>,
    metrics: AgentMetrics,
}

impl<S> Drop for Shared<S> {
    fn drop(&mut self) {
        self.refresh_queue.close();
    }
}

impl<S: CredentialSource> CredentialCache<S> {
    /// A cache over `source`. Must be called within a tokio runtime: it starts the refresh
    /// scheduler.
    pub fn new(source: S, settings: CacheSettings, clock: Clock, metrics: AgentMetrics) -> Self {
        let limiter = FairLimiter::new(settings.upstream_per_second, settings.upstream_burst);
        let refresh_queue = Arc::new(RefreshQueue::default());
        let entries = Mutex::new(Entries::with_capacity(settings.max_entries));
        let shared = Arc::new(Shared {
            source,
            clock,
            settings,
            entries,
            flights: SingleFlight::new(),
            limiter,
            refresh_queue: Arc::clone(&refresh_queue),
            metrics,
        });
        tokio::spawn(refresh::run(Arc::downgrade(&shared), refresh_queue));
        Self { shared }
    }

    /// The hit path: credentials for exactly this raw token if upstream accepted it before and
    /// both the token and the credentials are still good. Needs no decoding of the token; a
    /// `None` says only that the caller must take the full path.
    pub fn get_accepted(&self, raw: &str) -> Option<Arc<Served>> {
        let shared = &self.shared;
        let now = shared.clock.now_unix();
        let serve_until = now + shared.settings.min_remaining.as_secs() as i64;
        let mut entries = shared.lock_entries();
        let (entry, token_expires_at) = entries.by_raw_token(raw)?;
        // The token passed its `nbf` check when it was accepted, and time only moves on.
        if token_expires_at <= now || entry.served.expiration <= serve_until {
            return None;
        }
        entry.last_access = Instant::now();
        shared.metrics.cache_hits.inc();
        Some(Arc::clone(&entry.served))
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
    /// The hit path's lookup by pod rather than by token index. The index is keyed by the end
    /// of a token only, so two accepted tokens that end alike (never real signatures, but
    /// hand-made tokens can) share a slot; this lookup still finds the second one's entry.
    fn lookup(&self, token: &UnverifiedToken) -> Option<Arc<Served>> {
        let serve_until = self.clock.now_unix() + self.settings.min_remaining.as_secs() as i64;
        let mut entries = self.lock_entries();
        let entry = entries.get_mut(token.pod())?;
        let accepted = entry.accepted(token.raw().expose()).is_some();
        let usable = accepted && entry.served.expiration > serve_until;
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
        // Boxed so that the upstream call's future (the HTTP exchange, signing, retries) lives
        // only while the call runs: a miss queued behind the rate limiter holds a few hundred
        // bytes.
        let credentials = Box::pin(self.call_upstream(token.raw())).await?;
        let served = Arc::new(Served::new(&credentials, self.clock.now_unix()));
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
