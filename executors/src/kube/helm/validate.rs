//! The fields each helm operation takes: the table of
//! [`HelmOp::fields`](plangate_plans::action::HelmOp::fields), which plan
//! validation reads too.

use plangate_plans::{ExecutorKind, action::HelmAction};

use crate::error::ExecutorError;

/// Checks the action against its operation's table; plan validation has
/// reported the same problems with positions, so this refuses only actions
/// built some other way.
pub(super) fn validate(action: &HelmAction) -> Result<(), ExecutorError> {
    ExecutorError::check_fields(
        ExecutorKind::Helm,
        action.op.as_str(),
        action.field_problems(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_needs_a_chart() {
        let error = validate(
            &serde_yaml::from_str::<HelmAction>("op: upgrade\nrelease: api").expect("valid"),
        )
        .expect_err("no chart");
        assert_eq!(
            error.to_string(),
            "invalid `helm` action: `upgrade` needs `chart`"
        );
    }
}
