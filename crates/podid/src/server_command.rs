//! `podid server`: the control plane.

use std::path::PathBuf;

use podid_server::config::ServerConfig;
use podid_server::store::SqliteStore;
use podid_server::tls;

use crate::Failure;
use crate::cli::ServerArgs;
use crate::logging;
use crate::runtime::{runtime, shutdown_signal};

pub fn serve(args: &ServerArgs) -> Result<(), Failure> {
    let level = logging::parse_level(&args.verbosity).map_err(Failure::usage)?;
    let format = logging::parse_format(&args.log_format).map_err(Failure::usage)?;
    let config = ServerConfig::load(&PathBuf::from(&args.config))
        .map_err(|error| Failure::usage(error.to_string()))?;
    let tls = config
        .tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()
        .map_err(Failure::usage)?;
    logging::init(level, format);
    runtime()?.block_on(async {
        let shutdown_signal = shutdown_signal();
        let store =
            SqliteStore::open(&config.store).map_err(|e| Failure::runtime(e.to_string()))?;
        tracing::info!(store = %config.store.display(), "store opened");
        let server = podid_server::start(config, store, tls)
            .await
            .map_err(|error| Failure::runtime(error.to_string()))?;
        shutdown_signal.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        server.shutdown().await;
        Ok(())
    })
}
