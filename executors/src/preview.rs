//! What a dry run shows for an action: [`Preview`].

use serde::{Deserialize, Serialize};

/// What an action would change, as computed without changing anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// One line, e.g. ``would run `./render.sh docs/arch.md` ``.
    pub summary: String,
    /// The objects the action would touch, as far as the executor can tell.
    pub changes: Vec<PreviewChange>,
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
