//! `podid sandbox up`: starts everything, in the foreground, until SIGTERM or Ctrl-C.
//!
//! In order: the identity and data directory, the node's namespace (netns mode), TLS, the
//! sandbox's AWS account (administrator, service keys, node role), the cluster (token issuer,
//! objects, admission), the cluster API, the control plane, the AWS endpoint, then the node's
//! metadata service and agent. Each step keeps what an earlier start made.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use podid_core::Secret;
use podid_http::serve;
use podid_sandbox_aws::bootstrap::{self, KeyPair};
use podid_sandbox_aws::endpoint::Endpoint;
use podid_sandbox_aws::s3_access::{S3Gate, s3_service};
use podid_sandbox_aws::sessions::SessionKeys;
use podid_sandbox_aws::store::AccountStore;
use podid_server::store::SqliteStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cluster::Cluster;
use crate::cluster::admission::Admission;
use crate::cluster::api::ClusterApi;
use crate::cluster::issuer::ClusterIssuer;
use crate::cluster::objects::ObjectStore;
use crate::control_plane::{self, ControlPlaneSettings, EksBackend};
use crate::identity::{Identity, load_or_create};
use crate::layout::{DataDir, Mode, Running, write_atomically, write_json};
use crate::netns::{HOST_ADDRESS, IMDS_ADDRESS, NODE_ADDRESS, NodeNetwork, netns_name};
use crate::node::{Launcher, NodeProcess, wait_until_serving};
use crate::node_imds::{ImdsConfig, unix_now};
use crate::tls;

/// What `up` is asked for.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub data: DataDir,
    pub cluster: String,
    pub region: String,
    pub netns: bool,
    /// The first of the eight loopback ports the sandbox uses.
    pub port_base: u16,
    /// Refuse IMDSv1 requests, as EC2's `HttpTokens: required`.
    pub require_imdsv2: bool,
    /// This program, to start the node's processes with.
    pub podid: PathBuf,
}

/// The sandbox's ports, counted from the base.
#[derive(Debug, Clone, Copy)]
struct Ports {
    aws: u16,
    control_plane: u16,
    control_plane_ops: u16,
    api: u16,
    agent: u16,
    agent_probe: u16,
    agent_metrics: u16,
    imds: u16,
}

impl Ports {
    fn from(base: u16) -> Result<Self, String> {
        let at = |offset: u16| {
            base.checked_add(offset)
                .ok_or_else(|| format!("--port-base {base} leaves no room for eight ports"))
        };
        Ok(Self {
            aws: at(0)?,
            control_plane: at(1)?,
            control_plane_ops: at(2)?,
            api: at(3)?,
            agent: at(4)?,
            agent_probe: at(5)?,
            agent_metrics: at(6)?,
            imds: at(7)?,
        })
    }
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The node's namespace, removed when the sandbox stops however it stops.
struct NetworkGuard(Option<NodeNetwork>);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        if let Some(network) = self.0.take() {
            network.remove();
        }
    }
}

