//! The AWS endpoint over a real socket, with requests signed as the SDKs sign them: routing by
//! credential scope, expired sessions, unsigned requests, and the EKS APIs authorized before
//! they are forwarded.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use podid_http::{Body, respond, serve};
use podid_sandbox_aws::bootstrap::{KeyPair, administrator};
use podid_sandbox_aws::endpoint::{Endpoint, RestBackend};
use podid_sandbox_aws::s3_access::{S3Gate, s3_service};
use podid_sandbox_aws::sessions::SessionKeys;
use podid_sandbox_aws::store::AccountStore;
use podid_sigv4::{Credentials, SigningParams, sign_request};

const START: i64 = 1_700_000_000;

/// The endpoint's clock and the signers': one for the whole test binary, so the tests that run
/// an endpoint take turns (`ONE_AT_A_TIME`) and each starts it over.
static NOW: AtomicI64 = AtomicI64::new(START);
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now() -> i64 {
    NOW.load(Ordering::SeqCst)
}

/// An S3 that stores nothing: these tests are about the endpoint in front of it.
struct NoStorage;

#[async_trait::async_trait]
impl s3s::S3 for NoStorage {}

/// Counts the calls that reach the backend.
#[derive(Default)]
struct RecordingEks {
    calls: Arc<AtomicUsize>,
}

impl RestBackend for RecordingEks {
    fn authorization(&self, _: &Method, path: &str) -> Option<(String, String)> {
        path.starts_with("/clusters/").then(|| {
            (
                "eks:ListPodIdentityAssociations".to_owned(),
                "arn:aws:eks:us-east-1:111122223333:cluster/eksdemo1".to_owned(),
            )
        })
    }

    async fn call(&self, _: Request<Full<Bytes>>) -> Response<Body> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        respond(200, "application/json", "{\"associations\":[]}")
    }
}

struct Running {
    base: String,
    admin: KeyPair,
    store: Arc<AccountStore>,
    eks_calls: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

async fn start() -> Running {
    let turn = ONE_AT_A_TIME.lock().await;
    NOW.store(START, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(AccountStore::open(&dir.path().join("iam.json"), "111122223333").unwrap());
    let admin = administrator(&store, "admin", now()).unwrap();
    let sessions = Arc::new(SessionKeys::new(&[9; 32]));
    let gate = S3Gate::new(Arc::clone(&store), Arc::clone(&sessions), now);
    let eks = RecordingEks::default();
    let eks_calls = Arc::clone(&eks.calls);
    let endpoint = Endpoint::new(
        Arc::clone(&store),
        sessions,
        s3_service(NoStorage, gate),
        eks,
        now,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, Arc::new(endpoint), stopped));
    Running {
        base,
        admin,
        store,
        eks_calls,
        _dir: dir,
        _stop: stop,
        _turn: turn,
    }
}

/// Sends a request signed for `service` with the keys, and returns status, headers and body.
async fn send(
    method: Method,
    url: &str,
    body: &str,
    service: &str,
    keys: Option<(&str, &str, Option<&str>)>,
) -> (u16, HeaderMap, String) {
    let uri: Uri = url.parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    if let Some((access_key_id, secret_access_key, session_token)) = keys {
        let params = SigningParams {
            credentials: Credentials {
                access_key_id,
                secret_access_key,
                session_token,
            },
            region: "us-east-1",
            service,
            time_unix: now(),
        };
        sign_request(&method, &uri, &mut headers, body.as_bytes(), &params).unwrap();
    }
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    *request.headers_mut() = headers;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn field<'x>(xml: &'x str, tag: &str) -> &'x str {
    let open = format!("<{tag}>");
    let after = xml
        .split(&open)
        .nth(1)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"));
    after.split('<').next().unwrap_or_default()
}

