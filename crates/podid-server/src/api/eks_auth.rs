//! `AssumeRoleForPodIdentity`: a pod's service-account token in, its role's credentials out.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use podid_core::associations::Association;
use podid_core::eks_auth::{
    AssociationRef, AssumeRoleForPodIdentityRequest, AssumeRoleForPodIdentityResponse,
    AssumedRoleUser, ErrorCode, NODE_TOKEN_HEADER, SignedAwsCaller, Subject, WireCredentials,
};
use podid_core::token::{ObjectRef, POD_IDENTITY_AUDIENCE};

use super::ApiError;
use super::state::ServerState;
use crate::config::ClusterConfig;
use crate::keys::ClusterKeys;
use crate::session_cache::{CachedSession, SessionKey};
use crate::sessions::{IssuedSession, SessionError, SessionRequest, TrustRequest};
use crate::store::AssociationStore;
use crate::tokens::{Expectations, VerifiedToken, VerifyError, verify};

/// Clock difference tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 30;

/// Agent tokens verified recently, so that an agent's token costs one signature check per
/// lifetime rather than one per exchange. Bounded: when full it starts over.
#[derive(Debug, Default)]
pub struct CallerCache {
    /// By a keyed hash of the token's end; an entry matches only if the whole token is equal.
    verified: Mutex<HashMap<u64, VerifiedCaller>>,
    keys: RandomState,
}

#[derive(Debug)]
struct VerifiedCaller {
    token: Box<str>,
    node: Arc<str>,
    expires_at: i64,
}

const MAX_CACHED_CALLERS: usize = 10_000;

/// How much of a token's end its cache key is computed from: a JWT ends with its signature,
/// as good as random, so hashing all of it would buy nothing.
const KEYED_SUFFIX: usize = 64;

impl CallerCache {
    fn get(&self, token: &str, now: i64) -> Option<Arc<str>> {
        let key = self.key(token);
        let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        verified
            .get(&key)
            .filter(|caller| *caller.token == *token && caller.expires_at > now)
            .map(|caller| Arc::clone(&caller.node))
    }

    fn insert(&self, token: &str, node: &str, expires_at: i64) -> Arc<str> {
        let key = self.key(token);
        let node: Arc<str> = node.into();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= MAX_CACHED_CALLERS {
            verified.clear();
        }
        let caller = VerifiedCaller {
            token: token.into(),
            node: Arc::clone(&node),
            expires_at,
        };
        verified.insert(key, caller);
        node
    }

    fn key(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let mut hasher = self.keys.build_hasher();
        hasher.write_usize(bytes.len());
        hasher.write(&bytes[bytes.len().saturating_sub(KEYED_SUFFIX)..]);
        hasher.finish()
    }
}

