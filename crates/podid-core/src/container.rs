//! The container credentials protocol: what a pod's AWS SDK receives from the node agent.

use serde::Serialize;

use crate::Secret;
use crate::time::rfc3339_utc;

/// Temporary credentials of one role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    /// Unix seconds.
    pub expiration: i64,
    pub account_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsBody<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    account_id: &'a str,
    expiration: String,
}

/// Renders the 200 body the SDKs' container credential providers parse.
pub fn credentials_body(credentials: &RoleCredentials) -> String {
    let body = CredentialsBody {
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret_access_key.expose(),
        token: credentials.session_token.expose(),
        account_id: &credentials.account_id,
        expiration: rfc3339_utc(credentials.expiration),
    };
    serde_json::to_string(&body).expect("a struct of strings always serializes")
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

/// Renders an error body, `{"Code": ..., "Message": ...}`, which the AWS SDK for Rust and
/// others surface to the application as the reason credentials could not be loaded.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody { code, message }).expect("strings always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_sdk_shape() {
        let credentials = RoleCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("session"),
            expiration: 1_700_000_000,
            account_id: "111122223333".into(),
        };
        let body: serde_json::Value =
            serde_json::from_str(&credentials_body(&credentials)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret",
                "Token": "session",
                "AccountId": "111122223333",
                "Expiration": "2023-11-14T22:13:20Z"
            })
        );
    }

    #[test]
    fn escapes_error_messages() {
        let body = error_body("InvalidToken", "bad \"token\"");
        assert_eq!(body, r#"{"Code":"InvalidToken","Message":"bad \"token\""}"#);
    }
}
