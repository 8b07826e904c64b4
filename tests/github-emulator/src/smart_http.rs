//! Git's smart HTTP protocol at `/{owner}/{repo}.git/...`, served by git's own CGI,
//! `git http-backend`.
//!
//! The emulator authenticates HTTP Basic credentials (a registered token as the password, or
//! as the user name), answers 401 with `WWW-Authenticate: Basic realm="GitHub"` when they are
//! missing or wrong (so libgit2 and git call their credential helpers) and 404 for a repository
//! the token cannot see, then runs `git http-backend` as a child process with the CGI
//! environment and the request body on stdin. After a successful `git-receive-pack` (a push)
//! it re-reads the refs: open pull requests whose head the pushed base now contains become
//! merged (as on GitHub, by the pusher, with the head as merge commit), pull requests whose tips
//! moved get their mergeability recomputed, and the tiny CI adds its check run.

use crate::{
    api,
    server::json_response,
    state::{Shared, now},
};
use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    response::Response,
};
use base64::Engine;
use serde_json::json;
use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, OnceLock},
};
use tokio::io::AsyncWriteExt;

/// Splits `/{owner}/{repo}.git/rest` into `owner/repo` and `/rest`.
pub(crate) fn split(path: &str) -> Option<(String, String)> {
    let trimmed = path.strip_prefix('/')?;
    let mut parts = trimmed.splitn(3, '/');
    let owner = parts.next()?;
    let repo = parts.next()?.strip_suffix(".git")?;
    if owner.is_empty() || repo.is_empty() || owner == "repos" || owner == "_emulator" {
        return None;
    }
    let rest = parts
        .next()
        .map(|rest| format!("/{rest}"))
        .unwrap_or_default();
    Some((format!("{owner}/{repo}"), rest))
}

/// Where `git http-backend` is: `$(git --exec-path)/git-http-backend`, falling back to
/// `/usr/lib/git-core/git-http-backend`.
fn http_backend() -> &'static PathBuf {
    static BACKEND: OnceLock<PathBuf> = OnceLock::new();
    BACKEND.get_or_init(|| {
        std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| {
                PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
                    .join("git-http-backend")
            })
            .filter(|path| path.exists())
            .unwrap_or_else(|| PathBuf::from("/usr/lib/git-core/git-http-backend"))
    })
}

fn text(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn unauthorized() -> Response {
    let mut response = text(StatusCode::UNAUTHORIZED, "Invalid username or token.");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"GitHub\""),
    );
    response
}

/// The tokens a request presents: Basic password, Basic user name, or a bearer token.
fn presented_tokens(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return Vec::new();
    };
    if let Some(token) = api::bearer(value) {
        return vec![token.to_owned()];
    }
    let Some(encoded) = value
        .trim()
        .strip_prefix("Basic ")
        .or_else(|| value.trim().strip_prefix("basic "))
    else {
        return Vec::new();
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return Vec::new();
    };
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    vec![password.to_owned(), user.to_owned()]
}

/// Serves one smart-HTTP request.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    full_name: &str,
    rest: &str,
) -> Response {
    let tokens = presented_tokens(headers);
    if tokens.is_empty() {
        return unauthorized();
    }
    let (login, canonical) = {
        let state = shared.lock();
        let Some(token) = tokens.iter().find_map(|token| state.tokens.get(token)) else {
            return unauthorized();
        };
        match state.repo(full_name) {
            Some(repo) if token.can_see(&repo.full_name()) => {
                (token.login.clone(), repo.full_name())
            }
            _ => return text(StatusCode::NOT_FOUND, "Repository not found."),
        }
    };
    let path_info = format!("/{}.git{rest}", canonical.to_ascii_lowercase());
    let mut command = tokio::process::Command::new(http_backend());
    command
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &path_info)
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("REQUEST_METHOD", method.as_str())
        .env("REMOTE_USER", &login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .env_remove("GIT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let header_env = [
        (header::CONTENT_TYPE, "CONTENT_TYPE"),
        (header::CONTENT_ENCODING, "HTTP_CONTENT_ENCODING"),
    ];
    for (name, variable) in header_env {
        if let Some(value) = headers.get(name).and_then(|value| value.to_str().ok()) {
            command.env(variable, value);
        }
    }
    if let Some(value) = headers
        .get("git-protocol")
        .and_then(|value| value.to_str().ok())
    {
        command.env("HTTP_GIT_PROTOCOL", value);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(%error, backend = %http_backend().display(), "failed to run git http-backend");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "git http-backend failed to start",
            );
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            // A backend that exits early closes its stdin; the output tells what happened.
            let _ = stdin.write_all(&body).await;
            let _ = stdin.shutdown().await;
        });
    }
    let output = match child.wait_with_output().await {
        Ok(output) => output,
        Err(error) => {
            tracing::error!(%error, "git http-backend failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "git http-backend failed");
        }
    };
    if !output.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr), "git http-backend");
    }
    let response = cgi_response(&output.stdout);
    if method == Method::POST
        && rest.ends_with("/git-receive-pack")
        && response.status() == StatusCode::OK
    {
        let shared = Arc::clone(&shared);
        let canonical = canonical.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut state = shared.lock();
            if let Some(repo) = state.repo_mut(&canonical) {
                repo.pushed_at = now();
            }
            shared.merge_pushed_heads(&mut state, &canonical, &login);
            shared.after_refs_moved(&mut state, &canonical);
        })
        .await;
    }
    response
}

/// Turns a CGI answer (`Status:` and headers, a blank line, the body) into a response.
fn cgi_response(stdout: &[u8]) -> Response {
    let (head, body) = match find_blank_line(stdout) {
        Some((end, skip)) => (&stdout[..end], &stdout[end + skip..]),
        None => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "git http-backend sent no headers"}),
            );
        }
    };
    let mut response = Response::new(Body::from(body.to_vec()));
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|code| code.parse::<u16>().ok())
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            *response.status_mut() = code;
        } else if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn find_blank_line(bytes: &[u8]) -> Option<(usize, usize)> {
    let crlf = bytes.windows(4).position(|window| window == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|window| window == b"\n\n");
    match (crlf, lf) {
        (Some(crlf), Some(lf)) if lf < crlf => Some((lf, 2)),
        (Some(crlf), _) => Some((crlf, 4)),
        (None, Some(lf)) => Some((lf, 2)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_git_paths() {
        assert_eq!(
            split("/platform/gitops.git/info/refs"),
            Some(("platform/gitops".into(), "/info/refs".into()))
        );
        assert_eq!(split("/repos/o/r"), None);
        assert_eq!(split("/o/r.git"), Some(("o/r".into(), String::new())));
    }

    #[test]
    fn parses_cgi_output() {
        let response =
            cgi_response(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response =
            cgi_response(b"Content-Type: application/x-git-upload-pack-advertisement\n\n0000");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
