//! The server's configuration file, checked as a whole before anything starts.
//!
//! ```toml
//! listen = "127.0.0.1:8443"          # address of the EKS and EKS Auth APIs
//! store = "/var/lib/podid/podid.db"  # SQLite database file, created if missing
//! max_associations_per_cluster = 5000
//!
//! [[cluster]]
//! name = "eksdemo1"
//! account = "111122223333"
//! region = "us-west-2"
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// EKS's own limit on associations per cluster.
const DEFAULT_MAX_ASSOCIATIONS: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub store: PathBuf,
    #[serde(default = "default_max_associations")]
    pub max_associations_per_cluster: usize,
    #[serde(rename = "cluster", default)]
    pub clusters: Vec<ClusterConfig>,
}

/// A cluster whose pods podid serves. Its ARN is formed from account, region and name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    pub account: String,
    pub region: String,
}

impl ClusterConfig {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:eks:{}:{}:cluster/{}",
            self.region, self.account, self.name
        )
    }
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
        if !is_cluster_name(&self.name) {
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
        Ok(())
    }
}

/// Cluster names as EKS accepts them: 1–100 characters, `^[0-9A-Za-z][A-Za-z0-9\-_]*$`.
pub fn is_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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
    fn errors_name_the_setting_at_fault() {
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
                format!(
                    "{VALID}\n[[cluster]]\nname = \"eksdemo1\"\naccount = \"111122223333\"\nregion = \"us-east-1\"\n"
                ),
                "configured twice",
            ),
        ];
        for (text, expected) in cases {
            let message = ServerConfig::parse(&text).unwrap_err();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}
