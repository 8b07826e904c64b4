//! GitHub's JSON shapes, built from the state.
//!
//! Each function emits every `required` property of its schema in GitHub's OpenAPI description
//! (`simple-user`, `full-repository`, `pull-request`, `commit`, `diff-entry`, `check-run`, ...)
//! and no property GitHub does not have. URLs point at the emulator (`http://127.0.0.1:PORT`),
//! which serves both the API and the "HTML" paths.

use crate::{
    gitops::FileChange,
    state::{CheckRun, CommitStatus, Pull, Repo, Review, State},
};
use git2::Commit;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Where URLs point and who the users are.
pub(crate) struct Context<'a> {
    base: &'a str,
    users: &'a BTreeMap<String, u64>,
}

impl<'a> Context<'a> {
    /// A context over the state's users.
    pub(crate) fn new(base: &'a str, state: &'a State) -> Self {
        Self {
            base,
            users: &state.users,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        self.base
    }

    /// A user's id (0 for an unknown login).
    pub(crate) fn user_id(&self, login: &str) -> u64 {
        self.users.get(login).copied().unwrap_or(0)
    }
}

/// A node id in GitHub's style (opaque; only its uniqueness matters).
pub(crate) fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}_kwDO{id:08}")
}

/// `simple-user`.
pub(crate) fn user(context: &Context<'_>, login: &str) -> Value {
    let base = context.base();
    let id = context.user_id(login);
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("U", id),
        "avatar_url": format!("{base}/avatars/{login}"),
        "gravatar_id": "",
        "url": format!("{base}/users/{login}"),
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{base}/users/{login}/followers"),
        "following_url": format!("{base}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{login}/subscriptions"),
        "organizations_url": format!("{base}/users/{login}/orgs"),
        "repos_url": format!("{base}/users/{login}/repos"),
        "events_url": format!("{base}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{login}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// `private-user`, for `GET /user`.
pub(crate) fn private_user(context: &Context<'_>, login: &str) -> Value {
    let mut value = user(context, login);
    let extra = json!({
        "user_view_type": "private",
        "name": login,
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": false,
    });
    if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), extra) {
        object.extend(extra);
    }
    value
}

