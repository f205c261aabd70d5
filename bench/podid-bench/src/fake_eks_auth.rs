//! `fake-eks-auth`: `AssumeRoleForPodIdentity` with EKS Auth's response shape and sizes, after a
//! fixed delay standing in for the network and the service. It counts the calls it answers so
//! that the benchmark can tell how many exchanges the agent made.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use podid_core::eks_auth::{
    AssociationRef, AssumeRoleForPodIdentityRequest, AssumeRoleForPodIdentityResponse,
    AssumedRoleUser, Subject, WireCredentials,
};
use podid_core::token::decode_claims;

use crate::args::Flags;
use crate::filler::Filler;
use crate::server::{Body, respond, serve};
use crate::token::now_unix;

const ACCOUNT: &str = "111122223333";
const ROLE: &str = "bench-role";
/// EKS Auth issues credentials for six hours.
const LIFETIME_SECONDS: i64 = 6 * 3600;
/// STS session tokens of role sessions with session tags run to several hundred characters.
const SESSION_TOKEN_CHARS: usize = 700;
const SECRET_KEY_CHARS: usize = 40;

pub async fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["addr", "latency-ms"])?;
    let address: SocketAddr = flags.required("addr")?;
    let latency = Duration::from_millis(flags.optional("latency-ms", 20)?);
    let calls = Arc::new(AtomicU64::new(0));
    eprintln!("fake-eks-auth: on {address}, {latency:?} per call");
    let answer = move |request| answer(request, Arc::clone(&calls), latency);
    serve(address, answer)
        .await
        .map_err(|error| format!("cannot serve on {address}: {error}"))
}

async fn answer(
    request: Request<Incoming>,
    calls: Arc<AtomicU64>,
    latency: Duration,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path == "/calls" {
        let count = calls.load(Ordering::Relaxed).to_string();
        return respond(StatusCode::OK, "text/plain", Bytes::from(count));
    }
    let Some(cluster) = cluster_of(&path) else {
        return error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "no such operation",
        );
    };
    if request.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequestException",
            "use POST",
        );
    }
    let cluster = cluster.to_owned();
    calls.fetch_add(1, Ordering::Relaxed);
    let Ok(body) = request.into_body().collect().await else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "unreadable body",
        );
    };
    let Ok(call) = serde_json::from_slice::<AssumeRoleForPodIdentityRequest>(&body.to_bytes())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            "no token",
        );
    };
    tokio::time::sleep(latency).await;
    let pod = pod_name(&call.token);
    match serde_json::to_vec(&credentials_for(&cluster, &pod)) {
        Ok(json) => respond(StatusCode::OK, "application/json", Bytes::from(json)),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "json",
        ),
    }
}

/// The cluster of `/clusters/{name}/assume-role-for-pod-identity`.
fn cluster_of(path: &str) -> Option<&str> {
    path.strip_prefix("/clusters/")?
        .strip_suffix("/assume-role-for-pod-identity")
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// The pod a token names, for the session name; EKS Auth would also verify the signature.
fn pod_name(token: &str) -> String {
    decode_claims(token)
        .ok()
        .and_then(|claims| claims.kubernetes?.pod)
        .map_or_else(|| "unknown".to_owned(), |pod| pod.name)
}

fn credentials_for(cluster: &str, pod: &str) -> AssumeRoleForPodIdentityResponse {
    let mut filler = Filler::seeded(pod);
    let session = format!(
        "eks-{cluster}-{pod}-{}",
        filler.pick(b"0123456789abcdef", 8)
    );
    let association_id = format!(
        "a-{}",
        filler.pick(b"abcdefghijklmnopqrstuvwxyz0123456789", 17)
    );
    AssumeRoleForPodIdentityResponse {
        subject: Subject {
            namespace: "default".into(),
            service_account: "bench".into(),
        },
        audience: "pods.eks.amazonaws.com".into(),
        pod_identity_association: AssociationRef {
            association_arn: format!(
                "arn:aws:eks:us-west-2:{ACCOUNT}:podidentityassociation/{cluster}/{association_id}"
            ),
            association_id,
        },
        assumed_role_user: AssumedRoleUser {
            arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{session}"),
            assume_role_id: format!(
                "AROA{}:{session}",
                filler.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)
            ),
        },
        credentials: WireCredentials {
            session_token: filler.base64(SESSION_TOKEN_CHARS),
            secret_access_key: filler.base64(SECRET_KEY_CHARS),
            access_key_id: format!(
                "ASIA{}",
                filler.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            expiration: (now_unix() + LIFETIME_SECONDS) as f64,
        },
    }
}

/// An error as EKS Auth sends it: the type in `X-Amzn-Errortype`, a message in the body.
fn error(status: StatusCode, kind: &'static str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = respond(status, "application/json", Bytes::from(body));
    response.headers_mut().insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static(kind),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cluster_from_the_path() {
        assert_eq!(
            cluster_of("/clusters/bench/assume-role-for-pod-identity"),
            Some("bench")
        );
        assert_eq!(cluster_of("/clusters//assume-role-for-pod-identity"), None);
        assert_eq!(
            cluster_of("/clusters/a/b/assume-role-for-pod-identity"),
            None
        );
        assert_eq!(cluster_of("/calls"), None);
    }

    #[test]
    fn answers_with_realistic_sizes() {
        let response = credentials_for("bench", "web-0");
        assert_eq!(
            response.credentials.session_token.len(),
            SESSION_TOKEN_CHARS
        );
        assert_eq!(
            response.credentials.secret_access_key.len(),
            SECRET_KEY_CHARS
        );
        assert_eq!(response.credentials.access_key_id.len(), 20);
        let json = serde_json::to_value(&response).unwrap();
        assert!(json["credentials"]["expiration"].is_number());
    }
}
