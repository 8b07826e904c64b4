//! The cluster executors, [`KubectlExecutor`] (`kubectl/`) and
//! [`HelmExecutor`] (`helm/`), and what they share: which cluster an action
//! talks to (and the wrong-cluster guard), preparing a request and running
//! the tool binary through the process module, the [`Executor`](crate::Executor)
//! implementation both get from [`KubeTool`], Kubernetes object identities
//! and snapshots, unified diffs, and scratch files handed to the tools.

mod adapter;
mod builder;
mod diff;
mod helm;
mod kubectl;
mod object;
mod request;
mod scratch;
mod summary;
mod target;
mod tool;

pub(crate) use adapter::{KubeTool, evidence_json, parse_evidence};
pub(crate) use diff::{object_diff, parse_kubectl_diff};
pub use helm::HelmExecutor;
pub use kubectl::KubectlExecutor;
pub(crate) use object::{
    ObjectRef, Snapshot, holds_redacted, names_cluster_scoped, parse_items, restorable,
    same_content,
};
pub(crate) use request::{Request, prepare};
pub(crate) use scratch::ScratchDir;
pub(crate) use summary::{ChangeCounts, failure_line};
pub(crate) use target::{
    Target, TargetFields, check_context, configured, kubeconfig_context_namespace,
    kubeconfig_current_context, no_context,
};
pub(crate) use tool::{Halt, Invocation, Steps, Tool, format_go_duration, is_folder, tool_error};
