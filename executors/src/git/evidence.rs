//! [`GitEvidence`]: what a git action records before its side effect, and
//! completes in its outcome.
//!
//! The same document serves three readers: `rollback: auto` (which refs to
//! move back, which commit to revert, what the remote was at), `observe`
//! after a crash (compare the refs now with `before` and `after`), and the
//! person reading the state file. Shas are full hex strings; `null` is a ref
//! that does not exist.

use plangate_plans::ExecutorKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::job::Job;
use crate::error::ExecutorError;

/// The evidence of one git action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct GitEvidence {
    /// The operation (`commit`, `push`, ...).
    pub(super) op: String,
    /// The repository's path.
    pub(super) repo: String,
    /// `HEAD`'s commit before the action (`null` in an empty repository or
    /// before a clone).
    pub(super) head_before: Option<String>,
    /// The branch `HEAD` named before (`null` when detached).
    pub(super) branch_before: Option<String>,
    /// `HEAD`'s commit after: planned when recorded before the side effect,
    /// what it is when the outcome is complete.
    pub(super) head_after: Option<String>,
    /// The branch `HEAD` names after.
    pub(super) branch_after: Option<String>,
    /// Every local ref the action changes (or changed), with its value
    /// before and after.
    pub(super) refs: Vec<RefChange>,
    /// The commit the action creates (`commit`, and `merge` when it is not a
    /// fast-forward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) commit: Option<String>,
    /// `branch`, `tag`, `checkout`: whether plangate creates the ref (false
    /// when it already existed at the same target: rollback then leaves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) created: Option<bool>,
    /// `merge`: `fast-forward`, `merge-commit` or `up-to-date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) merge: Option<String>,
    /// Why nothing changes (`nothing to commit`, `branch exists at the same
    /// commit`), when nothing does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) no_change: Option<String>,
    /// `push`: the remote and what it was at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) push: Option<PushEvidence>,
    /// `clone`: where from and whether plangate made the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) clone: Option<CloneEvidence>,
    /// `fetch`: the remote and the refs it may move, before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fetch: Option<FetchEvidence>,
    /// Whether the side effect was carried out: false when recorded before
    /// it, and in the outcome of an action that failed before changing
    /// anything.
    pub(super) applied: bool,
}

/// One ref an action moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RefChange {
    /// The full ref name (`refs/heads/main`).
    pub(super) name: String,
    /// Its sha before (`null`: it did not exist).
    pub(super) before: Option<String>,
    /// Its sha after (`null`: deleted).
    pub(super) after: Option<String>,
}

/// What a push recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PushEvidence {
    /// The remote's name.
    pub(super) remote: String,
    /// Its push URL, redacted.
    pub(super) url: String,
    /// The local side of the refspec (a ref, or empty for a deletion).
    pub(super) local_ref: String,
    /// The ref on the remote.
    pub(super) remote_ref: String,
    /// The remote ref's sha before the push, as the remote advertised it
    /// (`null`: it did not exist).
    pub(super) remote_before: Option<String>,
    /// The sha pushed (`null` for a deletion).
    pub(super) pushed: Option<String>,
    /// Whether the refspec was forced (`+`).
    pub(super) forced: bool,
}

/// What a clone recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CloneEvidence {
    /// The URL cloned, redacted.
    pub(super) url: String,
    /// The branch checked out, when one was asked for.
    pub(super) branch: Option<String>,
    /// Whether plangate created the folder (it did not exist): only then
    /// does rollback remove it; otherwise rollback empties it again.
    pub(super) created_folder: bool,
}

/// What a fetch recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FetchEvidence {
    /// The remote's name.
    pub(super) remote: String,
    /// Its URL, redacted.
    pub(super) url: String,
    /// The refspecs fetched (empty: the remote's configured ones).
    pub(super) refspecs: Vec<String>,
    /// Every ref of the repository before the fetch, with its sha.
    pub(super) refs_before: Vec<RefValue>,
}

/// A ref and its sha.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RefValue {
    /// The full ref name.
    pub(super) name: String,
    /// Its sha.
    pub(super) sha: String,
}

impl GitEvidence {
    /// Evidence of `job` with the repository and operation filled in.
    pub(super) fn new(job: &Job) -> Self {
        Self {
            op: job.action.op.as_str().to_owned(),
            repo: super::job::path_text(&job.repo),
            ..Self::default()
        }
    }

    /// The evidence as stored, every text redacted.
    pub(super) fn to_json(&self, job: &Job) -> Value {
        let value = serde_json::to_value(self)
            .expect("evidence always serialises: it holds only strings, booleans and lists");
        crate::redact::redact_json_strings(value, &|text| job.redact(text))
    }

    /// The evidence an attempt recorded, read back.
    pub(super) fn parse(evidence: Option<&Value>) -> Result<Self, ExecutorError> {
        let kind = ExecutorKind::Git;
        let evidence = evidence.ok_or(ExecutorError::MissingEvidence { kind })?;
        serde_json::from_value(evidence.clone())
            .map_err(|source| ExecutorError::InvalidEvidence { kind, source })
    }
}
