//! What the `github_merge` executor does with libgit2: list the files a
//! conflicting pull request conflicts in (GitHub's REST API does not say),
//! and build the revert of a merge commit and push it to a new branch
//! (GitHub's REST API has no revert). Both work in a private scratch bare
//! repository, fetched over HTTPS with the action's token.

use std::path::Path;

use git2::{
    Cred, FetchOptions, MergeOptions, Oid, PushOptions, RemoteCallbacks, Repository, Signature,
};

/// The HTTPS credentials of one remote: the token as the password of
/// `x-access-token`, as GitHub takes it. libgit2 asks again after a refused
/// answer; the second ask gives up instead of looping.
fn callbacks(token: &str) -> RemoteCallbacks<'_> {
    let mut callbacks = RemoteCallbacks::new();
    let mut asked = 0_u32;
    callbacks.credentials(move |url, _username, _allowed| {
        asked += 1;
        if asked > 1 {
            return Err(git2::Error::from_str(&format!(
                "authentication failed for {url}: the token was refused"
            )));
        }
        Cred::userpass_plaintext(crate::git::TOKEN_USER, token)
    });
    callbacks
}

/// Fetches `refspecs` from `url` into `repo`.
fn fetch(repo: &Repository, url: &str, token: &str, refspecs: &[String]) -> Result<(), String> {
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|error| format!("cannot use remote {url}: {}", error.message()))?;
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks(token));
    remote
        .fetch(refspecs, Some(&mut options), None)
        .map_err(|error| format!("fetch from {url} failed: {}", error.message()))
}

fn open_scratch(dir: &Path) -> Result<Repository, String> {
    Repository::init_bare(dir.join("repo.git"))
        .map_err(|error| format!("cannot create a scratch repository: {}", error.message()))
}

/// The paths that conflict when `head_sha` (of branch `head_ref` at
/// `head_url`) is merged into `base_ref` of `base_url`.
pub(crate) fn conflicting_files(
    dir: &Path,
    token: &str,
    base_url: &str,
    base_ref: &str,
    head_url: &str,
    head_ref: &str,
    head_sha: &str,
) -> Result<Vec<String>, String> {
    let repo = open_scratch(dir)?;
    fetch(
        &repo,
        base_url,
        token,
        &[format!("+refs/heads/{base_ref}:refs/plangate/base")],
    )?;
    fetch(
        &repo,
        head_url,
        token,
        &[format!("+refs/heads/{head_ref}:refs/plangate/head")],
    )?;
    let base = commit_of(&repo, "refs/plangate/base")?;
    let head_oid = Oid::from_str(head_sha).map_err(|error| error.message().to_owned())?;
    let head = repo.find_commit(head_oid).map_err(|_| {
        format!("the head {head_sha} is not on branch `{head_ref}` any more (it was pushed to)")
    })?;
    let index = repo
        .merge_commits(&base, &head, Some(&MergeOptions::new()))
        .map_err(|error| format!("merging in memory failed: {}", error.message()))?;
    let mut paths = Vec::new();
    let conflicts = index
        .conflicts()
        .map_err(|error| format!("reading the conflicts failed: {}", error.message()))?;
    for conflict in conflicts {
        let conflict = conflict.map_err(|error| error.message().to_owned())?;
        let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
        if let Some(entry) = entry {
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    Ok(paths)
}

fn commit_of<'r>(repo: &'r Repository, reference: &str) -> Result<git2::Commit<'r>, String> {
    repo.revparse_single(reference)
        .and_then(|object| object.peel_to_commit())
        .map_err(|error| format!("cannot read {reference}: {}", error.message()))
}

/// The revert a rollback pushed.
#[derive(Debug)]
pub(crate) struct Revert {
    /// The revert commit.
    pub(crate) sha: String,
    /// The base tip it was built on.
    pub(crate) parent: String,
}

/// Builds the revert of `merge_sha` on the tip of `base_ref` of `url` and
/// pushes it as the new branch `branch`. A merge commit is reverted against
/// its first parent (the base before the merge).
pub(crate) fn push_revert(
    dir: &Path,
    token: &str,
    url: &str,
    base_ref: &str,
    merge_sha: &str,
    branch: &str,
) -> Result<Revert, String> {
    let repo = open_scratch(dir)?;
    fetch(
        &repo,
        url,
        token,
        &[format!("+refs/heads/{base_ref}:refs/plangate/base")],
    )?;
    let base = commit_of(&repo, "refs/plangate/base")?;
    let merge_oid = Oid::from_str(merge_sha).map_err(|error| error.message().to_owned())?;
    let merge = repo.find_commit(merge_oid).map_err(|_| {
        format!("the merge commit {merge_sha} is not on `{base_ref}`; it cannot be reverted there")
    })?;
    let mainline = u32::from(merge.parent_count() > 1);
    let mut index = repo
        .revert_commit(&merge, &base, mainline, None)
        .map_err(|error| format!("reverting {merge_sha} failed: {}", error.message()))?;
    if index.has_conflicts() {
        let mut paths = Vec::new();
        if let Ok(conflicts) = index.conflicts() {
            for conflict in conflicts.flatten() {
                if let Some(entry) = conflict.our.or(conflict.their) {
                    paths.push(String::from_utf8_lossy(&entry.path).into_owned());
                }
            }
        }
        return Err(format!(
            "the revert of {merge_sha} conflicts with later changes on `{base_ref}`: {}",
            paths.join(", ")
        ));
    }
    let tree_oid = index
        .write_tree_to(&repo)
        .map_err(|error| format!("writing the revert tree failed: {}", error.message()))?;
    let tree = repo
        .find_tree(tree_oid)
        .map_err(|error| error.message().to_owned())?;
    let signature = Signature::now("plangate", "plangate@localhost")
        .map_err(|error| error.message().to_owned())?;
    let summary = merge
        .summary()
        .into_iter()
        .flatten()
        .next()
        .unwrap_or("")
        .to_owned();
    let message = format!(
        "Revert \"{summary}\"\n\nThis reverts commit {merge_sha}.\n\nOpened by plangate's automatic rollback."
    );
    let reference = format!("refs/heads/{branch}");
    let oid = repo
        .commit(
            Some(&reference),
            &signature,
            &signature,
            &message,
            &tree,
            &[&base],
        )
        .map_err(|error| format!("committing the revert failed: {}", error.message()))?;
    push(&repo, url, token, &format!("{reference}:{reference}"))?;
    Ok(Revert {
        sha: oid.to_string(),
        parent: base.id().to_string(),
    })
}

/// Pushes `refspec` to `url`, failing on a rejected update.
fn push(repo: &Repository, url: &str, token: &str, refspec: &str) -> Result<(), String> {
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|error| format!("cannot use remote {url}: {}", error.message()))?;
    let mut rejected: Option<String> = None;
    {
        let mut callbacks = callbacks(token);
        callbacks.push_update_reference(|name, status| {
            if let Some(status) = status {
                rejected = Some(format!("{name}: {status}"));
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        remote
            .push(&[refspec], Some(&mut options))
            .map_err(|error| format!("push to {url} failed: {}", error.message()))?;
    }
    match rejected {
        Some(reason) => Err(format!("the remote refused the push of {reason}")),
        None => Ok(()),
    }
}
