//! API errors as `Status` objects: kubectl and kube-rs read `reason`, `code`
//! and `details` to decide what happened (conflict, not found, retry), so the
//! shapes follow kube-apiserver.

use serde_json::{json, Value};

/// A failed request, rendered as a `Status` with the matching HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code, repeated as `Status.code`.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`, `AlreadyExists`, `Conflict`.
    pub reason: String,
    /// The human-readable message.
    pub message: String,
    /// `Status.details`, when the error is about one object.
    pub details: Option<Box<Value>>,
    /// Seconds a client should wait (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u32>,
}

/// The name of a resource kind as messages spell it: `configmaps`,
/// `deployments.apps`.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn object_details(group: &str, plural: &str, name: &str) -> Value {
    let mut d = json!({ "name": name });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d["kind"] = json!(plural);
    d
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    pub(crate) fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(object_details(group, plural, name))
    }

    /// An unknown path or resource kind.
    pub(crate) fn no_route() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(object_details(group, plural, name))
    }

    /// A stale `resourceVersion` (optimistic concurrency).
    pub(crate) fn stale(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_details(object_details(group, plural, name))
    }

    pub(crate) fn precondition(group: &str, plural: &str, name: &str, what: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {what}",
                qualified(group, plural)
            ),
        )
        .with_details(object_details(group, plural, name))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// A rejected object (422), naming the field at fault.
    pub(crate) fn invalid(
        group: &str,
        kind: &str,
        name: &str,
        field: &str,
        problem: &str,
    ) -> ApiError {
        let what = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let message = format!("{what} \"{name}\" is invalid: {field}: {problem}");
        let mut details = json!({
            "name": name,
            "kind": kind,
            "causes": [{ "reason": "FieldValueInvalid", "message": problem, "field": field }],
        });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        ApiError::new(422, "Invalid", message).with_details(details)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"),
        )
    }

    /// A watch asked for history the server no longer holds.
    pub(crate) fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// The `Status` object itself.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        let mut details = self.details.as_deref().cloned();
        if let Some(secs) = self.retry_after {
            let d = details.get_or_insert_with(|| json!({}));
            d["retryAfterSeconds"] = json!(secs);
        }
        if let Some(d) = details {
            s["details"] = d;
        }
        s["code"] = json!(self.code);
        s
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The `Status` a successful immediate delete answers with.
pub(crate) fn success(group: &str, plural: &str, name: &str, uid: &str) -> Value {
    let mut details = object_details(group, plural, name);
    details["uid"] = json!(uid);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_the_apiserver() {
        let s = ApiError::not_found("apps", "deployments", "web").to_status();
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["group"], "apps");
        assert_eq!(s["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_names_kind_and_field() {
        let e = ApiError::invalid("", "ConfigMap", "Bad", "metadata.name", "must be lowercase");
        assert_eq!(
            e.message,
            "ConfigMap \"Bad\" is invalid: metadata.name: must be lowercase"
        );
        let e = ApiError::invalid("apps", "Deployment", "x", "spec", "bad");
        assert_eq!(e.message, "Deployment.apps \"x\" is invalid: spec: bad");
    }

    #[test]
    fn retry_after_lands_in_details() {
        let mut e = ApiError::new(429, "TooManyRequests", "slow down");
        e.retry_after = Some(2);
        assert_eq!(e.to_status()["details"]["retryAfterSeconds"], 2);
    }
}
