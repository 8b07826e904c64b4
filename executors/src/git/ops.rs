//! The operations, in two steps each: [`prepare`] reads the repository,
//! decides what will change and builds the objects the change needs (a
//! commit, a tag object: unreferenced until the second step, so invisible),
//! returning the evidence to record; [`finish`] carries out the change (moves
//! refs, updates the working tree, talks to the remote). The executor
//! records the evidence between the two.
//!
//! The repository-local operations live here; `push`, `fetch` and `clone`
//! in `remote.rs`.

use git2::{
    BranchType, Commit, IndexAddOption, ObjectType, Oid, Repository, Signature, Tree,
    build::CheckoutBuilder,
};
use plangate_plans::action::GitOp;

use super::{
    evidence::{GitEvidence, RefChange},
    job::{Fail, Job, Step, count, list_paths, short},
    remote::{self, ClonePlan, FetchPlan, PushPlan},
};

/// What [`prepare`] found: the evidence to record and the change to make.
pub(super) struct Prepared {
    /// The evidence, with `applied: false`.
    pub(super) evidence: GitEvidence,
    /// What the second step does.
    pub(super) plan: Plan,
}

/// The change [`finish`] makes.
pub(super) enum Plan {
    /// Nothing changes, for this reason (`nothing to commit`).
    Nothing(String),
    /// Point `reference` (a branch, or `HEAD` when detached) at the new
    /// `commit` and make the index match it.
    Commit {
        reference: String,
        before: Option<Oid>,
        commit: Oid,
        files: usize,
    },
    /// Create ref `name` at `target`.
    CreateRef { name: String, target: Oid },
    /// Check out branch `name` (creating it at `target` from the remote-tracking
    /// branch when `create`).
    Checkout {
        name: String,
        target: Oid,
        create: Option<String>,
    },
    /// Move `reference` from `before` to `after` and update the working tree.
    Merge {
        reference: String,
        before: Oid,
        after: Oid,
        fast_forward: bool,
    },
    /// Push.
    Push(PushPlan),
    /// Clone.
    Clone(ClonePlan),
    /// Fetch.
    Fetch(FetchPlan),
}

