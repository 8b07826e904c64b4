//! What a dry run shows for an action: [`Preview`].

use serde::{Deserialize, Serialize};

/// What an action would change, as computed without changing anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// One line, e.g. ``would run `./render.sh docs/arch.md` ``.
    pub summary: String,
    /// The objects the action would touch, as far as the executor can tell.
    pub changes: Vec<PreviewChange>,
    /// Facts the executor checked, in order, as label and value (for a pull
    /// request: its state, mergeability, each required check, approvals,
    /// the head sha, the commits it brings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<PreviewDetail>,
    /// Why the action would be refused if it ran now (a failing required
    /// check, a conflict, too few approvals): the dry run then decides the
    /// task `blocked` with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

impl Preview {
    /// A preview with `summary` and `changes`, no details, not blocked.
    pub fn new(summary: impl Into<String>, changes: Vec<PreviewChange>) -> Self {
        Self {
            summary: summary.into(),
            changes,
            details: Vec::new(),
            blocked: None,
        }
    }

    /// Adds a detail line.
    #[must_use]
    pub fn with_detail(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.push(PreviewDetail {
            label: label.into(),
            value: value.into(),
        });
        self
    }

    /// Marks the action as one that would be refused, with `reason`.
    #[must_use]
    pub fn blocked_by(mut self, reason: impl Into<String>) -> Self {
        self.blocked = Some(reason.into());
        self
    }
}

/// One fact a preview checked, e.g. `check ci/test` = `success`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewDetail {
    /// What was checked.
    pub label: String,
    /// What was found.
    pub value: String,
}

/// One object an action would touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewChange {
    /// What is touched, e.g. `deployment/api` or a command line.
    pub object: String,
    /// How.
    pub change: ChangeKind,
    /// A unified diff of the object, when the executor can compute one.
    pub diff: Option<String>,
}

/// How a previewed object would change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// It would be created.
    Create,
    /// It exists and would be modified.
    Update,
    /// It would be deleted.
    Delete,
    /// It exists and would stay as it is.
    Unchanged,
    /// The executor cannot tell (a shell command can do anything).
    Unknown,
}
