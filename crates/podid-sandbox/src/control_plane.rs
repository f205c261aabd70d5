//! The control plane, embedded: `podid server` for the sandbox's cluster, with the sandbox's
//! STS and IAM as its AWS and the `pods.eks.amazonaws.com` service's keys as its identity, so a
//! role that trusts that service, as the tutorial's does, is assumed exactly as on EKS.
//!
//! The sandbox's AWS endpoint forwards the EKS APIs to it in memory, once it has checked the
//! caller's signature and authorized the call with the caller's IAM policies.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response};
use podid_core::Secret;
use podid_http::Body;
use podid_sandbox_aws::bootstrap::KeyPair;
use podid_sandbox_aws::endpoint::RestBackend;
use podid_server::api::{Api, operation_of};
use podid_server::config::{AccessKeys, AwsConfig, ClusterConfig, ServerConfig, TlsConfig};
use podid_server::store::SqliteStore;

use crate::cluster::{AGENT_AUDIENCE, AGENT_NAME, AGENT_NAMESPACE};
use crate::identity::Identity;
use crate::layout::DataDir;
use crate::tls::TlsFiles;

/// Where the control plane listens and what it reaches.
#[derive(Debug, Clone)]
pub struct ControlPlaneSettings {
    pub listen: SocketAddr,
    pub ops_listen: SocketAddr,
    /// The sandbox's AWS endpoint, for STS and IAM.
    pub aws_endpoint: String,
    /// Where the cluster API serves the token issuer's JWKS.
    pub jwks_url: String,
    pub keys: KeyPair,
}

/// The control plane's configuration for the sandbox's one cluster.
pub fn config(
    identity: &Identity,
    data: &DataDir,
    tls: &TlsFiles,
    settings: &ControlPlaneSettings,
) -> ServerConfig {
    ServerConfig {
        listen: settings.listen,
        ops_listen: settings.ops_listen,
        store: data.control_plane().join("podid.db"),
        max_associations_per_cluster: 5000,
        clusters: vec![ClusterConfig {
            name: identity.cluster.clone(),
            account: identity.account_id.clone(),
            region: identity.region.clone(),
            issuer: identity.issuer.clone(),
            jwks_file: None,
            jwks_url: Some(settings.jwks_url.clone()),
            agent_service_accounts: vec![format!("{AGENT_NAMESPACE}/{AGENT_NAME}")],
            agent_audience: AGENT_AUDIENCE.into(),
            ip_family: Default::default(),
            // The node's agent signs with the node's instance role, as on EKS.
            nodes_by_instance: [(identity.instance_id.clone(), identity.node.name.clone())].into(),
        }],
        aws: AwsConfig {
            sts_endpoint: Some(settings.aws_endpoint.clone()),
            iam_endpoint: Some(settings.aws_endpoint.clone()),
            region: Some(identity.region.clone()),
            skip_trust_policy_check: false,
            trust_principal: "pods.eks.amazonaws.com".into(),
            keys: Some(AccessKeys {
                access_key_id: settings.keys.access_key_id.clone(),
                secret_access_key: Secret::new(settings.keys.secret_access_key.as_str()),
            }),
        },
        tls: Some(TlsConfig {
            cert_file: tls.server_cert.clone(),
            key_file: tls.server_key.clone(),
        }),
        webhook: Default::default(),
    }
}

/// The EKS APIs as the sandbox's AWS endpoint reaches them.
#[derive(Debug, Clone)]
pub struct EksBackend {
    pub api: Arc<Api<SqliteStore>>,
    pub region: String,
    pub account: String,
}

impl RestBackend for EksBackend {
    fn authorization(&self, method: &Method, path: &str) -> Option<(String, String)> {
        authorization_of(&self.region, &self.account, method, path)
    }

    async fn call(&self, request: Request<Full<Bytes>>) -> Response<Body> {
        self.api.serve(request).await
    }
}

/// The IAM action of an EKS or EKS Auth call and the ARN it acts on: the association for calls
/// on one, the cluster otherwise.
fn authorization_of(
    region: &str,
    account: &str,
    method: &Method,
    path: &str,
) -> Option<(String, String)> {
    let (operation, cluster) = operation_of(method, path)?;
    let service = if operation == "AssumeRoleForPodIdentity" {
        "eks-auth"
    } else {
        "eks"
    };
    let prefix = format!("arn:aws:eks:{region}:{account}");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let resource = match segments.as_slice() {
        ["clusters", _, "pod-identity-associations", id] => {
            format!("{prefix}:podidentityassociation/{cluster}/{id}")
        }
        _ => format!("{prefix}:cluster/{cluster}"),
    };
    Some((format!("{service}:{operation}"), resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_calls_are_authorized_on_the_cluster_or_the_association() {
        let of = |method, path| authorization_of("us-east-1", "111122223333", &method, path);
        assert_eq!(
            of(Method::POST, "/clusters/eksdemo1/pod-identity-associations"),
            Some((
                "eks:CreatePodIdentityAssociation".into(),
                "arn:aws:eks:us-east-1:111122223333:cluster/eksdemo1".into()
            ))
        );
        assert_eq!(
            of(
                Method::DELETE,
                "/clusters/eksdemo1/pod-identity-associations/a-1"
            ),
            Some((
                "eks:DeletePodIdentityAssociation".into(),
                "arn:aws:eks:us-east-1:111122223333:podidentityassociation/eksdemo1/a-1".into()
            ))
        );
        assert_eq!(
            of(
                Method::POST,
                "/clusters/eksdemo1/assume-role-for-pod-identity"
            )
            .map(|(action, _)| action),
            Some("eks-auth:AssumeRoleForPodIdentity".into())
        );
        assert_eq!(of(Method::GET, "/clusters"), None);
    }
}
