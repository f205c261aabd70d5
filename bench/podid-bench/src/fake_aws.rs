//! A fast stand-in for STS and IAM: AssumeRole and GetRole answered from templates, so that the
//! control plane's benchmark measures the control plane rather than its upstream.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use podid_core::time::rfc3339_utc;

use crate::args::Flags;
use crate::server::{Body, respond, serve};
use crate::token::now_unix;

/// The tutorial's trust policy, URL-encoded as IAM returns it.
const TRUST_POLICY: &str = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B\
%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22pods.eks.amazonaws.com\
%22%7D%2C%22Action%22%3A%5B%22sts%3AAssumeRole%22%2C%22sts%3ATagSession%22%5D%7D%5D%7D";

pub async fn run(flags: Flags) -> Result<(), String> {
    let flags = flags.only(&["addr"])?;
    let address: SocketAddr = flags.required("addr")?;
    println!("fake AWS (STS, IAM) on {address}");
    serve(address, answer)
        .await
        .map_err(|error| format!("cannot serve on {address}: {error}"))
}

async fn answer(request: Request<Incoming>) -> Response<Body> {
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return respond(StatusCode::BAD_REQUEST, "text/plain", Bytes::new()),
    };
    let form = String::from_utf8_lossy(&body);
    if form.contains("Action=AssumeRole") {
        respond(
            StatusCode::OK,
            "text/xml",
            Bytes::from(assume_role_response()),
        )
    } else if form.contains("Action=GetRole") {
        respond(StatusCode::OK, "text/xml", Bytes::from(get_role_response()))
    } else {
        respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            Bytes::from_static(b"unknown action"),
        )
    }
}

/// Sizes as STS's: a 20-character key id, a 40-character secret, a ~700-character token.
fn assume_role_response() -> String {
    let expiration = rfc3339_utc(now_unix() + 3600);
    let session_token = "FwoGZXIvYXdzEBcaDBENCHSESSIONTOKEN".repeat(21);
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <AssumeRoleResult><AssumedRoleUser><AssumedRoleId>AROABENCHROLE0000001:bench\
         </AssumedRoleId><Arn>arn:aws:sts::111122223333:assumed-role/bench/bench</Arn>\
         </AssumedRoleUser><Credentials><AccessKeyId>ASIABENCHSESSION0001</AccessKeyId>\
         <SecretAccessKey>wJalrXUtnFEMIK7MDENGbPxRfiCYBENCHKEY0001</SecretAccessKey>\
         <SessionToken>{session_token}</SessionToken><Expiration>{expiration}</Expiration>\
         </Credentials><PackedPolicySize>8</PackedPolicySize></AssumeRoleResult>\
         <ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )
}

fn get_role_response() -> String {
    format!(
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult>\
         <Role><Path>/</Path><RoleName>bench</RoleName><RoleId>AROABENCHROLE0000001</RoleId>\
         <Arn>arn:aws:iam::111122223333:role/bench</Arn><CreateDate>2024-01-01T00:00:00Z\
         </CreateDate><AssumeRolePolicyDocument>{TRUST_POLICY}</AssumeRolePolicyDocument>\
         </Role></GetRoleResult><ResponseMetadata><RequestId>bench</RequestId>\
         </ResponseMetadata></GetRoleResponse>"
    )
}
