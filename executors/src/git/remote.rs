//! The operations that talk to a remote: `push`, `fetch`, `clone`, and
//! reading a remote's refs (`ls-remote`), with the callbacks they share:
//! the token as HTTP Basic password (user `x-access-token`), giving up when
//! it is refused, and stopping on cancellation or the deadline.
//!
//! # Cancellation
//!
//! libgit2 blocks for the whole transfer; the callbacks are where it can be
//! stopped. Fetch and clone stop from their transfer-progress callback
//! (returning `false`); a push stops from its negotiation callback (before
//! the pack is sent) and its side-band callback. A push whose pack has been
//! sent completes.

use std::{cell::RefCell, collections::BTreeMap, fs, path::Path, rc::Rc};

use git2::{
    AutotagOption, Cred, CredentialType, Direction, FetchOptions, Oid, PushOptions, Remote,
    RemoteCallbacks, Repository, build::RepoBuilder,
};

use super::{
    evidence::{CloneEvidence, FetchEvidence, GitEvidence, PushEvidence, RefChange, RefValue},
    job::{Fail, Job, Step, count, short},
    ops::{Plan, Prepared, head_state, short_ref},
};

/// The user name sent with a token: what GitHub expects of an app or
/// fine-grained token used as a password.
pub(crate) const TOKEN_USER: &str = "x-access-token";

/// What the remote callbacks saw, read after the call returns.
#[derive(Default)]
pub(super) struct Seen {
    /// The clear message of a refused or missing token.
    pub(super) auth_failure: Option<String>,
    /// Refs the remote refused, with its message.
    pub(super) rejected: Vec<(String, String)>,
}

/// Callbacks for one remote call of `job`.
pub(super) fn callbacks<'a>(job: &'a Job, seen: &Rc<RefCell<Seen>>) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let asked: RefCell<BTreeMap<String, u32>> = RefCell::new(BTreeMap::new());
    let auth_seen = Rc::clone(seen);
    callbacks.credentials(move |url, _username, allowed| {
        if job.stopped().is_some() {
            return Err(git2::Error::from_str("stopped"));
        }
        let mut asked = asked.borrow_mut();
        let times = asked.entry(url.to_owned()).or_insert(0);
        *times += 1;
        let url = job.redact(url);
        let Some(token) = &job.token else {
            let message = format!(
                "authentication required for {url} and no token is configured (set `token_env`, or `{}`)",
                super::job::DEFAULT_TOKEN_ENV
            );
            auth_seen.borrow_mut().auth_failure = Some(message.clone());
            return Err(git2::Error::from_str(&message));
        };
        let Some(value) = &token.value else {
            let message = format!(
                "authentication required for {url} and `${}` is not set",
                token.variable
            );
            auth_seen.borrow_mut().auth_failure = Some(message.clone());
            return Err(git2::Error::from_str(&message));
        };
        if *times > 1 || !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let message = format!(
                "authentication failed for {url} (token from ${})",
                token.variable
            );
            auth_seen.borrow_mut().auth_failure = Some(message.clone());
            return Err(git2::Error::from_str(&message));
        }
        Cred::userpass_plaintext(TOKEN_USER, value)
    });
    callbacks.transfer_progress(move |_| job.stopped().is_none());
    callbacks.sideband_progress(move |_| job.stopped().is_none());
    callbacks.push_negotiation(move |_| match job.stopped() {
        Some(status) => Err(git2::Error::from_str(&format!(
            "stopped: {}",
            status.as_str()
        ))),
        None => Ok(()),
    });
    let rejected = Rc::clone(seen);
    callbacks.push_update_reference(move |name, status| {
        if let Some(status) = status {
            rejected
                .borrow_mut()
                .rejected
                .push((name.to_owned(), status.to_owned()));
        }
        Ok(())
    });
    callbacks
}

