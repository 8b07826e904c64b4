//! [`Api`]: GitHub's REST API through octocrab, with the retries the
//! `github_merge` executor owes its users: primary and secondary rate limits
//! waited out, 502/503/504 and dropped connections retried with backoff, all
//! inside the task's deadline, each retry logged and counted.
//!
//! Requests go through octocrab's raw methods (`_get`, `_put`, ...), which
//! keep the status and headers that its typed methods turn into an error
//! without the `retry-after` and `x-ratelimit-*` headers a retry needs;
//! answers are then read into octocrab's own models.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::redact::Redactor;

/// The most retries of one request (rate limits and server errors alike).
const MAX_RETRIES: u32 = 8;
/// The first backoff after a 502/503/504 or a dropped connection.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest backoff between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long a request may take when the task has no deadline (a preview).
const NO_DEADLINE_BOUND: Duration = Duration::from_secs(120);

/// One retry: what was asked, what GitHub answered, how long plangate waited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Retry {
    /// `GET /repos/o/r/pulls/1`.
    pub(crate) request: String,
    /// The status that was retried (0 for a dropped connection).
    pub(crate) status: u16,
    /// `primary-rate-limit`, `secondary-rate-limit`, `server-error`, `connection`.
    pub(crate) reason: String,
    /// The wait before the next try, in milliseconds.
    pub(crate) waited_ms: u64,
}

/// GitHub's answer: its status and body (JSON, or `Null` when empty).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Answer {
    /// The `message` of an error body, else the status line.
    pub(crate) fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {}", self.status), str::to_owned)
    }

    /// Whether the status is 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// GitHub answered with an error status.
    #[error("{request}: GitHub answered {status}: {message}")]
    Status {
        request: String,
        status: u16,
        message: String,
    },
    /// Waiting out a rate limit or a backoff would pass the deadline.
    #[error("{request}: {detail}, which is past the task's timeout")]
    OutOfTime { request: String, detail: String },
    /// The deadline passed while the request was in flight.
    #[error("{request}: the task's timeout passed while waiting for GitHub")]
    TimedOut { request: String },
    /// The action was cancelled.
    #[error("{request}: cancelled")]
    Cancelled { request: String },
    /// No answer (after the retries).
    #[error("{request}: {message}")]
    Transport { request: String, message: String },
    /// An answer that is not the JSON GitHub documents.
    #[error("{request}: GitHub's answer could not be read: {message}")]
    Decode { request: String, message: String },
}

impl ApiError {
    /// Whether the deadline or cancellation ended the request.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, ApiError::TimedOut { .. } | ApiError::OutOfTime { .. })
    }

    /// Whether the action was cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self, ApiError::Cancelled { .. })
    }

    /// Whether trying again later may succeed (no answer at all).
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, ApiError::Transport { .. })
    }
}

/// A GitHub REST client for one action.
pub(crate) struct Api {
    octocrab: Octocrab,
    /// The API's base URL without a trailing slash.
    base: String,
    deadline: Instant,
    cancel: CancellationToken,
    redactor: Arc<Redactor>,
    retries: Mutex<Vec<Retry>>,
}