/// The command line the outcome shows for `job`'s action.
pub(super) fn command(job: &Job) -> String {
    let action = &job.action;
    let text = |field: &Option<String>| field.clone().unwrap_or_default();
    let mut argv: Vec<String> = vec!["git".to_owned(), action.op.as_str().to_owned()];
    match action.op {
        GitOp::Commit => {
            argv.extend(["-m".to_owned(), text(&action.message)]);
            if !action.paths.is_empty() {
                argv.push("--".to_owned());
                argv.extend(action.paths.iter().cloned());
            }
        }
        GitOp::Branch | GitOp::Checkout => {
            argv.push(text(&action.branch));
            argv.extend(action.from.clone());
        }
        GitOp::Tag => {
            if let Some(message) = &action.message {
                argv.extend(["-a".to_owned(), "-m".to_owned(), message.clone()]);
            }
            argv.push(text(&action.tag));
            argv.extend(action.from.clone());
        }
        GitOp::Merge => {
            if let Some(message) = &action.message {
                argv.extend(["-m".to_owned(), message.clone()]);
            }
            argv.push(text(&action.from));
        }
        GitOp::Push | GitOp::Fetch => {
            argv.push(action.remote.clone().unwrap_or_else(|| "origin".to_owned()));
            argv.extend(action.refspec.clone());
        }
        GitOp::Clone => {
            if let Some(branch) = &action.branch {
                argv.extend(["--branch".to_owned(), branch.clone()]);
            }
            argv.extend([text(&action.url), job.repo_label.clone()]);
        }
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    job.command(&argv)
}

/// The first step of `job`'s operation.
pub(super) fn prepare(job: &Job) -> Step<Prepared> {
    job.check_stop()?;
    match job.action.op {
        GitOp::Commit => prepare_commit(job),
        GitOp::Branch => prepare_create_ref(job, RefKind::Branch),
        GitOp::Tag => prepare_create_ref(job, RefKind::Tag),
        GitOp::Checkout => prepare_checkout(job),
        GitOp::Merge => prepare_merge(job),
        GitOp::Push => remote::prepare_push(job),
        GitOp::Clone => remote::prepare_clone(job),
        GitOp::Fetch => remote::prepare_fetch(job),
    }
}

/// The second step: the change. Returns the completed evidence and what
/// happened, in words.
pub(super) fn finish(job: &Job, prepared: Prepared) -> Step<(GitEvidence, String)> {
    job.check_stop()?;
    let mut evidence = prepared.evidence;
    let message = format!("plangate: git {}", job.action.op.as_str());
    let said = match prepared.plan {
        Plan::Nothing(reason) => return Ok((evidence, reason)),
        Plan::Commit {
            reference,
            before,
            commit,
            files,
        } => {
            let repo = job.open()?;
            set_ref(job, &repo, &reference, commit, before, &message)?;
            let tree = repo
                .find_commit(commit)
                .and_then(|commit| commit.tree())
                .map_err(job.git())?;
            let mut index = repo.index().map_err(job.git())?;
            index
                .read_tree(&tree)
                .and_then(|()| index.write())
                .map_err(job.git())?;
            format!(
                "committed {} on {}: {}",
                short(&commit.to_string()),
                short_ref(&reference),
                count(files, "file")
            )
        }
        Plan::CreateRef { name, target } => {
            let repo = job.open()?;
            set_ref(job, &repo, &name, target, None, &message)?;
            format!(
                "created {} at {}",
                describe_ref(&name),
                short(&target.to_string())
            )
        }
        Plan::Checkout {
            name,
            target,
            create,
        } => {
            let repo = job.open()?;
            if let Some(upstream) = &create {
                set_ref(job, &repo, &name, target, None, &message)?;
                // The upstream is a convenience: a branch without one is
                // still the branch asked for.
                let tracked = repo
                    .find_branch(short_ref(&name), BranchType::Local)
                    .and_then(|mut branch| branch.set_upstream(Some(upstream)));
                if let Err(error) = tracked {
                    tracing::warn!(
                        error = %job.redact(error.message()),
                        "failed to set the upstream of a branch checked out from a remote-tracking one"
                    );
                }
            }
            switch_to(job, &repo, Some(&name), target)?;
            match create {
                Some(upstream) => format!(
                    "switched to new branch {} at {} (tracking {upstream})",
                    short_ref(&name),
                    short(&target.to_string())
                ),
                None => format!(
                    "switched to {} at {}",
                    short_ref(&name),
                    short(&target.to_string())
                ),
            }
        }
        Plan::Merge {
            reference,
            before,
            after,
            fast_forward,
        } => {
            let repo = job.open()?;
            advance(job, &repo, &reference, before, after, &message)?;
            if fast_forward {
                format!(
                    "fast-forwarded {} from {} to {}",
                    short_ref(&reference),
                    short(&before.to_string()),
                    short(&after.to_string())
                )
            } else {
                format!(
                    "merged into {} with {}",
                    short_ref(&reference),
                    short(&after.to_string())
                )
            }
        }
        Plan::Push(plan) => remote::finish_push(job, &plan)?,
        Plan::Clone(plan) => remote::finish_clone(job, &plan, &mut evidence)?,
        Plan::Fetch(plan) => remote::finish_fetch(job, &plan, &mut evidence)?,
    };
    evidence.applied = true;
    Ok((evidence, said))
}

fn prepare_commit(job: &Job) -> Step<Prepared> {
    let repo = job.open()?;
    if repo.is_bare() {
        return Err(Fail::Action(format!(
            "`{}` is a bare repository: it has no working tree to commit",
            job.repo_label
        )));
    }
    let (head, branch) = head_state(job, &repo)?;
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = head.map(|oid| oid.to_string());
    evidence.branch_before.clone_from(&branch);
    evidence.branch_after.clone_from(&branch);
    let mut index = repo.index().map_err(job.git())?;
    stage(job, &mut index, &job.action.paths)?;
    let tree_id = index.write_tree().map_err(job.git())?;
    let tree = repo.find_tree(tree_id).map_err(job.git())?;
    let parent = head
        .map(|oid| repo.find_commit(oid))
        .transpose()
        .map_err(job.git())?;
    let parent_tree = parent
        .as_ref()
        .map(Commit::tree)
        .transpose()
        .map_err(job.git())?;
    let files = changed_files(job, &repo, parent_tree.as_ref(), &tree)?;
    let reference = branch.clone().unwrap_or_else(|| "HEAD".to_owned());
    if files.is_empty() {
        let reason = format!("nothing to commit on {}", short_ref(&reference));
        evidence.head_after.clone_from(&evidence.head_before);
        evidence.no_change = Some("nothing to commit".to_owned());
        return Ok(Prepared {
            evidence,
            plan: Plan::Nothing(reason),
        });
    }
    let signature = signature(&repo);
    let message = job.action.message.clone().unwrap_or_default();
    let parents: Vec<&Commit<'_>> = parent.iter().collect();
    let commit = repo
        .commit(None, &signature, &signature, &message, &tree, &parents)
        .map_err(job.git())?;
    evidence.commit = Some(commit.to_string());
    evidence.head_after = Some(commit.to_string());
    evidence.refs = vec![RefChange {
        name: reference.clone(),
        before: evidence.head_before.clone(),
        after: Some(commit.to_string()),
    }];
    Ok(Prepared {
        evidence,
        plan: Plan::Commit {
            reference,
            before: head,
            commit,
            files: files.len(),
        },
    })
}

/// A branch or a tag.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RefKind {
    Branch,
    Tag,
}