pub async fn up(options: UpOptions, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let data = &options.data;
    data.create()
        .map_err(|e| format!("cannot make {}: {e}", data.root().display()))?;
    let identity = load_or_create(data, &options.cluster, &options.region)?;
    let ports = Ports::from(options.port_base)?;
    let network = NetworkGuard(match options.netns {
        true => Some(NodeNetwork::create(&identity.cluster).map_err(|e| {
            format!("{e}\nnetns mode needs root and iproute2; loopback mode needs neither")
        })?),
        false => None,
    });
    // Where the node reaches the host's services: across its link in netns mode.
    let host_ip = match network.0 {
        Some(_) => IpAddr::V4(HOST_ADDRESS),
        None => LOCALHOST,
    };
    let tls = tls::prepare(&data.tls(), &[LOCALHOST, host_ip])?;

    let now = unix_now();
    let aws = open_account(data, &identity, now)?;
    let issuer = ClusterIssuer::open(&data.cluster().join("issuer.pk8"), &identity.issuer)?;
    let objects = ObjectStore::open(&data.cluster().join("objects.json"), now)?;
    let control_plane_url = format!("https://{}", SocketAddr::new(host_ip, ports.control_plane));
    let admission = Admission::new(&control_plane_url, &identity.cluster, &tls.authority_cert)?;
    let cluster = Arc::new(Cluster::new(
        &identity.cluster,
        identity.node.clone(),
        objects,
        issuer,
        admission,
        data.clone(),
        unix_now,
    )?);
    cluster.refresh_tokens()?;

    let (stop, stopped) = watch::channel(false);
    let mut servers = JoinSet::new();
    let api_address = SocketAddr::new(LOCALHOST, ports.api);
    let api_url = format!("http://{api_address}");
    let agent_probe = match options.netns {
        true => format!("http://{NODE_ADDRESS}:2705/metrics"),
        false => format!("http://127.0.0.1:{}/metrics", ports.agent_metrics),
    };
    let api = ClusterApi::new(
        Arc::clone(&cluster),
        api_token(data)?,
        &agent_probe,
        &format!("{api_url}/openid/v1/jwks"),
    );
    servers.spawn(serve(
        bind(api_address).await?,
        Arc::new(api),
        stopped.clone(),
    ));

    let aws_url = format!("http://{}", SocketAddr::new(host_ip, ports.aws));
    let settings = ControlPlaneSettings {
        listen: SocketAddr::new(host_ip, ports.control_plane),
        ops_listen: SocketAddr::new(LOCALHOST, ports.control_plane_ops),
        aws_endpoint: aws_url.clone(),
        jwks_url: format!("{api_url}/openid/v1/jwks"),
        keys: aws.pod_identity.clone(),
    };
    let server_config = control_plane::config(&identity, data, &tls, &settings);
    let acceptor = server_config
        .tls
        .as_ref()
        .map(podid_server::tls::acceptor)
        .transpose()?;
    let store = SqliteStore::open(&server_config.store).map_err(|e| e.to_string())?;
    let control_plane = podid_server::start(server_config, store, acceptor)
        .await
        .map_err(|e| format!("the control plane did not start: {e}"))?;

    let backend = EksBackend {
        api: Arc::clone(&control_plane.api),
        region: identity.region.clone(),
        account: identity.account_id.clone(),
    };
    let gate = S3Gate::new(Arc::clone(&aws.store), Arc::clone(&aws.sessions), unix_now);
    let storage = open_s3(data, &identity)?;
    let endpoint = Arc::new(Endpoint::new(
        Arc::clone(&aws.store),
        Arc::clone(&aws.sessions),
        s3_service(storage, gate),
        backend,
        unix_now,
    ));
    let mut aws_addresses = vec![SocketAddr::new(LOCALHOST, ports.aws)];
    if host_ip != LOCALHOST {
        aws_addresses.push(SocketAddr::new(host_ip, ports.aws));
    }
    for address in aws_addresses {
        servers.spawn(serve(
            bind(address).await?,
            Arc::clone(&endpoint),
            stopped.clone(),
        ));
    }

    let launcher = Launcher {
        podid: options.podid.clone(),
        netns: network.0.as_ref().map(|n| n.netns.clone()),
        logs: data.logs(),
        env: node_env(data, &identity),
    };
    let node = start_node(&options, &identity, &aws, &launcher, &ports, host_ip).await?;

    let running = Running {
        pid: std::process::id(),
        mode: if options.netns {
            Mode::Netns
        } else {
            Mode::Loopback
        },
        cluster: identity.cluster.clone(),
        region: identity.region.clone(),
        api: api_url,
        aws_endpoint: format!("http://127.0.0.1:{}", ports.aws),
        pod_aws_endpoint: aws_url,
        pod_credentials_uri: node.credentials_uri.clone(),
        pod_imds_endpoint: node.imds_endpoint.clone(),
        netns: network.0.as_ref().map(|n| n.netns.clone()),
    };
    let exports = exports(&identity, &aws.admin, &running);
    write_atomically(&data.env_file(), exports.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", data.env_file().display()))?;
    write_json(&data.running(), &running)?;
    print_banner(&identity, &running, data, &exports);

    let outcome = serve_until_stopped(&cluster, node.processes, shutdown).await;

    let _ = std::fs::remove_file(data.running());
    let _ = stop.send(true);
    control_plane.shutdown().await;
    while servers.join_next().await.is_some() {}
    drop(network);
    outcome
}

/// The sandbox account, its keys and the node role.
struct Account {
    store: Arc<AccountStore>,
    sessions: Arc<SessionKeys>,
    admin: KeyPair,
    pod_identity: KeyPair,
    ec2: KeyPair,
    node_role_arn: String,
}

fn open_account(data: &DataDir, identity: &Identity, now: i64) -> Result<Account, String> {
    let store = AccountStore::open(&data.aws().join("iam.json"), &identity.account_id)
        .map_err(|e| e.to_string())?;
    let key = bootstrap::session_key(&data.aws().join("session.key")).map_err(|e| e.to_string())?;
    let admin = bootstrap::administrator(&store, "admin", now).map_err(|e| e.to_string())?;
    let pod_identity =
        bootstrap::service_key(&store, "pods.eks.amazonaws.com").map_err(|e| e.to_string())?;
    let ec2 = bootstrap::service_key(&store, "ec2.amazonaws.com").map_err(|e| e.to_string())?;
    let node_role_arn = bootstrap::node_role(&store, &identity.cluster, &identity.cluster, now)
        .map_err(|e| e.to_string())?;
    Ok(Account {
        store: Arc::new(store),
        sessions: Arc::new(SessionKeys::new(&key)),
        admin,
        pod_identity,
        ec2,
        node_role_arn,
    })
}

/// The cluster API's credential, made on the first start.
fn api_token(data: &DataDir) -> Result<Secret, String> {
    let path = data.api_token();
    if let Ok(token) = std::fs::read_to_string(&path) {
        return Ok(Secret::new(token.trim()));
    }
    let bytes: [u8; 24] = podid_sandbox_aws::ids::secure_bytes().map_err(|e| e.to_string())?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_atomically(&path, token.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Secret::new(token))
}

async fn bind(address: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(address).await.map_err(|e| {
        format!("cannot listen on {address}: {e}; is another sandbox running? try --port-base")
    })
}

/// The environment of the node's processes: nothing of the caller's AWS set-up.
fn node_env(data: &DataDir, identity: &Identity) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "SSL_CERT_FILE".to_owned(),
            data.tls().join("ca.crt").display().to_string(),
        ),
        ("AWS_REGION".into(), identity.region.clone()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("HOME".into(), data.node().display().to_string()),
        // They stop on their own if the sandbox is killed outright.
        ("PODID_EXIT_WITH_PARENT".into(), "1".into()),
    ];
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".into(), path));
    }
    env
}

