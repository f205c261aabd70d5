//! Errors as AWS services answer them: an HTTP status, a code and a message, written in each
//! protocol's own shape (query XML for IAM and STS, S3's XML, JSON for the REST APIs).

use crate::xml::escape;

/// One error answer. `code` is AWS's error code, such as `NoSuchEntity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValue", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(404, "NoSuchEntity", message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(409, "EntityAlreadyExists", message)
    }

    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedPolicyDocument", message)
    }

    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new(409, "DeleteConflict", message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(409, "LimitExceeded", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "ServiceFailure", message)
    }

    /// Whether the caller is at fault (`Sender`) or the service (`Receiver`).
    fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// The query protocol's error document (IAM, STS).
    pub fn to_query_xml(&self, namespace: &str, request_id: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.fault(),
            self.code,
            escape(&self.message)
        )
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_have_the_query_protocols_shape() {
        let error = AwsError::no_such_entity("The role with name <x> cannot be found.");
        assert_eq!(
            error.to_query_xml("https://iam.amazonaws.com/doc/2010-05-08/", "r-1"),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name &lt;x&gt; \
             cannot be found.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        );
        assert!(
            AwsError::internal("x")
                .to_query_xml("n", "r")
                .contains("Receiver")
        );
    }
}
