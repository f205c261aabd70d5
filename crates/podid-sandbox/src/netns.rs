//! The node's network namespace in netns mode: its own loopback with the production addresses
//! (`169.254.170.23` and `fd00:ec2::23` for the agent, `169.254.169.254` for the metadata
//! service), and a veth pair to the host, where the sandbox's AWS and control plane listen.
//! Made with iproute2's `ip`, which is what an operator would use to look at it.

use std::net::Ipv4Addr;
use std::process::Command;

/// The host's end of the node's link.
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 1);
/// The node's end.
pub const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 2);
/// The instance metadata service's address, on the node's loopback.
pub const IMDS_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// A node namespace that exists until [`NodeNetwork::remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNetwork {
    pub netns: String,
    host_link: String,
}

/// The namespace's name for a cluster.
pub fn netns_name(cluster: &str) -> String {
    format!("podid-{cluster}")
}

/// Link names are at most 15 characters: derived from a hash of the cluster's name.
fn link_names(cluster: &str) -> (String, String) {
    let hash = cluster.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (format!("pd{hash:08x}h"), format!("pd{hash:08x}n"))
}

impl NodeNetwork {
    /// Makes the namespace anew (one left by a sandbox that did not stop cleanly is replaced).
    pub fn create(cluster: &str) -> Result<Self, String> {
        let netns = netns_name(cluster);
        let (host_link, node_link) = link_names(cluster);
        if namespaces()?.contains(&netns) {
            ip(&["netns", "delete", &netns])?;
        }
        // A host end left behind would block the new pair; its absence is the usual case.
        let _ = ip(&["link", "delete", &host_link]);
        let host = format!("{HOST_ADDRESS}/30");
        let node = format!("{NODE_ADDRESS}/30");
        let imds = format!("{IMDS_ADDRESS}/32");
        let steps: [&[&str]; 9] = [
            &["netns", "add", &netns],
            &[
                "link", "add", &host_link, "type", "veth", "peer", "name", &node_link,
            ],
            &["link", "set", &node_link, "netns", &netns],
            &["addr", "add", &host, "dev", &host_link],
            &["link", "set", &host_link, "up"],
            &["-n", &netns, "link", "set", "lo", "up"],
            &["-n", &netns, "addr", "add", &node, "dev", &node_link],
            &["-n", &netns, "link", "set", &node_link, "up"],
            &["-n", &netns, "addr", "add", &imds, "dev", "lo"],
        ];
        let network = Self {
            netns: netns.clone(),
            host_link: host_link.clone(),
        };
        for step in steps {
            if let Err(error) = ip(step) {
                network.remove();
                return Err(error);
            }
        }
        Ok(network)
    }

    /// Deletes the namespace; the veth pair goes with it.
    pub fn remove(&self) {
        if let Err(error) = ip(&["netns", "delete", &self.netns]) {
            tracing::warn!(%error, netns = %self.netns, "removing the node's namespace failed");
        }
        let _ = ip(&["link", "delete", &self.host_link]);
    }
}

fn namespaces() -> Result<Vec<String>, String> {
    let listed = ip(&["netns", "list"])?;
    Ok(listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Runs `ip` with `args`; its output, or an error quoting the command and what `ip` said.
fn ip(args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "netns mode needs iproute2's `ip` command; install iproute2".to_owned()
            }
            _ => format!("ip {}: {e}", args.join(" ")),
        })?;
    if !output.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_fit_the_kernels_limit() {
        let (host, node) = link_names(&"c".repeat(100));
        assert!(host.len() <= 15 && node.len() <= 15, "{host} {node}");
        assert_ne!(link_names("eksdemo1"), link_names("eksdemo2"));
        assert_eq!(netns_name("eksdemo1"), "podid-eksdemo1");
    }
}
