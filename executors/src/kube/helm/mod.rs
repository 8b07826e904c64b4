//! [`HelmExecutor`]: runs `helm:` actions with the real `helm`.
//!
//! The binary is the executor instance's `binary`, else
//! [`HelmExecutor::BINARY_ENV`] (`PLANGATE_HELM`), else `helm` on `PATH`; its
//! version (`helm version --short`) is asked once per binary and recorded in
//! every action's evidence as `tool_version`.
//!
//! Context, namespace and kubeconfig are resolved as for kubectl (see the
//! `kubectl` module): the action's, the executor instance's, the plan's
//! `vars.kube_context` and `vars.namespace`, then the kubeconfig's current
//! context, which this executor reads from the kubeconfig files itself
//! (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`) so Helm works
//! without kubectl. The context is always passed as `--kube-context`, and
//! the same wrong-cluster guard applies: a `prod`/`production` plan refuses
//! a context whose name lacks `prod`, any other plan one whose name has it,
//! unless the instance sets `allow_context_mismatch: true`.
//!
//! # Evidence, rollback and observation
//!
//! Before `upgrade`, `rollback` and `uninstall`, the release's current
//! revision is recorded (`helm history RELEASE --max 1 -o json`):
//! `{"tool_version", "op", "release", "target", "previous_revision",
//! "previous_status"}`, with `previous_revision: null` when the release does
//! not exist. The outcome adds the `revision` and `status` the release has
//! afterwards.
//!
//! `rollback: auto` of an `upgrade` (or of a `rollback`) is `helm rollback
//! RELEASE PREVIOUS_REVISION`, or `helm uninstall` when the release did not
//! exist. An `uninstall` has no automatic rollback: reinstalling needs the
//! chart and values, which the release no longer holds once uninstalled
//! without `--keep-history`. `test` changes nothing to undo.
//!
//! `observe` reads the release's history: a revision newer than the recorded
//! one that is `deployed` means applied, one that `failed` (or is still
//! pending) partly applied, none not applied.
//!
//! A failed `upgrade` or `rollback` left nothing to undo (`left_changes`)
//! when the release's latest revision, read after it, is the one recorded
//! before (or the release still does not exist).
//!
//! # Preview
//!
//! An `upgrade` renders the chart with `helm upgrade --install --dry-run=server`
//! and compares it, object by object (kind, namespace, name), with the
//! release's current manifest (`helm get manifest`): created, changed (with a
//! diff), deleted or unchanged. A `rollback` compares the target revision's
//! manifest with the current one; an `uninstall` deletes every object of the
//! current manifest. Secret values are masked in diffs.

mod args;
mod evidence;
mod executor;
mod preview;
mod release;
mod validate;

pub use executor::HelmExecutor;
