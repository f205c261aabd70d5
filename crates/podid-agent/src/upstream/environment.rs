//! The AWS settings the agent reads from its environment, as the AWS SDKs read them.

/// A variable's value when it is set and not empty: the SDKs treat an empty variable as unset.
pub fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The endpoint configured for one service: its own variable (`AWS_ENDPOINT_URL_STS`), else
/// `AWS_ENDPOINT_URL`, without a trailing slash.
pub fn configured_endpoint(service_variable: &str) -> Option<String> {
    setting(service_variable)
        .or_else(|| setting("AWS_ENDPOINT_URL"))
        .map(|url| url.trim_end_matches('/').to_owned())
}
