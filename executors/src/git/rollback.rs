//! `rollback: auto`: each operation's inverse, from the evidence its apply
//! recorded.
//!
//! - `commit`, and a `merge` that made a merge commit: a revert commit of
//!   the created commit (libgit2's `revert_commit` in memory, mainline 1 for
//!   a merge commit) on the branch, even if the branch moved since; a revert
//!   that conflicts is a failed outcome naming the paths.
//! - a fast-forward `merge`: the branch moves back, only if it is still
//!   where the merge left it.
//! - `branch`, `tag`: deleted, only if plangate created it and it still
//!   points at what plangate created.
//! - `checkout`: the previous branch (or detached commit) is checked out
//!   again; a branch the checkout created from `origin/NAME` is deleted.
//! - `clone`: the folder is removed if plangate created it, else emptied.
//! - `fetch`: every ref it moved is put back, where it still holds what the
//!   fetch wrote.
//! - `push` (only with `force_rollback: true`): force-with-lease. The
//!   remote ref is read now; if it is not the sha plangate pushed, nothing is
//!   pushed and the rollback fails naming both shas; else the old sha is
//!   force-pushed (or the ref deleted when it did not exist). libgit2 has no
//!   atomic lease, so this is check-then-push: a push by someone else
//!   between the check and the forced push would be overwritten.
//!
//! An action whose evidence says nothing changed has nothing to undo.

use git2::{Oid, Repository};
use plangate_plans::action::GitOp;

use super::{
    evidence::{GitEvidence, RefChange},
    job::{Fail, Job, Step, short},
    ops::{
        advance, conflict_paths, head_state, is_checked_out, ref_value, short_ref, signature,
        switch_to,
    },
    remote::{push_refspec, remote_ref_now, remove_clone},
};

/// Undoes the action `evidence` belongs to. Returns what happened, in
/// words, and the refs the rollback moved.
pub(super) fn rollback(job: &Job, evidence: &GitEvidence) -> Step<(String, GitEvidence)> {
    job.check_stop()?;
    let mut done = GitEvidence::new(job);
    if let Some(reason) = &evidence.no_change {
        done.no_change = Some(reason.clone());
        return Ok((
            format!(
                "nothing to undo: the {} changed nothing ({reason})",
                evidence.op
            ),
            done,
        ));
    }
    if !evidence.applied
        && evidence.refs.is_empty()
        && evidence.push.is_none()
        && evidence.clone.is_none()
        && evidence.fetch.is_none()
    {
        return Ok((
            "nothing to undo: the action changed nothing".to_owned(),
            done,
        ));
    }
    let said = match job.action.op {
        GitOp::Commit => revert_created(job, evidence, &mut done)?,
        GitOp::Merge => match evidence.merge.as_deref() {
            Some("fast-forward") => undo_fast_forward(job, evidence, &mut done)?,
            _ => revert_created(job, evidence, &mut done)?,
        },
        GitOp::Branch | GitOp::Tag => delete_created(job, evidence, &mut done)?,
        GitOp::Checkout => undo_checkout(job, evidence, &mut done)?,
        GitOp::Clone => undo_clone(job, evidence)?,
        GitOp::Fetch => undo_fetch(job, evidence, &mut done)?,
        GitOp::Push => undo_push(job, evidence, &mut done)?,
    };
    done.applied = true;
    Ok((said, done))
}

fn oid(job: &Job, sha: &str) -> Step<Oid> {
    Oid::from_str(sha).map_err(job.git())
}

fn optional_oid(job: &Job, sha: Option<&str>) -> Step<Option<Oid>> {
    sha.map(|sha| oid(job, sha)).transpose()
}

/// The one ref change the evidence of a commit or merge holds.
fn the_ref(evidence: &GitEvidence) -> Step<&RefChange> {
    evidence.refs.first().ok_or_else(|| {
        Fail::Action("the evidence names no ref the action moved: nothing to undo".to_owned())
    })
}