/// The node's processes, and where pods reach them.
struct RunningNode {
    processes: Vec<NodeProcess>,
    credentials_uri: String,
    imds_endpoint: Option<String>,
}

async fn start_node(
    options: &UpOptions,
    identity: &Identity,
    aws: &Account,
    launcher: &Launcher,
    ports: &Ports,
    host_ip: IpAddr,
) -> Result<RunningNode, String> {
    let imds_listen = match options.netns {
        true => SocketAddr::new(IpAddr::V4(IMDS_ADDRESS), 80),
        false => SocketAddr::new(LOCALHOST, ports.imds),
    };
    let role_name = aws
        .node_role_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let imds_config = ImdsConfig {
        listen: imds_listen,
        require_token: options.require_imdsv2,
        account_id: identity.account_id.clone(),
        instance_id: identity.instance_id.clone(),
        region: identity.region.clone(),
        availability_zone: format!("{}a", identity.region),
        local_ipv4: identity.node.ip.clone(),
        role_name,
        role_arn: aws.node_role_arn.clone(),
        sts_endpoint: format!("http://{}", SocketAddr::new(host_ip, ports.aws)),
        access_key_id: aws.ec2.access_key_id.clone(),
        secret_access_key: aws.ec2.secret_access_key.clone(),
    };
    let imds_file = options.data.node().join("imds.json");
    write_json(&imds_file, &imds_config)?;
    let imds_args = vec![
        "sandbox".into(),
        "imds".into(),
        "--config".into(),
        path(&imds_file),
    ];

    // As on EKS, the agent signs its EKS Auth calls with the node's instance role, which it
    // gets from the node's metadata service; the AWS endpoint checks the signature and the
    // role's permission before the control plane sees the call.
    let aws_endpoint = format!("http://{}", SocketAddr::new(host_ip, ports.aws));
    let mut agent_args: Vec<String> = vec![
        "agent".into(),
        "--cluster-name".into(),
        identity.cluster.clone(),
        "--endpoint".into(),
        aws_endpoint,
    ];
    let mut agent_env = vec![("AWS_EC2_METADATA_DISABLED".to_owned(), "false".to_owned())];
    let (credentials_uri, imds_endpoint, probe) = if options.netns {
        launcher
            .run(&["agent".into(), "init".into(), "--link".into(), "lo".into()])
            .await?;
        agent_args.extend(["--metrics-address".into(), NODE_ADDRESS.to_string()]);
        (
            podid_core::pod_mutation::CREDENTIALS_URI_IPV4.to_owned(),
            None,
            format!("http://{NODE_ADDRESS}:2705/metrics"),
        )
    } else {
        agent_args.extend([
            "--bind-hosts".into(),
            "127.0.0.1".into(),
            "--port".into(),
            ports.agent.to_string(),
            "--probe-port".into(),
            ports.agent_probe.to_string(),
            "--metrics-address".into(),
            "127.0.0.1".into(),
            "--metrics-port".into(),
            ports.agent_metrics.to_string(),
        ]);
        let imds_endpoint = format!("http://127.0.0.1:{}/", ports.imds);
        agent_env.push((
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_owned(),
            imds_endpoint.clone(),
        ));
        (
            format!("http://127.0.0.1:{}/v1/credentials", ports.agent),
            Some(imds_endpoint),
            format!("http://127.0.0.1:{}/metrics", ports.agent_metrics),
        )
    };

    let imds = launcher.start("imds", &imds_args, &[])?;
    let agent = launcher.start("agent", &agent_args, &agent_env)?;
    let patience = Duration::from_secs(20);
    if !wait_until_serving(&probe, patience).await {
        return Err(format!(
            "the node's agent did not start:\n{}",
            agent.log_tail()
        ));
    }
    Ok(RunningNode {
        processes: vec![imds, agent],
        credentials_uri,
        imds_endpoint,
    })
}