fn prepare_create_ref(job: &Job, kind: RefKind) -> Step<Prepared> {
    let repo = job.open()?;
    let (short_name, name) = match kind {
        RefKind::Branch => {
            let branch = job.action.branch.clone().unwrap_or_default();
            let name = format!("refs/heads/{branch}");
            (branch, name)
        }
        RefKind::Tag => {
            let tag = job.action.tag.clone().unwrap_or_default();
            let name = format!("refs/tags/{tag}");
            (tag, name)
        }
    };
    if !git2::Reference::is_valid_name(&name) {
        return Err(Fail::Action(format!(
            "`{short_name}` is not a valid {} name",
            kind.word()
        )));
    }
    let from = job.action.from.as_deref().unwrap_or("HEAD");
    let target = resolve_commit(job, &repo, from)?;
    let (head, branch) = head_state(job, &repo)?;
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = head.map(|oid| oid.to_string());
    evidence.head_after.clone_from(&evidence.head_before);
    evidence.branch_before.clone_from(&branch);
    evidence.branch_after = branch;
    if let Some(existing) = peeled_ref(job, &repo, &name)? {
        if existing == target.id() {
            evidence.created = Some(false);
            evidence.no_change = Some(format!(
                "{} already exists at {}; not created by plangate",
                kind.word(),
                short(&target.id().to_string())
            ));
            return Ok(Prepared {
                evidence,
                plan: Plan::Nothing(format!(
                    "{} `{short_name}` already exists at {}: nothing to do",
                    kind.word(),
                    short(&target.id().to_string())
                )),
            });
        }
        return Err(Fail::Action(format!(
            "{} `{short_name}` already exists at {}, not at {} (`{from}`)",
            kind.word(),
            short(&existing.to_string()),
            short(&target.id().to_string())
        )));
    }
    let ref_target = match (&job.action.message, kind) {
        (Some(message), RefKind::Tag) if !job.dry_run => repo
            .tag_annotation_create(&short_name, target.as_object(), &signature(&repo), message)
            .map_err(job.git())?,
        _ => target.id(),
    };
    evidence.created = Some(true);
    evidence.refs = vec![RefChange {
        name: name.clone(),
        before: None,
        after: Some(ref_target.to_string()),
    }];
    Ok(Prepared {
        evidence,
        plan: Plan::CreateRef {
            name,
            target: ref_target,
        },
    })
}

impl RefKind {
    fn word(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        }
    }
}

