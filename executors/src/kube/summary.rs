//! Wording shared by the previews: counts of changes, and the line of a
//! tool's error output worth quoting.

use std::collections::BTreeMap;

use crate::{outcome::ActionOutcome, preview::ChangeKind};

/// How many objects a preview finds for each kind of change.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChangeCounts {
    counts: BTreeMap<usize, usize>,
}

/// The kinds of change in the order summaries list them, with their words.
const ORDER: [(ChangeKind, &str); 5] = [
    (ChangeKind::Create, "to create"),
    (ChangeKind::Update, "to update"),
    (ChangeKind::Delete, "to delete"),
    (ChangeKind::Unchanged, "unchanged"),
    (ChangeKind::Unknown, "unknown"),
];

impl ChangeCounts {
    /// Counts one object.
    pub(crate) fn add(&mut self, change: ChangeKind) {
        let position = ORDER
            .iter()
            .position(|(kind, _)| *kind == change)
            .expect("every change kind is in ORDER because ORDER lists all five");
        *self.counts.entry(position).or_default() += 1;
    }

    /// `1 to create, 2 unchanged`, or `no objects`.
    pub(crate) fn describe(&self) -> String {
        if self.counts.is_empty() {
            return "no objects".to_owned();
        }
        self.counts
            .iter()
            .map(|(position, count)| format!("{count} {}", ORDER[*position].1))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a failed query said, for a preview's summary: its
/// [`error_line`](ActionOutcome::error_line).
pub(crate) fn failure_line(outcome: &ActionOutcome) -> String {
    outcome
        .error_line()
        .unwrap_or_else(|| "no error output".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_in_a_fixed_order() {
        let mut counts = ChangeCounts::default();
        assert_eq!(counts.describe(), "no objects");
        counts.add(ChangeKind::Unchanged);
        counts.add(ChangeKind::Create);
        counts.add(ChangeKind::Unchanged);
        assert_eq!(counts.describe(), "1 to create, 2 unchanged");
    }

    #[test]
    fn the_failure_line() {
        let mut outcome = ActionOutcome::new(crate::OutcomeStatus::Failed, "kubectl diff");
        assert_eq!(failure_line(&outcome), "no error output");
        outcome.stderr_tail = "warning\nerror: boom\nsee the docs\n\n".to_owned();
        assert_eq!(failure_line(&outcome), "error: boom");
    }
}
