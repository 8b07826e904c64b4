//! The REST API: routing on GitHub's URL grammar, authentication, and one function per
//! operation.
//!
//! Each operation returns a status and an optional JSON body, or an [`ApiError`]; the shapes
//! come from [`crate::render`], the git work from [`crate::gitops`]. Operations run on a
//! blocking thread (they hold the state's mutex and call libgit2).

use crate::{
    Protection,
    errors::ApiError,
    gitops::{self, MergeFailure, MergeMethod},
    render::{self, Context},
    state::{CheckRun, CommitStatus, Merged, NewPull, Shared, State, Token, now},
};
use git2::{Oid, Repository};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A parsed REST request.
#[derive(Debug)]
pub(crate) struct Request {
    /// The method, upper case.
    pub(crate) method: String,
    /// The decoded path segments.
    pub(crate) segments: Vec<String>,
    /// The decoded query parameters.
    pub(crate) query: HashMap<String, String>,
    /// The raw request body.
    pub(crate) body: Vec<u8>,
    /// The authenticated token.
    pub(crate) token: Token,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: u16,
    /// The JSON body, `None` for an empty one.
    pub(crate) body: Option<Value>,
    /// Extra headers (`location`, `link`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn created(body: Value, location: String) -> Self {
        Self {
            status: 201,
            body: Some(body),
            headers: vec![("location", location)],
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }
}

type ApiResult = Result<Answer, ApiError>;

