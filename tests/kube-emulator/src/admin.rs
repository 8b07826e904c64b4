//! The emulator's own endpoints under `/_emulator/`: `GET state` dumps every object and
//! `POST reset` returns the store to a fresh cluster. These are not Kubernetes APIs; tests
//! use them to compare state before and after a command.

use crate::server::AppState;
use serde_json::Value;

/// Every object, grouped by qualified resource name (`deployments.apps`).
pub(crate) fn state(state: &AppState) -> Value {
    state.lock_store().dump()
}

/// Deletes everything and seeds the initial namespaces again.
pub(crate) fn reset(state: &AppState) {
    state.lock_store().reset();
    state.controller_wakeup.notify_one();
}
