//! The administrative API over HTTP, under `/_emulator/` (JSON in, JSON out).
//!
//! It mirrors the Rust API of [`crate::GithubEmulator`] for tests that run the emulator as a
//! process: `GET state`, `GET exchanges`, `GET faults`, `POST tokens`, `POST repos`,
//! `POST commits`, `POST branches`, `POST pulls`, `POST check-runs`, `POST statuses`,
//! `POST reviews`, `PUT protection` and `PUT faults`. Failures answer `{"error": "..."}` with
//! 400 (bad JSON or fields), 404 (unknown repository, ref or pull request) or 422 (anything
//! else the call refused).

use crate::{
    AdminError, CheckConclusion, Faults, Protection, ReviewState, TokenScope,
    server::json_response, state::Shared,
};
use axum::{http::Method, http::StatusCode, response::Response};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

/// Why an admin request failed.
enum Failure {
    BadRequest(String),
    NotFound,
    Admin(AdminError),
}

impl From<AdminError> for Failure {
    fn from(error: AdminError) -> Self {
        Self::Admin(error)
    }
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, Failure> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::BadRequest(format!("missing string field `{name}`")))
}

fn number(body: &Value, name: &str) -> Result<u64, Failure> {
    body.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| Failure::BadRequest(format!("missing integer field `{name}`")))
}

fn count(body: &Value, name: &str) -> u32 {
    body.get(name)
        .and_then(Value::as_u64)
        .map_or(0, |value| u32::try_from(value).unwrap_or(u32::MAX))
}

fn seconds(body: &Value, name: &str) -> Result<Duration, Failure> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Duration::from_secs(1)),
        Some(value) => value
            .as_f64()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| Failure::BadRequest(format!("invalid seconds in `{name}`"))),
    }
}

