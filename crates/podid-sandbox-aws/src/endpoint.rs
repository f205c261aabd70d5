//! The sandbox's one AWS endpoint. `AWS_ENDPOINT_URL` pointed at it sends every AWS CLI
//! command here; each request goes to the service named in its SigV4 credential scope: IAM
//! and STS (query protocol), S3 (through s3s), and the EKS APIs (forwarded to the control
//! plane once the caller is authorized).
//!
//! Signatures are checked on every request, header-signed or presigned. Errors are worded and
//! shaped as each service words and shapes them: query XML for IAM and STS, S3's XML, and the
//! REST APIs' JSON with `x-amzn-ErrorType`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::body::{Frame, SizeHint};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response};
use podid_core::eks_auth::SignedAwsCaller;
use podid_http::{Body, BodyError, Handler, PeerAddr, respond};
use podid_sigv4::{RequestParts, SigV4Error, SignedRequest};
use serde_json::json;

use crate::authorize::{Access, Origin, authorize};
use crate::caller::{AuthError, Caller, Identity, identify, secret_for};
use crate::error::AwsError;
use crate::ids::request_id;
use crate::query::Params;
use crate::sessions::SessionKeys;
use crate::store::AccountStore;
use crate::{iam, sts};

/// Bodies of IAM, STS and EKS calls are small; S3's stream through s3s instead.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A REST API the endpoint forwards to: in the sandbox, the control plane's EKS APIs.
pub trait RestBackend: Send + Sync + 'static {
    /// The IAM action (`eks:CreatePodIdentityAssociation`) and the ARN a request is authorized
    /// on, or `None` when the request is no operation of the API.
    fn authorization(&self, method: &Method, path: &str) -> Option<(String, String)>;

    fn call(&self, request: Request<Full<Bytes>>) -> impl Future<Output = Response<Body>> + Send;
}

/// The endpoint, serving one sandbox account.
pub struct Endpoint<R> {
    store: Arc<AccountStore>,
    sessions: Arc<SessionKeys>,
    s3: s3s::service::S3Service,
    rest: R,
    clock: fn() -> i64,
}

impl<R> std::fmt::Debug for Endpoint<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").finish_non_exhaustive()
    }
}

/// Which protocol an API speaks, for the shape of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Iam,
    Sts,
    Rest,
}

impl Protocol {
    fn namespace(self) -> &'static str {
        match self {
            Protocol::Iam => iam::NAMESPACE,
            _ => sts::NAMESPACE,
        }
    }

    fn error(self, error: &AwsError) -> Response<Body> {
        let mut response = match self {
            Protocol::Rest => {
                let body = json!({"message": error.message}).to_string();
                let mut response = respond(error.status, "application/json", body);
                if let Ok(code) = error.code.parse() {
                    response.headers_mut().insert("x-amzn-errortype", code);
                }
                response
            }
            _ => respond(
                error.status,
                "text/xml",
                error.to_query_xml(self.namespace(), &request_id()),
            ),
        };
        if let Ok(id) = request_id().parse() {
            response.headers_mut().insert("x-amzn-requestid", id);
        }
        response
    }
}

impl<R: RestBackend> Endpoint<R> {
    pub fn new(
        store: Arc<AccountStore>,
        sessions: Arc<SessionKeys>,
        s3: s3s::service::S3Service,
        rest: R,
        clock: fn() -> i64,
    ) -> Self {
        Self {
            store,
            sessions,
            s3,
            rest,
            clock,
        }
    }

    /// S3's answer goes out as s3s streams it, so that an object is never held in memory.
    async fn s3(&self, request: Request<Incoming>) -> Response<EndpointBody> {
        let request = request.map(s3s::Body::from);
        match self.s3.call(request).await {
            Ok(response) => response.map(|body| EndpointBody(body.boxed_unsync())),
            Err(error) => {
                tracing::warn!(?error, "S3 failed to answer");
                respond(500, "text/plain", "internal error").map(EndpointBody::from)
            }
        }
    }

    /// Authenticates a buffered request of a query or REST API.
    fn authenticate(
        &self,
        parts: &Parts,
        body: &[u8],
        protocol: Protocol,
        now: i64,
    ) -> Result<Caller, AwsError> {
        let signed = SignedRequest::parse(&parts.headers, parts.uri.query())
            .map_err(|e| signature_error(&e, protocol))?
            .ok_or_else(|| missing_authentication(protocol))?;
        let view = self.store.view();
        let access_key_id = signed.access_key_id();
        let secret = secret_for(&view, &self.sessions, access_key_id)
            .map_err(|e| credential_error(e, protocol))?;
        let request = RequestParts::new(&parts.method, &parts.uri, &parts.headers, body);
        signed
            .verify_with_secret(&request, &secret, now)
            .map_err(|e| signature_error(&e, protocol))?;
        identify(
            &view,
            &self.sessions,
            access_key_id,
            signed.session_token(),
            now,
        )
        .map_err(|e| credential_error(e, protocol))
    }

