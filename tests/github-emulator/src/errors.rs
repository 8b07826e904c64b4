//! REST error responses in GitHub's `basic-error`, `validation-error` and
//! `validation-error-simple` shapes.

use crate::render;
use serde_json::{Value, json};

/// An error answer of the REST API.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The JSON body.
    pub(crate) body: Value,
    /// Extra response headers (`retry-after`, rate-limit overrides).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// A `basic-error` with `message`; a 422 gets the `validation-error` shape (no `status`).
    pub(crate) fn basic(status: u16, message: &str) -> Self {
        let mut body = render::basic_error(message, status);
        if status == 422
            && let Some(object) = body.as_object_mut()
        {
            object.remove("status");
        }
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A status without a body, where GitHub's description documents none.
    pub(crate) fn bodiless(status: u16) -> Self {
        Self {
            status,
            body: Value::Null,
            headers: Vec::new(),
        }
    }

    /// `{message, documentation_url}` without `status`, the inline shape of the merge
    /// endpoint's 405 and 409.
    pub(crate) fn merge_refusal(status: u16, message: &str) -> Self {
        Self {
            status,
            body: json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request",
            }),
            headers: Vec::new(),
        }
    }

    /// 404 `Not Found`, also what a repository the token cannot see answers.
    pub(crate) fn not_found() -> Self {
        Self::basic(404, "Not Found")
    }

    /// 422 `Validation Failed` with `errors` (objects with `resource`, `field`, `code`).
    pub(crate) fn validation(errors: Vec<Value>) -> Self {
        Self {
            status: 422,
            body: render::validation_error(errors),
            headers: Vec::new(),
        }
    }

    /// 422 with one `validation-error` entry.
    pub(crate) fn invalid_field(resource: &str, field: &str, code: &str) -> Self {
        Self::validation(vec![
            json!({"resource": resource, "field": field, "code": code}),
        ])
    }

    /// 422 with one `custom` entry carrying `message`.
    pub(crate) fn custom(resource: &str, message: &str) -> Self {
        Self::validation(vec![
            json!({"resource": resource, "code": "custom", "message": message}),
        ])
    }

    /// 422 `validation-error-simple`: `Unprocessable Entity` with string errors.
    pub(crate) fn unprocessable(errors: &[&str]) -> Self {
        Self {
            status: 422,
            body: json!({
                "message": "Unprocessable Entity",
                "errors": errors,
                "documentation_url": "https://docs.github.com/rest",
            }),
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}
