//! `podid sandbox …`: the local cluster and AWS.

use std::path::PathBuf;

use podid_core::duration::parse_duration;
use podid_sandbox::cluster::api::TokenRequest;
use podid_sandbox::commands::{self, Scope};
use podid_sandbox::layout::DataDir;
use podid_sandbox::up::{UpOptions, up};

use crate::Failure;
use crate::cli::{SandboxArgs, SandboxCommand, TokenArgs, UpArgs};
use crate::logging;
use crate::runtime::{runtime, shutdown_signal};

pub fn run(args: SandboxArgs) -> Result<(), Failure> {
    let data = DataDir::new(data_dir(args.data_dir.as_deref())?);
    match args.command {
        SandboxCommand::Up(up_args) => start(data, &up_args),
        SandboxCommand::Env => {
            print!("{}", commands::env(&data).map_err(Failure::runtime)?);
            Ok(())
        }
        SandboxCommand::Apply { file } => {
            let applied = block_on(commands::apply(&data, &PathBuf::from(file)))?;
            if applied {
                Ok(())
            } else {
                Err(Failure::status(1))
            }
        }
        SandboxCommand::Get {
            kind,
            namespace,
            all_namespaces,
        } => {
            let scope = match all_namespaces {
                true => Scope::All,
                false => Scope::Namespace(namespace.namespace),
            };
            block_on(commands::get(&data, &kind, &scope))
        }
        SandboxCommand::Delete {
            kind,
            name,
            namespace,
        } => {
            if !["pod", "pods", "po"].contains(&kind.as_str()) {
                return Err(Failure::usage(format!(
                    "the sandbox deletes pods only, not {kind}: podid sandbox delete pod NAME"
                )));
            }
            block_on(commands::delete_pod(&data, &namespace.namespace, &name))
        }
        SandboxCommand::Exec {
            pod,
            namespace,
            container,
            command,
            ..
        } => {
            let exec = commands::exec(
                &data,
                &namespace.namespace,
                &pod,
                container.as_deref(),
                &command,
            );
            match block_on(exec)? {
                0 => Ok(()),
                status => Err(Failure::status(u8::try_from(status).unwrap_or(1))),
            }
        }
        SandboxCommand::Token(token) => {
            let request = token_request(&token)?;
            block_on(commands::token(&data, &request))
        }
        SandboxCommand::Imds { config } => imds(&PathBuf::from(config)),
    }
}

/// `--data-dir`, else `$PODID_SANDBOX_DIR`, else `~/.podid-sandbox`.
fn data_dir(flag: Option<&str>) -> Result<PathBuf, Failure> {
    if let Some(dir) = flag {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("PODID_SANDBOX_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Failure::usage("HOME is not set: pass --data-dir"))?;
    Ok(PathBuf::from(home).join(".podid-sandbox"))
}

fn block_on<T>(work: impl Future<Output = Result<T, String>>) -> Result<T, Failure> {
    runtime()?.block_on(work).map_err(Failure::runtime)
}

fn start(data: DataDir, args: &UpArgs) -> Result<(), Failure> {
    let level = logging::parse_level(&args.verbosity).map_err(Failure::usage)?;
    if !podid_core::eks_auth::is_valid_cluster_name(&args.cluster_name) {
        return Err(Failure::usage(format!(
            "invalid --cluster-name {:?}: use 1 to 100 letters, digits, '-' or '_', starting \
             with a letter or digit",
            args.cluster_name
        )));
    }
    let podid = std::env::current_exe()
        .map_err(|e| Failure::runtime(format!("cannot find this program: {e}")))?;
    let options = UpOptions {
        data,
        cluster: args.cluster_name.clone(),
        region: args.region.clone(),
        netns: args.netns,
        port_base: args.port_base,
        require_imdsv2: args.require_imdsv2,
        podid,
    };
    logging::init(level, logging::Format::Text);
    runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        up(options, shutdown).await.map_err(Failure::runtime)
    })
}

fn token_request(args: &TokenArgs) -> Result<TokenRequest, Failure> {
    let lifetime = parse_duration(&args.lifetime)
        .map_err(|e| Failure::usage(format!("invalid --lifetime {:?}: {e}", args.lifetime)))?;
    Ok(TokenRequest {
        namespace: args.namespace.namespace.clone(),
        service_account: args.service_account.clone(),
        pod: args.pod.clone(),
        audience: args.audience.clone(),
        lifetime: lifetime.as_secs() as i64,
    })
}

fn imds(config: &std::path::Path) -> Result<(), Failure> {
    logging::init(
        tracing::level_filters::LevelFilter::INFO,
        logging::Format::Text,
    );
    let (listen, service) = podid_sandbox::node_imds::service(config).map_err(Failure::usage)?;
    runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure::runtime(format!("cannot listen on {listen}: {e}")))?;
        tracing::info!(%listen, "serving instance metadata");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(podid_http::serve(listener, service, stopped));
        shutdown.await;
        let _ = stop.send(true);
        let _ = server.await;
        Ok(())
    })
}
