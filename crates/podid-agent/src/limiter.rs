//! A rate limiter for upstream calls that shares the rate fairly between pods.
//!
//! Calls are admitted from a token bucket. While the bucket is empty, waiting callers queue per
//! key (per pod) and the queues are served round robin, one call each in turn. A pod that floods
//! the agent therefore waits behind itself, never in front of everybody else, and its queue is
//! bounded so the flood costs memory only up to that bound.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// How many calls one key may have waiting before further ones are refused.
const MAX_WAITING_PER_KEY: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many credential requests of this pod are waiting for the upstream rate limit")]
pub struct Throttled;

#[derive(Debug)]
pub struct FairLimiter<K> {
    state: Arc<Mutex<State<K>>>,
    per_second: f64,
    burst: f64,
}

#[derive(Debug)]
struct State<K> {
    tokens: f64,
    refilled_at: Instant,
    waiting: HashMap<K, VecDeque<oneshot::Sender<()>>>,
    turns: VecDeque<K>,
    dispatching: bool,
}

impl<K> FairLimiter<K>
where
    K: Clone + Eq + Hash + Send + 'static,
{
    /// Admits `per_second` calls a second on average and up to `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            state: Arc::new(Mutex::new(State {
                tokens: burst,
                refilled_at: Instant::now(),
                waiting: HashMap::new(),
                turns: VecDeque::new(),
                dispatching: false,
            })),
            per_second: per_second.max(0.001),
            burst,
        }
    }

    /// Waits for this key's turn. Dropping the future gives the turn up.
    pub async fn acquire(&self, key: K) -> Result<(), Throttled> {
        let admitted = {
            let mut state = lock(&self.state);
            self.refill(&mut state);
            if state.turns.is_empty() && state.tokens >= 1.0 {
                state.tokens -= 1.0;
                None
            } else {
                let queue = state.waiting.entry(key.clone()).or_default();
                if queue.len() >= MAX_WAITING_PER_KEY {
                    return Err(Throttled);
                }
                let (admit, admitted) = oneshot::channel();
                queue.push_back(admit);
                if queue.len() == 1 {
                    state.turns.push_back(key);
                }
                if !state.dispatching {
                    state.dispatching = true;
                    tokio::spawn(dispatch(
                        Arc::clone(&self.state),
                        self.per_second,
                        self.burst,
                    ));
                }
                Some(admitted)
            }
        };
        match admitted {
            None => Ok(()),
            Some(admitted) => admitted.await.map_err(|_| Throttled),
        }
    }

    fn refill(&self, state: &mut State<K>) {
        refill(state, self.per_second, self.burst);
    }
}

fn refill<K>(state: &mut State<K>, per_second: f64, burst: f64) {
    let now = Instant::now();
    let earned = now.duration_since(state.refilled_at).as_secs_f64() * per_second;
    state.tokens = (state.tokens + earned).min(burst);
    state.refilled_at = now;
}

/// Hands out tokens to the queued keys in turn until no one waits.
async fn dispatch<K: Clone + Eq + Hash>(state: Arc<Mutex<State<K>>>, per_second: f64, burst: f64) {
    loop {
        let wait = {
            let mut state = lock(&state);
            refill(&mut state, per_second, burst);
            while state.tokens >= 1.0 {
                let Some(key) = state.turns.pop_front() else {
                    break;
                };
                let Some(queue) = state.waiting.get_mut(&key) else {
                    continue;
                };
                // A waiter that gave up leaves a closed sender: skip it without spending a token.
                while let Some(admit) = queue.pop_front() {
                    if admit.send(()).is_ok() {
                        state.tokens -= 1.0;
                        break;
                    }
                }
                let queue_is_empty = state.waiting.get(&key).is_none_or(VecDeque::is_empty);
                if queue_is_empty {
                    state.waiting.remove(&key);
                } else {
                    state.turns.push_back(key);
                }
            }
            if state.turns.is_empty() {
                state.dispatching = false;
                return;
            }
            Duration::from_secs_f64((1.0 - state.tokens).max(0.0) / per_second)
        };
        tokio::time::sleep(wait).await;
    }
}

fn lock<K>(state: &Mutex<State<K>>) -> std::sync::MutexGuard<'_, State<K>> {
    // The state stays consistent at every await-free step, so a panic elsewhere cannot leave it
    // half-updated: recovering from poisoning is safe.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admits_a_burst_then_the_steady_rate() {
        let limiter = FairLimiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire("pod").await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            limiter.acquire("pod").await.unwrap();
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flooding_pod_does_not_starve_another() {
        let limiter = Arc::new(FairLimiter::new(10.0, 1));
        limiter.acquire("noisy").await.unwrap();

        let mut flood = Vec::new();
        for _ in 0..20 {
            let limiter = Arc::clone(&limiter);
            flood.push(tokio::spawn(async move { limiter.acquire("noisy").await }));
        }
        tokio::task::yield_now().await;
        let start = Instant::now();
        limiter.acquire("quiet").await.unwrap();
        // The quiet pod waits for at most one of the noisy pod's calls, not for all twenty.
        assert!(
            start.elapsed() <= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        for call in flood {
            call.await.unwrap().unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bounds_the_queue_of_one_pod() {
        let limiter = Arc::new(FairLimiter::new(1.0, 1));
        limiter.acquire("noisy").await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..MAX_WAITING_PER_KEY {
            let limiter = Arc::clone(&limiter);
            waiting.push(tokio::spawn(async move { limiter.acquire("noisy").await }));
        }
        tokio::task::yield_now().await;
        assert_eq!(limiter.acquire("noisy").await, Err(Throttled));
        for call in waiting {
            call.abort();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_spends_nothing() {
        let limiter = Arc::new(FairLimiter::new(1.0, 1));
        limiter.acquire("a").await.unwrap();
        let gave_up = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire("b").await })
        };
        tokio::task::yield_now().await;
        gave_up.abort();
        let start = Instant::now();
        limiter.acquire("c").await.unwrap();
        assert!(
            start.elapsed() <= Duration::from_millis(1001),
            "{:?}",
            start.elapsed()
        );
    }
}
