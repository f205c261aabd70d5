//! `fill`: one successful request for each of many distinct pods, to fill the agent's cache.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::task::JoinSet;

use crate::args::Flags;
use crate::client::{Connection, Outcome};
use crate::stats::{Summary, report_failures};
use crate::token;

pub async fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["agent", "pods", "concurrency"])?;
    let agent: SocketAddr = flags.required("agent")?;
    let pods: usize = flags.optional("pods", 2000)?;
    let concurrency: usize = flags.optional("concurrency", 50)?;

    let started = Instant::now();
    let next_pod = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        workers.spawn(worker(agent, pods, Arc::clone(&next_pod)));
    }
    let outcomes: Vec<Outcome> = workers.join_all().await.into_iter().flatten().collect();

    report_failures(&outcomes);
    println!(
        "{} elapsed_s={:.1}",
        Summary::of(&outcomes).line(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Takes pods off the shared counter until none are left, over one keep-alive connection that
/// is reopened if the agent closes it.
async fn worker(agent: SocketAddr, pods: usize, next_pod: Arc<AtomicUsize>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut connection: Option<Connection> = None;
    loop {
        let pod = next_pod.fetch_add(1, Ordering::Relaxed);
        if pod >= pods {
            return outcomes;
        }
        if !connection.as_ref().is_some_and(Connection::is_open) {
            connection = match Connection::open(agent).await {
                Ok(opened) => Some(opened),
                Err(error) => {
                    outcomes.push(Outcome {
                        result: Err(error),
                        elapsed: Default::default(),
                    });
                    continue;
                }
            };
        }
        let token = token::for_pod(&format!("fill-pod-{pod}"));
        if let Some(open) = connection.as_mut() {
            outcomes.push(open.get_credentials(&token).await);
        }
    }
}
