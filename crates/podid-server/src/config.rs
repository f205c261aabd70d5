//! The server's configuration file, checked as a whole before anything starts.
//!
//! ```toml
//! listen = "127.0.0.1:8443"          # address of the EKS and EKS Auth APIs
//! ops_listen = "127.0.0.1:2706"      # /healthz, /readyz and /metrics
//! store = "/var/lib/podid/podid.db"  # SQLite database file, created if missing
//! max_associations_per_cluster = 5000
//!
//! [[cluster]]
//! name = "eksdemo1"
//! account = "111122223333"
//! region = "us-west-2"
//! issuer = "https://kubernetes.default.svc"   # the `iss` of its service-account tokens
//! jwks_file = "/etc/podid/eksdemo1-jwks.json"  # or jwks_url; neither: OIDC discovery
//! agent_service_accounts = ["kube-system/podid-agent"]
//! agent_audience = "podid"
//! ip_family = "ipv4"                # or "ipv6": which agent address the webhook gives pods
//!
//! [tls]                               # optional: serve the API over HTTPS
//! cert_file = "/etc/podid/tls.crt"
//! key_file = "/etc/podid/tls.key"
//!
//! [aws]
//! sts_endpoint = "https://sts.us-west-2.amazonaws.com"  # optional
//! iam_endpoint = "https://iam.amazonaws.com"             # optional
//! region = "us-west-2"
//!
//! [webhook]                           # the admission webhook, /admission/<cluster>/pods
//! fail_closed = false                 # true: refuse pods while associations cannot be read
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use podid_core::eks_auth::is_valid_cluster_name;
use podid_core::pod_mutation::IpFamily;
use serde::Deserialize;

/// EKS's own limit on associations per cluster.
const DEFAULT_MAX_ASSOCIATIONS: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    #[serde(default = "default_ops_listen")]
    pub ops_listen: SocketAddr,
    pub store: PathBuf,
    #[serde(default = "default_max_associations")]
    pub max_associations_per_cluster: usize,
    #[serde(rename = "cluster", default)]
    pub clusters: Vec<ClusterConfig>,
    #[serde(default)]
    pub aws: AwsConfig,
    /// Serve the API over TLS with this certificate.
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub webhook: WebhookConfig,
}

/// The admission webhook that wires new pods to the node agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// When the associations cannot be read, refuse the pod instead of admitting it unchanged.
    #[serde(default)]
    pub fail_closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the server certificate, then any intermediates.
    pub cert_file: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// How the server reaches AWS: STS to assume roles, IAM to read trust policies. Credentials
/// come from the standard chain (environment, profile, web identity, instance metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub sts_endpoint: Option<String>,
    pub iam_endpoint: Option<String>,
    pub region: Option<String>,
    /// Skip the trust policy check (the server may lack iam:GetRole).
    #[serde(default)]
    pub skip_trust_policy_check: bool,
    /// The service principal roles must trust.
    #[serde(default = "default_trust_principal")]
    pub trust_principal: String,
    /// Keys to call STS and IAM with instead of the standard chain's, for a process that
    /// embeds the control plane and holds them itself; never read from the file.
    #[serde(skip)]
    pub keys: Option<AccessKeys>,
}

/// An access key id and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeys {
    pub access_key_id: String,
    pub secret_access_key: podid_core::Secret,
}

fn default_trust_principal() -> String {
    "pods.eks.amazonaws.com".into()
}

/// A cluster whose pods podid serves. Its ARN is formed from account, region and name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    pub account: String,
    pub region: String,
    /// The `iss` claim of the cluster's service-account tokens.
    pub issuer: String,
    /// A JWKS file with the cluster's public keys, re-read on unknown key ids.
    pub jwks_file: Option<PathBuf>,
    /// Where the cluster's JWKS is served; without it or a file, OIDC discovery on the issuer.
    pub jwks_url: Option<String>,
    /// Service accounts (`namespace/name`) whose tokens authenticate node agents.
    #[serde(default = "default_agent_service_accounts")]
    pub agent_service_accounts: Vec<String>,
    /// The audience of the agents' own tokens.
    #[serde(default = "default_agent_audience")]
    pub agent_audience: String,
    /// The pod network's family, which decides the agent address the webhook gives pods.
    #[serde(default)]
    pub ip_family: IpFamily,
    /// Node names by EC2 instance id, for agents that sign with their node's instance role
    /// (whose sessions EC2 names after the instance) to an AWS endpoint that embeds the API
    /// and checks signatures, as the sandbox does. Not read from the configuration file:
    /// `podid server` alone does not check SigV4.
    #[serde(skip)]
    pub nodes_by_instance: std::collections::BTreeMap<String, String>,
}

fn default_agent_service_accounts() -> Vec<String> {
    vec!["kube-system/podid-agent".into()]
}

fn default_agent_audience() -> String {
    "podid".into()
}

impl ClusterConfig {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:eks:{}:{}:cluster/{}",
            self.region, self.account, self.name
        )
    }
}

fn default_ops_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2706))
}

