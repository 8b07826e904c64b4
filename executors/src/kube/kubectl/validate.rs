//! The fields each kubectl operation takes: the table of
//! [`KubectlOp::fields`](plangate_plans::action::KubectlOp::fields), which
//! plan validation reads too.

use plangate_plans::{ExecutorKind, action::KubectlAction};

use crate::error::ExecutorError;

/// Checks the action against its operation's table; plan validation has
/// reported the same problems with positions, so this refuses only actions
/// built some other way.
pub(super) fn validate(action: &KubectlAction) -> Result<(), ExecutorError> {
    ExecutorError::check_fields(
        ExecutorKind::Kubectl,
        action.op.as_str(),
        action.field_problems(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(yaml: &str) -> KubectlAction {
        serde_yaml::from_str(yaml).expect("a valid kubectl action")
    }

    #[test]
    fn missing_fields_are_invalid() {
        for (yaml, reason) in [
            ("op: apply", "`apply` needs `files` or `kustomize`"),
            (
                "op: apply\nfiles: [a.yaml]\nkustomize: k",
                "`apply` takes `files` or `kustomize`, not both",
            ),
            (
                "op: apply\nfiles: [a.yaml]\nforce_conflicts: true",
                "`apply` takes `force_conflicts` only together with `server_side`",
            ),
            (
                "op: scale\nresource: deployment/web",
                "`scale` needs `replicas`",
            ),
            (
                "op: wait\nresource: deployment/web",
                "`wait` needs `condition`",
            ),
            (
                "op: set_image\nresource: deployment/web",
                "`set_image` needs `images`",
            ),
            ("op: rollout_undo", "`rollout_undo` needs `resource`"),
            (
                "op: apply\nfiles: [a.yaml]\nprune: app=web\nselector: app=web",
                "`apply` takes `prune` or `selector`, not both",
            ),
            (
                "op: delete\nselector: app=web",
                "`delete` needs `files`, `kustomize` or `resource`",
            ),
        ] {
            let error = validate(&action(yaml)).expect_err(yaml);
            assert_eq!(
                error.to_string(),
                format!("invalid `kubectl` action: {reason}"),
                "{yaml}"
            );
        }
    }
}