/// Exchanges a pod's token for its role's credentials. The calling agent proves its node with
/// its own service-account token (`node_token`), or, behind an AWS endpoint that checked its
/// signature, with its node's instance role (`signed`).
pub async fn assume_role<S: AssociationStore>(
    state: &ServerState<S>,
    cluster: &ClusterConfig,
    node_token: Option<&str>,
    signed: Option<&SignedAwsCaller>,
    body: &[u8],
) -> Result<String, ApiError> {
    let keys = state.keys(&cluster.name)?;
    let now = unix_now();
    let caller_node = match (node_token, signed) {
        (None, Some(signed)) => node_of_instance(cluster, signed)?,
        _ => authenticate_agent(state, cluster, keys, node_token, now).await?,
    };

    let request: AssumeRoleForPodIdentityRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::eks_auth(
            ErrorCode::InvalidRequest,
            format!("request body is not valid: {e}"),
        )
    })?;
    let expect = Expectations {
        issuer: &cluster.issuer,
        audience: POD_IDENTITY_AUDIENCE,
        now,
        leeway: LEEWAY_SECONDS,
    };
    let token = verify_with_refetch(state, keys, &request.token, &expect)
        .await
        .map_err(|e| {
            let code = match e {
                VerifyError::Expired { .. } => ErrorCode::ExpiredToken,
                _ => ErrorCode::InvalidToken,
            };
            ApiError::eks_auth(code, e.to_string())
        })?;
    let pod = token.pod.clone().ok_or_else(|| {
        state.metrics.token_failure("claims");
        ApiError::eks_auth(ErrorCode::InvalidToken, "token is not bound to a pod")
    })?;
    let token_node = token
        .node
        .as_ref()
        .map(|node| node.name.as_str())
        .unwrap_or_default();
    if token_node != &*caller_node {
        return Err(ApiError::eks_auth(
            ErrorCode::AccessDenied,
            format!(
                "the token belongs to a pod of node {token_node:?}, not of the calling node \
                 {caller_node:?}"
            ),
        ));
    }

    let association = find_association(state, cluster, &token)?;
    let audit = |session: &str, outcome: &str| {
        tracing::info!(
            target: "podid::audit",
            cluster = %cluster.name, namespace = %token.namespace,
            service_account = %token.service_account.name, pod = %pod.name, node = &*caller_node,
            role = %association.role_arn, target_role = association.target_role_arn.as_deref(),
            session = %session, outcome, "pod identity exchange"
        );
    };

    let exchange = Exchange {
        cluster,
        token: &token,
        pod: &pod,
        association: &association,
        audit: &audit,
    };
    let session = session_for(state, &exchange, now).await?;
    let issued = &session.session;
    let credentials = &issued.credentials;
    let response = AssumeRoleForPodIdentityResponse {
        subject: Subject {
            namespace: token.namespace.clone(),
            service_account: token.service_account.name.clone(),
        },
        audience: POD_IDENTITY_AUDIENCE.to_owned(),
        pod_identity_association: AssociationRef {
            association_arn: association.association_arn.clone(),
            association_id: association.association_id.clone(),
        },
        assumed_role_user: AssumedRoleUser {
            arn: issued.arn.clone(),
            assume_role_id: issued.assumed_role_id.clone(),
        },
        credentials: WireCredentials {
            session_token: credentials.session_token().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            access_key_id: credentials.access_key_id().to_owned(),
            expiration: credentials.expiration().secs() as f64,
        },
    };
    serde_json::to_string(&response).map_err(|e| {
        ApiError::eks_auth(
            ErrorCode::InternalServer,
            format!("encoding the response: {e}"),
        )
    })
}

/// What one exchange is about, once the tokens are verified and the association found.
struct Exchange<'a> {
    cluster: &'a ClusterConfig,
    token: &'a VerifiedToken,
    pod: &'a ObjectRef,
    association: &'a Association,
    /// Writes the exchange's audit record: the session's name and the outcome.
    audit: &'a (dyn Fn(&str, &str) + Sync),
}

/// The pod's session: one handed out before when it is fresh and the role's trust policy is
/// the one it was checked against, otherwise one checked anew (and issued anew if none is fresh).
async fn session_for<S: AssociationStore>(
    state: &ServerState<S>,
    exchange: &Exchange<'_>,
    now: i64,
) -> Result<Arc<CachedSession>, ApiError> {
    let association = exchange.association;
    let key = SessionKey {
        association_id: association.association_id.clone(),
        association_version: (association.modified_at * 1000.0) as i64,
        pod_name: exchange.pod.name.clone(),
        pod_uid: exchange.pod.uid.clone(),
    };
    let cached = state.session_cache.get(&key, now);
    let trusted = cached.as_ref().is_some_and(|cached| {
        state
            .sessions
            .trust_unchanged(&association.role_arn, &cached.trust)
    });
    if let Some(cached) = cached.as_ref().filter(|_| trusted) {
        (exchange.audit)(&cached.name, "reused");
        return Ok(Arc::clone(cached));
    }

    // The trust check runs again when the role's trust policy was read anew, so that a role
    // that stopped trusting pod identity stops getting its sessions handed out.
    let cluster = exchange.cluster;
    let tags = if association.disable_session_tags {
        Vec::new()
    } else {
        let token = exchange.token;
        session_tags(
            cluster,
            &token.namespace,
            &token.service_account.name,
            exchange.pod,
        )
    };
    let trust = TrustRequest {
        role_arn: &association.role_arn,
        tags: &tags,
        cluster_arn: &cluster.arn(),
        account: &cluster.account,
    };
    let verdict = state.sessions.check_trust(&trust).await.map_err(|e| {
        (exchange.audit)("", e.code.short_name());
        ApiError::eks_auth(e.code, e.message)
    })?;
    let fresh = match cached {
        Some(cached) => {
            (exchange.audit)(&cached.name, "reused");
            CachedSession {
                session: cached.session.clone(),
                name: cached.name.clone(),
                issued_at: cached.issued_at,
                trust: verdict,
            }
        }
        None => {
            let name = session_name(&cluster.name, &exchange.pod.name);
            let session = issue(state, association, &name, tags)
                .await
                .inspect_err(|e| (exchange.audit)(&name, e.code.short_name()))
                .map_err(|e| ApiError::eks_auth(e.code, e.message))?;
            (exchange.audit)(&name, "issued");
            CachedSession {
                session,
                name,
                issued_at: now,
                trust: verdict,
            }
        }
    };
    Ok(state.session_cache.insert(key, fresh, now))
}

