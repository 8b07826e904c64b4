//! End-to-end tests: the real `kubectl` and `helm` from `<repo>/.tools/bin/` (installed by
//! `scripts/install-test-tools.sh`, or found through `PLANGATE_TOOLS_DIR`) against a fresh
//! emulator per test, with a private HOME, kubeconfig and helm directories.

// Start a `kube-emulator` binary, talk to its admin endpoints and watch API over raw HTTP.
mod binary;
// Charts in the shape of public ones: ingress controller, CRDs, test hooks; OpenAPI.
mod charts;
// Helm releases: install, upgrade, failed upgrade, rollback, history, manifest, uninstall.
mod helm;
// kubectl: apply (client- and server-side), diff, get, delete, rollout, wait, scale, patch.
mod kubectl;
// The per-test cluster and command builders.
mod support;
