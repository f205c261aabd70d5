//! The AdmissionReview `admission.k8s.io/v1` wire shape: the parts of a request the webhook
//! reads, and the answers it writes.

use serde_json::{Map, Value, json};

use super::WebhookError;

pub const API_VERSION: &str = "admission.k8s.io/v1";
pub const KIND: &str = "AdmissionReview";

/// What the webhook reads of `request`. Only the fields that make the review valid are
/// checked; the others count as absent when they have another type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionRequest<'a> {
    pub uid: &'a str,
    pub operation: Option<&'a str>,
    /// `request.kind`: the group and kind of the object under review.
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub sub_resource: Option<&'a str>,
    /// Where the object is created; a new pod's own metadata may lack it.
    pub namespace: Option<&'a str>,
    pub object: Option<&'a Value>,
}

impl<'a> AdmissionRequest<'a> {
    pub fn read(review: &'a Value) -> Result<Self, WebhookError> {
        let review = review
            .as_object()
            .ok_or_else(|| unexpected("the body", "an AdmissionReview object", review))?;
        expect_string(review, "apiVersion", API_VERSION)?;
        expect_string(review, "kind", KIND)?;
        let request = review
            .get("request")
            .ok_or(WebhookError::Missing { field: "request" })?;
        let request = request
            .as_object()
            .ok_or_else(|| unexpected("request", "an object", request))?;
        let uid = request.get("uid").ok_or(WebhookError::Missing {
            field: "request.uid",
        })?;
        let uid = uid
            .as_str()
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| unexpected("request.uid", "a non-empty string", uid))?;

        let kind = request.get("kind").and_then(Value::as_object);
        Ok(Self {
            uid,
            operation: text(request, "operation"),
            group: kind.and_then(|kind| text(kind, "group")),
            kind: kind.and_then(|kind| text(kind, "kind")),
            sub_resource: text(request, "subResource").filter(|s| !s.is_empty()),
            namespace: text(request, "namespace").filter(|s| !s.is_empty()),
            object: request.get("object").filter(|object| !object.is_null()),
        })
    }

    /// Whether this is the creation of a pod itself (not of a subresource such as a binding).
    pub fn is_pod_create(&self) -> bool {
        self.operation == Some("CREATE")
            && self.kind == Some("Pod")
            && self.group.unwrap_or_default().is_empty()
            && self.sub_resource.is_none()
    }
}

/// `request.uid` when the document has one, so that even a refusal names the review it
/// answers.
pub fn uid_of(review: &Value) -> &str {
    review
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// An answer that lets the object through, changed by `patch` (base64 of a JSON Patch) when
/// there is one.
pub fn allowed(uid: &str, patch: Option<&str>) -> Value {
    let mut response = json!({"uid": uid, "allowed": true});
    if let Some(patch) = patch {
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(patch);
    }
    envelope(response)
}

/// An answer that refuses the object, with a status the API server shows to the client.
pub fn refused(uid: &str, code: u16, message: &str) -> Value {
    envelope(json!({
        "uid": uid,
        "allowed": false,
        "status": {"code": code, "message": message},
    }))
}

fn envelope(response: Value) -> Value {
    json!({"apiVersion": API_VERSION, "kind": KIND, "response": response})
}

fn expect_string(
    review: &Map<String, Value>,
    field: &'static str,
    expected: &'static str,
) -> Result<(), WebhookError> {
    match review.get(field) {
        Some(Value::String(found)) if found == expected => Ok(()),
        Some(found) => Err(WebhookError::Unexpected {
            field,
            expected: format!("{expected:?}"),
            found: shown(found),
        }),
        None => Err(WebhookError::Missing { field }),
    }
}

fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str)
}

fn unexpected(field: &'static str, expected: &str, found: &Value) -> WebhookError {
    WebhookError::Unexpected {
        field,
        expected: expected.to_owned(),
        found: shown(found),
    }
}

/// A value as a message shows it: scalars as JSON, containers by their type.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        scalar => scalar.to_string(),
    }
}
