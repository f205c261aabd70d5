//! An in-process EKS Auth that records each call and answers according to the pod name in
//! the token: `denied-*` → AccessDenied, `unknown-*` → ResourceNotFound, `throttled-*` →
//! Throttling, `broken-*` → InternalServer, `slow-*` → success after half a second,
//! `skewed-*` → answered by a service whose clock is an hour ahead, which refuses signatures
//! more than 15 minutes off its time as AWS does; anything else → success.

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
use podid_sigv4::AmzDate;
use serde_json::json;
use tokio::net::TcpListener;

/// How far ahead of the test's clock the service's is for `skewed-*` pods.
const SKEWED_CLOCK_AHEAD: i64 = 3600;

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
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let authorization = header("authorization");
    let amz_date = header("x-amz-date");
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
    if pod.starts_with("skewed-") {
        let service_now = super::tokens::now() + SKEWED_CLOCK_AHEAD;
        let signed_at = AmzDate::parse_basic(&amz_date).map_or(0, AmzDate::unix);
        if (signed_at - service_now).abs() > 15 * 60 {
            let body = json!({"message": format!("Signature expired: {amz_date} is now earlier \
                than the service's time - 15 min.")});
            let response = Response::builder()
                .status(403)
                .header("x-amzn-errortype", "InvalidSignatureException")
                .header("date", http_date(service_now))
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
            return Ok(response);
        }
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

/// An HTTP `Date` value (`Fri, 04 Dec 2026 22:43:19 GMT`).
fn http_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let (year, month, day) = podid_core::time::civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[month as usize - 1],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}