/// The failure of a remote call that returned `error`: stopped, the token
/// refused, a non-fast-forward push (failed outcomes), else the error.
fn remote_failure(job: &Job, seen: &Rc<RefCell<Seen>>, error: &git2::Error) -> Fail {
    if let Some(status) = job.stopped() {
        return Fail::Stopped(status);
    }
    if let Some(message) = seen.borrow().auth_failure.clone() {
        return Fail::Action(message);
    }
    if error.code() == git2::ErrorCode::NotFastForward {
        return Fail::Action(format!("rejected (non-fast-forward): {}", error.message()));
    }
    if error.code() == git2::ErrorCode::Auth {
        return Fail::Action(job.redact(error.message()));
    }
    job.git_error(error)
}

/// The remote `name` of `repo`, and its URL (push URL for a push).
fn find_remote<'r>(
    job: &Job,
    repo: &'r Repository,
    name: &str,
    direction: Direction,
) -> Step<(Remote<'r>, String)> {
    let remote = repo.find_remote(name).map_err(|error| {
        if error.code() == git2::ErrorCode::NotFound {
            Fail::Action(format!("no remote `{name}` in `{}`", job.repo_label))
        } else {
            job.git_error(&error)
        }
    })?;
    let url = match direction {
        Direction::Push => remote
            .pushurl()
            .ok()
            .flatten()
            .or_else(|| remote.url().ok())
            .unwrap_or_default()
            .to_owned(),
        Direction::Fetch => remote.url().unwrap_or_default().to_owned(),
    };
    Ok((remote, url))
}

/// The refs the remote advertises, by name (`ls-remote`).
pub(super) fn list_remote(
    job: &Job,
    remote: &mut Remote<'_>,
    direction: Direction,
) -> Step<BTreeMap<String, Oid>> {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let connection = remote
        .connect_auth(direction, Some(callbacks(job, &seen)), None)
        .map_err(|error| remote_failure(job, &seen, &error))?;
    let heads = connection
        .list()
        .map_err(|error| remote_failure(job, &seen, &error))?;
    Ok(heads
        .iter()
        .map(|head| (head.name().to_owned(), head.oid()))
        .collect())
}

/// A push's refspec, resolved.
pub(super) struct PushPlan {
    /// The remote's name.
    pub(super) remote: String,
    /// The refspec sent (`+` when forced).
    pub(super) refspec: String,
    /// The remote ref.
    pub(super) remote_ref: String,
    /// The sha pushed; `None` for a deletion.
    pub(super) pushed: Option<Oid>,
    /// The remote's sha before.
    pub(super) remote_before: Option<Oid>,
}

/// The local and remote sides of a push refspec: (forced, local ref or
/// expression, the local sha, the remote ref). The default is the current
/// branch to the same name.
pub(super) fn resolve_push_refspec(
    job: &Job,
    repo: &Repository,
) -> Step<(bool, String, Option<Oid>, String)> {
    let Some(spec) = job.action.refspec.as_deref() else {
        let (head, branch) = head_state(job, repo)?;
        let (Some(head), Some(branch)) = (head, branch) else {
            return Err(Fail::Action(
                "`HEAD` is detached or has no commit: name what to push with `refspec`".to_owned(),
            ));
        };
        return Ok((false, branch.clone(), Some(head), branch));
    };
    let (forced, spec) = match spec.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (source, destination) = match spec.split_once(':') {
        Some((source, destination)) => (source, Some(destination)),
        None => (spec, None),
    };
    if source.is_empty() {
        let Some(destination) = destination.filter(|destination| !destination.is_empty()) else {
            return Err(Fail::Action(format!("refspec `{spec}` names no ref")));
        };
        return Ok((
            forced,
            String::new(),
            None,
            full_remote_ref(destination, false),
        ));
    }
    let (local, sha) = match repo.resolve_reference_from_short_name(source) {
        Ok(reference) => {
            let name = reference.name().unwrap_or(source).to_owned();
            let sha = reference
                .peel(git2::ObjectType::Any)
                .map_err(job.git())?
                .id();
            (name, sha)
        }
        Err(_) => {
            let object = repo.revparse_single(source).map_err(|error| {
                Fail::Action(format!(
                    "refspec `{spec}`: `{source}` names nothing in `{}`: {}",
                    job.repo_label,
                    error.message()
                ))
            })?;
            (source.to_owned(), object.id())
        }
    };
    let remote_ref = match destination {
        Some(destination) if !destination.is_empty() => {
            full_remote_ref(destination, local.starts_with("refs/tags/"))
        }
        _ if local.starts_with("refs/") => local.clone(),
        _ => {
            return Err(Fail::Action(format!(
                "refspec `{spec}` pushes a commit, not a ref: name the remote ref (`{source}:refs/heads/NAME`)"
            )));
        }
    };
    Ok((forced, local, Some(sha), remote_ref))
}

