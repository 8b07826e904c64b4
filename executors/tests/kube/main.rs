//! The kubectl and Helm executors with the real `kubectl` and `helm`
//! binaries, against a fresh in-repo Kubernetes API emulator per test (on
//! 127.0.0.1; nothing else on the network).
//!
//! The binaries come from `PLANGATE_TOOLS_DIR`, else `.tools/bin` at the
//! repository's root (`scripts/install-test-tools.sh` installs them). Each
//! test has its own HOME, kubeconfig and Helm folders. Tests wait for the
//! cluster by polling with a bounded number of attempts, never by sleeping.

#![cfg(unix)]

/// Helm: install, upgrade, failed upgrade and rollback, previews, observe.
mod helm;
/// kubectl: apply and rollback, rollouts, previews, observe, the guard.
mod kubectl;
/// The emulator, the executors and contexts wired to it, fixtures.
mod support;