/// A revert commit of the commit `evidence` created, on its branch.
fn revert_created(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let Some(created) = evidence.commit.as_deref() else {
        return Err(Fail::Action(
            "the evidence names no commit the action created: nothing to revert".to_owned(),
        ));
    };
    let reference = the_ref(evidence)?.name.clone();
    let repo = job.open()?;
    let created = repo.find_commit(oid(job, created)?).map_err(job.git())?;
    let Some(ours_id) = current(job, &repo, &reference)? else {
        return Err(Fail::Action(format!(
            "`{reference}` no longer exists: nothing to revert {} on",
            short(&created.id().to_string())
        )));
    };
    let ours = repo.find_commit(ours_id).map_err(job.git())?;
    let mainline = u32::from(created.parent_count() > 1);
    let mut index = repo
        .revert_commit(&created, &ours, mainline, None)
        .map_err(job.git())?;
    if index.has_conflicts() {
        let paths = conflict_paths(job, &index)?;
        return Err(Fail::Action(format!(
            "reverting {} on {} (now at {}) conflicts: {}",
            short(&created.id().to_string()),
            short_ref(&reference),
            short(&ours_id.to_string()),
            super::job::list_paths(&paths)
        )));
    }
    let tree_id = index.write_tree_to(&repo).map_err(job.git())?;
    if tree_id == ours.tree_id() {
        return Ok(format!(
            "nothing to revert: {} already has none of {}'s changes",
            short_ref(&reference),
            short(&created.id().to_string())
        ));
    }
    let tree = repo.find_tree(tree_id).map_err(job.git())?;
    let message = format!(
        "Revert \"{}\"\n\nThis reverts commit {}.\n",
        created.summary().ok().flatten().unwrap_or_default(),
        created.id()
    );
    let signature = signature(&repo);
    let revert = repo
        .commit(None, &signature, &signature, &message, &tree, &[&ours])
        .map_err(job.git())?;
    advance(
        job,
        &repo,
        &reference,
        ours_id,
        revert,
        "plangate: rollback",
    )?;
    done.commit = Some(revert.to_string());
    done.refs = vec![RefChange {
        name: reference.clone(),
        before: Some(ours_id.to_string()),
        after: Some(revert.to_string()),
    }];
    Ok(format!(
        "reverted {} with {} on {}",
        short(&created.id().to_string()),
        short(&revert.to_string()),
        short_ref(&reference)
    ))
}

/// `reference`'s sha now (`HEAD` when detached).
fn current(job: &Job, repo: &Repository, reference: &str) -> Step<Option<Oid>> {
    if reference == "HEAD" {
        Ok(head_state(job, repo)?.0)
    } else {
        ref_value(job, repo, reference)
    }
}

fn undo_fast_forward(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let change = the_ref(evidence)?;
    let repo = job.open()?;
    let (Some(before), Some(after)) = (
        optional_oid(job, change.before.as_deref())?,
        optional_oid(job, change.after.as_deref())?,
    ) else {
        return Err(Fail::Action(
            "the evidence of the fast-forward is incomplete".to_owned(),
        ));
    };
    let now = current(job, &repo, &change.name)?;
    if now != Some(after) {
        return Err(Fail::Action(format!(
            "{} moved since the fast-forward to {} (it is at {}): not moved back to {}",
            short_ref(&change.name),
            short(&after.to_string()),
            now.map_or_else(
                || "nothing".to_owned(),
                |oid| short(&oid.to_string()).to_owned()
            ),
            short(&before.to_string())
        )));
    }
    advance(
        job,
        &repo,
        &change.name,
        after,
        before,
        "plangate: rollback",
    )?;
    done.refs = vec![RefChange {
        name: change.name.clone(),
        before: change.after.clone(),
        after: change.before.clone(),
    }];
    Ok(format!(
        "moved {} back from {} to {}",
        short_ref(&change.name),
        short(&after.to_string()),
        short(&before.to_string())
    ))
}

