//! `observe` after a crash: the refs now, compared with the evidence recorded
//! before the side effect (which names each ref's value before and the one
//! the action was to write).

use git2::Oid;
use plangate_plans::action::GitOp;

use super::{
    evidence::GitEvidence,
    job::{Job, Step, short},
    ops::{head_state, ref_value, short_ref},
    remote::remote_ref_now,
};
use crate::outcome::Observation;

/// Whether the action of `evidence` took effect.
pub(super) fn observe(job: &Job, evidence: &GitEvidence) -> Step<Observation> {
    if evidence.no_change.is_some() {
        return Ok(Observation::Applied);
    }
    match job.action.op {
        GitOp::Clone => Ok(observe_clone(job)),
        GitOp::Checkout => observe_checkout(job, evidence),
        GitOp::Push => observe_push(job, evidence),
        GitOp::Fetch => observe_fetch(job, evidence),
        GitOp::Commit | GitOp::Branch | GitOp::Tag | GitOp::Merge => observe_refs(job, evidence),
    }
}

fn describe(sha: Option<&str>) -> String {
    sha.map_or_else(|| "absent".to_owned(), |sha| format!("at {}", short(sha)))
}

fn observe_refs(job: &Job, evidence: &GitEvidence) -> Step<Observation> {
    let repo = job.open()?;
    let mut applied = Vec::new();
    let mut not_applied = Vec::new();
    let mut elsewhere = Vec::new();
    for change in &evidence.refs {
        let now = if change.name == "HEAD" {
            head_state(job, &repo)?.0
        } else {
            ref_value(job, &repo, &change.name)?
        };
        let now = now.map(|oid| oid.to_string());
        if now == change.after {
            applied.push(short_ref(&change.name).to_owned());
        } else if now == change.before {
            not_applied.push(short_ref(&change.name).to_owned());
        } else {
            elsewhere.push(format!(
                "{} is {} (before {}, planned {})",
                short_ref(&change.name),
                describe(now.as_deref()),
                describe(change.before.as_deref()),
                describe(change.after.as_deref())
            ));
        }
    }
    Ok(judge(&applied, &not_applied, &elsewhere))
}

fn judge(applied: &[String], not_applied: &[String], elsewhere: &[String]) -> Observation {
    if elsewhere.is_empty() && not_applied.is_empty() {
        Observation::Applied
    } else if elsewhere.is_empty() && applied.is_empty() {
        Observation::NotApplied
    } else {
        let mut parts = Vec::new();
        if !applied.is_empty() {
            parts.push(format!("moved: {}", applied.join(", ")));
        }
        if !not_applied.is_empty() {
            parts.push(format!("not moved: {}", not_applied.join(", ")));
        }
        parts.extend(elsewhere.iter().cloned());
        Observation::Partial {
            detail: parts.join("; "),
        }
    }
}

fn observe_clone(job: &Job) -> Observation {
    match git2::Repository::open(&job.repo) {
        Ok(repo) if repo.head().is_ok() => Observation::Applied,
        Ok(_) => Observation::Partial {
            detail: format!(
                "`{}` is a repository with no commit checked out",
                job.repo_label
            ),
        },
        Err(_) => {
            let holds_files =
                std::fs::read_dir(&job.repo).is_ok_and(|mut entries| entries.next().is_some());
            if holds_files {
                Observation::Partial {
                    detail: format!("`{}` holds files but no repository", job.repo_label),
                }
            } else {
                Observation::NotApplied
            }
        }
    }
}

fn observe_checkout(job: &Job, evidence: &GitEvidence) -> Step<Observation> {
    let repo = job.open()?;
    let (_, branch) = head_state(job, &repo)?;
    Ok(if branch == evidence.branch_after {
        Observation::Applied
    } else if branch == evidence.branch_before {
        Observation::NotApplied
    } else {
        Observation::Partial {
            detail: format!(
                "`HEAD` is on {}, neither the branch before nor the one checked out",
                branch.as_deref().map_or("a detached commit", short_ref)
            ),
        }
    })
}

fn observe_push(job: &Job, evidence: &GitEvidence) -> Step<Observation> {
    let Some(push) = &evidence.push else {
        return Ok(Observation::Unknown);
    };
    let repo = job.open()?;
    let now =
        remote_ref_now(job, &repo, &push.remote, &push.remote_ref)?.map(|oid| oid.to_string());
    Ok(if now == push.pushed {
        Observation::Applied
    } else if now == push.remote_before {
        Observation::NotApplied
    } else {
        Observation::Partial {
            detail: format!(
                "{} {} is {}: neither {} before the push nor {} pushed",
                push.remote,
                push.remote_ref,
                describe(now.as_deref()),
                describe(push.remote_before.as_deref()),
                describe(push.pushed.as_deref())
            ),
        }
    })
}

fn observe_fetch(job: &Job, evidence: &GitEvidence) -> Step<Observation> {
    let Some(fetch) = &evidence.fetch else {
        return Ok(Observation::Unknown);
    };
    let repo = job.open()?;
    for value in &fetch.refs_before {
        let now = ref_value(job, &repo, &value.name)?;
        if now != Oid::from_str(&value.sha).ok() {
            return Ok(Observation::Applied);
        }
    }
    // Every ref is as before: the fetch did not run, or brought nothing;
    // fetching again is harmless either way.
    Ok(Observation::NotApplied)
}