fn strings(body: &Value, name: &str) -> Vec<String> {
    body.get(name)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn conclusion(text: &str) -> Result<CheckConclusion, Failure> {
    match text {
        "pending" | "in_progress" | "queued" => Ok(CheckConclusion::Pending),
        other => CheckConclusion::from_conclusion(other)
            .ok_or_else(|| Failure::BadRequest(format!("unknown conclusion `{other}`"))),
    }
}

fn review_state(text: &str) -> Result<ReviewState, Failure> {
    match text {
        "APPROVED" | "APPROVE" => Ok(ReviewState::Approved),
        "CHANGES_REQUESTED" | "REQUEST_CHANGES" => Ok(ReviewState::ChangesRequested),
        "COMMENTED" | "COMMENT" => Ok(ReviewState::Commented),
        other => Err(Failure::BadRequest(format!(
            "unknown review state `{other}`"
        ))),
    }
}

fn run(shared: &Shared, method: &Method, path: &str, body: &Value) -> Result<Value, Failure> {
    let full_name = || field(body, "full_name");
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "state") => Ok(shared.dump()),
        ("GET", "exchanges") => Ok(shared
            .lock()
            .exchanges
            .iter()
            .map(|exchange| {
                json!({
                    "method": exchange.method,
                    "path": exchange.path,
                    "status": exchange.status,
                    "body": exchange.body,
                })
            })
            .collect()),
        ("GET", "faults") => {
            let served = shared.lock().faults_served;
            Ok(json!({
                "primary_rate_limit": served.primary_rate_limit,
                "secondary_rate_limit": served.secondary_rate_limit,
                "bad_gateway": served.bad_gateway,
                "service_unavailable": served.service_unavailable,
            }))
        }
        ("POST", "tokens") => {
            let scope = match body.get("repos") {
                Some(Value::Array(_)) => TokenScope::Repos(strings(body, "repos")),
                _ => TokenScope::All,
            };
            shared
                .lock()
                .add_token(field(body, "token")?, field(body, "login")?, scope);
            Ok(json!({}))
        }
        ("POST", "repos") => {
            let branch = body
                .get("default_branch")
                .and_then(Value::as_str)
                .unwrap_or("main");
            Ok(json!({"sha": shared.create_repo(full_name()?, branch)?}))
        }
        ("POST", "commits") => {
            let files: Vec<(String, Option<String>)> = body
                .get("files")
                .and_then(Value::as_object)
                .map(|files| {
                    files
                        .iter()
                        .map(|(path, content)| (path.clone(), content.as_str().map(str::to_owned)))
                        .collect()
                })
                .unwrap_or_default();
            let borrowed: Vec<(&str, Option<&str>)> = files
                .iter()
                .map(|(path, content)| (path.as_str(), content.as_deref()))
                .collect();
            let sha = shared.commit(
                full_name()?,
                field(body, "branch")?,
                &borrowed,
                field(body, "message")?,
            )?;
            Ok(json!({"sha": sha}))
        }
        ("POST", "branches") => Ok(json!({
            "sha": shared.create_branch(full_name()?, field(body, "branch")?, field(body, "from")?)?,
        })),
        ("POST", "pulls") => Ok(json!({
            "number": shared.create_pull(
                full_name()?,
                field(body, "head")?,
                field(body, "base")?,
                field(body, "title")?,
                body.get("draft").and_then(Value::as_bool).unwrap_or(false),
            )?,
        })),
        ("POST", "check-runs") => {
            shared.add_check_run(
                full_name()?,
                field(body, "ref")?,
                field(body, "name")?,
                conclusion(field(body, "conclusion")?)?,
            )?;
            Ok(json!({}))
        }
        ("POST", "statuses") => {
            shared.add_status(
                full_name()?,
                field(body, "ref")?,
                field(body, "context")?,
                field(body, "state")?,
            )?;
            Ok(json!({}))
        }
        ("POST", "reviews") => {
            shared.add_review(
                full_name()?,
                number(body, "number")?,
                field(body, "login")?,
                review_state(field(body, "state")?)?,
            )?;
            Ok(json!({}))
        }
        ("PUT", "protection") => {
            shared.set_protection(
                full_name()?,
                field(body, "branch")?,
                Protection {
                    required_checks: strings(body, "required_checks"),
                    required_approvals: count(body, "required_approvals"),
                    strict: body.get("strict").and_then(Value::as_bool).unwrap_or(false),
                },
            )?;
            Ok(json!({}))
        }
        ("PUT", "faults") => {
            let secondary_status = match body.get("secondary_status").and_then(Value::as_u64) {
                None | Some(403) => 403,
                Some(429) => 429,
                Some(other) => {
                    return Err(Failure::BadRequest(format!(
                        "`secondary_status` must be 403 or 429, not {other}"
                    )));
                }
            };
            shared.lock().faults = Faults {
                primary_rate_limit: count(body, "primary_rate_limit"),
                secondary_rate_limit: count(body, "secondary_rate_limit"),
                secondary_status,
                bad_gateway: count(body, "bad_gateway"),
                service_unavailable: count(body, "service_unavailable"),
                reset_after: seconds(body, "reset_after_secs")?,
                retry_after: seconds(body, "retry_after_secs")?,
            };
            Ok(json!({}))
        }
        _ => Err(Failure::NotFound),
    }
}

/// Serves `/_emulator/{path}`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Response {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => value,
            Err(error) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": format!("invalid JSON: {error}")}),
                );
            }
        }
    };
    let method = method.clone();
    let path = path.to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        run(&shared, &method, &path, &body).map_err(|failure| match failure {
            Failure::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            Failure::NotFound => (StatusCode::NOT_FOUND, "no such admin endpoint".to_owned()),
            Failure::Admin(error) => {
                let status = match error {
                    AdminError::UnknownRepo(_)
                    | AdminError::UnknownRef { .. }
                    | AdminError::UnknownPull { .. } => StatusCode::NOT_FOUND,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let mut message = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    message.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                (status, message)
            }
        })
    })
    .await;
    match outcome {
        Ok(Ok(value)) => json_response(StatusCode::OK, &value),
        Ok(Err((status, message))) => json_response(status, &json!({"error": message})),
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "the admin call panicked"}),
        ),
    }
}
