//! `burst`: many pods asking a cold agent at the same instant, as after a node reboot or a
//! large rollout. Every request has its own connection, opened before the burst, so that the
//! burst measures the agent's request path and not TCP handshakes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::args::Flags;
use crate::client::{Connection, Outcome};
use crate::stats::{Summary, report_failures};
use crate::token;

/// Time for the agent to accept every connection before the requests go out.
const ACCEPT_SETTLE: Duration = Duration::from_millis(250);

pub async fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["agent", "pods", "per-pod"])?;
    let agent: SocketAddr = flags.required("agent")?;
    let pods: usize = flags.optional("pods", 100)?;
    let per_pod: usize = flags.optional("per-pod", 10)?;
    let total = pods * per_pod;

    let tokens: Vec<Arc<str>> = (0..pods)
        .map(|pod| Arc::from(token::for_pod(&format!("burst-pod-{pod}"))))
        .collect();
    // Everyone, this task included, meets twice: once all connected, then to start at once.
    let connected = Arc::new(Barrier::new(total + 1));
    let go = Arc::new(Barrier::new(total + 1));
    let mut requests = JoinSet::new();
    for index in 0..total {
        let token = Arc::clone(&tokens[index % pods]);
        let (connected, go) = (Arc::clone(&connected), Arc::clone(&go));
        requests.spawn(async move {
            let connection = Connection::open(agent).await;
            connected.wait().await;
            go.wait().await;
            match connection {
                Ok(mut connection) => connection.get_credentials(&token).await,
                Err(error) => Outcome {
                    result: Err(error),
                    elapsed: Duration::ZERO,
                },
            }
        });
    }

    connected.wait().await;
    tokio::time::sleep(ACCEPT_SETTLE).await;
    let started = Instant::now();
    go.wait().await;
    let outcomes = requests.join_all().await;
    let wall = started.elapsed();

    report_failures(&outcomes);
    println!(
        "{} wall_ms={:.2}",
        Summary::of(&outcomes).line(),
        wall.as_secs_f64() * 1000.0
    );
    Ok(())
}