fn default_max_associations() -> usize {
    DEFAULT_MAX_ASSOCIATIONS
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and checks a configuration; the error names the setting at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: ServerConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.clusters.is_empty() {
            return Err(
                "no [[cluster]] is configured: add one with name, account and region".into(),
            );
        }
        if self.max_associations_per_cluster == 0 {
            return Err("max_associations_per_cluster must be at least 1".into());
        }
        let mut names = HashSet::new();
        for cluster in &self.clusters {
            cluster.validate()?;
            if !names.insert(cluster.name.as_str()) {
                return Err(format!("cluster {:?} is configured twice", cluster.name));
            }
        }
        Ok(())
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|cluster| cluster.name == name)
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<(), String> {
        if !is_valid_cluster_name(&self.name) {
            return Err(format!(
                "cluster name {:?} is invalid: use 1 to 100 letters, digits, '-' or '_', \
                 starting with a letter or digit",
                self.name
            ));
        }
        let account_ok =
            self.account.len() == 12 && self.account.bytes().all(|b| b.is_ascii_digit());
        if !account_ok {
            return Err(format!(
                "cluster {:?}: account {:?} is not a 12-digit AWS account id",
                self.name, self.account
            ));
        }
        let region_ok = !self.region.is_empty()
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(format!(
                "cluster {:?}: region {:?} is not an AWS region name such as us-west-2",
                self.name, self.region
            ));
        }
        if !is_http_url(&self.issuer) {
            return Err(format!(
                "cluster {:?}: issuer {:?} must be an http:// or https:// URL",
                self.name, self.issuer
            ));
        }
        if self.jwks_file.is_some() && self.jwks_url.is_some() {
            return Err(format!(
                "cluster {:?}: set jwks_file or jwks_url, not both",
                self.name
            ));
        }
        if let Some(url) = &self.jwks_url
            && !is_http_url(url)
        {
            return Err(format!(
                "cluster {:?}: jwks_url {url:?} must be an http:// or https:// URL",
                self.name
            ));
        }
        for account in &self.agent_service_accounts {
            let valid = account
                .split_once('/')
                .is_some_and(|(ns, sa)| !ns.is_empty() && !sa.is_empty() && !sa.contains('/'));
            if !valid {
                return Err(format!(
                    "cluster {:?}: agent service account {account:?} must be namespace/name",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
        listen = "127.0.0.1:8443"
        store = "/tmp/podid.db"

        [[cluster]]
        name = "eksdemo1"
        account = "111122223333"
        region = "us-west-2"
        issuer = "https://issuer.test"
    "#;

    #[test]
    fn reads_a_valid_file() {
        let config = ServerConfig::parse(VALID).unwrap();
        assert_eq!(config.max_associations_per_cluster, 5000);
        let cluster = config.cluster("eksdemo1").unwrap();
        assert_eq!(
            cluster.arn(),
            "arn:aws:eks:us-west-2:111122223333:cluster/eksdemo1"
        );
    }

    #[test]
    fn reads_the_webhook_settings() {
        let defaults = ServerConfig::parse(VALID).unwrap();
        assert_eq!(defaults.clusters[0].ip_family, IpFamily::Ipv4);
        assert!(!defaults.webhook.fail_closed);

        let text = format!("{VALID}ip_family = \"ipv6\"\n[webhook]\nfail_closed = true\n");
        let set = ServerConfig::parse(&text).unwrap();
        assert_eq!(set.clusters[0].ip_family, IpFamily::Ipv6);
        assert!(set.webhook.fail_closed);
    }

    #[test]
    fn errors_name_the_setting_at_fault() {
        let second_cluster = VALID.split("[[cluster]]").nth(1).unwrap();
        let cases = [
            (VALID.replace("8443\"", "99999\""), "listen"),
            (VALID.replace("111122223333", "1234"), "account \"1234\""),
            (VALID.replace("us-west-2", "US West"), "region \"US West\""),
            (
                VALID.replace("eksdemo1", "bad name"),
                "cluster name \"bad name\"",
            ),
            (VALID.replace("store = ", "stor = "), "unknown field `stor`"),
            (
                VALID.split("[[cluster]]").next().unwrap().to_owned(),
                "no [[cluster]]",
            ),
            (
                VALID.replace("https://issuer.test", "issuer.test"),
                "must be an http",
            ),
            (
                format!("{VALID}jwks_url = \"https://a\"\njwks_file = \"/b\""),
                "not both",
            ),
            (
                format!("{VALID}agent_service_accounts = [\"agent\"]"),
                "namespace/name",
            ),
            (
                format!("{VALID}[[cluster]]{second_cluster}"),
                "configured twice",
            ),
            (
                format!("{VALID}ip_family = \"ipv5\""),
                "unknown variant `ipv5`, expected `ipv4` or `ipv6`",
            ),
            (
                format!("{VALID}[webhook]\nfail_open = true"),
                "unknown field `fail_open`, expected `fail_closed`",
            ),
        ];
        for (text, expected) in cases {
            let message = ServerConfig::parse(&text).unwrap_err();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}
