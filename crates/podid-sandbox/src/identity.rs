//! What a sandbox is, fixed at its first start and kept in `identity.json`: the cluster's name,
//! the account and region, the token issuer's URL, and the node. A restart keeps all of it, so
//! roles, associations and pods made before still refer to the same things.

use serde::{Deserialize, Serialize};

use crate::cluster::Node;
use crate::cluster::objects::new_uid;
use crate::layout::{DataDir, read_json, write_json};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub cluster: String,
    pub account_id: String,
    pub region: String,
    /// The `iss` of the cluster's service-account tokens, shaped as EKS's.
    pub issuer: String,
    pub instance_id: String,
    pub node: Node,
}

/// The data directory's identity, made for `cluster` on the first start. A directory made for
/// another cluster is refused: its pods and associations belong to that one.
pub fn load_or_create(data: &DataDir, cluster: &str, region: &str) -> Result<Identity, String> {
    if let Some(identity) = read_json::<Identity>(&data.identity())? {
        if identity.cluster != cluster {
            return Err(format!(
                "{} holds the sandbox of cluster {}, not {cluster}: use --cluster-name {} or \
                 another --data-dir",
                data.root().display(),
                identity.cluster,
                identity.cluster
            ));
        }
        return Ok(identity);
    }
    let identity = new_identity(cluster, region);
    write_json(&data.identity(), &identity)?;
    Ok(identity)
}

fn new_identity(cluster: &str, region: &str) -> Identity {
    // A private address as EC2 gives nodes; it names the node, as on EKS.
    let ip = format!("192.168.{}.{}", fastrand::u8(1..255), fastrand::u8(1..255));
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
            .collect()
    };
    let suffix: String = (0..5)
        .map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[fastrand::usize(..27)]))
        .collect();
    Identity {
        cluster: cluster.to_owned(),
        account_id: format!(
            "{}{:011}",
            fastrand::u8(1..10),
            fastrand::u64(..100_000_000_000)
        ),
        region: region.to_owned(),
        issuer: format!(
            "https://oidc.eks.{region}.amazonaws.com/id/{}",
            hex(32).to_ascii_uppercase()
        ),
        instance_id: format!("i-0{}", hex(16)),
        node: Node {
            name: format!("ip-{}.{region}.compute.internal", ip.replace('.', "-")),
            uid: new_uid(),
            ip,
            agent_pod: format!("eks-pod-identity-agent-{suffix}"),
            agent_pod_uid: new_uid(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_kept_and_guards_its_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let first = load_or_create(&data, "eksdemo1", "us-east-1").unwrap();
        assert_eq!(first.account_id.len(), 12);
        assert!(
            first
                .issuer
                .starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/")
        );
        assert!(first.instance_id.starts_with("i-0") && first.instance_id.len() == 19);
        assert!(first.node.name.ends_with(".us-east-1.compute.internal"));
        assert_eq!(
            load_or_create(&data, "eksdemo1", "us-east-1").unwrap(),
            first
        );
        let other = load_or_create(&data, "other", "us-east-1").unwrap_err();
        assert!(
            other.contains("holds the sandbox of cluster eksdemo1"),
            "{other}"
        );
    }
}