fn path(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// Keeps token files fresh until asked to stop or a node process dies.
async fn serve_until_stopped(
    cluster: &Cluster,
    mut processes: Vec<NodeProcess>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    tokio::pin!(shutdown);
    let mut rotation = tokio::time::interval(Duration::from_secs(5));
    let outcome = loop {
        let exited = futures_first_exit(&mut processes);
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            (index, why) = exited => {
                let tail = processes[index].log_tail();
                break Err(format!("{why}; the end of its log:\n{tail}"));
            }
            _ = rotation.tick() => {
                if let Err(error) = cluster.refresh_tokens() {
                    tracing::warn!(%error, "refreshing service-account tokens failed");
                }
            }
        }
    };
    tracing::info!("stopping the sandbox");
    for process in processes {
        process.stop().await;
    }
    outcome
}

/// The first node process to exit: its index, and why.
async fn futures_first_exit(processes: &mut [NodeProcess]) -> (usize, String) {
    let waits = processes
        .iter_mut()
        .enumerate()
        .map(|(index, process)| Box::pin(async move { (index, process.exited().await) }));
    futures_util::future::select_all(waits).await.0
}

/// The shell exports that make the AWS CLI the sandbox's administrator.
fn exports(identity: &Identity, admin: &KeyPair, running: &Running) -> String {
    format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nunset AWS_SESSION_TOKEN \
         AWS_PROFILE\nexport AWS_REGION={}\nexport AWS_DEFAULT_REGION={}\n\
         export AWS_ENDPOINT_URL={}\n",
        admin.access_key_id,
        admin.secret_access_key,
        identity.region,
        identity.region,
        running.aws_endpoint
    )
}

fn print_banner(identity: &Identity, running: &Running, data: &DataDir, exports: &str) {
    let mode = match running.mode {
        Mode::Loopback => "loopback".to_owned(),
        Mode::Netns => format!("netns ({})", netns_name(&identity.cluster)),
    };
    println!(
        "sandbox up: cluster {} of account {} in {}, {mode} mode\n\
         \x20 AWS (IAM, STS, S3, EKS)   {}\n\
         \x20 node {} ({}): agent {}\n\
         \x20 data                      {}\n\n\
         # the AWS CLI as the sandbox's administrator (also in {}):\n{exports}",
        identity.cluster,
        identity.account_id,
        identity.region,
        running.aws_endpoint,
        identity.node.name,
        identity.instance_id,
        running.pod_credentials_uri,
        data.root().display(),
        data.env_file().display(),
    );
}

/// The account's buckets and objects, under the data directory.
fn open_s3(data: &DataDir, identity: &Identity) -> Result<podid_s3::FileStore, String> {
    let root = data.aws().join("s3");
    // S3 names an account by a canonical id of 64 hex digits; one derived from the account id
    // stays the same across restarts.
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, identity.account_id.as_bytes());
    let owner: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    podid_s3::FileStore::open(&root, &identity.region, &owner)
        .map_err(|e| format!("cannot open the S3 store in {}: {e}", root.display()))
}