fn prepare_checkout(job: &Job) -> Step<Prepared> {
    let repo = job.open()?;
    let branch = job.action.branch.clone().unwrap_or_default();
    let name = format!("refs/heads/{branch}");
    let (head, branch_before) = head_state(job, &repo)?;
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = head.map(|oid| oid.to_string());
    evidence.branch_before.clone_from(&branch_before);
    evidence.branch_after = Some(name.clone());
    if branch_before.as_deref() == Some(name.as_str()) {
        evidence.head_after.clone_from(&evidence.head_before);
        evidence.created = Some(false);
        evidence.no_change = Some(format!("already on `{branch}`"));
        return Ok(Prepared {
            evidence,
            plan: Plan::Nothing(format!("already on {branch}")),
        });
    }
    let remote_name = format!("refs/remotes/origin/{branch}");
    let (target, create) = match ref_value(job, &repo, &name)? {
        Some(target) => (target, None),
        None => match ref_value(job, &repo, &remote_name)? {
            Some(target) => (target, Some(format!("origin/{branch}"))),
            None => {
                return Err(Fail::Action(format!(
                    "no branch `{branch}` (nor `origin/{branch}`) in `{}`",
                    job.repo_label
                )));
            }
        },
    };
    let conflicts = checkout_conflicts(job, &repo, target, true)?;
    if !conflicts.is_empty() {
        return Err(Fail::Action(format!(
            "checking out `{branch}` would overwrite local changes: {}",
            list_paths(&conflicts)
        )));
    }
    evidence.head_after = Some(target.to_string());
    evidence.created = Some(create.is_some());
    if create.is_some() {
        evidence.refs = vec![RefChange {
            name: name.clone(),
            before: None,
            after: Some(target.to_string()),
        }];
    }
    Ok(Prepared {
        evidence,
        plan: Plan::Checkout {
            name,
            target,
            create,
        },
    })
}

fn prepare_merge(job: &Job) -> Step<Prepared> {
    let repo = job.open()?;
    let from = job.action.from.clone().unwrap_or_default();
    let (head, branch) = head_state(job, &repo)?;
    let Some(head) = head else {
        return Err(Fail::Action(format!(
            "nothing to merge `{from}` into: `HEAD` has no commit yet"
        )));
    };
    let mut evidence = GitEvidence::new(job);
    evidence.head_before = Some(head.to_string());
    evidence.branch_before.clone_from(&branch);
    evidence.branch_after.clone_from(&branch);
    let reference = branch.unwrap_or_else(|| "HEAD".to_owned());
    let ours = repo.find_commit(head).map_err(job.git())?;
    let theirs = resolve_commit(job, &repo, &from)?;
    let decision = merge_decision(job, &repo, &ours, &theirs, &reference)?;
    match decision {
        MergeDecision::UpToDate => {
            evidence.head_after = Some(head.to_string());
            evidence.merge = Some("up-to-date".to_owned());
            evidence.no_change = Some(format!("`{from}` is already merged"));
            Ok(Prepared {
                evidence,
                plan: Plan::Nothing(format!(
                    "{} already contains {from}: nothing to merge",
                    short_ref(&reference)
                )),
            })
        }
        MergeDecision::FastForward => {
            evidence.head_after = Some(theirs.id().to_string());
            evidence.merge = Some("fast-forward".to_owned());
            evidence.refs = vec![RefChange {
                name: reference.clone(),
                before: Some(head.to_string()),
                after: Some(theirs.id().to_string()),
            }];
            Ok(Prepared {
                evidence,
                plan: Plan::Merge {
                    reference,
                    before: head,
                    after: theirs.id(),
                    fast_forward: true,
                },
            })
        }
        MergeDecision::Commit(tree) if job.dry_run => {
            evidence.merge = Some("merge-commit".to_owned());
            Ok(Prepared {
                evidence,
                plan: Plan::Merge {
                    reference,
                    before: head,
                    after: tree,
                    fast_forward: false,
                },
            })
        }
        MergeDecision::Commit(tree) => {
            let tree = repo.find_tree(tree).map_err(job.git())?;
            let message = job
                .action
                .message
                .clone()
                .unwrap_or_else(|| format!("Merge {from} into {}", short_ref(&reference)));
            let signature = signature(&repo);
            let commit = repo
                .commit(
                    None,
                    &signature,
                    &signature,
                    &message,
                    &tree,
                    &[&ours, &theirs],
                )
                .map_err(job.git())?;
            evidence.head_after = Some(commit.to_string());
            evidence.commit = Some(commit.to_string());
            evidence.merge = Some("merge-commit".to_owned());
            evidence.refs = vec![RefChange {
                name: reference.clone(),
                before: Some(head.to_string()),
                after: Some(commit.to_string()),
            }];
            Ok(Prepared {
                evidence,
                plan: Plan::Merge {
                    reference,
                    before: head,
                    after: commit,
                    fast_forward: false,
                },
            })
        }
    }
}

/// How `theirs` would merge into `ours`.
pub(super) enum MergeDecision {
    /// `ours` already contains it.
    UpToDate,
    /// `ours` is an ancestor of it.
    FastForward,
    /// A merge commit with this tree (written to the object database).
    Commit(Oid),
}