impl Api {
    /// A client of `base` (`https://api.github.com`) authenticated with `token`.
    pub(crate) fn new(
        base: &str,
        token: &str,
        deadline: Option<Instant>,
        cancel: CancellationToken,
        redactor: Arc<Redactor>,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        let octocrab = Octocrab::builder()
            .base_uri(base.as_str())
            .map_err(|error| format!("invalid api_url `{base}`: {error}"))?
            .personal_token(token.to_owned())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|error| format!("cannot build the GitHub client: {error}"))?;
        Ok(Self {
            octocrab,
            base,
            deadline: deadline.unwrap_or_else(|| Instant::now() + NO_DEADLINE_BOUND),
            cancel,
            redactor,
            retries: Mutex::new(Vec::new()),
        })
    }

    /// The API's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The deadline every request and retry stays inside.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The retries so far.
    pub(crate) fn retries(&self) -> Vec<Retry> {
        self.retries
            .lock()
            .map(|retries| retries.clone())
            .unwrap_or_default()
    }

    /// `GET path`, a 2xx answer read as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let answer = self.send(Method::GET, path, None).await?;
        self.expect(&Method::GET, path, answer)
    }

    /// Sends `method path` with `body`, retrying as the module explains;
    /// any final status is an `Ok`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ApiError> {
        let request = format!("{method} {}", self.redactor.redact(path));
        let mut tries = 0_u32;
        loop {
            let attempt = self.once(&method, path, body, &request);
            let result = tokio::select! {
                () = self.cancel.cancelled() => return Err(ApiError::Cancelled { request }),
                () = tokio::time::sleep_until(self.deadline) => {
                    return Err(ApiError::TimedOut { request });
                }
                result = attempt => result,
            };
            let (answer, headers) = match result {
                Ok(pair) => pair,
                Err(message) => {
                    if tries >= MAX_RETRIES {
                        return Err(ApiError::Transport { request, message });
                    }
                    let wait = backoff(tries);
                    self.wait(&request, 0, "connection", wait, &message).await?;
                    tries += 1;
                    continue;
                }
            };
            let Some((reason, wait)) = retry_after(answer.status, &headers, tries) else {
                return Ok(answer);
            };
            if tries >= MAX_RETRIES {
                return Ok(answer);
            }
            let message = answer.message();
            self.wait(&request, answer.status, reason, wait, &message)
                .await?;
            tries += 1;
        }
    }

    /// A 2xx `answer` read as `T`, else [`ApiError::Status`].
    pub(crate) fn expect<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        answer: Answer,
    ) -> Result<T, ApiError> {
        let request = format!("{method} {}", self.redactor.redact(path));
        if !answer.ok() {
            return Err(ApiError::Status {
                request,
                status: answer.status,
                message: self.redactor.redact(&answer.message()).into_owned(),
            });
        }
        serde_json::from_value(answer.body).map_err(|error| ApiError::Decode {
            request,
            message: error.to_string(),
        })
    }

    /// Logs and counts a retry, then sleeps `wait`, unless that would pass
    /// the deadline.
    async fn wait(
        &self,
        request: &str,
        status: u16,
        reason: &'static str,
        wait: Duration,
        message: &str,
    ) -> Result<(), ApiError> {
        let message = self.redactor.redact(message);
        if Instant::now() + wait > self.deadline {
            return Err(ApiError::OutOfTime {
                request: request.to_owned(),
                detail: format!(
                    "GitHub answered {status} ({reason}: {message}); the next try would be in {}",
                    humanize(wait)
                ),
            });
        }
        tracing::warn!(
            request,
            "GitHub answered {} ({reason}: {message}); retrying in {}",
            if status == 0 {
                "nothing".to_owned()
            } else {
                status.to_string()
            },
            humanize(wait)
        );
        if let Ok(mut retries) = self.retries.lock() {
            retries.push(Retry {
                request: request.to_owned(),
                status,
                reason: reason.to_owned(),
                waited_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            });
        }
        tokio::select! {
            () = self.cancel.cancelled() => Err(ApiError::Cancelled { request: request.to_owned() }),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// One try: the answer and its headers, or why there was none.
    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        request: &str,
    ) -> Result<(Answer, HeaderMap), String> {
        let uri = format!("{}{path}", self.base);
        let response = match *method {
            Method::GET => self.octocrab._get(uri).await,
            Method::PUT => self.octocrab._put(uri, body).await,
            Method::POST => self.octocrab._post(uri, body).await,
            Method::PATCH => self.octocrab._patch(uri, body).await,
            Method::DELETE => self.octocrab._delete(uri, body).await,
            _ => return Err(format!("{request}: unsupported method")),
        }
        .map_err(|error| self.redactor.redact(&describe(&error)).into_owned())?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self
            .octocrab
            .body_to_string(response)
            .await
            .map_err(|error| self.redactor.redact(&describe(&error)).into_owned())?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((
            Answer {
                status: status.as_u16(),
                body,
            },
            headers,
        ))
    }
}

/// Whether a status with these headers is to be retried, why, and after how
/// long (`tries` retries so far).
fn retry_after(status: u16, headers: &HeaderMap, tries: u32) -> Option<(&'static str, Duration)> {
    let status = StatusCode::from_u16(status).ok()?;
    if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(seconds) = header_u64(headers, "retry-after") {
            return Some(("secondary-rate-limit", Duration::from_secs(seconds)));
        }
        if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
            let reset = header_u64(headers, "x-ratelimit-reset").unwrap_or(0);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |now| now.as_secs());
            // GitHub's reset is a whole second; wait into it.
            let wait = Duration::from_secs(reset.saturating_sub(now)) + Duration::from_millis(250);
            return Some(("primary-rate-limit", wait));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Some((
                "secondary-rate-limit",
                backoff(tries).max(Duration::from_secs(1)),
            ));
        }
        return None;
    }
    if matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    ) {
        return Some(("server-error", backoff(tries)));
    }
    None
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// 200 ms, 400 ms, ... up to [`MAX_BACKOFF`].
pub(crate) fn backoff(tries: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2_u32.saturating_pow(tries.min(16)))
        .min(MAX_BACKOFF)
}

/// `1.5s`.
pub(crate) fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// An octocrab error with its sources (hyper's "connection refused" is
/// three levels down).
fn describe(error: &octocrab::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("a header value"));
        }
        map
    }

    #[test]
    fn secondary_rate_limits_wait_for_retry_after() {
        let found = retry_after(403, &headers(&[("retry-after", "3")]), 0);
        assert_eq!(
            found,
            Some(("secondary-rate-limit", Duration::from_secs(3)))
        );
        let found = retry_after(429, &headers(&[("retry-after", "1")]), 0);
        assert_eq!(
            found,
            Some(("secondary-rate-limit", Duration::from_secs(1)))
        );
    }

    #[test]
    fn primary_rate_limits_wait_until_the_reset() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let reset = (now + 2).to_string();
        let found = retry_after(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ]),
            0,
        )
        .expect("a primary rate limit is retried");
        assert_eq!(found.0, "primary-rate-limit");
        assert!(found.1 >= Duration::from_secs(1) && found.1 <= Duration::from_secs(3));
    }

    #[test]
    fn a_plain_forbidden_is_not_retried() {
        assert_eq!(
            retry_after(403, &headers(&[("x-ratelimit-remaining", "4999")]), 0),
            None
        );
        assert_eq!(retry_after(404, &HeaderMap::new(), 0), None);
        assert_eq!(retry_after(405, &HeaderMap::new(), 0), None);
    }

    #[test]
    fn server_errors_back_off_exponentially_up_to_a_bound() {
        assert_eq!(
            retry_after(502, &HeaderMap::new(), 0),
            Some(("server-error", FIRST_BACKOFF))
        );
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
