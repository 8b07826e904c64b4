//! What the kubectl and Helm executors share: which cluster an action talks
//! to (and the wrong-cluster guard), running the tool binary through the
//! process module, Kubernetes object identities and snapshots, unified
//! diffs, and scratch files handed to the tools.

mod adapter;
mod diff;
mod object;
mod scratch;
mod summary;
mod target;
mod tool;

pub(crate) use adapter::KubeTool;
pub(crate) use diff::{object_diff, parse_kubectl_diff};
pub(crate) use object::{
    ObjectRef, Snapshot, holds_redacted, parse_items, restorable, same_content,
};
pub(crate) use scratch::ScratchDir;
pub(crate) use summary::{ChangeCounts, last_line};
pub(crate) use target::{
    Target, TargetFields, check_context, configured, kubeconfig_current_context, no_context,
};
pub(crate) use tool::{Halt, Invocation, Steps, Tool, format_go_duration, is_folder, tool_error};