#[tokio::test]
async fn sessions_work_until_they_expire() {
    let running = start().await;
    let admin = (
        running.admin.access_key_id.as_str(),
        running.admin.secret_access_key.as_str(),
        None,
    );
    let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A\
        %22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A111122223333%3A\
        root%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
    let (status, _, body) = send(
        Method::POST,
        &format!("{}/", running.base),
        &format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument={trust}"
        ),
        "iam",
        Some(admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let arn = "arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr";
    let assume = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={arn}&RoleSessionName=s1&DurationSeconds=900"
    );
    let url = format!("{}/", running.base);
    let (status, _, body) = send(Method::POST, &url, &assume, "sts", Some(admin)).await;
    assert_eq!(status, 200, "{body}");
    let (id, secret, token) = (
        field(&body, "AccessKeyId").to_owned(),
        field(&body, "SecretAccessKey").to_owned(),
        field(&body, "SessionToken").to_owned(),
    );
    let session = (id.as_str(), secret.as_str(), Some(token.as_str()));
    let who = "Action=GetCallerIdentity&Version=2011-06-15";
    let (status, _, body) = send(Method::POST, &url, who, "sts", Some(session)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        field(&body, "Arn"),
        "arn:aws:sts::111122223333:assumed-role/r/s1"
    );

    NOW.fetch_add(901, Ordering::SeqCst);
    let (status, _, body) = send(Method::POST, &url, who, "sts", Some(session)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(field(&body, "Code"), "ExpiredToken");
    assert_eq!(
        field(&body, "Message"),
        "The security token included in the request is expired"
    );
    drop(running.store);
}

#[tokio::test]
async fn unsigned_and_unknown_requests_get_aws_errors() {
    let running = start().await;
    let url = format!("{}/", running.base);
    let (status, _, body) = send(
        Method::POST,
        &url,
        "Action=GetCallerIdentity&Version=2011-06-15",
        "sts",
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(field(&body, "Code"), "MissingAuthenticationToken");

    let admin = (
        running.admin.access_key_id.as_str(),
        running.admin.secret_access_key.as_str(),
        None,
    );
    let (status, _, body) = send(Method::POST, &url, "Action=X", "lambda", Some(admin)).await;
    assert_eq!(status, 400);
    assert_eq!(field(&body, "Code"), "UnknownService");

    let (status, _, body) = send(Method::GET, &url, "", "s3", None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(field(&body, "Code"), "AccessDenied");
}

#[tokio::test]
async fn eks_calls_are_forwarded_only_when_authorized() {
    let running = start().await;
    let admin = (
        running.admin.access_key_id.as_str(),
        running.admin.secret_access_key.as_str(),
        None,
    );
    let url = format!(
        "{}/clusters/eksdemo1/pod-identity-associations",
        running.base
    );
    let (status, _, body) = send(Method::GET, &url, "", "eks", Some(admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(running.eks_calls.load(Ordering::SeqCst), 1);

    let base = format!("{}/", running.base);
    let (_, _, user) = send(
        Method::POST,
        &base,
        "Action=CreateUser&Version=2010-05-08&UserName=dev",
        "iam",
        Some(admin),
    )
    .await;
    assert!(user.contains("<UserName>dev</UserName>"), "{user}");
    let (_, _, key) = send(
        Method::POST,
        &base,
        "Action=CreateAccessKey&Version=2010-05-08&UserName=dev",
        "iam",
        Some(admin),
    )
    .await;
    let dev = (
        field(&key, "AccessKeyId"),
        field(&key, "SecretAccessKey"),
        None,
    );
    let (status, headers, body) = send(Method::GET, &url, "", "eks", Some(dev)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(headers["x-amzn-errortype"], "AccessDeniedException");
    let message: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        message["message"],
        "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: \
         eks:ListPodIdentityAssociations on resource: \
         arn:aws:eks:us-east-1:111122223333:cluster/eksdemo1 because no identity-based policy \
         allows the eks:ListPodIdentityAssociations action"
    );
    assert_eq!(running.eks_calls.load(Ordering::SeqCst), 1);

    let forged = (dev.0, "not-the-secret", None);
    let (status, headers, _) = send(Method::GET, &url, "", "eks", Some(forged)).await;
    assert_eq!(status, 403);
    assert_eq!(headers["x-amzn-errortype"], "InvalidSignatureException");
}