fn full_remote_ref(name: &str, tag: bool) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else if tag {
        format!("refs/tags/{name}")
    } else {
        format!("refs/heads/{name}")
    }
}

/// `push`: resolve the refspec, read the remote ref (the evidence), check
/// it would fast-forward.
pub(super) fn prepare_push(job: &Job) -> Step<Prepared> {
    let repo = job.open()?;
    let remote_name = job
        .action
        .remote
        .clone()
        .unwrap_or_else(|| "origin".to_owned());
    let (forced, local, pushed, remote_ref) = resolve_push_refspec(job, &repo)?;
    let (mut remote, url) = find_remote(job, &repo, &remote_name, Direction::Push)?;
    let advertised = list_remote(job, &mut remote, Direction::Push)?;
    let remote_before = advertised.get(&remote_ref).copied();
    let (head, branch) = head_state(job, &repo)?;
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = head.map(|oid| oid.to_string());
    evidence.head_after.clone_from(&evidence.head_before);
    evidence.branch_before.clone_from(&branch);
    evidence.branch_after = branch;
    evidence.push = Some(PushEvidence {
        remote: remote_name.clone(),
        url: job.redact(&url),
        local_ref: local.clone(),
        remote_ref: remote_ref.clone(),
        remote_before: remote_before.map(|oid| oid.to_string()),
        pushed: pushed.map(|oid| oid.to_string()),
        forced,
    });
    if remote_before == pushed {
        evidence.no_change = Some("the remote is already there".to_owned());
        let said = match pushed {
            Some(sha) => format!(
                "{remote_name} {remote_ref} is already at {}: nothing to push",
                short(&sha.to_string())
            ),
            None => format!("{remote_name} has no {remote_ref}: nothing to delete"),
        };
        return Ok(Prepared {
            evidence,
            plan: Plan::Nothing(said),
        });
    }
    if let (Some(before), Some(pushed), false) = (remote_before, pushed, forced) {
        if !fast_forwards(&repo, before, pushed) {
            return Err(Fail::Action(format!(
                "rejected (non-fast-forward): {remote_name} {remote_ref} is at {}, which {} is not a descendant of",
                short(&before.to_string()),
                short(&pushed.to_string())
            )));
        }
    }
    let refspec = format!("{}{local}:{remote_ref}", if forced { "+" } else { "" });
    Ok(Prepared {
        evidence,
        plan: Plan::Push(PushPlan {
            remote: remote_name,
            refspec,
            remote_ref,
            pushed,
            remote_before,
        }),
    })
}

/// Whether moving a ref from `before` to `after` is a fast-forward (the
/// local repository must have `before`).
pub(super) fn fast_forwards(repo: &Repository, before: Oid, after: Oid) -> bool {
    repo.find_commit(before).is_ok()
        && (before == after || repo.graph_descendant_of(after, before).unwrap_or(false))
}

