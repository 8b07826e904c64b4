//! Git operations on the bare repositories, through libgit2.
//!
//! Everything the REST API computes from git lives here: commits written by the admin API,
//! mergeability (an in-memory merge of the base and head tips), the three merge methods,
//! ahead/behind counts and the per-file diffs of commits, comparisons and pull requests.

use git2::{
    Commit, FileMode, ObjectType, Oid, Repository, Signature, Sort, build::TreeUpdateBuilder,
};
use std::path::Path;

/// The committer of every commit the emulator writes, as on GitHub.
pub(crate) fn github_signature() -> Result<Signature<'static>, git2::Error> {
    Signature::now("GitHub", "noreply@github.com")
}

/// The author signature of a user.
pub(crate) fn user_signature(login: &str) -> Result<Signature<'static>, git2::Error> {
    Signature::now(login, &format!("{login}@users.noreply.github.com"))
}

/// Creates a bare repository whose `HEAD` is `default_branch`, with one commit adding a
/// `README.md`; returns that commit.
pub(crate) fn init_bare(path: &Path, name: &str, default_branch: &str) -> Result<Oid, git2::Error> {
    let repository = Repository::init_bare(path)?;
    let reference = format!("refs/heads/{default_branch}");
    repository.set_head(&reference)?;
    // `git http-backend` serves a repository only when it is exported and, for pushes,
    // when `http.receivepack` allows it (REMOTE_USER is set, but being explicit is clearer).
    let mut config = repository.config()?;
    config.set_bool("http.receivepack", true)?;
    config.set_bool("http.uploadpack", true)?;
    let blob = repository.blob(format!("# {name}\n").as_bytes())?;
    let mut builder = repository.treebuilder(None)?;
    builder.insert("README.md", blob, i32::from(FileMode::Blob))?;
    let tree = repository.find_tree(builder.write()?)?;
    let signature = github_signature()?;
    repository.commit(
        Some(&reference),
        &signature,
        &signature,
        "Initial commit",
        &tree,
        &[],
    )
}

/// A branch's tip.
pub(crate) fn branch_tip(repository: &Repository, branch: &str) -> Option<Oid> {
    repository
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()
        .and_then(|reference| reference.target())
}

/// Every branch with its tip, sorted by name.
pub(crate) fn branches(repository: &Repository) -> Vec<(String, Oid)> {
    let mut found = Vec::new();
    if let Ok(references) = repository.references_glob("refs/heads/*") {
        for reference in references.flatten() {
            if let (Some(name), Some(target)) = (reference.name().ok(), reference.target()) {
                found.push((name.trim_start_matches("refs/heads/").to_owned(), target));
            }
        }
    }
    found.sort();
    found
}

/// Resolves a sha (full or abbreviated), a branch, a tag or a full ref name to a commit.
pub(crate) fn resolve_commit(repository: &Repository, reference: &str) -> Option<Oid> {
    if let Some(tip) = branch_tip(repository, reference) {
        return Some(tip);
    }
    if let Ok(found) = repository.find_reference(reference)
        && let Ok(commit) = found.peel_to_commit()
    {
        return Some(commit.id());
    }
    if let Ok(found) = repository.find_reference(&format!("refs/{reference}"))
        && let Ok(commit) = found.peel_to_commit()
    {
        return Some(commit.id());
    }
    if let Ok(found) = repository.find_reference(&format!("refs/tags/{reference}"))
        && let Ok(commit) = found.peel_to_commit()
    {
        return Some(commit.id());
    }
    if reference.len() >= 4 && reference.chars().all(|c| c.is_ascii_hexdigit()) {
        return repository
            .revparse_single(reference)
            .ok()
            .and_then(|object| object.peel_to_commit().ok())
            .map(|commit| commit.id());
    }
    None
}

/// Writes `files` (`None` deletes) on top of `parent`'s tree and commits it to `reference`.
pub(crate) fn commit_files(
    repository: &Repository,
    reference: &str,
    parent: Option<Oid>,
    files: &[(&str, Option<&str>)],
    message: &str,
    author: &Signature<'_>,
) -> Result<Oid, git2::Error> {
    let parent = parent.map(|oid| repository.find_commit(oid)).transpose()?;
    let base_tree = match &parent {
        Some(commit) => commit.tree()?,
        None => repository.find_tree(repository.treebuilder(None)?.write()?)?,
    };
    let mut update = TreeUpdateBuilder::new();
    for (path, content) in files {
        match content {
            Some(text) => {
                let blob = repository.blob(text.as_bytes())?;
                update.upsert(*path, blob, FileMode::Blob);
            }
            None => {
                update.remove(*path);
            }
        }
    }
    let tree = repository.find_tree(update.create_updated(repository, &base_tree)?)?;
    let committer = github_signature()?;
    let parents: Vec<&Commit<'_>> = parent.iter().collect();
    repository.commit(
        Some(reference),
        author,
        &committer,
        message,
        &tree,
        &parents,
    )
}

/// Whether `ancestor` is `commit` or one of its ancestors.
pub(crate) fn contains(repository: &Repository, commit: Oid, ancestor: Oid) -> bool {
    commit == ancestor
        || repository
            .graph_descendant_of(commit, ancestor)
            .unwrap_or(false)
}

