//! The server's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: &'static str,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Debug, Clone)]
pub struct ServerMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub token_failures: Family<ReasonLabel, Counter>,
    pub sts_seconds: Histogram,
    pub webhook_answers: Family<OutcomeLabel, Counter>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            token_failures: Family::default(),
            sts_seconds: Histogram::new(exponential_buckets(0.002, 2.0, 13)),
            webhook_answers: Family::default(),
        }
    }
}

impl ServerMetrics {
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("podid_server");
        registry.register(
            "requests",
            "API requests by operation and outcome (ok or the error type)",
            self.requests.clone(),
        );
        registry.register(
            "token_verification_failures",
            "Refused service-account tokens, by reason",
            self.token_failures.clone(),
        );
        registry.register(
            "sts_duration_seconds",
            "Latency of STS AssumeRole, chained calls included",
            self.sts_seconds.clone(),
        );
        registry.register(
            "webhook_answers",
            "Admission reviews answered, by outcome (patched, unchanged, no_association, ...)",
            self.webhook_answers.clone(),
        );
        registry
    }

    pub fn request(&self, operation: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
    }

    pub fn webhook_answer(&self, outcome: &'static str) {
        self.webhook_answers
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    pub fn token_failure(&self, reason: &'static str) {
        self.token_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}
