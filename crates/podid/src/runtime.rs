//! The async runtime and process signals, shared by the long-running commands.

use crate::Failure;

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::runtime(format!("cannot start the async runtime: {error}")))
}

/// Set by `podid sandbox up` for the node processes it starts: they stop when the sandbox is
/// gone, even when it was killed and could not stop them itself.
const EXIT_WITH_PARENT: &str = "PODID_EXIT_WITH_PARENT";

/// Installs the SIGTERM and SIGINT handlers now, and resolves when either signal arrives, or
/// when the parent process exits if `PODID_EXIT_WITH_PARENT` is set.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let parent = std::env::var_os(EXIT_WITH_PARENT).map(|_| std::os::unix::process::parent_id());
    async move {
        let signalled = async {
            match handlers {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    tracing::warn!("cannot watch SIGTERM; stopping on Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        tokio::select! {
            _ = signalled => {}
            _ = parent_exit(parent) => {
                tracing::warn!("the parent process is gone; stopping");
            }
        }
    }
}

/// Resolves once this process has a parent other than `parent` (an orphan is adopted by init
/// or a subreaper); never without one to watch.
async fn parent_exit(parent: Option<u32>) {
    let Some(parent) = parent else {
        return std::future::pending().await;
    };
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        ticks.tick().await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}
