//! Latency percentiles and the `key=value` lines the bench script reads.

use std::time::Duration;

use crate::client::Outcome;

/// Counts and latency percentiles of a set of requests.
#[derive(Debug)]
pub struct Summary {
    pub requests: usize,
    pub ok: usize,
    pub errors: usize,
    latencies: Vec<Duration>,
}

impl Summary {
    /// Latencies cover every request that got an answer, successful or not.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let ok = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        let mut latencies: Vec<Duration> = outcomes
            .iter()
            .filter(|outcome| outcome.result.is_ok())
            .map(|outcome| outcome.elapsed)
            .collect();
        latencies.sort_unstable();
        Self {
            requests: outcomes.len(),
            ok,
            errors: outcomes.len() - ok,
            latencies,
        }
    }

    /// The nearest-rank percentile, in milliseconds; zero when nothing was answered.
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = (percent / 100.0 * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    pub fn line(&self) -> String {
        format!(
            "requests={} ok={} errors={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
            self.requests,
            self.ok,
            self.errors,
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0),
        )
    }
}

/// Prints the first few distinct failures, so that a failed run says why.
pub fn report_failures(outcomes: &[Outcome]) {
    let mut shown: Vec<String> = Vec::new();
    for outcome in outcomes.iter().filter(|outcome| !outcome.is_ok()) {
        let reason = match &outcome.result {
            Ok(status) => format!("status {status}"),
            Err(error) => error.clone(),
        };
        if shown.len() < 5 && !shown.contains(&reason) {
            eprintln!("failure: {reason}");
            shown.push(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use hyper::StatusCode;

    use super::*;

    fn answered(ms: u64) -> Outcome {
        Outcome {
            result: Ok(StatusCode::OK),
            elapsed: Duration::from_millis(ms),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let outcomes: Vec<Outcome> = (1..=100).map(answered).collect();
        let summary = Summary::of(&outcomes);
        assert_eq!(summary.percentile_ms(50.0), 50.0);
        assert_eq!(summary.percentile_ms(99.0), 99.0);
        assert_eq!(summary.percentile_ms(100.0), 100.0);
        assert_eq!(summary.ok, 100);
    }
}