fn delete_created(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let change = the_ref(evidence)?;
    let name = short_ref(&change.name);
    if evidence.created != Some(true) {
        return Ok(format!("nothing to undo: plangate did not create {name}"));
    }
    let repo = job.open()?;
    let created = optional_oid(job, change.after.as_deref())?;
    let now = ref_value(job, &repo, &change.name)?;
    match now {
        None => return Ok(format!("nothing to undo: {name} no longer exists")),
        Some(now) if Some(now) != created => {
            return Err(Fail::Action(format!(
                "{name} now points at {}, not at {} where plangate created it: left in place",
                short(&now.to_string()),
                created.map_or_else(String::new, |oid| short(&oid.to_string()).to_owned())
            )));
        }
        Some(_) => {}
    }
    if change.name.starts_with("refs/heads/") && is_checked_out(job, &repo, &change.name)? {
        return Err(Fail::Action(format!(
            "branch {name} is checked out: not deleted"
        )));
    }
    let mut reference = repo.find_reference(&change.name).map_err(job.git())?;
    reference.delete().map_err(job.git())?;
    done.refs = vec![RefChange {
        name: change.name.clone(),
        before: change.after.clone(),
        after: None,
    }];
    Ok(format!(
        "deleted {} (was {})",
        super::ops::describe_ref(&change.name),
        created.map_or_else(String::new, |oid| short(&oid.to_string()).to_owned())
    ))
}

fn undo_checkout(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let repo = job.open()?;
    let (head, branch) = head_state(job, &repo)?;
    if branch != evidence.branch_after {
        return Err(Fail::Action(format!(
            "`HEAD` is on {} now, not on {}: not switched back",
            branch.as_deref().map_or("a detached commit", short_ref),
            evidence.branch_after.as_deref().map_or("", short_ref)
        )));
    }
    let said = match &evidence.branch_before {
        Some(before) => {
            let Some(target) = ref_value(job, &repo, before)? else {
                return Err(Fail::Action(format!(
                    "the previous branch {} no longer exists",
                    short_ref(before)
                )));
            };
            switch_to(job, &repo, Some(before), target)?;
            format!("switched back to {}", short_ref(before))
        }
        None => {
            let Some(target) = optional_oid(job, evidence.head_before.as_deref())? else {
                return Err(Fail::Action(
                    "the evidence has no previous `HEAD` to go back to".to_owned(),
                ));
            };
            switch_to(job, &repo, None, target)?;
            format!("detached `HEAD` at {} again", short(&target.to_string()))
        }
    };
    done.branch_before.clone_from(&branch);
    done.head_before = head.map(|oid| oid.to_string());
    done.branch_after.clone_from(&evidence.branch_before);
    let mut said = said;
    if evidence.created == Some(true) {
        if let Some(change) = evidence.refs.first() {
            let created = optional_oid(job, change.after.as_deref())?;
            if ref_value(job, &repo, &change.name)? == created {
                let mut reference = repo.find_reference(&change.name).map_err(job.git())?;
                reference.delete().map_err(job.git())?;
                done.refs.push(RefChange {
                    name: change.name.clone(),
                    before: change.after.clone(),
                    after: None,
                });
                said.push_str(&format!("; deleted branch {}", short_ref(&change.name)));
            } else {
                said.push_str(&format!(
                    "; branch {} moved since, left in place",
                    short_ref(&change.name)
                ));
            }
        }
    }
    Ok(said)
}

fn undo_clone(job: &Job, evidence: &GitEvidence) -> Step<String> {
    let Some(clone) = &evidence.clone else {
        return Err(Fail::Action(
            "the evidence of the clone is incomplete".to_owned(),
        ));
    };
    remove_clone(&job.repo, clone.created_folder).map_err(|error| {
        Fail::Action(format!(
            "failed to remove the clone `{}`: {error}",
            job.repo_label
        ))
    })?;
    Ok(if clone.created_folder {
        format!("removed the clone {}", job.repo_label)
    } else {
        format!(
            "emptied {} again (it existed, empty, before the clone)",
            job.repo_label
        )
    })
}

