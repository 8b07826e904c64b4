//! What the helm executor records for an action: [`HelmEvidence`].

use plangate_plans::action::HelmOp;
use serde::{Deserialize, Serialize};

use crate::kube::Target;

/// What the executor records for an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct HelmEvidence {
    pub(super) tool_version: String,
    pub(super) op: HelmOp,
    pub(super) release: String,
    pub(super) target: Target,
    pub(super) previous_revision: Option<u32>,
    #[serde(default)]
    pub(super) previous_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<String>,
    /// Whether `revision` and `status` were read after the command (they
    /// are `None` both when the release does not exist and when the read
    /// failed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) read_after: bool,
}

/// One entry of `helm history -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub(super) struct Revision {
    pub(super) revision: u32,
    pub(super) status: String,
}
