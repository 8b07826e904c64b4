//! `preview`: what a git action would do, found without changing anything.
//!
//! The preview runs the operation's first step in dry-run mode and describes
//! its plan: it moves no ref and writes no index or working tree (a commit's
//! preview stages in memory, which hashes the changed files into
//! unreferenced blobs, as `git add` would; a tag's or merge's builds no
//! object); a first step that would refuse the action
//! (a branch that exists elsewhere, a merge that conflicts, a push that is
//! not a fast-forward, a clone into a non-empty folder) makes the preview
//! `blocked` with that reason. A push preview connects to the remote to read
//! its ref: a read.

use git2::Delta;
use plangate_plans::action::GitOp;

use super::{
    job::{Fail, Job, Step, count, short},
    ops::{self, Plan, head_state, short_ref},
};
use crate::preview::{ChangeKind, Preview, PreviewChange};

/// The preview of `job`'s action (a [`Job`] with `dry_run` set).
pub(super) fn preview(job: &Job) -> Step<Preview> {
    // In a dry run, the repository an earlier task clones does not exist
    // yet: that is not a failure, and there is nothing to read.
    if job.action.op != GitOp::Clone && !job.repo.exists() {
        return Ok(Preview::new(
            format!(
                "would {} in `{}`, which does not exist yet (an earlier task may create it); nothing to compare against",
                job.action.op.as_str(),
                job.repo_label
            ),
            vec![change(job.repo_label.clone(), ChangeKind::Unknown)],
        ));
    }
    let result = match job.action.op {
        GitOp::Commit => preview_commit(job),
        _ => ops::prepare(job).map(|prepared| describe(job, &prepared.plan)),
    };
    match result {
        Err(Fail::Action(reason)) => {
            let reason = job.redact(&reason);
            Ok(Preview::new(
                format!("git {} would be refused: {reason}", job.action.op.as_str()),
                Vec::new(),
            )
            .blocked_by(reason))
        }
        other => other,
    }
}

fn change(object: impl Into<String>, change: ChangeKind) -> PreviewChange {
    PreviewChange {
        object: object.into(),
        change,
        diff: None,
    }
}

fn preview_commit(job: &Job) -> Step<Preview> {
    let repo = job.open()?;
    let (head, branch) = head_state(job, &repo)?;
    let branch = branch.map_or_else(|| "HEAD".to_owned(), |branch| short_ref(&branch).to_owned());
    let mut index = repo.index().map_err(job.git())?;
    ops::stage(job, &mut index, &job.action.paths)?;
    let parent_tree = head
        .map(|oid| repo.find_commit(oid).and_then(|commit| commit.tree()))
        .transpose()
        .map_err(job.git())?;
    let diff = repo
        .diff_tree_to_index(parent_tree.as_ref(), Some(&index), None)
        .map_err(job.git())?;
    let changes: Vec<PreviewChange> = diff
        .deltas()
        .map(|delta| {
            let path = delta
                .new_file()
                .path()
                .or_else(|| delta.old_file().path())
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = match delta.status() {
                Delta::Added | Delta::Copied => ChangeKind::Create,
                Delta::Deleted => ChangeKind::Delete,
                _ => ChangeKind::Update,
            };
            change(path, kind)
        })
        .collect();
    let summary = if changes.is_empty() {
        format!("git commit on {branch}: nothing to commit")
    } else {
        let counted = |kind: ChangeKind| changes.iter().filter(|c| c.change == kind).count();
        format!(
            "git commit on {branch}: {} ({} added, {} modified, {} deleted)",
            count(changes.len(), "file"),
            counted(ChangeKind::Create),
            counted(ChangeKind::Update),
            counted(ChangeKind::Delete)
        )
    };
    Ok(Preview::new(summary, changes)
        .with_detail("branch", branch)
        .with_detail(
            "HEAD",
            head.map_or_else(|| "no commit yet".to_owned(), |oid| oid.to_string()),
        )
        .with_detail("message", job.action.message.clone().unwrap_or_default()))
}