/// The paths that conflict when merging `head` into `base` (empty: it merges cleanly).
pub(crate) fn merge_conflicts(
    repository: &Repository,
    base: Oid,
    head: Oid,
) -> Result<Vec<String>, git2::Error> {
    let index = repository.merge_commits(
        &repository.find_commit(base)?,
        &repository.find_commit(head)?,
        None,
    )?;
    let mut paths = Vec::new();
    if index.has_conflicts() {
        for conflict in index.conflicts()? {
            let conflict = conflict?;
            let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
            if let Some(entry) = entry {
                paths.push(String::from_utf8_lossy(&entry.path).into_owned());
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The commits of `head` that `base` lacks, oldest first.
pub(crate) fn commits_between(
    repository: &Repository,
    base: Oid,
    head: Oid,
) -> Result<Vec<Oid>, git2::Error> {
    let mut walk = repository.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    walk.push(head)?;
    walk.hide(base)?;
    walk.collect()
}

/// Why a merge could not be written.
#[derive(Debug)]
pub(crate) enum MergeFailure {
    /// The trees conflict (or, for a rebase, a commit does not apply).
    Conflict,
    /// libgit2 failed.
    Git(git2::Error),
}

impl From<git2::Error> for MergeFailure {
    fn from(error: git2::Error) -> Self {
        Self::Git(error)
    }
}

/// A merge method of `PUT .../merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One commit with the merged tree.
    Squash,
    /// Each head commit replayed on the base.
    Rebase,
}

/// Writes the merge of `head` into `base` with `method` and moves `base_ref` to it; returns
/// the new base tip.
pub(crate) fn merge(
    repository: &Repository,
    base_ref: &str,
    base: Oid,
    head: Oid,
    method: MergeMethod,
    message: &str,
    author: &Signature<'_>,
) -> Result<Oid, MergeFailure> {
    let committer = github_signature()?;
    let base_commit = repository.find_commit(base)?;
    let head_commit = repository.find_commit(head)?;
    let tip = match method {
        MergeMethod::Merge | MergeMethod::Squash => {
            let mut index = repository.merge_commits(&base_commit, &head_commit, None)?;
            if index.has_conflicts() {
                return Err(MergeFailure::Conflict);
            }
            let tree = repository.find_tree(index.write_tree_to(repository)?)?;
            let parents: Vec<&Commit<'_>> = if method == MergeMethod::Merge {
                vec![&base_commit, &head_commit]
            } else {
                vec![&base_commit]
            };
            repository.commit(None, author, &committer, message, &tree, &parents)?
        }
        MergeMethod::Rebase => {
            let mut onto = base;
            for oid in commits_between(repository, base, head)? {
                let commit = repository.find_commit(oid)?;
                if commit.parent_count() > 1 {
                    return Err(MergeFailure::Conflict);
                }
                let onto_commit = repository.find_commit(onto)?;
                let mut index = repository.cherrypick_commit(&commit, &onto_commit, 0, None)?;
                if index.has_conflicts() {
                    return Err(MergeFailure::Conflict);
                }
                let tree = repository.find_tree(index.write_tree_to(repository)?)?;
                onto = repository.commit(
                    None,
                    &commit.author(),
                    &committer,
                    commit.message().unwrap_or_default(),
                    &tree,
                    &[&onto_commit],
                )?;
            }
            onto
        }
    };
    repository.reference(base_ref, tip, true, "merge pull request")?;
    Ok(tip)
}

/// One file of a diff, as GitHub's `diff-entry` needs it.
#[derive(Debug, Clone)]
pub(crate) struct FileChange {
    /// The path (the new one for renames).
    pub(crate) filename: String,
    /// The path before a rename.
    pub(crate) previous_filename: Option<String>,
    /// `added`, `removed`, `modified` or `renamed`.
    pub(crate) status: &'static str,
    /// Added lines.
    pub(crate) additions: usize,
    /// Removed lines.
    pub(crate) deletions: usize,
    /// The new blob (`None` for a removed file).
    pub(crate) sha: Option<String>,
    /// The unified diff of the file, without the header.
    pub(crate) patch: Option<String>,
}

/// The file changes from `from` (a commit, or the empty tree) to `to`.
pub(crate) fn diff(
    repository: &Repository,
    from: Option<Oid>,
    to: Oid,
) -> Result<Vec<FileChange>, git2::Error> {
    let old_tree = from
        .map(|oid| repository.find_commit(oid).and_then(|commit| commit.tree()))
        .transpose()?;
    let new_tree = repository.find_commit(to)?.tree()?;
    let mut diff = repository.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)?;
    diff.find_similar(None)?;
    let mut changes = Vec::new();
    for index in 0..diff.deltas().len() {
        let Some(delta) = diff.get_delta(index) else {
            continue;
        };
        let path_of = |file: git2::DiffFile<'_>| {
            file.path()
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let status = match delta.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "removed",
            git2::Delta::Renamed => "renamed",
            git2::Delta::Copied => "copied",
            _ => "modified",
        };
        let filename = if status == "removed" {
            path_of(delta.old_file())
        } else {
            path_of(delta.new_file())
        };
        let previous_filename = (status == "renamed").then(|| path_of(delta.old_file()));
        let sha = (status != "removed").then(|| delta.new_file().id().to_string());
        let (mut additions, mut deletions, mut patch) = (0, 0, None);
        if let Some(mut file_patch) = git2::Patch::from_diff(&diff, index)? {
            let (_, added, removed) = file_patch.line_stats()?;
            additions = added;
            deletions = removed;
            let text = file_patch.to_buf()?;
            let text = String::from_utf8_lossy(&text).into_owned();
            patch = text.find("\n@@").map(|start| text[start + 1..].to_owned());
        }
        changes.push(FileChange {
            filename,
            previous_filename,
            status,
            additions,
            deletions,
            sha,
            patch,
        });
    }
    Ok(changes)
}

/// Whether an object id names a commit in the repository.
pub(crate) fn is_commit(repository: &Repository, oid: Oid) -> bool {
    repository
        .find_object(oid, Some(ObjectType::Commit))
        .is_ok()
}