/// How `theirs` merges into `ours`, refusing (a failed outcome) a merge that
/// conflicts, naming the paths, or that would overwrite local changes. The
/// working tree is never touched here, so a refused merge leaves it as it
/// was.
pub(super) fn merge_decision(
    job: &Job,
    repo: &Repository,
    ours: &Commit<'_>,
    theirs: &Commit<'_>,
    reference: &str,
) -> Step<MergeDecision> {
    if ours.id() == theirs.id()
        || repo
            .graph_descendant_of(ours.id(), theirs.id())
            .map_err(job.git())?
    {
        return Ok(MergeDecision::UpToDate);
    }
    let (target, decision) = if repo
        .graph_descendant_of(theirs.id(), ours.id())
        .map_err(job.git())?
    {
        (theirs.id(), MergeDecision::FastForward)
    } else {
        let mut index = repo.merge_commits(ours, theirs, None).map_err(job.git())?;
        if index.has_conflicts() {
            let paths = conflict_paths(job, &index)?;
            return Err(Fail::Action(format!(
                "merging {} into {} conflicts in {}: {}",
                short(&theirs.id().to_string()),
                short_ref(reference),
                count(paths.len(), "path"),
                list_paths(&paths)
            )));
        }
        if job.dry_run {
            return Ok(MergeDecision::Commit(Oid::ZERO_SHA1));
        }
        let tree = index.write_tree_to(repo).map_err(job.git())?;
        (tree, MergeDecision::Commit(tree))
    };
    if is_checked_out(job, repo, reference)? && !repo.is_bare() {
        let conflicts = checkout_conflicts(job, repo, target, true)?;
        if !conflicts.is_empty() {
            return Err(Fail::Action(format!(
                "the merge would overwrite local changes: {}",
                list_paths(&conflicts)
            )));
        }
    }
    Ok(decision)
}

/// The paths of the conflicts in `index`.
pub(super) fn conflict_paths(job: &Job, index: &git2::Index) -> Step<Vec<String>> {
    let mut paths = Vec::new();
    for conflict in index.conflicts().map_err(job.git())? {
        let conflict = conflict.map_err(job.git())?;
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

/// Stages `paths` (all changes when empty) in `index`, like `git add -A`:
/// new and modified files are added, deleted ones removed. In memory only.
pub(super) fn stage(job: &Job, index: &mut git2::Index, paths: &[String]) -> Step<()> {
    let all = ["*".to_owned()];
    let specs: &[String] = if paths.is_empty() { &all } else { paths };
    index
        .add_all(specs.iter(), IndexAddOption::DEFAULT, None)
        .and_then(|()| index.update_all(specs.iter(), None))
        .map_err(job.git())
}

/// The paths that differ between `old` (none: an empty tree) and `new`, with
/// how each changes.
pub(super) fn changed_files(
    job: &Job,
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
) -> Step<Vec<String>> {
    Ok(file_changes(job, repo, old, new)?
        .into_iter()
        .map(|(path, _)| path)
        .collect())
}

/// The paths that differ between `old` and `new`, with their delta.
pub(super) fn file_changes(
    job: &Job,
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
) -> Step<Vec<(String, git2::Delta)>> {
    let diff = repo
        .diff_tree_to_tree(old, Some(new), None)
        .map_err(job.git())?;
    Ok(diff
        .deltas()
        .map(|delta| {
            let path = delta
                .new_file()
                .path()
                .or_else(|| delta.old_file().path())
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default();
            (path, delta.status())
        })
        .collect())
}

/// `HEAD`'s commit (none in an empty repository) and the branch it names
/// (none when detached).
pub(super) fn head_state(job: &Job, repo: &Repository) -> Step<(Option<Oid>, Option<String>)> {
    let head = repo.find_reference("HEAD").map_err(job.git())?;
    let branch = head
        .symbolic_target()
        .map_err(job.git())?
        .map(str::to_owned);
    let commit = match repo.head() {
        Ok(head) => head.target(),
        Err(error)
            if matches!(
                error.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            None
        }
        Err(error) => return Err(job.git_error(&error)),
    };
    Ok((commit, branch))
}

/// Whether `reference` is what `HEAD` names (or is `HEAD`).
pub(super) fn is_checked_out(job: &Job, repo: &Repository, reference: &str) -> Step<bool> {
    if reference == "HEAD" {
        return Ok(true);
    }
    let (_, branch) = head_state(job, repo)?;
    Ok(branch.as_deref() == Some(reference))
}

/// The commit `spec` names (a branch, tag, sha, `HEAD~2`); a failed outcome
/// when it names none.
pub(super) fn resolve_commit<'r>(job: &Job, repo: &'r Repository, spec: &str) -> Step<Commit<'r>> {
    repo.revparse_single(spec)
        .and_then(|object| object.peel_to_commit())
        .map_err(|error| match error.code() {
            git2::ErrorCode::NotFound
            | git2::ErrorCode::InvalidSpec
            | git2::ErrorCode::Ambiguous
            | git2::ErrorCode::UnbornBranch => Fail::Action(format!(
                "`{spec}` names no commit in `{}`: {}",
                job.repo_label,
                error.message()
            )),
            _ => job.git_error(&error),
        })
}

