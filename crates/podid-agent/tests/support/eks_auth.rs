//! An in-process EKS Auth that records each call and answers according to the pod name in
//! the token: `denied-*` → AccessDenied, `unknown-*` → ResourceNotFound, `throttled-*` →
//! Throttling, `broken-*` → InternalServer, `slow-*` → success after half a second, anything
//! else → success.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use podid_core::token::decode_claims;
use serde_json::json;
use tokio::net::TcpListener;

const ASSOCIATION_ARN: &str =
    "arn:aws:eks:us-west-2:111122223333:podidentityassociation/eksdemo1/a-abcdefghijklmnopq";

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: String,
    pub token: String,
}

#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }
}

pub async fn start() -> (SocketAddr, Recorder) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorder = Recorder::default();
    let shared = recorder.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let recorder = shared.clone();
            let service = service_fn(move |request| answer(request, recorder.clone()));
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (address, recorder)
}

async fn answer(
    request: Request<Incoming>,
    recorder: Recorder,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    recorder.0.lock().unwrap().push(Call {
        path,
        authorization,
        token: token.clone(),
    });

    let claims = decode_claims(&token).expect("the agent only forwards decodable tokens");
    let pod = claims
        .kubernetes
        .and_then(|k| k.pod)
        .map(|p| p.name)
        .unwrap_or_default();
    let failure = [
        ("denied-", 400, "AccessDeniedException"),
        ("unknown-", 404, "ResourceNotFoundException"),
        ("throttled-", 429, "ThrottlingException"),
        ("broken-", 500, "InternalServerException"),
    ]
    .into_iter()
    .find(|(prefix, _, _)| pod.starts_with(prefix));
    if let Some((_, status, kind)) = failure {
        let body = json!({"message": format!("{kind} for pod {pod}")}).to_string();
        let response = Response::builder()
            .status(status)
            .header("x-amzn-errortype", kind)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        return Ok(response);
    }
    if pod.starts_with("slow-") {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let expiration = super::tokens::now() + 6 * 3600;
    let session = format!("eks-eksdemo1-{pod}-0b6c4a8e");
    let body = json!({
        "subject": {"namespace": "default", "serviceAccount": "aws-cli-sa"},
        "audience": "pods.eks.amazonaws.com",
        "podIdentityAssociation": {
            "associationArn": ASSOCIATION_ARN,
            "associationId": "a-abcdefghijklmnopq"
        },
        "assumedRoleUser": {
            "arn": format!("arn:aws:sts::111122223333:assumed-role/S3ReadOnly/{session}"),
            "assumeRoleId": format!("AROAEXAMPLE:{session}")
        },
        "credentials": {
            "sessionToken": format!("session-token-of-{pod}"),
            "secretAccessKey": format!("secret-of-{pod}"),
            "accessKeyId": "ASIAPODIDTESTKEY0001",
            "expiration": expiration
        }
    });
    let response = Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    Ok(response)
}
