//! The fields each helm operation needs.

use plangate_plans::{
    ExecutorKind,
    action::{HelmAction, HelmOp},
};

use crate::error::ExecutorError;

/// Checks the fields an operation needs; plan validation should have caught
/// every case.
pub(super) fn validate(action: &HelmAction) -> Result<(), ExecutorError> {
    let invalid = |reason: &str| {
        Err(ExecutorError::InvalidAction {
            kind: ExecutorKind::Helm,
            reason: format!("`{}` {reason}", action.op.as_str()),
        })
    };
    if action.release.is_empty() {
        return invalid("needs a `release`");
    }
    if action.op == HelmOp::Upgrade && action.chart.as_deref().is_none_or(str::is_empty) {
        return invalid("needs a `chart`");
    }
    Ok(())
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
            "invalid `helm` action: `upgrade` needs a `chart`"
        );
    }
}
