//! `podid agent` and `podid agent init`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use podid_agent::cache::CacheSettings;
use podid_agent::clock::Clock;
use podid_agent::init::{LinkChoice, init as init_link};
use podid_agent::upstream::{
    EksAuthClient, EksAuthSettings, ROTATION_INTERVAL, RotatingSharedCredentials,
};
use podid_agent::{AgentConfig, start};
use podid_core::duration::parse_duration;
use podid_core::eks_auth::is_valid_cluster_name;
use tracing::level_filters::LevelFilter;

use crate::Failure;
use crate::cli::{InitArgs, ServeArgs};
use crate::logging;
use crate::runtime::{runtime, shutdown_signal};

/// Everything `podid agent` needs, checked before anything starts.
#[derive(Debug)]
struct Validated {
    agent: AgentConfig,
    upstream: EksAuthSettings,
    level: LevelFilter,
    log_format: logging::Format,
}

pub fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let config = validate(args).map_err(Failure::usage)?;
    logging::init(config.level, config.log_format);
    runtime()?.block_on(async {
        // Watch for signals before anything is bound, so that a SIGTERM arriving during start-up
        // is a graceful stop too.
        let shutdown_signal = shutdown_signal();
        tracing::info!(
            cluster = %config.upstream.cluster_name,
            endpoint = config.upstream.endpoint.as_deref().unwrap_or("(the region's EKS Auth)"),
            cache_size = config.agent.cache.max_entries,
            retention = ?config.agent.cache.max_retention,
            "starting the podid agent"
        );
        if let Some(file) = &config.upstream.rotating_credentials_file {
            report_credentials_file(file);
        }
        let source = EksAuthClient::connect(&config.upstream)
            .await
            .map_err(Failure::runtime)?;
        let agent = start(&config.agent, source, Clock::System)
            .await
            .map_err(|error| Failure::runtime(error.to_string()))?;
        shutdown_signal.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        agent.shutdown().await;
        Ok(())
    })
}

/// The file may appear after the agent starts (the node's credential service writes it), so
/// one that cannot be read yet is worth a warning, not a refusal to start.
fn report_credentials_file(file: &std::path::Path) {
    let provider = RotatingSharedCredentials::new(file, ROTATION_INTERVAL);
    if let Err(problem) = provider.load() {
        tracing::warn!("the shared credentials file is not usable yet: {problem}");
    }
}

pub fn init(args: &InitArgs) -> Result<(), Failure> {
    logging::init(LevelFilter::INFO, logging::Format::Text);
    let choice = match &args.link {
        Some(link) => LinkChoice::Existing(link.clone()),
        None => LinkChoice::Dummy(args.dummy_name.clone()),
    };
    let report = runtime()?
        .block_on(init_link(choice))
        .map_err(|error| Failure::runtime(error.to_string()))?;
    let how = if report.link_created {
        "created link"
    } else {
        "used existing link"
    };
    println!(
        "{how} {}: 169.254.170.23/32 is on it and routed to it",
        report.link
    );
    for warning in &report.ipv6_warnings {
        println!("warning: IPv6 was not set up ({warning}); pods can still use IPv4");
    }
    if report.ipv6_warnings.is_empty() {
        println!("fd00:ec2::23/128 is on {} and routed to it", report.link);
    }
    Ok(())
}

