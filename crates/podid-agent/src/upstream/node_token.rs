//! Authenticating the agent to a podid server with the agent's own service-account token.
//!
//! The SDK insists on signing, so requests are signed with placeholder credentials and the
//! signature is removed again just before transmission; the token goes in its own header. The
//! file is read at every call because the kubelet rotates it.

use std::path::PathBuf;

use aws_sdk_eksauth::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_eksauth::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_eksauth::error::BoxError;
use podid_core::eks_auth::NODE_TOKEN_HEADER;

/// Credentials that sign nothing of value: the signature they make is stripped before sending.
pub fn placeholder_credentials() -> Credentials {
    Credentials::new("PODIDNODETOKEN", "unused", None, None, "podid node token")
}

#[derive(Debug)]
pub struct PresentNodeToken {
    pub file: PathBuf,
}

impl Intercept for PresentNodeToken {
    fn name(&self) -> &'static str {
        "PresentNodeToken"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let token = std::fs::read_to_string(&self.file).map_err(|error| {
            format!(
                "cannot read the agent's token file {}: {error}",
                self.file.display()
            )
        })?;
        let headers = context.request_mut().headers_mut();
        for signed in [
            "authorization",
            "x-amz-date",
            "x-amz-content-sha256",
            "x-amz-security-token",
        ] {
            headers.remove(signed);
        }
        headers.insert(NODE_TOKEN_HEADER, token.trim().to_owned());
        Ok(())
    }
}