/// The sha ref `name` holds (resolving a symbolic one), or none.
pub(super) fn ref_value(job: &Job, repo: &Repository, name: &str) -> Step<Option<Oid>> {
    match repo.refname_to_id(name) {
        Ok(oid) => Ok(Some(oid)),
        Err(error) if error.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(error) => Err(job.git_error(&error)),
    }
}

/// The commit ref `name` leads to (through an annotated tag), or none.
fn peeled_ref(job: &Job, repo: &Repository, name: &str) -> Step<Option<Oid>> {
    match repo.find_reference(name) {
        Ok(reference) => reference
            .peel(ObjectType::Commit)
            .map(|object| Some(object.id()))
            .map_err(job.git()),
        Err(error) if error.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(error) => Err(job.git_error(&error)),
    }
}

/// Points `name` at `new`, only if it is still at `expected` (`None`: only
/// if it does not exist); `HEAD` when detached. A ref that moved meanwhile
/// is a failed outcome.
pub(super) fn set_ref(
    job: &Job,
    repo: &Repository,
    name: &str,
    new: Oid,
    expected: Option<Oid>,
    message: &str,
) -> Step<()> {
    if name == "HEAD" {
        let (now, _) = head_state(job, repo)?;
        if now != expected {
            return Err(moved(name, expected, now));
        }
        return repo.set_head_detached(new).map_err(job.git());
    }
    let result = match expected {
        Some(expected) => repo
            .reference_matching(name, new, true, expected, message)
            .map(drop),
        None => repo.reference(name, new, false, message).map(drop),
    };
    match result {
        Ok(()) => Ok(()),
        Err(error)
            if matches!(
                error.code(),
                git2::ErrorCode::Modified | git2::ErrorCode::Exists | git2::ErrorCode::NotFound
            ) =>
        {
            let now = ref_value(job, repo, name)?;
            Err(moved(name, expected, now))
        }
        Err(error) => Err(job.git_error(&error)),
    }
}

fn moved(name: &str, expected: Option<Oid>, now: Option<Oid>) -> Fail {
    let describe = |oid: Option<Oid>| {
        oid.map_or_else(
            || "absent".to_owned(),
            |oid| format!("at {}", short(&oid.to_string())),
        )
    };
    Fail::Action(format!(
        "`{}` changed meanwhile: expected it {}, found it {}",
        name,
        describe(expected),
        describe(now)
    ))
}

/// Moves `reference` from `expected` to `new`, updating the index and the
/// working tree first when it is checked out (refusing, as a failed
/// outcome, to overwrite local changes).
pub(super) fn advance(
    job: &Job,
    repo: &Repository,
    reference: &str,
    expected: Oid,
    new: Oid,
    message: &str,
) -> Step<()> {
    if is_checked_out(job, repo, reference)? && !repo.is_bare() {
        let (now, _) = head_state(job, repo)?;
        if now != Some(expected) {
            return Err(moved(reference, Some(expected), now));
        }
        let conflicts = checkout_conflicts(job, repo, new, false)?;
        if !conflicts.is_empty() {
            return Err(Fail::Action(format!(
                "updating the working tree would overwrite local changes: {}",
                list_paths(&conflicts)
            )));
        }
    }
    set_ref(job, repo, reference, new, Some(expected), message)
}

