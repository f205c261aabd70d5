//! The agent on real sockets against an in-process EKS Auth that records its calls.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use podid_agent::cache::CacheSettings;
use podid_agent::clock::Clock;
use podid_agent::upstream::{
    EksAuthClient, EksAuthSettings, NodeCredentialSource, NodeCredentials,
    RotatingSharedCredentials,
};
use podid_agent::{AgentConfig, RunningAgent, start};
use podid_core::Secret;
use support::raw_http::{Reply, get_credentials, send};
use support::{eks_auth, tokens};

const LOOPBACK_ANY_PORT: &str = "127.0.0.1:0";

async fn agent_against(upstream: SocketAddr) -> RunningAgent {
    let node_keys = NodeCredentialSource::Fixed {
        credentials: NodeCredentials {
            access_key_id: "AKIDNODE".into(),
            secret_access_key: Secret::new("node-secret"),
            session_token: None,
            expires_at: None,
        },
        origin: "the test".into(),
    };
    agent_signing_with(upstream, node_keys).await
}

async fn agent_signing_with(upstream: SocketAddr, node_keys: NodeCredentialSource) -> RunningAgent {
    let mut settings = EksAuthSettings::new("eksdemo1");
    settings.endpoint = Some(format!("http://{upstream}"));
    settings.max_attempts = 2;
    settings.initial_backoff = Duration::ZERO;
    let client = EksAuthClient::signing_with(&settings, "us-west-2", node_keys).unwrap();
    let config = AgentConfig {
        credential_addresses: vec![LOOPBACK_ANY_PORT.parse().unwrap()],
        probe_address: LOOPBACK_ANY_PORT.parse().unwrap(),
        metrics_address: LOOPBACK_ANY_PORT.parse().unwrap(),
        cache: CacheSettings::default(),
    };
    start(&config, client, Clock::System).await.unwrap()
}