fn validate(args: &ServeArgs) -> Result<Validated, String> {
    let cluster_name = args
        .cluster_name
        .as_deref()
        .ok_or("missing --cluster-name (-c): the name of the cluster this node belongs to")?;
    validate_cluster_name(cluster_name)?;
    let level = logging::parse_level(&args.verbosity)?;
    let log_format = logging::parse_format(&args.log_format)?;

    let credential_addresses = args
        .bind_hosts
        .iter()
        .map(|host| parse_bind_host(host).map(|ip| SocketAddr::new(ip, args.port)))
        .collect::<Result<Vec<_>, _>>()?;
    let metrics_ip: IpAddr = args.metrics_address.parse().map_err(|_| {
        format!(
            "invalid --metrics-address {:?}: expected an IP address",
            args.metrics_address
        )
    })?;
    let retention = parse_duration(&args.max_credential_retention_before_renewal)
        .map_err(|error| format!("invalid --max-credential-retention-before-renewal: {error}"))?;
    if !(args.max_service_qps.is_finite() && args.max_service_qps > 0.0) {
        return Err(format!(
            "invalid --max-service-qps {}: expected a positive number",
            args.max_service_qps
        ));
    }
    if let Some(endpoint) = &args.endpoint {
        validate_endpoint(endpoint)?;
    }

    let cache = CacheSettings {
        max_entries: args.max_cache_size,
        max_retention: retention,
        upstream_per_second: args.max_service_qps,
        ..CacheSettings::default()
    };
    let agent = AgentConfig {
        credential_addresses,
        probe_address: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.probe_port),
        metrics_address: SocketAddr::new(metrics_ip, args.metrics_port),
        cache,
    };
    let mut upstream = EksAuthSettings::new(cluster_name);
    upstream.endpoint = args.endpoint.clone();
    upstream.node_token_file = args.node_token_file.as_ref().map(std::path::PathBuf::from);
    if args.rotate_credentials {
        if args.node_token_file.is_some() {
            return Err(
                "--rotate-credentials and --node-token-file exclude each other: with a \
                        node token the agent signs nothing"
                    .into(),
            );
        }
        upstream.rotating_credentials_file = Some(RotatingSharedCredentials::default_file()?);
    }
    Ok(Validated {
        agent,
        upstream,
        level,
        log_format,
    })
}

fn validate_cluster_name(name: &str) -> Result<(), String> {
    if is_valid_cluster_name(name) {
        return Ok(());
    }
    Err(format!(
        "invalid --cluster-name {name:?}: use 1 to 100 letters, digits, '-' or '_', starting \
         with a letter or digit"
    ))
}

/// A bind host is an IP address; IPv6 may be written in brackets, as the AWS agent's default is.
fn parse_bind_host(host: &str) -> Result<IpAddr, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().map_err(|_| {
        format!(
            "invalid --bind-hosts {host:?}: expected an IP address such as 169.254.170.23 \
                 or [fd00:ec2::23]"
        )
    })
}

fn validate_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(authority) if !authority.is_empty() && !authority.starts_with('/') => Ok(()),
        _ => Err(format!(
            "invalid --endpoint {endpoint:?}: expected an http:// or https:// URL with a host"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_eks_cluster_names_only() {
        assert!(validate_cluster_name("eksdemo1").is_ok());
        assert!(validate_cluster_name("my_cluster-2").is_ok());
        for bad in ["", "-lead", "has space", "dots.no", &"x".repeat(101)] {
            assert!(validate_cluster_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bind_hosts_take_brackets_or_not() {
        assert_eq!(
            parse_bind_host("[fd00:ec2::23]").unwrap().to_string(),
            "fd00:ec2::23"
        );
        assert_eq!(
            parse_bind_host("fd00:ec2::23").unwrap().to_string(),
            "fd00:ec2::23"
        );
        assert_eq!(
            parse_bind_host("169.254.170.23").unwrap().to_string(),
            "169.254.170.23"
        );
        assert!(
            parse_bind_host("localhost")
                .unwrap_err()
                .contains("localhost")
        );
    }

    #[test]
    fn endpoints_need_a_scheme_and_host() {
        assert!(validate_endpoint("http://127.0.0.1:8443").is_ok());
        assert!(validate_endpoint("https://eks-auth.us-east-1.api.aws").is_ok());
        assert!(validate_endpoint("eks-auth.us-east-1.api.aws").is_err());
        assert!(validate_endpoint("http://").is_err());
    }
}