fn undo_fetch(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let repo = job.open()?;
    let mut restored = Vec::new();
    let mut moved = Vec::new();
    for change in &evidence.refs {
        let after = optional_oid(job, change.after.as_deref())?;
        let before = optional_oid(job, change.before.as_deref())?;
        let now = ref_value(job, &repo, &change.name)?;
        if now != after {
            moved.push(short_ref(&change.name).to_owned());
            continue;
        }
        match (before, now) {
            (Some(before), _) => {
                repo.reference(&change.name, before, true, "plangate: rollback of fetch")
                    .map_err(job.git())?;
            }
            (None, Some(_)) => {
                let mut reference = repo.find_reference(&change.name).map_err(job.git())?;
                reference.delete().map_err(job.git())?;
            }
            (None, None) => {}
        }
        restored.push(short_ref(&change.name).to_owned());
        done.refs.push(RefChange {
            name: change.name.clone(),
            before: change.after.clone(),
            after: change.before.clone(),
        });
    }
    if !moved.is_empty() {
        return Err(Fail::Action(format!(
            "restored {} of the fetched refs; moved since, left in place: {}",
            restored.len(),
            super::job::list_paths(&moved)
        )));
    }
    Ok(format!(
        "restored {}",
        super::job::count(restored.len(), "ref")
    ))
}

fn undo_push(job: &Job, evidence: &GitEvidence, done: &mut GitEvidence) -> Step<String> {
    let Some(push) = &evidence.push else {
        return Err(Fail::Action(
            "the evidence of the push is incomplete".to_owned(),
        ));
    };
    if !job.action.force_rollback {
        return Err(Fail::Action(
            "a push is rolled back only with `force_rollback: true`".to_owned(),
        ));
    }
    let repo = job.open()?;
    let pushed = optional_oid(job, push.pushed.as_deref())?;
    let before = optional_oid(job, push.remote_before.as_deref())?;
    let now = remote_ref_now(job, &repo, &push.remote, &push.remote_ref)?;
    let describe = |oid: Option<Oid>| {
        oid.map_or_else(
            || "absent".to_owned(),
            |oid| format!("at {}", short(&oid.to_string())),
        )
    };
    if now != pushed {
        return Err(Fail::Action(format!(
            "refusing to move {} {} back: it is {} now, not at {} that plangate pushed (force-with-lease); nothing pushed",
            push.remote,
            push.remote_ref,
            describe(now),
            pushed.map_or_else(|| "absent".to_owned(), |oid| oid.to_string())
        )));
    }
    let refspec = match before {
        Some(before) => {
            if repo.find_commit(before).is_err() {
                return Err(Fail::Action(format!(
                    "the previous sha {} of {} is not in the local repository: nothing pushed",
                    short(&before.to_string()),
                    push.remote_ref
                )));
            }
            format!("+{before}:{}", push.remote_ref)
        }
        None => format!(":{}", push.remote_ref),
    };
    job.check_stop()?;
    push_refspec(job, &repo, &push.remote, &refspec)?;
    done.push = Some(super::evidence::PushEvidence {
        remote: push.remote.clone(),
        url: push.url.clone(),
        local_ref: String::new(),
        remote_ref: push.remote_ref.clone(),
        remote_before: push.pushed.clone(),
        pushed: push.remote_before.clone(),
        forced: true,
    });
    Ok(match before {
        Some(before) => format!(
            "moved {} {} back to {} (it was {} after the push)",
            push.remote,
            push.remote_ref,
            short(&before.to_string()),
            pushed.map_or_else(
                || "absent".to_owned(),
                |oid| short(&oid.to_string()).to_owned()
            )
        ),
        None => format!(
            "deleted {} {} (it did not exist before the push)",
            push.remote, push.remote_ref
        ),
    })
}