/// A new session from STS for the association's role, timed for the metrics.
async fn issue<S: AssociationStore>(
    state: &ServerState<S>,
    association: &Association,
    name: &str,
    tags: Vec<(String, String)>,
) -> Result<IssuedSession, SessionError> {
    let request = SessionRequest {
        role_arn: association.role_arn.clone(),
        session_name: name.to_owned(),
        tags,
        policy: association.policy.clone(),
        target_role_arn: association.target_role_arn.clone(),
        external_id: association.external_id.clone(),
    };
    let started = std::time::Instant::now();
    let issued = state.sessions.assume(&request).await;
    state
        .metrics
        .sts_seconds
        .observe(started.elapsed().as_secs_f64());
    issued
}

/// Off EKS a node has no AWS identity to sign with, so an agent proves itself with its own
/// service-account token: signed by the cluster, of an agent service account, naming its node.
async fn authenticate_agent<S: AssociationStore>(
    state: &ServerState<S>,
    cluster: &ClusterConfig,
    keys: &ClusterKeys,
    node_token: Option<&str>,
    now: i64,
) -> Result<Arc<str>, ApiError> {
    let denied = |reason: String| {
        ApiError::eks_auth(
            ErrorCode::AccessDenied,
            format!(
                "the caller is not a node agent of cluster {}: {reason}",
                cluster.name
            ),
        )
    };
    let Some(token) = node_token else {
        return Err(denied(format!(
            "send the agent's service-account token (audience {:?}) in the {NODE_TOKEN_HEADER} \
             header",
            cluster.agent_audience
        )));
    };
    if let Some(node) = state.callers.get(token, now) {
        return Ok(node);
    }
    let expect = Expectations {
        issuer: &cluster.issuer,
        audience: &cluster.agent_audience,
        now,
        leeway: LEEWAY_SECONDS,
    };
    let verified = verify_with_refetch(state, keys, token, &expect)
        .await
        .map_err(|e| denied(format!("its {e}")))?;
    let account = format!("{}/{}", verified.namespace, verified.service_account.name);
    if !cluster.agent_service_accounts.contains(&account) {
        return Err(denied(format!(
            "service account {account} is not an agent's"
        )));
    }
    let node = verified
        .node
        .ok_or_else(|| denied("its token names no node".into()))?
        .name;
    Ok(state.callers.insert(token, &node, verified.expires_at))
}

/// The node whose instance role signed the call: EC2 names an instance profile's sessions after
/// the instance.
fn node_of_instance(
    cluster: &ClusterConfig,
    signed: &SignedAwsCaller,
) -> Result<Arc<str>, ApiError> {
    match cluster.nodes_by_instance.get(&signed.session_name) {
        Some(node) => Ok(node.as_str().into()),
        None => Err(ApiError::eks_auth(
            ErrorCode::AccessDenied,
            format!(
                "the caller is not a node agent of cluster {}: the session {} of role {} is not \
                 one of its nodes' instances",
                cluster.name, signed.session_name, signed.role_name
            ),
        )),
    }
}

