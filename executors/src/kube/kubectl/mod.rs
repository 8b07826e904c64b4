//! [`KubectlExecutor`]: runs `kubectl:` actions with the real `kubectl`.
//!
//! # Which binary and which cluster
//!
//! The binary is the executor instance's `binary`, else
//! [`KubectlExecutor::BINARY_ENV`] (`PLANGATE_KUBECTL`), else `kubectl` on
//! `PATH`. Its version (`kubectl version --client -o json`) is asked once per
//! binary and recorded in every action's evidence as `tool_version`.
//!
//! Context, namespace and kubeconfig come from the action, else the executor
//! instance, else the plan's `vars.kube_context` and `vars.namespace`, else
//! kubectl's own defaults: the context is then the kubeconfig's current one
//! (`kubectl config current-context`), resolved before anything else runs and
//! passed as `--context` to every command. The namespace is passed as `-n`
//! only when configured, since kubectl refuses `-n` for manifests whose objects
//! name another namespace; without it, objects without a namespace go to the
//! context's namespace (`default` unless the kubeconfig says otherwise).
//! Relative paths are relative to the plan's folder, where kubectl runs.
//!
//! # The wrong-cluster guard
//!
//! Before anything runs, the resolved context name is checked against the
//! plan's `environment`: a plan whose environment is `prod` or `production`
//! refuses a context whose name does not contain `prod`, and any other plan
//! refuses a context whose name does contain `prod` (case is ignored). The
//! refusal is [`ExecutorError::WrongCluster`]; nothing is run. An executor
//! instance with `allow_context_mismatch: true` lifts the guard.
//!
//! # Evidence, rollback and observation
//!
//! Before an operation that changes objects, the executor snapshots every
//! object it will touch and hands the snapshot to
//! [`ActionContext::record_evidence`] (so the engine commits it before the
//! change):
//!
//! - `apply` renders the manifests client-side (`kubectl apply --dry-run=client
//!   -o json`) to learn each object's identity, then reads the live objects
//!   (`kubectl get -f` on stubs naming them, `--ignore-not-found`). With
//!   `prune`, the objects the prune may delete are snapshotted too.
//! - `delete` reads the objects it will delete; `scale`, `patch`, `set_image`
//!   and `rollout_undo` read their resource.
//!
//! The evidence is `{"tool_version", "op", "target": {"context", "namespace",
//! "kubeconfig"}, "objects": [{"apiVersion", "kind", "name", "namespace",
//! "before": <object or null>}]}`; after an `apply`, the outcome's evidence
//! adds `applied` (each object's new `resourceVersion` and `generation`).
//!
//! `rollback: auto` restores the snapshot, newest change first: an object that
//! did not exist is deleted, one that did is put back with `kubectl replace
//! --raw` (a PUT conditional on the live `resourceVersion`, so a concurrent
//! change fails rather than being overwritten) or re-created with `kubectl
//! create --raw` if it is gone; one that already matches its snapshot is left
//! alone. `--raw` sends the snapshot byte for byte: without it, kubectl
//! rewrites the client-side apply annotation from the object it sends, and
//! the restored object would differ from the snapshot. Writing the content
//! back hands the fields it changes to `kubectl` (an Update manager), so a
//! second update that changes nothing sends the snapshot's `managedFields`
//! (read with `--show-managed-fields`): every field goes back to the manager
//! that owned it, and the owners' next `kubectl apply --server-side` does not
//! conflict with `kubectl`. The rollback
//! talks to the context recorded in the evidence (which passed the guard
//! when the change was made, so it is not checked again). A snapshot holding a
//! redacted secret (secrets never reach the state file) is refused rather
//! than written back with the placeholder. `rollout_status` and `wait` change
//! nothing, so their rollback succeeds without doing anything.
//!
//! `observe` (after a crash) compares the live objects with the manifests
//! (`kubectl diff`) and with the snapshot: all in place is `Applied`, none
//! changed is `NotApplied`, anything else `Partial`. No evidence means the
//! crash came before the checkpoint, hence before the change: `NotApplied`.
//!
//! A failed action left nothing to undo (`left_changes`, so the engine does
//! not roll it back) when it recorded no snapshot, changes no object, left
//! every object at its snapshot's `resourceVersion`, or exited without
//! reporting any object.
//!
//! # Preview
//!
//! `apply` is previewed with `kubectl diff` (a server-side dry run, per object
//! diffs in `diff -u` format) plus the snapshot: an absent object is a
//! create, one with a diff an update, the rest unchanged. `delete` lists the
//! objects that exist; `scale`, `patch` and `set_image` compare a server-side
//! dry run with the live object. A preview never writes to the cluster.

mod args;
mod evidence;
mod executor;
mod left_changes;
mod observe;
mod preview;
mod restore;
mod snapshot;
mod validate;

pub use executor::KubectlExecutor;