/// `minimal-repository`'s URLs and identity.
fn repository_core(context: &Context<'_>, repo: &Repo) -> serde_json::Map<String, Value> {
    let base = context.base();
    let full_name = repo.full_name();
    let api = format!("{base}/repos/{full_name}");
    let value = json!({
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": full_name,
        "owner": user(context, &repo.owner),
        "private": true,
        "html_url": format!("{base}/{full_name}"),
        "description": null,
        "fork": false,
        "url": api,
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "contributors_url": format!("{api}/contributors"),
        "deployments_url": format!("{api}/deployments"),
        "downloads_url": format!("{api}/downloads"),
        "events_url": format!("{api}/events"),
        "forks_url": format!("{api}/forks"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "hooks_url": format!("{api}/hooks"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "languages_url": format!("{api}/languages"),
        "merges_url": format!("{api}/merges"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "stargazers_url": format!("{api}/stargazers"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "tags_url": format!("{api}/tags"),
        "teams_url": format!("{api}/teams"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
    });
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `minimal-repository`.
pub(crate) fn minimal_repository(context: &Context<'_>, repo: &Repo) -> Value {
    Value::Object(repository_core(context, repo))
}

/// `repository` (`full` adds `full-repository`'s extra properties).
pub(crate) fn repository(context: &Context<'_>, repo: &Repo, full: bool) -> Value {
    let base = context.base();
    let full_name = repo.full_name();
    let mut map = repository_core(context, repo);
    let host = base.trim_start_matches("http://");
    let extra = json!({
        "clone_url": format!("{base}/{full_name}.git"),
        "git_url": format!("git://{host}/{full_name}.git"),
        "ssh_url": format!("git@{host}:{full_name}.git"),
        "svn_url": format!("{base}/{full_name}"),
        "mirror_url": null,
        "homepage": null,
        "language": null,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": repo.default_branch,
        "open_issues": repo.pulls.iter().filter(|pull| pull.open).count(),
        "open_issues_count": repo.pulls.iter().filter(|pull| pull.open).count(),
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": false,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": "private",
        "pushed_at": repo.pushed_at,
        "created_at": repo.created_at,
        "updated_at": repo.pushed_at,
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        "allow_merge_commit": true,
        "allow_squash_merge": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "allow_forking": false,
        "web_commit_signoff_required": false,
        "license": null,
    });
    if let Value::Object(extra) = extra {
        map.extend(extra);
    }
    if full {
        map.insert("network_count".into(), json!(0));
        map.insert("subscribers_count".into(), json!(0));
    }
    Value::Object(map)
}

/// Line counts and commits of a pull request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PullCounts {
    pub(crate) commits: usize,
    pub(crate) additions: usize,
    pub(crate) deletions: usize,
    pub(crate) changed_files: usize,
}

/// What a `pull-request` needs beyond the stored pull request.
#[derive(Debug, Clone, Default)]
pub(crate) struct PullDetail {
    pub(crate) head_sha: String,
    pub(crate) base_sha: String,
    pub(crate) mergeable: Option<bool>,
    pub(crate) mergeable_state: &'static str,
    pub(crate) counts: PullCounts,
}

/// `pull-request-simple` (for lists).
pub(crate) fn pull_simple(
    context: &Context<'_>,
    repo: &Repo,
    pull: &Pull,
    head_sha: &str,
    base_sha: &str,
) -> Value {
    let base = context.base();
    let full_name = repo.full_name();
    let api = format!("{base}/repos/{full_name}");
    let number = pull.number;
    let html = format!("{base}/{full_name}/pull/{number}");
    let side = |branch: &str, sha: &str| {
        json!({
            "label": format!("{}:{branch}", repo.owner),
            "ref": branch,
            "sha": sha,
            "user": user(context, &repo.owner),
            "repo": repository(context, repo, false),
        })
    };
    json!({
        "url": format!("{api}/pulls/{number}"),
        "id": pull.id,
        "node_id": node_id("PR", pull.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{number}"),
        "commits_url": format!("{api}/pulls/{number}/commits"),
        "review_comments_url": format!("{api}/pulls/{number}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{number}/comments"),
        "statuses_url": format!("{api}/statuses/{head_sha}"),
        "number": number,
        "state": if pull.open { "open" } else { "closed" },
        "locked": false,
        "title": pull.title,
        "user": user(context, &pull.user),
        "body": pull.body,
        "labels": [],
        "milestone": null,
        "active_lock_reason": null,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "merged_at": pull.merged.as_ref().map(|merged| merged.at.clone()),
        "merge_commit_sha": pull.merged.as_ref().map(|merged| merged.sha.clone()),
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(&pull.head, head_sha),
        "base": side(&pull.base, base_sha),
        "_links": {
            "self": {"href": format!("{api}/pulls/{number}")},
            "html": {"href": html},
            "issue": {"href": format!("{api}/issues/{number}")},
            "comments": {"href": format!("{api}/issues/{number}/comments")},
            "review_comments": {"href": format!("{api}/pulls/{number}/comments")},
            "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{api}/pulls/{number}/commits")},
            "statuses": {"href": format!("{api}/statuses/{head_sha}")},
        },
        "author_association": if pull.user == repo.owner { "OWNER" } else { "COLLABORATOR" },
        "auto_merge": null,
        "draft": pull.draft,
    })
}

/// `pull-request`.
pub(crate) fn pull(context: &Context<'_>, repo: &Repo, pull: &Pull, detail: &PullDetail) -> Value {
    let mut value = pull_simple(context, repo, pull, &detail.head_sha, &detail.base_sha);
    let extra = json!({
        "merged": pull.merged.is_some(),
        "mergeable": detail.mergeable,
        "rebaseable": detail.mergeable,
        "mergeable_state": detail.mergeable_state,
        "merged_by": pull.merged.as_ref().map(|merged| user(context, &merged.by)),
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": detail.counts.commits,
        "additions": detail.counts.additions,
        "deletions": detail.counts.deletions,
        "changed_files": detail.counts.changed_files,
    });
    if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), extra) {
        object.extend(extra);
    }
    value
}

fn git_user(signature: &git2::Signature<'_>) -> Value {
    let date = chrono::DateTime::from_timestamp(signature.when().seconds(), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    json!({
        "name": signature.name().unwrap_or_default(),
        "email": signature.email().unwrap_or_default(),
        "date": date,
    })
}

/// `commit`, with `files` and `stats` when given the files.
pub(crate) fn commit(
    context: &Context<'_>,
    full_name: &str,
    commit: &Commit<'_>,
    files: Option<&[FileChange]>,
) -> Value {
    let base = context.base();
    let api = format!("{base}/repos/{full_name}");
    let sha = commit.id().to_string();
    let mut value = json!({
        "url": format!("{api}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "html_url": format!("{base}/{full_name}/commit/{sha}"),
        "comments_url": format!("{api}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{sha}"),
            "author": git_user(&commit.author()),
            "committer": git_user(&commit.committer()),
            "message": commit.message().unwrap_or_default(),
            "comment_count": 0,
            "tree": {
                "sha": commit.tree_id().to_string(),
                "url": format!("{api}/git/trees/{}", commit.tree_id()),
            },
            "verification": {
                "verified": false,
                "reason": "unsigned",
                "signature": null,
                "payload": null,
                "verified_at": null,
            },
        },
        "author": null,
        "committer": null,
        "parents": commit.parent_ids().map(|parent| json!({
            "sha": parent.to_string(),
            "url": format!("{api}/commits/{parent}"),
            "html_url": format!("{base}/{full_name}/commit/{parent}"),
        })).collect::<Vec<_>>(),
    });
    if let Some(files) = files {
        let additions: usize = files.iter().map(|file| file.additions).sum();
        let deletions: usize = files.iter().map(|file| file.deletions).sum();
        value["stats"] = json!({
            "additions": additions,
            "deletions": deletions,
            "total": additions + deletions,
        });
        value["files"] = files
            .iter()
            .map(|file| diff_entry(context, full_name, &sha, file))
            .collect();
    }
    value
}

/// `diff-entry`; `at` is the commit the file's URLs point into.
pub(crate) fn diff_entry(
    context: &Context<'_>,
    full_name: &str,
    at: &str,
    file: &FileChange,
) -> Value {
    let base = context.base();
    let filename = &file.filename;
    let mut value = json!({
        "sha": file.sha,
        "filename": filename,
        "status": file.status,
        "additions": file.additions,
        "deletions": file.deletions,
        "changes": file.additions + file.deletions,
        "blob_url": format!("{base}/{full_name}/blob/{at}/{filename}"),
        "raw_url": format!("{base}/{full_name}/raw/{at}/{filename}"),
        "contents_url": format!("{base}/repos/{full_name}/contents/{filename}?ref={at}"),
    });
    if let Some(patch) = &file.patch {
        value["patch"] = json!(patch);
    }
    if let Some(previous) = &file.previous_filename {
        value["previous_filename"] = json!(previous);
    }
    value
}

/// `pull-request-review`.
pub(crate) fn review(context: &Context<'_>, repo: &Repo, number: u64, review: &Review) -> Value {
    let base = context.base();
    let full_name = repo.full_name();
    let html = format!(
        "{base}/{full_name}/pull/{number}#pullrequestreview-{}",
        review.id
    );
    let pull_url = format!("{base}/repos/{full_name}/pulls/{number}");
    json!({
        "id": review.id,
        "node_id": node_id("PRR", review.id),
        "user": user(context, &review.login),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": review.submitted_at,
        "commit_id": review.commit_id,
        "author_association": if review.login == repo.owner { "OWNER" } else { "COLLABORATOR" },
    })
}

/// The `github-actions` app, `integration`.
fn actions_app(context: &Context<'_>) -> Value {
    let base = context.base();
    json!({
        "id": 15368,
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "owner": user(context, "github"),
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": format!("{base}/apps/github-actions"),
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2024-04-10T20:33:16Z",
        "permissions": {"checks": "write", "contents": "write", "pull_requests": "write", "statuses": "write"},
        "events": ["check_run", "check_suite", "pull_request", "push"],
    })
}

/// `check-run`.
pub(crate) fn check_run(context: &Context<'_>, repo: &Repo, run: &CheckRun) -> Value {
    let base = context.base();
    let full_name = repo.full_name();
    let api = format!("{base}/repos/{full_name}/check-runs/{}", run.id);
    json!({
        "id": run.id,
        "node_id": node_id("CR", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": api,
        "html_url": format!("{base}/{full_name}/runs/{}", run.id),
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": null,
            "annotations_count": 0,
            "annotations_url": format!("{api}/annotations"),
        },
        "name": run.name,
        "check_suite": {"id": run.id},
        "app": actions_app(context),
        "pull_requests": [],
    })
}

/// `status` (`simple` drops `creator` for `simple-commit-status`).
pub(crate) fn status(
    context: &Context<'_>,
    repo: &Repo,
    status: &CommitStatus,
    simple: bool,
) -> Value {
    let base = context.base();
    let mut value = json!({
        "url": format!("{base}/repos/{}/statuses/{}", repo.full_name(), status.sha),
        "avatar_url": null,
        "id": status.id,
        "node_id": node_id("SC", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": status.created_at,
        "updated_at": status.created_at,
    });
    if !simple {
        value["creator"] = user(context, &status.creator);
    }
    value
}

/// `git-ref`.
pub(crate) fn git_ref(context: &Context<'_>, full_name: &str, name: &str, sha: &str) -> Value {
    let api = format!("{}/repos/{full_name}", context.base());
    json!({
        "ref": name,
        "node_id": format!("REF_{}", name.replace('/', "_")),
        "url": format!("{api}/git/{name}"),
        "object": {
            "type": "commit",
            "sha": sha,
            "url": format!("{api}/git/commits/{sha}"),
        },
    })
}

/// `basic-error`.
pub(crate) fn basic_error(message: &str, status: u16) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string(),
    })
}

/// `validation-error` with `errors`.
pub(crate) fn validation_error(errors: Vec<Value>) -> Value {
    json!({
        "message": "Validation Failed",
        "errors": Value::Array(errors),
        "documentation_url": "https://docs.github.com/rest",
    })
}
