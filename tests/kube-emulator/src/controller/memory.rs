//! What the controller remembers between passes: when each pod becomes ready and when each
//! deployment's current rollout started. Both are wall-clock facts the API objects do not
//! carry with sub-second precision.

use std::collections::HashMap;
use tokio::time::Instant;

/// Controller state kept outside the store.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// Pod UID → when it becomes ready (`None`: never, its image is broken).
    pub(super) pod_ready_at: HashMap<String, Option<Instant>>,
    /// Deployment UID → (pod-template hash, when the rollout of that template started).
    pub(super) progress_since: HashMap<String, (String, Instant)>,
    /// The next pod IP suffix.
    pub(super) next_pod_ip: u32,
    /// The earliest instant a timer needs a new pass.
    pub(super) wake: Option<Instant>,
}

impl Memory {
    /// Asks for a pass at `at` (keeping the earliest request).
    pub(super) fn wake_at(&mut self, at: Instant) {
        self.wake = Some(self.wake.map_or(at, |current| current.min(at)));
    }

    /// A fresh pod IP.
    pub(super) fn pod_ip(&mut self) -> String {
        self.next_pod_ip += 1;
        format!(
            "10.244.{}.{}",
            self.next_pod_ip / 250,
            self.next_pod_ip % 250 + 2
        )
    }
}
