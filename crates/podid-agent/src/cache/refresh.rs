//! Refresh ahead of expiry, on each entry's own jittered schedule.
//!
//! After each successful exchange an entry is due again at a jittered instant before its
//! credentials need replacing. One scheduler task keeps every entry's next instant in a queue
//! and, when one falls due, refreshes that entry with its pod's freshest accepted token. Before
//! each refresh it checks that refreshing is still worth it: a pod whose token has expired, or
//! that has not asked for credentials for longer than a whole credential lifetime (its SDK would
//! have asked by then if the pod were still running), is dropped instead of refreshed.
//!
//! One queue rather than one sleeping task per entry keeps a cached pod's cost at a queue slot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use podid_core::Secret;
use podid_core::token::PodIdentity;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{CredentialSource, Served, Shared};

/// How long before expiry credentials are replaced, at most. The SDKs start asking for new
/// credentials 15 minutes before expiry; refreshing earlier than that means they get new ones.
const REFRESH_AHEAD: Duration = Duration::from_secs(20 * 60);

/// A pod token this close to expiry is not used for a refresh: it would be rejected.
const TOKEN_MARGIN_SECONDS: i64 = 60;

/// Refreshes happen up to this share of the interval early, so that entries cached together
/// do not all refresh together.
const JITTER: f64 = 0.1;

enum Plan {
    Refresh(Secret),
    Stop,
}

/// When each entry is due, earliest first.
#[derive(Debug, Default)]
pub(super) struct RefreshQueue {
    due: Mutex<BinaryHeap<Reverse<Due>>>,
    changed: Notify,
    closed: AtomicBool,
}

#[derive(Debug)]
struct Due {
    at: Instant,
    generation: u64,
    pod: Arc<PodIdentity>,
}

// Generations are unique, so (instant, generation) orders every pair of entries.
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.generation).cmp(&(other.at, other.generation))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Due {}

impl RefreshQueue {
    pub fn schedule(&self, pod: Arc<PodIdentity>, generation: u64, delay: Duration) {
        let due = Due {
            at: Instant::now() + delay,
            generation,
            pod,
        };
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Reverse(due));
        self.changed.notify_one();
    }

    /// Ends the scheduler: the cache is gone.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }

    fn next_at(&self) -> Option<Instant> {
        let due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        due.peek().map(|Reverse(first)| first.at)
    }

    fn pop_due(&self) -> Vec<Due> {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut ready = Vec::new();
        while due.peek().is_some_and(|Reverse(first)| first.at <= now) {
            if let Some(Reverse(first)) = due.pop() {
                ready.push(first);
            }
        }
        ready
    }
}

/// The scheduler: runs until the cache is dropped.
pub(super) async fn run<S: CredentialSource>(cache: Weak<Shared<S>>, queue: Arc<RefreshQueue>) {
    while !queue.closed.load(Ordering::SeqCst) {
        match queue.next_at() {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = queue.changed.notified() => continue,
                }
            }
            None => {
                queue.changed.notified().await;
                continue;
            }
        }
        for due in queue.pop_due() {
            let Some(shared) = cache.upgrade() else {
                return;
            };
            tokio::spawn(async move {
                if let Some(next) = shared.refresh_once(&due.pod, due.generation).await {
                    shared.refresh_queue.schedule(due.pod, due.generation, next);
                }
            });
        }
    }
}

impl<S: CredentialSource> Shared<S> {
    /// When to refresh credentials just issued.
    pub(super) fn refresh_delay(&self, served: &Served) -> Duration {
        let lifetime = Duration::from_secs(served.lifetime() as u64);
        let ahead = REFRESH_AHEAD.min(lifetime / 2);
        let interval = self.settings.max_retention.min(lifetime - ahead);
        interval.mul_f64(1.0 - JITTER * fastrand::f64())
    }

    /// One refresh attempt; returns the delay until the next, or `None` when the entry is gone.
    async fn refresh_once(&self, pod: &PodIdentity, generation: u64) -> Option<Duration> {
        let Plan::Refresh(token) = self.plan_refresh(pod, generation) else {
            return None;
        };
        if self.limiter.acquire(pod.clone()).await.is_err() {
            return Some(self.retry_delay(pod, generation));
        }
        // Boxed so that the upstream call's future lives only while the call runs.
        match Box::pin(self.call_upstream(&token)).await {
            Ok(credentials) => {
                let served = Arc::new(Served::new(&credentials, self.clock.now_unix()));
                let next = self.refresh_delay(&served);
                let mut entries = self.lock_entries();
                let entry = entries.owned_by(pod, generation)?;
                entry.served = served;
                self.metrics.refreshed("renewed");
                Some(next)
            }
            Err(error) if error.code.is_irrecoverable() => {
                tracing::info!(
                    namespace = %pod.namespace, pod = %pod.pod_name, code = error.code.short_name(),
                    "upstream rejected a refresh; dropping the pod's cached credentials"
                );
                self.metrics.refreshed("rejected");
                self.evict(pod, generation, "rejected");
                None
            }
            Err(error) => {
                tracing::warn!(
                    namespace = %pod.namespace, pod = %pod.pod_name, %error,
                    "refresh failed; serving the cached credentials until they expire"
                );
                self.metrics.refreshed("failed");
                Some(self.retry_delay(pod, generation))
            }
        }
    }

    fn plan_refresh(&self, pod: &PodIdentity, generation: u64) -> Plan {
        let now = self.clock.now_unix();
        let mut entries = self.lock_entries();
        let Some(entry) = entries.owned_by(pod, generation) else {
            return Plan::Stop;
        };
        let token = entry
            .freshest_token()
            .filter(|t| t.expires_at - now > TOKEN_MARGIN_SECONDS);
        let idle_limit = Duration::from_secs(entry.served.lifetime() as u64 + 60);
        let idle = entry.last_access.elapsed() > idle_limit;
        match token {
            Some(token) if !idle => Plan::Refresh(token.raw.clone()),
            _ => {
                let reason = if idle { "idle" } else { "token_expired" };
                drop(entries);
                self.evict(pod, generation, reason);
                Plan::Stop
            }
        }
    }

    /// A jittered delay before retrying a failed refresh, short enough to try again while the
    /// cached credentials are still valid.
    fn retry_delay(&self, pod: &PodIdentity, generation: u64) -> Duration {
        let base = self
            .settings
            .retry_after_failure
            .mul_f64(1.0 + fastrand::f64());
        let remaining = {
            let mut entries = self.lock_entries();
            entries
                .owned_by(pod, generation)
                .map(|entry| entry.served.expiration - self.clock.now_unix())
                .unwrap_or(0)
        };
        let before_expiry = Duration::from_secs((remaining.max(0) / 2) as u64);
        base.min(before_expiry).max(Duration::from_secs(1))
    }
}