fn describe(job: &Job, plan: &Plan) -> Preview {
    let op = job.action.op.as_str();
    match plan {
        Plan::Nothing(reason) => Preview::new(
            format!("git {op}: {}", job.redact(reason)),
            vec![change(job.repo_label.clone(), ChangeKind::Unchanged)],
        ),
        Plan::Commit { .. } => Preview::new(format!("git {op}"), Vec::new()),
        Plan::CreateRef { name, target } => Preview::new(
            format!(
                "git {op}: would create {} at {}",
                ops::describe_ref(name),
                short(&target.to_string())
            ),
            vec![change(name.clone(), ChangeKind::Create)],
        )
        .with_detail("target", target.to_string()),
        Plan::Checkout {
            name,
            target,
            create,
        } => {
            let mut changes = vec![change("HEAD", ChangeKind::Update)];
            if create.is_some() {
                changes.push(change(name.clone(), ChangeKind::Create));
            }
            Preview::new(
                format!(
                    "git checkout: would switch to {} at {}{}",
                    short_ref(name),
                    short(&target.to_string()),
                    create.as_ref().map_or_else(String::new, |upstream| format!(
                        ", a new branch tracking {upstream}"
                    ))
                ),
                changes,
            )
        }
        Plan::Merge {
            reference,
            before,
            after,
            fast_forward,
        } => {
            let how = if *fast_forward {
                format!("a fast-forward to {}", short(&after.to_string()))
            } else {
                "a merge commit".to_owned()
            };
            Preview::new(
                format!(
                    "git merge of {} into {}: {how}, no conflicts",
                    job.action.from.as_deref().unwrap_or_default(),
                    short_ref(reference)
                ),
                vec![change(reference.clone(), ChangeKind::Update)],
            )
            .with_detail("before", before.to_string())
            .with_detail(
                "kind",
                if *fast_forward {
                    "fast-forward"
                } else {
                    "merge-commit"
                },
            )
        }
        Plan::Push(push) => {
            let remote_sha = push
                .remote_before
                .map_or_else(|| "absent".to_owned(), |oid| oid.to_string());
            let local_sha = push
                .pushed
                .map_or_else(|| "(delete)".to_owned(), |oid| oid.to_string());
            let kind = match (push.remote_before, push.pushed) {
                (None, Some(_)) => ChangeKind::Create,
                (_, None) => ChangeKind::Delete,
                _ => ChangeKind::Update,
            };
            Preview::new(
                format!(
                    "git push to {} {}: {} -> {}",
                    push.remote,
                    push.remote_ref,
                    short(&remote_sha),
                    short(&local_sha)
                ),
                vec![change(format!("{} {}", push.remote, push.remote_ref), kind)],
            )
            .with_detail("remote sha", remote_sha)
            .with_detail("local sha", local_sha)
            .with_detail(
                "fast-forward",
                if push.refspec.starts_with('+') {
                    "forced"
                } else {
                    "yes"
                },
            )
        }
        Plan::Clone(_) => Preview::new(
            format!(
                "git clone of {} into {}",
                job.redact(job.action.url.as_deref().unwrap_or_default()),
                job.repo_label
            ),
            vec![change(job.repo_label.clone(), ChangeKind::Create)],
        )
        .with_detail(
            "url",
            job.redact(job.action.url.as_deref().unwrap_or_default()),
        ),
        Plan::Fetch(_) => Preview::new(
            format!(
                "git fetch from {}{}",
                job.action.remote.as_deref().unwrap_or("origin"),
                job.action
                    .refspec
                    .as_ref()
                    .map_or_else(String::new, |refspec| format!(" ({refspec})"))
            ),
            vec![change(
                format!(
                    "refs/remotes/{}",
                    job.action.remote.as_deref().unwrap_or("origin")
                ),
                ChangeKind::Unknown,
            )],
        ),
    }
}
