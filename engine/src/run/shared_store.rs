//! The state store as seen from async code.
//!
//! SQLite never runs on a runtime worker: every call goes through
//! `spawn_blocking`, and the engine awaits it, so an intent row is committed
//! before the side effect it announces starts. One mutex serialises the
//! calls; SQLite would serialise the writes anyway.

use std::sync::{Arc, Mutex};

use plangate_state::{Store, StoreError};

/// A cloneable handle to the store.
#[derive(Clone)]
pub(crate) struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    pub(crate) fn new(store: Store) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` on the store on a blocking thread and waits for it.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().expect(
                "the store mutex is poisoned only if a store call panicked, which is a bug",
            );
            f(&mut guard)
        })
        .await
        .expect("store calls do not panic, so their blocking task always completes")
    }
}