/// Decodes `%XX` escapes (and `+` in queries).
pub(crate) fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or_default();
                if let Ok(value) = u8::from_str_radix(hex, 16) {
                    out.push(value);
                    index += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string.
pub(crate) fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Finds the token of an `Authorization` header value: `Bearer T` or `token T`.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

/// Runs one authenticated REST request.
pub(crate) fn handle(shared: &Shared, request: &Request) -> ApiResult {
    let parts: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let method = request.method.as_str();
    match parts.as_slice() {
        ["user"] if method == "GET" => {
            let state = shared.lock();
            Ok(Answer::ok(render::private_user(
                &Context::new(&shared.base_url, &state),
                &request.token.login,
            )))
        }
        ["repos", owner, name, rest @ ..] => {
            let full_name = format!("{owner}/{name}");
            let canonical = {
                let state = shared.lock();
                match state.repo(&full_name) {
                    Some(repo) if request.token.can_see(&repo.full_name()) => repo.full_name(),
                    _ => return Err(ApiError::not_found()),
                }
            };
            repo_route(shared, request, &canonical, rest)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn repo_route(shared: &Shared, request: &Request, full_name: &str, rest: &[&str]) -> ApiResult {
    let method = request.method.as_str();
    let joined = |parts: &[&str]| parts.join("/");
    match (method, rest) {
        ("GET", []) => {
            let state = shared.lock();
            let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
            Ok(Answer::ok(render::repository(
                &Context::new(&shared.base_url, &state),
                repo,
                true,
            )))
        }
        ("GET", ["branches", branch @ .., "protection"]) if !branch.is_empty() => {
            get_protection(shared, full_name, &joined(branch))
        }
        ("PUT", ["branches", branch @ .., "protection"]) if !branch.is_empty() => {
            put_protection(shared, request, full_name, &joined(branch))
        }
        ("GET", ["branches", branch @ ..]) if !branch.is_empty() => {
            get_branch(shared, full_name, &joined(branch))
        }
        ("GET", ["pulls"]) => list_pulls(shared, request, full_name),
        ("POST", ["pulls"]) => create_pull(shared, request, full_name),
        (_, ["pulls", number, tail @ ..]) => {
            let number: u64 = number.parse().map_err(|_| ApiError::not_found())?;
            pull_route(shared, request, full_name, number, tail)
        }
        ("GET", ["commits", reference @ .., "check-runs"]) if !reference.is_empty() => {
            list_check_runs(shared, request, full_name, &joined(reference))
        }
        ("GET", ["commits", reference @ .., "status"]) if !reference.is_empty() => {
            combined_status(shared, full_name, &joined(reference))
        }
        ("GET", ["commits", reference @ ..]) if !reference.is_empty() => {
            get_commit(shared, full_name, &joined(reference))
        }
        ("POST", ["check-runs"]) => create_check_run(shared, request, full_name),
        ("POST", ["statuses", sha]) => create_status(shared, request, full_name, sha),
        ("GET", ["git", "ref", reference @ ..]) if !reference.is_empty() => {
            get_ref(shared, full_name, &joined(reference))
        }
        ("POST", ["git", "refs"]) => create_ref(shared, request, full_name),
        ("DELETE", ["git", "refs", reference @ ..]) if !reference.is_empty() => {
            delete_ref(shared, full_name, &joined(reference))
        }
        ("GET", ["compare", spec @ ..]) if !spec.is_empty() => {
            compare(shared, full_name, &joined(spec))
        }
        _ => Err(ApiError::not_found()),
    }
}

fn pull_route(
    shared: &Shared,
    request: &Request,
    full_name: &str,
    number: u64,
    tail: &[&str],
) -> ApiResult {
    {
        let state = shared.lock();
        if state
            .repo(full_name)
            .and_then(|repo| repo.pull(number))
            .is_none()
        {
            return Err(if tail == ["merge"] && request.method == "GET" {
                ApiError::bodiless(404)
            } else {
                ApiError::not_found()
            });
        }
    }
    match (request.method.as_str(), tail) {
        ("PATCH", []) => update_pull(shared, request, full_name, number),
        ("GET", []) => {
            let mut state = shared.lock();
            shared
                .pull_view(&mut state, full_name, number, true)
                .map(Answer::ok)
                .ok_or_else(ApiError::not_found)
        }
        ("GET", ["commits"]) => pull_commits(shared, request, full_name, number),
        ("GET", ["files"]) => pull_files(shared, request, full_name, number),
        ("GET", ["merge"]) => {
            let state = shared.lock();
            let merged = state
                .repo(full_name)
                .and_then(|repo| repo.pull(number))
                .is_some_and(|pull| pull.merged.is_some());
            if merged {
                Ok(Answer::no_content())
            } else {
                Err(ApiError::bodiless(404))
            }
        }
        ("PUT", ["merge"]) => merge_pull(shared, request, full_name, number),
        ("GET", ["reviews"]) => list_reviews(shared, request, full_name, number),
        ("POST", ["reviews"]) => create_review(shared, request, full_name, number),
        _ => Err(ApiError::not_found()),
    }
}

fn parse_body(request: &Request) -> Result<Value, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(ApiError::basic(400, "Problems parsing JSON")),
    }
}

fn string_field<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

/// Slices a list by `per_page` and `page`, adding a `link` header when there is more.
fn paginate(request: &Request, path: &str, items: Vec<Value>, max_per_page: usize) -> Answer {
    let per_page = request
        .query
        .get("per_page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|value| *value > 0)
        .unwrap_or(30)
        .min(max_per_page);
    let page = request
        .query
        .get("page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|value| *value > 0)
        .unwrap_or(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut answer = Answer::ok(Value::Array(slice));
    let mut links = Vec::new();
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .filter(|(key, _)| key.as_str() != "page" && key.as_str() != "per_page")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    query.sort();
    let url = |page: usize| {
        let mut parts: Vec<String> = query
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        parts.push(format!("per_page={per_page}"));
        parts.push(format!("page={page}"));
        format!("<{path}?{}>", parts.join("&"))
    };
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if !links.is_empty() {
        answer.headers.push(("link", links.join(", ")));
    }
    answer
}

fn open_repository(shared: &Shared, full_name: &str) -> Result<Repository, ApiError> {
    shared
        .open(full_name)
        .map_err(|_| ApiError::basic(500, "Server Error"))
}

fn no_commit(reference: &str) -> ApiError {
    ApiError::basic(422, &format!("No commit found for SHA: {reference}"))
}

fn protection_json(base: &str, full_name: &str, branch: &str, protection: &Protection) -> Value {
    let url = format!("{base}/repos/{full_name}/branches/{branch}/protection");
    let mut value = json!({
        "url": url,
        "enabled": true,
        "required_signatures": {"url": format!("{url}/required_signatures"), "enabled": false},
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": false},
        "required_linear_history": {"enabled": false},
        "allow_force_pushes": {"enabled": false},
        "allow_deletions": {"enabled": false},
        "block_creations": {"enabled": false},
        "required_conversation_resolution": {"enabled": false},
        "lock_branch": {"enabled": false},
        "allow_fork_syncing": {"enabled": false},
    });
    if !protection.required_checks.is_empty() || protection.strict {
        value["required_status_checks"] = json!({
            "url": format!("{url}/required_status_checks"),
            "strict": protection.strict,
            "contexts": protection.required_checks,
            "checks": protection.required_checks.iter()
                .map(|name| json!({"context": name, "app_id": null})).collect::<Vec<_>>(),
            "contexts_url": format!("{url}/required_status_checks/contexts"),
        });
    }
    if protection.required_approvals > 0 {
        value["required_pull_request_reviews"] = json!({
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": false,
            "require_code_owner_reviews": false,
            "required_approving_review_count": protection.required_approvals,
            "require_last_push_approval": false,
        });
    }
    value
}

fn get_protection(shared: &Shared, full_name: &str, branch: &str) -> ApiResult {
    let state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    if gitops::branch_tip(&repository, branch).is_none() {
        return Err(ApiError::basic(404, "Branch not found"));
    }
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let protection = repo
        .protection
        .get(branch)
        .ok_or_else(|| ApiError::basic(404, "Branch not protected"))?;
    let mut value = protection_json(&shared.base_url, full_name, branch, protection);
    if let Some(object) = value.as_object_mut() {
        object.remove("enabled");
        if let Some(checks) = object.get_mut("required_status_checks") {
            checks["enforcement_level"] = json!("non_admins");
        }
    }
    Ok(Answer::ok(value))
}

fn put_protection(shared: &Shared, request: &Request, full_name: &str, branch: &str) -> ApiResult {
    let body = parse_body(request)?;
    for field in [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ] {
        if body.get(field).is_none() {
            return Err(ApiError::unprocessable(&[&format!(
                "Invalid request.\n\n\"{field}\" wasn't supplied."
            )]));
        }
    }
    let checks = &body["required_status_checks"];
    let mut required_checks: Vec<String> = checks
        .get("contexts")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(list) = checks.get("checks").and_then(Value::as_array) {
        for check in list {
            if let Some(name) = check.get("context").and_then(Value::as_str)
                && !required_checks.iter().any(|known| known == name)
            {
                required_checks.push(name.to_owned());
            }
        }
    }
    let strict = checks
        .get("strict")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let approvals = body["required_pull_request_reviews"]
        .get("required_approving_review_count")
        .and_then(Value::as_u64)
        .map_or_else(
            || u32::from(body["required_pull_request_reviews"].is_object()),
            |count| u32::try_from(count).unwrap_or(u32::MAX),
        );
    let protection = Protection {
        required_checks,
        required_approvals: approvals,
        strict,
    };
    let mut state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    if gitops::branch_tip(&repository, branch).is_none() {
        return Err(ApiError::basic(404, "Branch not found"));
    }
    let repo = state.repo_mut(full_name).ok_or_else(ApiError::not_found)?;
    repo.protection
        .insert(branch.to_owned(), protection.clone());
    let mut value = protection_json(&shared.base_url, full_name, branch, &protection);
    if let Some(object) = value.as_object_mut() {
        object.remove("enabled");
        object.remove("lock_branch");
        object.remove("allow_fork_syncing");
    }
    Ok(Answer::ok(value))
}

fn get_branch(shared: &Shared, full_name: &str, branch: &str) -> ApiResult {
    let state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let tip = gitops::branch_tip(&repository, branch)
        .ok_or_else(|| ApiError::basic(404, "Branch not found"))?;
    let commit = repository
        .find_commit(tip)
        .map_err(|_| ApiError::not_found())?;
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let context = Context::new(&shared.base_url, &state);
    let base = &shared.base_url;
    let protection_url = format!("{base}/repos/{full_name}/branches/{branch}/protection");
    let (protected, protection) = match repo.protection.get(branch) {
        Some(protection) => (true, protection_json(base, full_name, branch, protection)),
        None => (
            false,
            json!({
                "enabled": false,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            }),
        ),
    };
    Ok(Answer::ok(json!({
        "name": branch,
        "commit": render::commit(&context, full_name, &commit, None),
        "_links": {
            "self": format!("{base}/repos/{full_name}/branches/{branch}"),
            "html": format!("{base}/{full_name}/tree/{branch}"),
        },
        "protected": protected,
        "protection": protection,
        "protection_url": protection_url,
    })))
}

fn head_branch<'a>(owner: &str, head: &'a str) -> Result<&'a str, ApiError> {
    match head.split_once(':') {
        Some((head_owner, branch)) if head_owner.eq_ignore_ascii_case(owner) => Ok(branch),
        Some(_) => Err(ApiError::invalid_field("PullRequest", "head", "invalid")),
        None => Ok(head),
    }
}

fn list_pulls(shared: &Shared, request: &Request, full_name: &str) -> ApiResult {
    let state = shared.lock();
    let wanted_state = request.query.get("state").map_or("open", String::as_str);
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::invalid_field("PullRequest", "state", "invalid"));
    }
    let numbers: Vec<u64> = {
        let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
        let head = match request.query.get("head") {
            Some(head) => match head.split_once(':') {
                Some((owner, branch)) if owner.eq_ignore_ascii_case(&repo.owner) => {
                    Some(branch.to_owned())
                }
                // A head in another user's fork matches nothing here.
                Some(_) => Some(String::from("\0")),
                None => None,
            },
            None => None,
        };
        let base = request.query.get("base");
        let mut pulls: Vec<&crate::state::Pull> = repo
            .pulls
            .iter()
            .filter(|pull| match wanted_state {
                "open" => pull.open,
                "closed" => !pull.open,
                _ => true,
            })
            .filter(|pull| head.as_ref().is_none_or(|head| &pull.head == head))
            .filter(|pull| base.is_none_or(|base| &pull.base == base))
            .collect();
        let ascending = request.query.get("direction").map(String::as_str) == Some("asc");
        pulls.sort_by_key(|pull| pull.number);
        if !ascending {
            pulls.reverse();
        }
        pulls.iter().map(|pull| pull.number).collect()
    };
    let mut items = Vec::new();
    for number in numbers {
        let tips = shared
            .pull_tips(&state, full_name, number)
            .ok()
            .flatten()
            .unwrap_or_default();
        let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
        let Some(pull) = repo.pull(number) else {
            continue;
        };
        items.push(render::pull_simple(
            &Context::new(&shared.base_url, &state),
            repo,
            pull,
            &tips.0,
            &tips.1,
        ));
    }
    let path = format!("{}/repos/{full_name}/pulls", shared.base_url);
    Ok(paginate(request, &path, items, 100))
}

fn create_pull(shared: &Shared, request: &Request, full_name: &str) -> ApiResult {
    let body = parse_body(request)?;
    let mut missing = Vec::new();
    for field in ["head", "base"] {
        if string_field(&body, field).is_none_or(str::is_empty) {
            missing
                .push(json!({"resource": "PullRequest", "field": field, "code": "missing_field"}));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    if string_field(&body, "title").is_none() && body.get("issue").is_none() {
        return Err(ApiError::invalid_field(
            "PullRequest",
            "title",
            "missing_field",
        ));
    }
    let mut state = shared.lock();
    let owner = state
        .repo(full_name)
        .map(|repo| repo.owner.clone())
        .ok_or_else(ApiError::not_found)?;
    let head = head_branch(&owner, string_field(&body, "head").unwrap_or_default())?.to_owned();
    let base = string_field(&body, "base").unwrap_or_default().to_owned();
    let repository = open_repository(shared, full_name)?;
    let mut invalid = Vec::new();
    if gitops::branch_tip(&repository, &base).is_none() {
        invalid.push(json!({"resource": "PullRequest", "field": "base", "code": "invalid"}));
    }
    if gitops::branch_tip(&repository, &head).is_none() {
        invalid.push(json!({"resource": "PullRequest", "field": "head", "code": "invalid"}));
    }
    if !invalid.is_empty() {
        return Err(ApiError::validation(invalid));
    }
    drop(repository);
    let duplicate = state.repo(full_name).is_some_and(|repo| {
        repo.pulls
            .iter()
            .any(|pull| pull.open && pull.head == head && pull.base == base)
    });
    if duplicate {
        return Err(ApiError::custom(
            "PullRequest",
            &format!("A pull request already exists for {owner}:{head}."),
        ));
    }
    if shared
        .check_new_pull(&state, full_name, &head, &base)
        .is_err()
    {
        return Err(ApiError::custom(
            "PullRequest",
            &format!("No commits between {base} and {head}"),
        ));
    }
    let number = shared
        .open_pull(
            &mut state,
            full_name,
            NewPull {
                head,
                base,
                title: string_field(&body, "title").unwrap_or_default().to_owned(),
                body: string_field(&body, "body").map(str::to_owned),
                draft: body.get("draft").and_then(Value::as_bool).unwrap_or(false),
                user: request.token.login.clone(),
            },
        )
        .map_err(|_| ApiError::not_found())?;
    let view = shared
        .pull_view(&mut state, full_name, number, true)
        .ok_or_else(ApiError::not_found)?;
    Ok(Answer::created(
        view,
        format!("{}/repos/{full_name}/pulls/{number}", shared.base_url),
    ))
}

fn tip_oids(
    shared: &Shared,
    state: &State,
    full_name: &str,
    number: u64,
) -> Result<(Oid, Oid), ApiError> {
    let (head, base) = shared
        .pull_tips(state, full_name, number)
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::basic(404, "Not Found"))?;
    match (Oid::from_str(&head), Oid::from_str(&base)) {
        (Ok(head), Ok(base)) => Ok((head, base)),
        _ => Err(ApiError::not_found()),
    }
}

fn update_pull(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let body = parse_body(request)?;
    let wanted_state = match string_field(&body, "state") {
        None => None,
        Some(state @ ("open" | "closed")) => Some(state == "open"),
        Some(_) => return Err(ApiError::invalid_field("PullRequest", "state", "invalid")),
    };
    let mut state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let new_base = string_field(&body, "base").map(str::to_owned);
    if let Some(base) = &new_base
        && gitops::branch_tip(&repository, base).is_none()
    {
        return Err(ApiError::invalid_field("PullRequest", "base", "invalid"));
    }
    let pull = state
        .repo(full_name)
        .and_then(|repo| repo.pull(number))
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    if wanted_state == Some(true) && !pull.open {
        let branches_exist = gitops::branch_tip(&repository, &pull.head).is_some()
            && gitops::branch_tip(&repository, &pull.base).is_some();
        if pull.merged.is_some() || !branches_exist {
            return Err(ApiError::custom(
                "PullRequest",
                "state cannot be changed. The pull request cannot be reopened",
            ));
        }
    }
    drop(repository);
    let tips = shared.pull_tips(&state, full_name, number).ok().flatten();
    let time = now();
    let pull = state
        .repo_mut(full_name)
        .and_then(|repo| repo.pull_mut(number))
        .ok_or_else(ApiError::not_found)?;
    if let Some(title) = string_field(&body, "title") {
        title.clone_into(&mut pull.title);
    }
    if let Some(text) = body.get("body") {
        pull.body = text.as_str().map(str::to_owned);
    }
    if let Some(base) = new_base {
        pull.base = base;
    }
    match wanted_state {
        Some(false) if pull.open => {
            pull.open = false;
            pull.closed_at = Some(time.clone());
            pull.closed_tips = tips;
        }
        Some(true) if !pull.open => {
            pull.open = true;
            pull.closed_at = None;
            pull.closed_tips = None;
        }
        _ => {}
    }
    pull.updated_at = time;
    shared.after_refs_moved(&mut state, full_name);
    shared
        .pull_view(&mut state, full_name, number, true)
        .map(Answer::ok)
        .ok_or_else(ApiError::not_found)
}

fn pull_commits(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let state = shared.lock();
    let (head, base) = tip_oids(shared, &state, full_name, number)?;
    let repository = open_repository(shared, full_name)?;
    let context = Context::new(&shared.base_url, &state);
    let mut items = Vec::new();
    let oids = gitops::commits_between(&repository, base, head)
        .map_err(|_| ApiError::basic(500, "Server Error"))?;
    for oid in oids {
        if let Ok(commit) = repository.find_commit(oid) {
            items.push(render::commit(&context, full_name, &commit, None));
        }
    }
    let path = format!(
        "{}/repos/{full_name}/pulls/{number}/commits",
        shared.base_url
    );
    Ok(paginate(request, &path, items, 250))
}

fn pull_files(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let state = shared.lock();
    let (head, base) = tip_oids(shared, &state, full_name, number)?;
    let repository = open_repository(shared, full_name)?;
    let merge_base = repository.merge_base(base, head).ok();
    let files = gitops::diff(&repository, merge_base, head)
        .map_err(|_| ApiError::basic(500, "Server Error"))?;
    let context = Context::new(&shared.base_url, &state);
    let at = head.to_string();
    let items = files
        .iter()
        .map(|file| render::diff_entry(&context, full_name, &at, file))
        .collect();
    let path = format!("{}/repos/{full_name}/pulls/{number}/files", shared.base_url);
    Ok(paginate(request, &path, items, 100))
}

fn merge_pull(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let body = parse_body(request)?;
    let method = match body.get("merge_method") {
        None | Some(Value::Null) => MergeMethod::Merge,
        Some(Value::String(name)) if name == "merge" => MergeMethod::Merge,
        Some(Value::String(name)) if name == "squash" => MergeMethod::Squash,
        Some(Value::String(name)) if name == "rebase" => MergeMethod::Rebase,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "PullRequest",
                "merge_method",
                "invalid",
            ));
        }
    };
    let not_mergeable = || ApiError::merge_refusal(405, "Pull Request is not mergeable");
    let mut state = shared.lock();
    let pull = state
        .repo(full_name)
        .and_then(|repo| repo.pull(number))
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    if !pull.open {
        return Err(not_mergeable());
    }
    let (head, base) = tip_oids(shared, &state, full_name, number).map_err(|_| not_mergeable())?;
    if let Some(sha) = string_field(&body, "sha")
        && sha != head.to_string()
    {
        return Err(ApiError::merge_refusal(
            409,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let computed = shared.mergeability(&mut state, full_name, number);
    if pull.draft || computed.state == "dirty" {
        return Err(not_mergeable());
    }
    let repository = open_repository(shared, full_name)?;
    {
        let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
        if let Some(protection) = repo.protection.get(&pull.base) {
            let violations =
                crate::state::protection_violations(repo, protection, &pull, &head.to_string());
            if !violations.is_empty() {
                return Err(ApiError::merge_refusal(405, &violations.join(" ")));
            }
            if protection.strict && !gitops::contains(&repository, head, base) {
                return Err(ApiError::merge_refusal(
                    405,
                    "Head branch is out of date. Review and try the merge again.",
                ));
            }
        }
    }
    let login = request.token.login.clone();
    let default_title = match method {
        MergeMethod::Merge => format!(
            "Merge pull request #{number} from {}/{}",
            pull_owner(&state, full_name),
            pull.head
        ),
        _ => format!("{} (#{number})", pull.title),
    };
    let default_body = match method {
        MergeMethod::Squash => gitops::commits_between(&repository, base, head)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|oid| repository.find_commit(oid).ok())
            .map(|commit| format!("* {}", commit.message().unwrap_or_default().trim_end()))
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => pull.title.clone(),
    };
    let title = string_field(&body, "commit_title").map_or(default_title, str::to_owned);
    let message_body = string_field(&body, "commit_message").map_or(default_body, str::to_owned);
    let message = if message_body.is_empty() {
        title
    } else {
        format!("{title}\n\n{message_body}")
    };
    let author =
        gitops::user_signature(&login).map_err(|_| ApiError::basic(500, "Server Error"))?;
    let tip = match gitops::merge(
        &repository,
        &format!("refs/heads/{}", pull.base),
        base,
        head,
        method,
        &message,
        &author,
    ) {
        Ok(tip) => tip,
        Err(MergeFailure::Conflict) if method == MergeMethod::Rebase => {
            return Err(ApiError::merge_refusal(405, "This branch can't be rebased"));
        }
        Err(MergeFailure::Conflict) => return Err(not_mergeable()),
        Err(MergeFailure::Git(error)) => {
            tracing::error!(%error, "the merge failed");
            return Err(ApiError::basic(500, "Server Error"));
        }
    };
    drop(repository);
    state.user_id(&login);
    let time = now();
    if let Some(repo) = state.repo_mut(full_name) {
        repo.pushed_at.clone_from(&time);
        if let Some(pull) = repo.pull_mut(number) {
            pull.open = false;
            pull.closed_at = Some(time.clone());
            pull.updated_at.clone_from(&time);
            pull.closed_tips = Some((head.to_string(), base.to_string()));
            pull.merged = Some(Merged {
                sha: tip.to_string(),
                at: time,
                by: login,
            });
            pull.merges += 1;
        }
    }
    shared.after_refs_moved(&mut state, full_name);
    Ok(Answer::ok(json!({
        "sha": tip.to_string(),
        "merged": true,
        "message": "Pull Request successfully merged",
    })))
}

fn pull_owner(state: &State, full_name: &str) -> String {
    state
        .repo(full_name)
        .map(|repo| repo.owner.clone())
        .unwrap_or_default()
}

fn list_reviews(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let state = shared.lock();
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let pull = repo.pull(number).ok_or_else(ApiError::not_found)?;
    let context = Context::new(&shared.base_url, &state);
    let items = pull
        .reviews
        .iter()
        .map(|review| render::review(&context, repo, number, review))
        .collect();
    let path = format!(
        "{}/repos/{full_name}/pulls/{number}/reviews",
        shared.base_url
    );
    Ok(paginate(request, &path, items, 100))
}

fn create_review(shared: &Shared, request: &Request, full_name: &str, number: u64) -> ApiResult {
    let body = parse_body(request)?;
    let review_state = match string_field(&body, "event") {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        _ => {
            return Err(ApiError::unprocessable(&[
                "Unprocessable Entity: event must be one of APPROVE, REQUEST_CHANGES, COMMENT",
            ]));
        }
    };
    let text = string_field(&body, "body").unwrap_or_default().to_owned();
    let mut state = shared.lock();
    let login = request.token.login.clone();
    let pull = state
        .repo(full_name)
        .and_then(|repo| repo.pull(number))
        .ok_or_else(ApiError::not_found)?;
    if pull.user == login && review_state == "APPROVED" {
        return Err(ApiError::unprocessable(&[
            "Can not approve your own pull request",
        ]));
    }
    if pull.user == login && review_state == "CHANGES_REQUESTED" {
        return Err(ApiError::unprocessable(&[
            "Can not request changes on your own pull request",
        ]));
    }
    if review_state != "APPROVED" && text.is_empty() {
        return Err(ApiError::unprocessable(&[&format!(
            "Review Can not {} without a body",
            if review_state == "COMMENTED" {
                "comment"
            } else {
                "request changes"
            }
        )]));
    }
    let id = shared
        .review(&mut state, full_name, number, &login, review_state, text)
        .map_err(|_| ApiError::not_found())?;
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let pull = repo.pull(number).ok_or_else(ApiError::not_found)?;
    let review = pull
        .reviews
        .iter()
        .find(|review| review.id == id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Answer::ok(render::review(
        &Context::new(&shared.base_url, &state),
        repo,
        number,
        review,
    )))
}

fn resolve(shared: &Shared, full_name: &str, reference: &str) -> Result<Oid, ApiError> {
    let repository = open_repository(shared, full_name)?;
    gitops::resolve_commit(&repository, reference).ok_or_else(|| no_commit(reference))
}

fn list_check_runs(
    shared: &Shared,
    request: &Request,
    full_name: &str,
    reference: &str,
) -> ApiResult {
    let state = shared.lock();
    let sha = resolve(shared, full_name, reference)?.to_string();
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let latest_only = request.query.get("filter").map_or("latest", String::as_str) != "all";
    let runs: Vec<&CheckRun> = if latest_only {
        repo.latest_checks(&sha)
    } else {
        repo.check_runs
            .iter()
            .filter(|run| run.head_sha == sha)
            .collect()
    };
    let name = request.query.get("check_name");
    let status = request.query.get("status");
    let context = Context::new(&shared.base_url, &state);
    let mut runs: Vec<&CheckRun> = runs
        .into_iter()
        .filter(|run| name.is_none_or(|name| &run.name == name))
        .filter(|run| status.is_none_or(|status| &run.status == status))
        .collect();
    runs.sort_by_key(|run| std::cmp::Reverse(run.id));
    let items: Vec<Value> = runs
        .iter()
        .map(|run| render::check_run(&context, repo, run))
        .collect();
    let total = items.len();
    let path = format!(
        "{}/repos/{full_name}/commits/{reference}/check-runs",
        shared.base_url
    );
    let mut page = paginate(request, &path, items, 100);
    let runs = page.body.take().unwrap_or_else(|| json!([]));
    page.body = Some(json!({"total_count": total, "check_runs": runs}));
    Ok(page)
}

fn create_check_run(shared: &Shared, request: &Request, full_name: &str) -> ApiResult {
    let body = parse_body(request)?;
    let mut missing = Vec::new();
    for field in ["name", "head_sha"] {
        if string_field(&body, field).is_none_or(str::is_empty) {
            missing.push(json!({"resource": "CheckRun", "field": field, "code": "missing_field"}));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let conclusion = match string_field(&body, "conclusion") {
        Some(text) => Some(
            crate::CheckConclusion::from_conclusion(text)
                .and_then(crate::CheckConclusion::as_conclusion)
                .ok_or_else(|| ApiError::invalid_field("CheckRun", "conclusion", "invalid"))?,
        ),
        None => None,
    };
    let status = match (string_field(&body, "status"), conclusion) {
        (_, Some(_)) | (Some("completed"), None) => "completed",
        (Some("in_progress"), None) => "in_progress",
        (Some("queued") | None, None) => "queued",
        (Some(_), None) => return Err(ApiError::invalid_field("CheckRun", "status", "invalid")),
    };
    if status == "completed" && conclusion.is_none() {
        return Err(ApiError::invalid_field(
            "CheckRun",
            "conclusion",
            "missing_field",
        ));
    }
    let mut state = shared.lock();
    let head_sha = string_field(&body, "head_sha").unwrap_or_default();
    let repository = open_repository(shared, full_name)?;
    let sha = Oid::from_str(head_sha)
        .ok()
        .filter(|oid| head_sha.len() == 40 && gitops::is_commit(&repository, *oid))
        .ok_or_else(|| no_commit(head_sha))?;
    drop(repository);
    let id = state.next_id();
    let time = now();
    let output = body.get("output");
    let output_field = |field: &str| {
        output
            .and_then(|output| output.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let run = CheckRun {
        id,
        head_sha: sha.to_string(),
        name: string_field(&body, "name").unwrap_or_default().to_owned(),
        status: status.to_owned(),
        conclusion: conclusion.map(str::to_owned),
        started_at: string_field(&body, "started_at").map_or_else(|| time.clone(), str::to_owned),
        completed_at: (status == "completed").then(|| {
            string_field(&body, "completed_at").map_or_else(|| time.clone(), str::to_owned)
        }),
        external_id: string_field(&body, "external_id").map(str::to_owned),
        details_url: string_field(&body, "details_url").map(str::to_owned),
        title: output_field("title"),
        summary: output_field("summary"),
    };
    let repo = state.repo_mut(full_name).ok_or_else(ApiError::not_found)?;
    repo.check_runs.push(run);
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let run = repo.check_runs.last().ok_or_else(ApiError::not_found)?;
    Ok(Answer::created(
        render::check_run(&Context::new(&shared.base_url, &state), repo, run),
        format!("{}/repos/{full_name}/check-runs/{id}", shared.base_url),
    ))
}

fn create_status(shared: &Shared, request: &Request, full_name: &str, sha: &str) -> ApiResult {
    let body = parse_body(request)?;
    let status_state = string_field(&body, "state").unwrap_or_default().to_owned();
    if !matches!(
        status_state.as_str(),
        "error" | "failure" | "pending" | "success"
    ) {
        return Err(ApiError::invalid_field("Status", "state", "custom"));
    }
    let mut state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let oid = Oid::from_str(sha)
        .ok()
        .filter(|oid| sha.len() == 40 && gitops::is_commit(&repository, *oid))
        .ok_or_else(|| no_commit(sha))?;
    drop(repository);
    let id = state.next_id();
    let creator = request.token.login.clone();
    let repo = state.repo_mut(full_name).ok_or_else(ApiError::not_found)?;
    repo.statuses.push(CommitStatus {
        id,
        sha: oid.to_string(),
        context: string_field(&body, "context")
            .unwrap_or("default")
            .to_owned(),
        state: status_state,
        description: string_field(&body, "description").map(str::to_owned),
        target_url: string_field(&body, "target_url").map(str::to_owned),
        creator,
        created_at: now(),
    });
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let status = repo.statuses.last().ok_or_else(ApiError::not_found)?;
    Ok(Answer::created(
        render::status(&Context::new(&shared.base_url, &state), repo, status, false),
        format!("{}/repos/{full_name}/statuses/{oid}", shared.base_url),
    ))
}

fn combined_status(shared: &Shared, full_name: &str, reference: &str) -> ApiResult {
    let state = shared.lock();
    let sha = resolve(shared, full_name, reference)?.to_string();
    let repo = state.repo(full_name).ok_or_else(ApiError::not_found)?;
    let statuses = repo.latest_statuses(&sha);
    let combined = if statuses
        .iter()
        .any(|status| matches!(status.state.as_str(), "error" | "failure"))
    {
        "failure"
    } else if statuses.is_empty() || statuses.iter().any(|status| status.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let context = Context::new(&shared.base_url, &state);
    let base = &shared.base_url;
    Ok(Answer::ok(json!({
        "state": combined,
        "statuses": statuses.iter().map(|status| render::status(&context, repo, status, true)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": statuses.len(),
        "repository": render::minimal_repository(&context, repo),
        "commit_url": format!("{base}/repos/{full_name}/commits/{sha}"),
        "url": format!("{base}/repos/{full_name}/commits/{sha}/status"),
    })))
}

fn get_commit(shared: &Shared, full_name: &str, reference: &str) -> ApiResult {
    let state = shared.lock();
    let oid = resolve(shared, full_name, reference)?;
    let repository = open_repository(shared, full_name)?;
    let commit = repository
        .find_commit(oid)
        .map_err(|_| no_commit(reference))?;
    let parent = commit.parent_ids().next();
    let files =
        gitops::diff(&repository, parent, oid).map_err(|_| ApiError::basic(500, "Server Error"))?;
    Ok(Answer::ok(render::commit(
        &Context::new(&shared.base_url, &state),
        full_name,
        &commit,
        Some(&files),
    )))
}

fn full_ref(reference: &str) -> String {
    if reference.starts_with("refs/") {
        reference.to_owned()
    } else {
        format!("refs/{reference}")
    }
}

fn get_ref(shared: &Shared, full_name: &str, reference: &str) -> ApiResult {
    let state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let name = full_ref(reference);
    let target = repository
        .find_reference(&name)
        .ok()
        .and_then(|found| found.target())
        .ok_or_else(ApiError::not_found)?;
    Ok(Answer::ok(render::git_ref(
        &Context::new(&shared.base_url, &state),
        full_name,
        &name,
        &target.to_string(),
    )))
}

fn create_ref(shared: &Shared, request: &Request, full_name: &str) -> ApiResult {
    let body = parse_body(request)?;
    let (Some(name), Some(sha)) = (string_field(&body, "ref"), string_field(&body, "sha")) else {
        return Err(ApiError::invalid_field("Reference", "ref", "missing_field"));
    };
    if !name.starts_with("refs/")
        || name.matches('/').count() < 2
        || !git2::Reference::is_valid_name(name)
    {
        return Err(ApiError::basic(422, "Reference name is not valid"));
    }
    let mut state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let oid = Oid::from_str(sha)
        .ok()
        .filter(|oid| sha.len() == 40 && repository.find_object(*oid, None).is_ok())
        .ok_or_else(|| ApiError::basic(422, "Object does not exist"))?;
    if repository.find_reference(name).is_ok() {
        return Err(ApiError::basic(422, "Reference already exists"));
    }
    repository
        .reference(name, oid, false, "create ref")
        .map_err(|_| ApiError::basic(422, "Reference already exists"))?;
    drop(repository);
    shared.after_refs_moved(&mut state, full_name);
    let value = render::git_ref(
        &Context::new(&shared.base_url, &state),
        full_name,
        name,
        sha,
    );
    Ok(Answer::created(
        value,
        format!("{}/repos/{full_name}/git/{name}", shared.base_url),
    ))
}

fn delete_ref(shared: &Shared, full_name: &str, reference: &str) -> ApiResult {
    let mut state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let name = full_ref(reference);
    let default_ref = state
        .repo(full_name)
        .map(|repo| format!("refs/heads/{}", repo.default_branch));
    if default_ref.as_deref() == Some(name.as_str()) {
        return Err(ApiError::bodiless(422));
    }
    let mut found = repository
        .find_reference(&name)
        .map_err(|_| ApiError::bodiless(422))?;
    found.delete().map_err(|_| ApiError::bodiless(422))?;
    drop(found);
    drop(repository);
    shared.after_refs_moved(&mut state, full_name);
    Ok(Answer::no_content())
}

fn compare(shared: &Shared, full_name: &str, spec: &str) -> ApiResult {
    let (base_name, head_name) = spec.split_once("...").ok_or_else(ApiError::not_found)?;
    let head_name = head_name
        .split_once(':')
        .map_or(head_name, |(_, branch)| branch);
    let state = shared.lock();
    let repository = open_repository(shared, full_name)?;
    let base = gitops::resolve_commit(&repository, base_name).ok_or_else(ApiError::not_found)?;
    let head = gitops::resolve_commit(&repository, head_name).ok_or_else(ApiError::not_found)?;
    let merge_base = repository
        .merge_base(base, head)
        .map_err(|_| ApiError::custom("Comparison", "No common ancestor between the commits"))?;
    let server_error = |_| ApiError::basic(500, "Server Error");
    let ahead = gitops::commits_between(&repository, base, head).map_err(server_error)?;
    let behind = gitops::commits_between(&repository, head, base).map_err(server_error)?;
    let status = match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => "identical",
        (false, true) => "ahead",
        (true, false) => "behind",
        (false, false) => "diverged",
    };
    let files = gitops::diff(&repository, Some(merge_base), head).map_err(server_error)?;
    let context = Context::new(&shared.base_url, &state);
    let commit_json = |oid: Oid| {
        repository
            .find_commit(oid)
            .map(|commit| render::commit(&context, full_name, &commit, None))
            .map_err(|_| ApiError::not_found())
    };
    let mut commits = Vec::new();
    for oid in &ahead {
        commits.push(commit_json(*oid)?);
    }
    let per_page_files: Vec<Value> = files
        .iter()
        .map(|file| render::diff_entry(&context, full_name, &head.to_string(), file))
        .collect();

    let base_url = &shared.base_url;
    Ok(Answer::ok(json!({
        "url": format!("{base_url}/repos/{full_name}/compare/{spec}"),
        "html_url": format!("{base_url}/{full_name}/compare/{spec}"),
        "permalink_url": format!("{base_url}/{full_name}/compare/{base}...{head}"),
        "diff_url": format!("{base_url}/{full_name}/compare/{spec}.diff"),
        "patch_url": format!("{base_url}/{full_name}/compare/{spec}.patch"),
        "base_commit": commit_json(base)?,
        "merge_base_commit": commit_json(merge_base)?,
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind.len(),
        "total_commits": ahead.len(),
        "commits": commits,
        "files": per_page_files,
    })))
}