    async fn query(&self, protocol: Protocol, request: Request<Incoming>) -> Response<Body> {
        let now = (self.clock)();
        let origin = origin(&request, now);
        let (parts, body) = match buffered(request).await {
            Ok(buffered) => buffered,
            Err(error) => return protocol.error(&error),
        };
        let answer = self
            .authenticate(&parts, &body, protocol, now)
            .and_then(|caller| {
                let params = Params::parse(&body, parts.uri.query())?;
                let store = &self.store;
                match protocol {
                    Protocol::Iam => iam::handle(&iam::Call {
                        params: &params,
                        caller: &caller,
                        origin: &origin,
                        store,
                    }),
                    _ => sts::handle(&sts::Call {
                        params: &params,
                        caller: &caller,
                        origin: &origin,
                        store,
                        sessions: &self.sessions,
                    }),
                }
            });
        match answer {
            Ok(xml) => respond(200, "text/xml", xml),
            Err(error) => protocol.error(&error),
        }
    }

    async fn rest(&self, request: Request<Incoming>) -> Response<Body> {
        let now = (self.clock)();
        let origin = origin(&request, now);
        let protocol = Protocol::Rest;
        let (parts, body) = match buffered(request).await {
            Ok(buffered) => buffered,
            Err(error) => return protocol.error(&error),
        };
        let caller = match self.authenticate(&parts, &body, protocol, now) {
            Ok(caller) => caller,
            Err(error) => return protocol.error(&error),
        };
        if let Some((action, resource)) = self.rest.authorization(&parts.method, parts.uri.path()) {
            let view = self.store.view();
            let access = Access::new(&action, &resource);
            if let Err(denied) = authorize(&view, &caller, access, &origin, None) {
                let error = AwsError::new(403, "AccessDeniedException", denied.message);
                return protocol.error(&error);
            }
        }
        let mut request = Request::from_parts(parts, Full::new(body));
        if let Identity::Session(session) = &caller.identity {
            // A node agent signing with its instance role: the API learns which role session
            // signed, as EKS Auth learns it from SigV4.
            request.extensions_mut().insert(SignedAwsCaller {
                role_name: session.role_name.clone(),
                session_name: session.session_name.clone(),
            });
        }
        self.rest.call(request).await
    }
}

fn origin<B>(request: &Request<B>, now: i64) -> Origin {
    Origin {
        source_ip: request
            .extensions()
            .get::<PeerAddr>()
            .map(|peer| peer.0.ip()),
        secure: false,
        now,
    }
}

async fn buffered(request: Request<Incoming>) -> Result<(Parts, Bytes), AwsError> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| AwsError::new(400, "InvalidRequest", format!("reading the body: {e}")))?
        .to_bytes();
    Ok((parts, body))
}

fn missing_authentication(protocol: Protocol) -> AwsError {
    match protocol {
        Protocol::Rest => AwsError::new(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        _ => AwsError::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ),
    }
}

fn signature_error(error: &SigV4Error, protocol: Protocol) -> AwsError {
    let code = match protocol {
        Protocol::Rest => error.json_code(),
        _ => error.code(),
    };
    // The query APIs show the strings they expected, as AWS's do; they hold no secret.
    let message = match protocol {
        Protocol::Rest => error.to_string(),
        _ => error.detailed_message(),
    };
    AwsError::new(error.status(), code, message)
}

fn credential_error(error: AuthError, protocol: Protocol) -> AwsError {
    let (code, message) = match (error, protocol) {
        (AuthError::Expired, Protocol::Rest) => (
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        (AuthError::Expired, _) => (
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
        (_, Protocol::Rest) => (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (_, _) => (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
    };
    AwsError::new(403, code, message)
}

/// The service a request is for: its credential scope's, or for an unsigned request a guess
/// from its shape (a form POST is a query API, anything else S3, which answers anonymous
/// requests itself).
fn service_of(request: &Request<Incoming>) -> Option<String> {
    match SignedRequest::parse(request.headers(), request.uri().query()) {
        Ok(Some(signed)) => Some(signed.service().to_owned()),
        Ok(None) | Err(_) => {
            let form = request
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
            (request.method() == Method::POST && form).then(|| "sts".to_owned())
        }
    }
}

impl<R: RestBackend> Handler for Endpoint<R> {
    const WANTS_PEER_ADDRESS: bool = true;
    type ResponseBody = EndpointBody;

    async fn handle(&self, request: Request<Incoming>) -> Response<EndpointBody> {
        let answer = match service_of(&request).as_deref() {
            None | Some("s3") => return self.s3(request).await,
            Some("iam") => self.query(Protocol::Iam, request).await,
            Some("sts") => self.query(Protocol::Sts, request).await,
            Some("eks" | "eks-auth") => self.rest(request).await,
            Some(other) => {
                let error = AwsError::new(
                    400,
                    "UnknownService",
                    format!("the sandbox does not serve {other}: it has iam, sts, s3 and eks"),
                );
                Protocol::Sts.error(&error)
            }
        };
        answer.map(EndpointBody::from)
    }
}

/// An answer of the endpoint: in hand for IAM, STS and the EKS APIs, a stream for S3.
#[derive(Debug)]
pub struct EndpointBody(UnsyncBoxBody<Bytes, BodyError>);

impl From<Body> for EndpointBody {
    fn from(body: Body) -> Self {
        Self(body.map_err(|never| match never {}).boxed_unsync())
    }
}

impl hyper::body::Body for EndpointBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.get_mut().0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
