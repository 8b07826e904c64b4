//! The fields each kubectl operation needs.

use plangate_plans::{
    ExecutorKind,
    action::{KubectlAction, KubectlOp},
};

use crate::error::ExecutorError;

/// Checks the fields an operation needs; plan validation should have caught
/// every case.
pub(super) fn validate(action: &KubectlAction) -> Result<(), ExecutorError> {
    let invalid = |reason: &str| {
        Err(ExecutorError::InvalidAction {
            kind: ExecutorKind::Kubectl,
            reason: format!("`{}` {reason}", action.op.as_str()),
        })
    };
    let manifests = !action.files.is_empty() || action.kustomize.is_some();
    if !action.files.is_empty() && action.kustomize.is_some() {
        return invalid("takes `files` or `kustomize`, not both");
    }
    match action.op {
        KubectlOp::Apply => {
            if !manifests {
                return invalid("needs `files` or `kustomize`");
            }
            if action.force_conflicts && !action.server_side {
                return invalid("needs `server_side` for `force_conflicts`");
            }
            if action.prune.is_some() && action.selector.is_some() {
                return invalid("takes `prune` or `selector`, not both: both are `-l`");
            }
        }
        KubectlOp::Delete => {
            if !manifests && action.resource.is_none() && action.selector.is_none() {
                return invalid("needs `files`, `kustomize`, `resource` or `selector`");
            }
        }
        KubectlOp::RolloutStatus | KubectlOp::RolloutUndo => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
        }
        KubectlOp::Wait => {
            if action.resource.is_none() && action.selector.is_none() {
                return invalid("needs `resource` or `selector`");
            }
            if action.condition.is_none() {
                return invalid("needs `condition`");
            }
        }
        KubectlOp::Scale => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.replicas.is_none() {
                return invalid("needs `replicas`");
            }
        }
        KubectlOp::Patch => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.patch.is_none() {
                return invalid("needs `patch`");
            }
        }
        KubectlOp::SetImage => {
            if action.resource.is_none() {
                return invalid("needs `resource`");
            }
            if action.images.is_empty() {
                return invalid("needs `images`");
            }
        }
    }
    Ok(())
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
                "`apply` needs `server_side` for `force_conflicts`",
            ),
            (
                "op: scale\nresource: deployment/web",
                "`scale` needs `replicas`",
            ),
            ("op: wait\nresource: pods", "`wait` needs `condition`"),
            (
                "op: set_image\nresource: deployment/web",
                "`set_image` needs `images`",
            ),
            ("op: rollout_undo", "`rollout_undo` needs `resource`"),
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
