//! One upstream call per key, however many callers ask at once.
//!
//! The first caller for a key starts the work as a task of its own; everyone who asks for the
//! same key while it runs waits for that task's result, success or error. Because the work is a
//! separate task, a caller that disconnects or times out cancels only its own wait: the others,
//! and the work itself, carry on.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

#[derive(Debug)]
pub struct SingleFlight<K, V: Clone> {
    in_flight: Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>>,
}

/// Whether a call started the work or joined work already running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Waiter,
}

impl<K, V> SingleFlight<K, V>
where
    K: Clone + Eq + Hash + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new() -> Self {
        Self {
            in_flight: Arc::default(),
        }
    }

    /// Runs `work` unless work for `key` is already in flight, and returns that work's result.
    /// `on_panic` stands in for the result if the work panicked.
    pub fn run<F>(
        &self,
        key: K,
        work: F,
        on_panic: fn() -> V,
    ) -> (Role, impl Future<Output = V> + Send + 'static)
    where
        F: Future<Output = V> + Send + 'static,
    {
        let mut in_flight = lock(&self.in_flight);
        if let Some(flight) = in_flight.get(&key) {
            return (Role::Waiter, flight.clone());
        }

        let registry = Arc::clone(&self.in_flight);
        let finished_key = key.clone();
        let task = tokio::spawn(async move {
            let value = work.await;
            // Leave the map only once the result is final, so a caller arriving now either
            // joins this flight or sees whatever the work stored on its way out.
            lock(&registry).remove(&finished_key);
            value
        });
        let flight = async move { task.await.unwrap_or_else(|_| on_panic()) }
            .boxed()
            .shared();
        in_flight.insert(key, flight.clone());
        (Role::Leader, flight)
    }

    /// How many keys have work in flight.
    pub fn len(&self) -> usize {
        lock(&self.in_flight).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V> Default for SingleFlight<K, V>
where
    K: Clone + Eq + Hash + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a single map operation, so a poisoned map is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn panicked() -> Result<u32, String> {
        Err("panicked".into())
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_run_and_its_error() {
        let flights = SingleFlight::<&str, Result<u32, String>>::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let mut waits = Vec::new();
        for _ in 0..50 {
            let runs = Arc::clone(&runs);
            let (_, wait) = flights.run(
                "pod",
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err("AccessDenied".to_owned())
                },
                panicked,
            );
            waits.push(wait);
        }
        for wait in waits {
            assert_eq!(wait.await, Err("AccessDenied".to_owned()));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_leader_does_not_cancel_the_work() {
        let flights = SingleFlight::<&str, Result<u32, String>>::new();
        let (role, leader) = flights.run(
            "pod",
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(7)
            },
            panicked,
        );
        assert_eq!(role, Role::Leader);
        let (role, waiter) = flights.run("pod", async { Ok(0) }, panicked);
        assert_eq!(role, Role::Waiter);
        drop(leader);
        assert_eq!(waiter.await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_becomes_an_error_for_every_waiter() {
        let flights = SingleFlight::<&str, Result<u32, String>>::new();
        let (_, first) = flights.run("pod", async { panic!("upstream bug") }, panicked);
        let (_, second) = flights.run("pod", async { Ok(1) }, panicked);
        assert_eq!(first.await, Err("panicked".into()));
        assert_eq!(second.await, Err("panicked".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_flight_is_not_reused() {
        let flights = SingleFlight::<&str, Result<u32, String>>::new();
        let (_, first) = flights.run("pod", async { Ok(1) }, panicked);
        assert_eq!(first.await, Ok(1));
        let (role, second) = flights.run("pod", async { Ok(2) }, panicked);
        assert_eq!(role, Role::Leader);
        assert_eq!(second.await, Ok(2));
    }
}