/// Pushes `refspec` to `remote_name`; a ref the remote refuses is a failed
/// outcome with its message.
pub(super) fn push_refspec(
    job: &Job,
    repo: &Repository,
    remote_name: &str,
    refspec: &str,
) -> Step<()> {
    let (mut remote, _) = find_remote(job, repo, remote_name, Direction::Push)?;
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks(job, &seen));
    remote
        .push(&[refspec], Some(&mut options))
        .map_err(|error| remote_failure(job, &seen, &error))?;
    let rejected = std::mem::take(&mut seen.borrow_mut().rejected);
    if let Some((name, message)) = rejected.first() {
        return Err(Fail::Action(format!(
            "{remote_name} rejected {name}: {message}"
        )));
    }
    Ok(())
}

/// `push`, the change.
pub(super) fn finish_push(job: &Job, plan: &PushPlan) -> Step<String> {
    let repo = job.open()?;
    push_refspec(job, &repo, &plan.remote, &plan.refspec)?;
    let before = plan.remote_before.map_or_else(
        || "new".to_owned(),
        |oid| short(&oid.to_string()).to_owned(),
    );
    Ok(match plan.pushed {
        Some(pushed) => format!(
            "pushed {} to {} {} (was {before})",
            short(&pushed.to_string()),
            plan.remote,
            plan.remote_ref
        ),
        None => format!("deleted {} {} (was {before})", plan.remote, plan.remote_ref),
    })
}

/// A clone's source and target.
pub(super) struct ClonePlan {
    /// The URL, as given (it may hold user information: never shown).
    url: String,
    /// Whether the folder does not exist yet.
    create_folder: bool,
}

/// `clone`: refuse a non-empty folder; record whether plangate makes it.
pub(super) fn prepare_clone(job: &Job) -> Step<Prepared> {
    let url = job.action.url.clone().unwrap_or_default();
    let create_folder = match fs::read_dir(&job.repo) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Fail::Action(format!(
                    "cannot clone into `{}`: the folder exists and is not empty",
                    job.repo_label
                )));
            }
            false
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => {
            return Err(Fail::Action(format!(
                "cannot clone into `{}`: {error}",
                job.repo_label
            )));
        }
    };
    let mut evidence = GitEvidence::new(job);
    evidence.branch_after = job
        .action
        .branch
        .as_ref()
        .map(|branch| format!("refs/heads/{branch}"));
    evidence.clone = Some(CloneEvidence {
        url: job.redact(&url),
        branch: job.action.branch.clone(),
        created_folder: create_folder,
    });
    Ok(Prepared {
        evidence,
        plan: Plan::Clone(ClonePlan { url, create_folder }),
    })
}

/// `clone`, the change. A failed clone removes what it made.
pub(super) fn finish_clone(
    job: &Job,
    plan: &ClonePlan,
    evidence: &mut GitEvidence,
) -> Step<String> {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(job, &seen));
    let mut builder = RepoBuilder::new();
    builder.fetch_options(fetch);
    if let Some(branch) = &job.action.branch {
        builder.branch(branch);
    }
    let repo = match builder.clone(&plan.url, &job.repo) {
        Ok(repo) => repo,
        Err(error) => {
            let fail = remote_failure(job, &seen, &error);
            if let Err(error) = remove_clone(&job.repo, plan.create_folder) {
                tracing::warn!(%error, "failed to remove what a failed clone left");
            }
            return Err(fail);
        }
    };
    let (head, branch) = head_state(job, &repo)?;
    evidence.head_after = head.map(|oid| oid.to_string());
    evidence.branch_after.clone_from(&branch);
    evidence.refs = local_refs(job, &repo)?
        .into_iter()
        .map(|value| RefChange {
            name: value.name,
            before: None,
            after: Some(value.sha),
        })
        .collect();
    Ok(format!(
        "cloned {} into {}: {} at {}",
        job.redact(&plan.url),
        job.repo_label,
        branch.as_deref().map_or("HEAD", short_ref),
        head.map_or_else(
            || "no commit".to_owned(),
            |oid| short(&oid.to_string()).to_owned()
        )
    ))
}

