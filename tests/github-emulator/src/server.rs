//! The HTTP front: splits requests between the REST API, git's smart HTTP and the admin
//! endpoints, and wraps every REST answer in GitHub's headers.
//!
//! For the REST API this layer counts requests (for the rate-limit headers), serves armed
//! faults, authenticates the token, runs the operation on a blocking thread and records the
//! exchange for [`crate::GithubEmulator::exchanges`].

use crate::{
    Exchange, admin,
    api::{self, Answer, Request},
    errors::ApiError,
    smart_http,
    state::{Shared, State as EmulatorState},
};
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    response::Response,
};
use serde_json::Value;
use std::{sync::Arc, time::Duration};

/// The rate limit every token has (GitHub's for a personal access token).
const RATE_LIMIT: u64 = 5000;

/// The router serving everything.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(512 * 1024 * 1024))
        .with_state(shared)
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if let Some(rest) = path.strip_prefix("/_emulator/") {
        return admin::handle(shared, &method, rest, &body).await;
    }
    if let Some((full_name, rest)) = smart_http::split(&path) {
        return smart_http::serve(shared, &method, &uri, &headers, body, &full_name, &rest).await;
    }
    rest_api(shared, method, uri, headers, body).await
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn seconds_rounded_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Serves the next armed fault, if any.
fn take_fault(state: &mut EmulatorState, request_id: &str) -> Option<ApiError> {
    let faults = &mut state.faults;
    let served = &mut state.faults_served;
    if faults.primary_rate_limit > 0 {
        faults.primary_rate_limit -= 1;
        served.primary_rate_limit += 1;
        let reset = unix_now() + seconds_rounded_up(faults.reset_after);
        return Some(
            ApiError::basic(403, "API rate limit exceeded for user ID 1.")
                .with_header("x-ratelimit-remaining", "0".into())
                .with_header("x-ratelimit-reset", reset.to_string())
                .with_header("x-ratelimit-used", RATE_LIMIT.to_string()),
        );
    }
    if faults.secondary_rate_limit > 0 {
        faults.secondary_rate_limit -= 1;
        served.secondary_rate_limit += 1;
        let status = if faults.secondary_status == 429 {
            429
        } else {
            403
        };
        let message = format!(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."
        );
        return Some(ApiError::basic(status, &message).with_header(
            "retry-after",
            seconds_rounded_up(faults.retry_after).to_string(),
        ));
    }
    if faults.bad_gateway > 0 {
        faults.bad_gateway -= 1;
        served.bad_gateway += 1;
        return Some(ApiError::basic(502, "Server Error"));
    }
    if faults.service_unavailable > 0 {
        faults.service_unavailable -= 1;
        served.service_unavailable += 1;
        return Some(ApiError::basic(
            503,
            "Sorry, this service is temporarily unavailable. Please try again later.",
        ));
    }
    None
}

async fn rest_api(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let (used, request_id, fault) = {
        let mut state = shared.lock();
        let hour = unix_now() / 3600;
        if state.window != hour {
            state.window = hour;
            state.requests = 0;
        }
        state.requests += 1;
        let used = state.requests;
        let request_id = format!(
            "E{used:04X}:{:06X}:{:08X}",
            std::process::id() & 0xFF_FFFF,
            used * 7919
        );
        let fault = take_fault(&mut state, &request_id);
        (used, request_id, fault)
    };
    let mut injected = fault.is_some();
    let outcome = match fault {
        Some(fault) => Err(fault),
        None => authenticate_and_run(&shared, &method, &uri, &headers, body).await,
    };
    injected |= matches!(&outcome, Err(error) if error.status == 401);
    let (status, body, extra) = match outcome {
        Ok(Answer {
            status,
            body,
            headers,
        }) => (status, body, headers),
        Err(ApiError {
            status,
            body,
            headers,
        }) => (status, Some(body).filter(|body| !body.is_null()), headers),
    };
    shared.lock().exchanges.push(Exchange {
        method: method.as_str().to_owned(),
        path: path_and_query,
        status,
        body: body.clone(),
        injected,
    });
    let mut response = Response::new(match &body {
        Some(value) => Body::from(serde_json::to_vec(value).unwrap_or_default()),
        None => Body::empty(),
    });
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response_headers = response.headers_mut();
    let mut set = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response_headers.insert(name, value);
        }
    };
    if body.is_some() {
        set("content-type", "application/json; charset=utf-8");
    }
    set("x-github-request-id", &request_id);
    set("x-github-media-type", "github.v3; format=json");
    set("x-ratelimit-limit", &RATE_LIMIT.to_string());
    set(
        "x-ratelimit-remaining",
        &RATE_LIMIT.saturating_sub(used).to_string(),
    );
    set(
        "x-ratelimit-reset",
        &((unix_now() / 3600 + 1) * 3600).to_string(),
    );
    set("x-ratelimit-used", &used.min(RATE_LIMIT).to_string());
    set("x-ratelimit-resource", "core");
    if let Some(version) = headers
        .get("x-github-api-version")
        .and_then(|value| value.to_str().ok())
    {
        set("x-github-api-version-selected", version);
    }
    for (name, value) in extra {
        set(name, &value);
    }
    response
}

async fn authenticate_and_run(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Answer, ApiError> {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(api::bearer)
        .map(str::to_owned)
    else {
        return Err(ApiError::basic(401, "Requires authentication"));
    };
    let Some(token) = shared.lock().tokens.get(&presented).cloned() else {
        return Err(ApiError::basic(401, "Bad credentials"));
    };
    let request = Request {
        method: method.as_str().to_owned(),
        segments: uri
            .path()
            .trim_matches('/')
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| api::percent_decode(segment, false))
            .collect(),
        query: api::parse_query(uri.query().unwrap_or_default()),
        body: body.to_vec(),
        token,
    };
    // `PUT /repos/{owner}/{repo}/pulls/{number}/merge`, for the test hooks.
    let merge_of = match request.segments.as_slice() {
        [repos, owner, repo, pulls, _, merge]
            if method == Method::PUT
                && repos == "repos"
                && pulls == "pulls"
                && merge == "merge" =>
        {
            Some(format!("{owner}/{repo}"))
        }
        _ => None,
    };
    let push = merge_of.as_deref().and_then(|repository| {
        shared
            .hooks
            .take_push(repository)
            .map(|branch| (repository.to_owned(), branch))
    });
    let handler = Arc::clone(shared);
    let answer = tokio::task::spawn_blocking(move || {
        if let Some((repository, branch)) = push {
            let pushed = handler.commit(
                &repository,
                &branch,
                &[(
                    "pushed-before-merge.txt",
                    Some("a push between the check and the merge\n"),
                )],
                "a push between the check and the merge",
            );
            if let Err(error) = pushed {
                tracing::error!(%error, "the push before the merge failed");
            }
        }
        api::handle(&handler, &request)
    })
    .await
    .unwrap_or_else(|_| Err(ApiError::basic(500, "Server Error")));
    if merge_of.is_some() && matches!(&answer, Ok(answer) if answer.status == 200) {
        shared.hooks.after_merge().await;
    }
    answer
}

/// A JSON response for the admin endpoints.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