/// Verifies, fetching the cluster's keys again once if the token names a key not yet known.
async fn verify_with_refetch<S: AssociationStore>(
    state: &ServerState<S>,
    keys: &ClusterKeys,
    token: &str,
    expect: &Expectations<'_>,
) -> Result<VerifiedToken, VerifyError> {
    let first = verify(token, &keys.current(), expect);
    let result = match first {
        Err(VerifyError::UnknownKey(_)) => match keys.refetch().await {
            Some(fresh) => verify(token, &fresh, expect),
            None => first,
        },
        other => other,
    };
    if let Err(error) = &result {
        state.metrics.token_failure(error.reason());
    }
    result
}

/// The association of the token's service account. The store answers this from memory, so it
/// is called on the request path directly.
fn find_association<S: AssociationStore>(
    state: &ServerState<S>,
    cluster: &ClusterConfig,
    token: &VerifiedToken,
) -> Result<Arc<Association>, ApiError> {
    let found = state
        .store
        .find(&cluster.name, &token.namespace, &token.service_account.name)
        .map_err(|error| ApiError::server(&error))?;
    found.ok_or_else(|| {
        ApiError::eks_auth(
            ErrorCode::ResourceNotFound,
            format!(
                "no pod identity association for service account {}/{} in cluster {}",
                token.namespace, token.service_account.name, cluster.name
            ),
        )
    })
}

/// `eks-<cluster>-<pod>-<uuid>`, cut to STS's 64 characters.
pub fn session_name(cluster: &str, pod: &str) -> String {
    let uuid = podid_core::uuid::uuid_v4(fastrand::u128(..));
    format!("eks-{cluster}-{pod}-{uuid}")
        .chars()
        .take(64)
        .collect()
}

/// The six session tags of a pod identity session.
fn session_tags(
    cluster: &ClusterConfig,
    namespace: &str,
    service_account: &str,
    pod: &ObjectRef,
) -> Vec<(String, String)> {
    [
        ("eks-cluster-arn", cluster.arn()),
        ("eks-cluster-name", cluster.name.clone()),
        ("kubernetes-namespace", namespace.to_owned()),
        ("kubernetes-service-account", service_account.to_owned()),
        ("kubernetes-pod-name", pod.name.clone()),
        ("kubernetes-pod-uid", pod.uid.clone()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_role_session_speaks_for_its_node_only() {
        let text = "listen = \"127.0.0.1:1\"\nops_listen = \"127.0.0.1:2\"\n\
                    store = \"/dev/null\"\n[[cluster]]\nname = \"eksdemo1\"\n\
                    account = \"111122223333\"\nregion = \"us-west-2\"\n\
                    issuer = \"https://issuer.test\"\njwks_file = \"/dev/null\"\n";
        let mut config = crate::config::ServerConfig::parse(text).unwrap();
        let cluster = &mut config.clusters[0];
        assert!(cluster.nodes_by_instance.is_empty(), "never from the file");
        cluster
            .nodes_by_instance
            .insert("i-0node".into(), "node-1".into());
        let caller = |session: &str| SignedAwsCaller {
            role_name: "NodeInstanceRole".into(),
            session_name: session.into(),
        };
        assert_eq!(
            &*node_of_instance(cluster, &caller("i-0node")).unwrap(),
            "node-1"
        );
        let error = node_of_instance(cluster, &caller("i-0other")).unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.kind, "AccessDeniedException");
        assert!(
            error.message.contains(
                "the session i-0other of role NodeInstanceRole is not one of its nodes' instances"
            ),
            "{error:?}"
        );
    }

    #[test]
    fn session_names_fit_sts() {
        let name = session_name("eksdemo1", "aws-cli");
        assert!(name.starts_with("eks-eksdemo1-aws-cli-"), "{name}");
        assert_eq!(name.len(), "eks-eksdemo1-aws-cli-".len() + 36);
        let long = session_name(&"c".repeat(40), &"p".repeat(63));
        assert_eq!(long.chars().count(), 64);
    }
}