fn assert_refused(reply: &Reply, status: u16, code: &str, message_part: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["Code"], code, "{}", reply.body);
    let message = body["Message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

#[tokio::test]
async fn exchanges_a_token_once_and_then_serves_from_cache() {
    let (upstream, recorder) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let address = agent.credential_addresses[0];
    let token = tokens::for_pod("aws-cli");

    let reply = get_credentials(address, Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["AccessKeyId"], "ASIAPODIDTESTKEY0001");
    assert_eq!(body["SecretAccessKey"], "secret-of-aws-cli");
    assert_eq!(body["Token"], "session-token-of-aws-cli");
    assert_eq!(body["AccountId"], "111122223333");
    let expiration = body["Expiration"].as_str().unwrap();
    assert!(
        expiration.ends_with('Z') && expiration.len() == 20,
        "{expiration}"
    );

    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        "/clusters/eksdemo1/assume-role-for-pod-identity"
    );
    assert_eq!(calls[0].token, token);
    assert!(
        calls[0]
            .authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDNODE/")
    );
    assert!(
        calls[0]
            .authorization
            .contains("/us-west-2/eks-auth/aws4_request")
    );

    assert_eq!(get_credentials(address, Some(&token)).await.status, 200);
    assert_eq!(
        recorder.calls().len(),
        1,
        "the second request was a cache hit"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn upstream_errors_keep_their_status() {
    let (upstream, recorder) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let address = agent.credential_addresses[0];
    let cases = [
        ("denied-1", 400, "AccessDenied"),
        ("unknown-1", 404, "ResourceNotFound"),
        ("throttled-1", 429, "Throttling"),
        ("broken-1", 500, "InternalServer"),
    ];
    for (pod, status, code) in cases {
        let reply = get_credentials(address, Some(&tokens::for_pod(pod))).await;
        assert_refused(&reply, status, code, pod);
    }
    // Throttling and server failures are tried again (two attempts in these tests); refusals
    // are final at once.
    let attempts = |pod: &str| {
        let pod_of = |token: &str| {
            let claims = podid_core::token::decode_claims(token).unwrap();
            claims.kubernetes.and_then(|k| k.pod).map(|p| p.name)
        };
        let calls = recorder.calls();
        calls
            .iter()
            .filter(|call| pod_of(&call.token).as_deref() == Some(pod))
            .count()
    };
    assert_eq!(attempts("denied-1"), 1);
    assert_eq!(attempts("unknown-1"), 1);
    assert_eq!(attempts("throttled-1"), 2);
    assert_eq!(attempts("broken-1"), 2);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_node_clock_an_hour_behind_is_corrected_from_eks_auths_date() {
    let (upstream, recorder) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let address = agent.credential_addresses[0];

    // The first signature is refused for its time; signed again with the service's time, the
    // request passes, and the next pod's is signed right the first time.
    let first = get_credentials(address, Some(&tokens::for_pod("skewed-1"))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(recorder.calls().len(), 2);
    let second = get_credentials(address, Some(&tokens::for_pod("skewed-2"))).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(recorder.calls().len(), 3);
    agent.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_503() {
    let closed = std::net::TcpListener::bind(LOOPBACK_ANY_PORT).unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let agent = agent_against(address).await;
    let reply = get_credentials(agent.credential_addresses[0], Some(&tokens::for_pod("p"))).await;
    // The cause, read from the error's chain in words, not a debug dump of it.
    assert_refused(
        &reply,
        503,
        "ServiceUnavailable",
        "EKS Auth is unreachable: ",
    );
    assert_refused(&reply, 503, "ServiceUnavailable", "Connection refused");
    assert!(!reply.body.contains(" { "), "{}", reply.body);
    agent.shutdown().await;
}

#[tokio::test]
async fn refuses_bad_requests_precisely() {
    let (upstream, recorder) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let address = agent.credential_addresses[0];
    let token = tokens::for_pod("aws-cli");

    let reply = send(
        address,
        "GET",
        "/v1/credentials",
        &[
            "Host: attacker.example".into(),
            format!("Authorization: {token}"),
        ],
    )
    .await;
    assert_refused(&reply, 403, "AccessDenied", "attacker.example");

    let reply = get_credentials(address, None).await;
    assert_refused(&reply, 400, "InvalidToken", "missing Authorization header");

    let reply = get_credentials(address, Some("")).await;
    assert_refused(&reply, 400, "InvalidToken", "empty");

    let reply = get_credentials(address, Some(&"a".repeat(20_000))).await;
    assert_refused(
        &reply,
        400,
        "InvalidToken",
        "20000 bytes, more than the 16384 allowed",
    );

    let reply = get_credentials(address, Some("not-a-jwt")).await;
    assert_refused(
        &reply,
        400,
        "InvalidToken",
        "expected 3 dot-separated parts, found 1",
    );

    let reply = get_credentials(address, Some("e30.!!!.x")).await;
    assert_refused(
        &reply,
        400,
        "InvalidToken",
        "payload is not valid base64url",
    );

    let mut expired = tokens::claims("aws-cli");
    expired["exp"] = serde_json::json!(tokens::now() - 10);
    let reply = get_credentials(address, Some(&tokens::encode(&expired))).await;
    assert_refused(&reply, 400, "ExpiredToken", "expired at");

    let mut future = tokens::claims("aws-cli");
    future["nbf"] = serde_json::json!(tokens::now() + 3600);
    let reply = get_credentials(address, Some(&tokens::encode(&future))).await;
    assert_refused(&reply, 400, "InvalidToken", "not valid before");

    let mut unbound = tokens::claims("aws-cli");
    unbound["kubernetes.io"]
        .as_object_mut()
        .unwrap()
        .remove("pod");
    let reply = get_credentials(address, Some(&tokens::encode(&unbound))).await;
    assert_refused(&reply, 400, "InvalidToken", "not bound to a pod");

    let headers = [
        format!("Host: {address}"),
        format!("Authorization: {token}"),
    ];
    let reply = send(address, "GET", "/v1/other", &headers).await;
    assert_refused(&reply, 404, "NotFound", "/v1/credentials");
    let reply = send(address, "POST", "/v1/credentials", &headers).await;
    assert_refused(&reply, 405, "MethodNotAllowed", "GET");

    assert!(recorder.calls().is_empty(), "nothing bad went upstream");
    agent.shutdown().await;
}

#[tokio::test]
async fn refusals_never_echo_the_token() {
    let (upstream, _) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let mut expired = tokens::claims("aws-cli");
    expired["exp"] = serde_json::json!(tokens::now() - 10);
    let token = tokens::encode(&expired);
    let reply = get_credentials(agent.credential_addresses[0], Some(&token)).await;
    assert_eq!(reply.status, 400);
    let signature = token.rsplit('.').next().unwrap();
    assert!(!reply.body.contains(signature));
    assert!(!reply.body.contains(token.split('.').nth(1).unwrap()));
    agent.shutdown().await;
}

#[tokio::test]
async fn probes_and_metrics_answer() {
    let (upstream, _) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    get_credentials(
        agent.credential_addresses[0],
        Some(&tokens::for_pod("aws-cli")),
    )
    .await;

    let host = |address: SocketAddr| vec![format!("Host: {address}")];
    let probe = agent.probe_address;
    assert_eq!(
        send(probe, "GET", "/healthz", &host(probe)).await.status,
        200
    );
    assert_eq!(
        send(probe, "GET", "/readyz", &host(probe)).await.status,
        200
    );

    let metrics = agent.metrics_address;
    let reply = send(metrics, "GET", "/metrics", &host(metrics)).await;
    assert_eq!(reply.status, 200);
    for line in [
        "podid_agent_requests_total{status=\"200\"} 1",
        "podid_agent_cache_misses_total 1",
        "podid_agent_upstream_calls_total 1",
        "podid_agent_cache_entries 1",
    ] {
        assert!(
            reply.body.contains(line),
            "metrics lack {line:?}:\n{}",
            reply.body
        );
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let (upstream, _) = eks_auth::start().await;
    let agent = agent_against(upstream).await;
    let address = agent.credential_addresses[0];
    let token = tokens::for_pod("slow-pod");
    let in_flight = tokio::spawn(async move { get_credentials(address, Some(&token)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    agent.shutdown().await;
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn rotating_credentials_sign_with_the_file_as_it_is_now() {
    let (upstream, recorder) = eks_auth::start().await;
    let dir = std::env::temp_dir().join(format!("podid-agent-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    let write_keys = |key_id: &str| {
        let text = format!(
            "[default]\naws_access_key_id = {key_id}\naws_secret_access_key = secret-of-{key_id}\n\
             aws_session_token = session-of-{key_id}\n"
        );
        std::fs::write(&file, text).unwrap();
    };
    write_keys("ASIAFIRSTKEY");
    // Read again at every call, so that the test need not wait for the minute to pass.
    let rotating = RotatingSharedCredentials::new(&file, Duration::ZERO);
    let agent = agent_signing_with(upstream, NodeCredentialSource::RotatingFile(rotating)).await;
    let address = agent.credential_addresses[0];

    let first = get_credentials(address, Some(&tokens::for_pod("first-pod"))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    write_keys("ASIASECONDKEY");
    let second = get_credentials(address, Some(&tokens::for_pod("second-pod"))).await;
    assert_eq!(second.status, 200, "{}", second.body);

    let signed_with: Vec<String> = recorder
        .calls()
        .iter()
        .map(|call| call.authorization.clone())
        .collect();
    assert_eq!(signed_with.len(), 2, "{signed_with:?}");
    assert!(
        signed_with[0].contains("Credential=ASIAFIRSTKEY/"),
        "{}",
        signed_with[0]
    );
    assert!(
        signed_with[1].contains("Credential=ASIASECONDKEY/"),
        "{}",
        signed_with[1]
    );

    // A file caught half rewritten: the keys read a moment ago still sign.
    std::fs::write(&file, "[default]\naws_access_key_id = ASIATHIRDKEY\n").unwrap();
    let third = get_credentials(address, Some(&tokens::for_pod("third-pod"))).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let calls = recorder.calls();
    assert!(calls[2].authorization.contains("Credential=ASIASECONDKEY/"));
    agent.shutdown().await;

    // Without keys ever read, nothing is sent and the pod learns why.
    let broken = RotatingSharedCredentials::new(dir.join("absent"), Duration::ZERO);
    let agent = agent_signing_with(upstream, NodeCredentialSource::RotatingFile(broken)).await;
    let refused = get_credentials(agent.credential_addresses[0], Some(&tokens::for_pod("p"))).await;
    assert_refused(
        &refused,
        503,
        "ServiceUnavailable",
        "the agent has no AWS credentials to sign with: cannot read ",
    );
    assert_eq!(recorder.calls().len(), 3, "nothing is sent unsigned");
    agent.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
