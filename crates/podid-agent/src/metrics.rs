//! The agent's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// Every counter the agent keeps. Cloning is cheap: the metrics share their storage.
#[derive(Debug, Clone)]
pub struct AgentMetrics {
    pub requests: Family<StatusLabel, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_evictions: Family<ReasonLabel, Counter>,
    pub cache_entries: Gauge,
    pub upstream_calls: Counter,
    pub upstream_seconds: Histogram,
    pub upstream_errors: Family<CodeLabel, Counter>,
    pub singleflight_waiters: Counter,
    pub refreshes: Family<OutcomeLabel, Counter>,
}

impl Default for AgentMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_evictions: Family::default(),
            cache_entries: Gauge::default(),
            upstream_calls: Counter::default(),
            // 5 ms to about 10 s.
            upstream_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            upstream_errors: Family::default(),
            singleflight_waiters: Counter::default(),
            refreshes: Family::default(),
        }
    }
}

impl AgentMetrics {
    /// A registry holding all of these metrics under the `podid_agent` prefix.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("podid_agent");
        registry.register(
            "requests",
            "Credential requests answered, by HTTP status",
            self.requests.clone(),
        );
        registry.register(
            "cache_hits",
            "Requests served from the cache",
            self.cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Requests that needed an upstream exchange",
            self.cache_misses.clone(),
        );
        registry.register(
            "cache_evictions",
            "Cache entries dropped, by reason",
            self.cache_evictions.clone(),
        );
        registry.register(
            "cache_entries",
            "Pods in the cache",
            self.cache_entries.clone(),
        );
        registry.register(
            "upstream_calls",
            "Calls to EKS Auth (or a podid server)",
            self.upstream_calls.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Latency of upstream calls, retries included",
            self.upstream_seconds.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream calls, by error code",
            self.upstream_errors.clone(),
        );
        registry.register(
            "singleflight_waiters",
            "Requests that joined an upstream call already in flight",
            self.singleflight_waiters.clone(),
        );
        registry.register(
            "refreshes",
            "Background refreshes, by outcome",
            self.refreshes.clone(),
        );
        registry
    }

    pub fn evicted(&self, reason: &'static str) {
        self.cache_evictions
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn refreshed(&self, outcome: &'static str) {
        self.refreshes
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}

/// Renders the registry in Prometheus' text format.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}
