//! Test hooks around the merge endpoint, for the races a real GitHub has and a test cannot
//! time: a push that lands between a client's check and its merge request, and a merge whose
//! answer never reaches the client (the client is killed after GitHub merged).

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The armed hooks.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    state: Mutex<HookState>,
    release: Arc<Notify>,
}

#[derive(Debug, Default)]
struct HookState {
    /// `(repository, branch)`: the next merge request of a pull request of the repository
    /// first gets a commit pushed onto the branch.
    push_before_merge: Vec<(String, String)>,
    /// The next successful merge holds its answer until released.
    hold_armed: bool,
    /// A merge is done and its answer is being held.
    holding: bool,
}

impl Hooks {
    fn state(&self) -> std::sync::MutexGuard<'_, HookState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Arms a push onto `branch` before the next merge request of `repository`.
    pub(crate) fn push_before_next_merge(&self, repository: &str, branch: &str) {
        self.state()
            .push_before_merge
            .push((repository.to_owned(), branch.to_owned()));
    }

    /// Takes the branch to push onto before a merge request of `repository`, if one is armed.
    pub(crate) fn take_push(&self, repository: &str) -> Option<String> {
        let mut state = self.state();
        let index = state
            .push_before_merge
            .iter()
            .position(|(repo, _)| repo == repository)?;
        Some(state.push_before_merge.remove(index).1)
    }

    /// Arms holding the answer of the next successful merge.
    pub(crate) fn hold_next_merge(&self) {
        self.state().hold_armed = true;
    }

    /// Whether a merge is done and its answer held.
    pub(crate) fn holding(&self) -> bool {
        self.state().holding
    }

    /// Lets a held answer go (or the next one, if none is held yet).
    pub(crate) fn release(&self) {
        self.release.notify_one();
    }

    /// After a successful merge: waits for [`Hooks::release`] if holding was armed.
    pub(crate) async fn after_merge(&self) {
        {
            let mut state = self.state();
            if !state.hold_armed {
                return;
            }
            state.hold_armed = false;
            state.holding = true;
        }
        self.release.notified().await;
        self.state().holding = false;
    }
}
