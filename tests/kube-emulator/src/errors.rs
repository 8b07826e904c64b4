//! API errors, rendered as the real API server's `Status` objects.
//!
//! kubectl and helm classify failures by `reason` and `code` (`apierrors.IsNotFound`,
//! `IsAlreadyExists`, `IsConflict`), and they print `message` verbatim, so each constructor here
//! reproduces the real server's wording, e.g. `deployments.apps "api" not found`.

use crate::resources::ResourceType;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

/// A failed API request, answered with a `Status` object.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    /// HTTP status code, also the `code` field.
    pub(crate) code: u16,
    /// Machine-readable reason, e.g. `NotFound`.
    pub(crate) reason: &'static str,
    /// Human-readable message.
    pub(crate) message: String,
    /// The `details` object, if any.
    pub(crate) details: Option<Value>,
}

/// One cause inside an `Invalid` or SSA `Conflict` status.
#[derive(Debug, Clone)]
pub(crate) struct Cause {
    /// e.g. `FieldValueRequired`.
    pub(crate) reason: &'static str,
    /// Detail message.
    pub(crate) message: String,
    /// Field path, e.g. `spec.selector`.
    pub(crate) field: String,
}

fn details(resource: &ResourceType, name: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), Value::String(name.to_owned()));
    if !resource.group.is_empty() {
        details.insert("group".into(), Value::String(resource.group.to_owned()));
    }
    details.insert("kind".into(), Value::String(resource.plural.to_owned()));
    Value::Object(details)
}

impl ApiError {
    /// `404 NotFound`: `deployments.apps "api" not found`.
    pub(crate) fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", resource.qualified_plural()),
            details: Some(details(resource, name)),
        }
    }

    /// `404 NotFound` for a URL that names no served resource.
    pub(crate) fn path_not_found() -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: Some(json!({})),
        }
    }

    /// `409 AlreadyExists`: `deployments.apps "api" already exists`.
    pub(crate) fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", resource.qualified_plural()),
            details: Some(details(resource, name)),
        }
    }

    /// `409 Conflict` on a stale `resourceVersion` or a failed precondition.
    pub(crate) fn conflict(resource: &ResourceType, name: &str, why: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified_plural()
            ),
            details: Some(details(resource, name)),
        }
    }

    /// `409 Conflict` for the usual optimistic-concurrency failure.
    pub(crate) fn stale(resource: &ResourceType, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `409 Conflict` from server-side apply field ownership.
    pub(crate) fn apply_conflicts(resource: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let message = if let [cause] = causes {
            format!(
                "Apply failed with 1 conflict: {}: {}",
                cause.message, cause.field
            )
        } else {
            let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> =
                std::collections::BTreeMap::new();
            for cause in causes {
                by_manager
                    .entry(&cause.message)
                    .or_default()
                    .push(&cause.field);
            }
            let mut lines = Vec::new();
            for (manager, fields) in by_manager {
                lines.push(format!(
                    "{}:",
                    manager.replacen("conflict with", "conflicts with", 1)
                ));
                lines.extend(fields.iter().map(|field| format!("- {field}")));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                causes.len(),
                lines.join("\n")
            )
        };
        let mut detail = details(resource, name);
        detail["causes"] = causes_json(causes);
        Self {
            code: 409,
            reason: "Conflict",
            message,
            details: Some(detail),
        }
    }

    /// `422 Invalid`: `Deployment.apps "api" is invalid: spec.selector: Required value`.
    pub(crate) fn invalid(resource: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let rendered: Vec<String> = causes
            .iter()
            .map(|cause| format!("{}: {}", cause.field, cause.message))
            .collect();
        let list = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let mut detail = details(resource, name);
        detail["kind"] = Value::String(resource.kind.to_owned());
        detail["causes"] = causes_json(causes);
        Self {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: {list}",
                resource.qualified_kind()
            ),
            details: Some(detail),
        }
    }

    /// `400 BadRequest`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// `405 MethodNotAllowed`.
    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: message.into(),
            details: Some(json!({})),
        }
    }

    /// `415 UnsupportedMediaType`.
    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
            details: None,
        }
    }

    /// `406 NotAcceptable` for an `Accept` header the endpoint cannot serve.
    pub(crate) fn not_acceptable(accept: &str) -> Self {
        Self {
            code: 406,
            reason: "NotAcceptable",
            message: format!(
                "only the following media types are accepted: application/json, {}, {} (got {accept:?})",
                crate::openapi_v2::PROTOBUF_ACCEPT,
                crate::openapi_v2::PROTOBUF_CONTENT_TYPE
            ),
            details: None,
        }
    }

    /// `415 UnsupportedMediaType` for a patch type custom resources do not take (strategic
    /// merge patch needs Go struct tags that custom resources do not have).
    pub(crate) fn unsupported_patch_for_custom() -> Self {
        Self {
            code: 415,
            reason: "UnsupportedMediaType",
            message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
            details: None,
        }
    }

    /// `410 Expired` for a watch from a compacted resource version.
    pub(crate) fn expired(requested: u64, oldest: u64) -> Self {
        Self {
            code: 410,
            reason: "Expired",
            message: format!("too old resource version: {requested} ({oldest})"),
            details: None,
        }
    }

    /// The `Status` object.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

fn causes_json(causes: &[Cause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|cause| {
                json!({
                    "reason": cause.reason,
                    "message": cause.message,
                    "field": cause.field,
                })
            })
            .collect(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut response = (code, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;

    #[test]
    fn not_found_has_real_shape() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        let status = ApiError::not_found(deployments, "api").to_status();
        assert_eq!(status["message"], "deployments.apps \"api\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "deployments");
        let configmaps = by_plural("", "v1", "configmaps").expect("registered");
        let status = ApiError::not_found(configmaps, "x").to_status();
        assert_eq!(status["message"], "configmaps \"x\" not found");
        assert!(status["details"].get("group").is_none());
    }

    #[test]
    fn invalid_lists_causes() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        let error = ApiError::invalid(
            deployments,
            "api",
            &[Cause {
                reason: "FieldValueRequired",
                message: "Required value".into(),
                field: "spec.selector".into(),
            }],
        );
        assert_eq!(
            error.message,
            "Deployment.apps \"api\" is invalid: spec.selector: Required value"
        );
        assert_eq!(error.code, 422);
    }
}