/// Removes a clone: the folder when plangate created it, else what is in it.
pub(super) fn remove_clone(path: &Path, created_folder: bool) -> std::io::Result<()> {
    if created_folder {
        return match fs::remove_dir_all(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
    }
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// A fetch's remote and refspecs.
pub(super) struct FetchPlan {
    remote: String,
    refspecs: Vec<String>,
}

/// `fetch`: snapshot every ref, the evidence its rollback restores.
pub(super) fn prepare_fetch(job: &Job) -> Step<Prepared> {
    let repo = job.open()?;
    let remote_name = job
        .action
        .remote
        .clone()
        .unwrap_or_else(|| "origin".to_owned());
    let (_, url) = find_remote(job, &repo, &remote_name, Direction::Fetch)?;
    let (head, branch) = head_state(job, &repo)?;
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = head.map(|oid| oid.to_string());
    evidence.head_after.clone_from(&evidence.head_before);
    evidence.branch_before.clone_from(&branch);
    evidence.branch_after = branch;
    let refspecs: Vec<String> = job.action.refspec.iter().cloned().collect();
    evidence.fetch = Some(FetchEvidence {
        remote: remote_name.clone(),
        url: job.redact(&url),
        refspecs: refspecs.clone(),
        refs_before: local_refs(job, &repo)?,
    });
    Ok(Prepared {
        evidence,
        plan: Plan::Fetch(FetchPlan {
            remote: remote_name,
            refspecs,
        }),
    })
}

/// `fetch`, the change; the refs it moved go into the evidence.
pub(super) fn finish_fetch(
    job: &Job,
    plan: &FetchPlan,
    evidence: &mut GitEvidence,
) -> Step<String> {
    let repo = job.open()?;
    let (mut remote, _) = find_remote(job, &repo, &plan.remote, Direction::Fetch)?;
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks(job, &seen))
        .download_tags(AutotagOption::Auto);
    remote
        .fetch(
            &plan.refspecs,
            Some(&mut options),
            Some("plangate: git fetch"),
        )
        .map_err(|error| remote_failure(job, &seen, &error))?;
    let before: BTreeMap<String, String> = evidence
        .fetch
        .as_ref()
        .map(|fetch| {
            fetch
                .refs_before
                .iter()
                .map(|value| (value.name.clone(), value.sha.clone()))
                .collect()
        })
        .unwrap_or_default();
    let after: BTreeMap<String, String> = local_refs(job, &repo)?
        .into_iter()
        .map(|value| (value.name, value.sha))
        .collect();
    evidence.refs = ref_changes(&before, &after);
    Ok(format!(
        "fetched from {}: {} updated",
        plan.remote,
        count(evidence.refs.len(), "ref")
    ))
}

/// The refs whose value differs between two snapshots.
pub(super) fn ref_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<RefChange> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| RefChange {
            name: name.clone(),
            before: before.get(name).cloned(),
            after: after.get(name).cloned(),
        })
        .collect()
}

/// Every direct ref of the repository with its sha.
pub(super) fn local_refs(job: &Job, repo: &Repository) -> Step<Vec<RefValue>> {
    let mut values = Vec::new();
    for reference in repo.references().map_err(job.git())? {
        let reference = reference.map_err(job.git())?;
        if let (Ok(name), Some(sha)) = (reference.name(), reference.target()) {
            values.push(RefValue {
                name: name.to_owned(),
                sha: sha.to_string(),
            });
        }
    }
    values.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(values)
}

/// The remote's current sha of `remote_ref` (for observe and rollback).
pub(super) fn remote_ref_now(
    job: &Job,
    repo: &Repository,
    remote_name: &str,
    remote_ref: &str,
) -> Step<Option<Oid>> {
    let (mut remote, _) = find_remote(job, repo, remote_name, Direction::Push)?;
    Ok(list_remote(job, &mut remote, Direction::Push)?
        .get(remote_ref)
        .copied())
}