/// Checks out branch `name` (or, when `None`, detaches `HEAD` at `target`):
/// the working tree and index first (safely), then `HEAD`.
pub(super) fn switch_to(job: &Job, repo: &Repository, name: Option<&str>, target: Oid) -> Step<()> {
    let conflicts = checkout_conflicts(job, repo, target, false)?;
    if !conflicts.is_empty() {
        return Err(Fail::Action(format!(
            "checking out would overwrite local changes: {}",
            list_paths(&conflicts)
        )));
    }
    match name {
        Some(name) => repo.set_head(name),
        None => repo.set_head_detached(target),
    }
    .map_err(job.git())
}

/// Checks out the tree of `target` (a commit or a tree) safely, or with
/// `dry_run` only looks: the paths whose local changes it would overwrite
/// (empty: it did, or would, succeed).
///
/// The dry run compares, without libgit2's checkout (whose `dry_run` in git2
/// is the `NONE` strategy, which refreshes and writes the index): the paths
/// that differ between `HEAD` and `target`, against the paths with local
/// changes, untracked files included.
pub(super) fn checkout_conflicts(
    job: &Job,
    repo: &Repository,
    target: Oid,
    dry_run: bool,
) -> Step<Vec<String>> {
    if dry_run {
        return local_changes_in_the_way(job, repo, target);
    }
    let object = repo.find_object(target, None).map_err(job.git())?;
    let mut paths = Vec::new();
    let result = {
        let mut builder = CheckoutBuilder::new();
        builder
            .safe()
            .notify_on(git2::CheckoutNotificationType::CONFLICT)
            .notify(|_, path, _, _, _| {
                if let Some(path) = path {
                    paths.push(path.to_string_lossy().into_owned());
                }
                true
            });
        repo.checkout_tree(&object, Some(&mut builder))
    };
    match result {
        Ok(()) => Ok(paths),
        Err(error) if error.code() == git2::ErrorCode::Conflict => {
            if paths.is_empty() {
                Err(Fail::Action(error.message().to_owned()))
            } else {
                Ok(paths)
            }
        }
        Err(error) => Err(job.git_error(&error)),
    }
}

/// The paths that differ between `HEAD`'s tree and `target`'s and have
/// local changes (staged, unstaged or untracked).
fn local_changes_in_the_way(job: &Job, repo: &Repository, target: Oid) -> Step<Vec<String>> {
    let target_tree = repo
        .find_object(target, None)
        .and_then(|object| object.peel_to_tree())
        .map_err(job.git())?;
    let head_tree = match head_state(job, repo)?.0 {
        Some(head) => Some(
            repo.find_commit(head)
                .and_then(|commit| commit.tree())
                .map_err(job.git())?,
        ),
        None => None,
    };
    let diff = repo
        .diff_tree_to_tree(head_tree.as_ref(), Some(&target_tree), None)
        .map_err(job.git())?;
    let mut differing = std::collections::BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path() {
                differing.insert(path.to_string_lossy().into_owned());
            }
        }
    }
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let statuses = repo.statuses(Some(&mut options)).map_err(job.git())?;
    let mut paths = Vec::new();
    for entry in statuses.iter() {
        if entry.status() == git2::Status::CURRENT {
            continue;
        }
        let path = String::from_utf8_lossy(entry.path_bytes()).into_owned();
        if differing.contains(&path) && !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// The repository's `user.name` / `user.email`, else `plangate
/// <plangate@localhost>`.
pub(super) fn signature(repo: &Repository) -> Signature<'static> {
    repo.signature()
        .map(|signature| signature.to_owned())
        .or_else(|_| Signature::now(super::job::FALLBACK_NAME, super::job::FALLBACK_EMAIL))
        .expect("the fallback signature is valid: a plain name and address")
}

/// `main` for `refs/heads/main`, `v1` for `refs/tags/v1`, as is otherwise.
pub(super) fn short_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/tags/"))
        .or_else(|| name.strip_prefix("refs/remotes/"))
        .unwrap_or(name)
}

/// `branch main`, `tag v1`, `ref refs/x`.
pub(super) fn describe_ref(name: &str) -> String {
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        format!("branch {branch}")
    } else if let Some(tag) = name.strip_prefix("refs/tags/") {
        format!("tag {tag}")
    } else {
        format!("ref {name}")
    }
}
