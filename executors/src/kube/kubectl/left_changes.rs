//! Whether a failed kubectl action left anything to undo, judged from its
//! evidence and outcome, so that a failure that changed nothing is not
//! rolled back (and cannot fail its rollback: no false alarm).

use plangate_plans::{ExecutorKind, action::KubectlAction};
use serde_json::Value;

use super::{evidence::KubectlEvidence, executor::changes_objects};
use crate::{
    kube::parse_evidence,
    outcome::{ActionOutcome, LeftChanges},
};

/// What a failed `apply` (or `delete`, `scale`, ...) left, from what it
/// recorded:
///
/// - nothing recorded: it failed before its snapshot, hence before any
///   change (the snapshot is committed before the command runs);
/// - an operation that changes no object (`rollout_status`, `wait`);
/// - an `apply` whose objects all have the `resourceVersion` the snapshot
///   recorded, and none that was absent exists now;
/// - a command that exited without reporting any object (kubectl prints a
///   line per object it changed): it stopped at its first error.
///
/// Anything else that reports objects is [`LeftChanges::Some`]; a command
/// stopped or not known to have exited is [`LeftChanges::Unknown`].
pub(super) fn left_changes(
    action: &KubectlAction,
    evidence: Option<&Value>,
    outcome: &ActionOutcome,
) -> LeftChanges {
    let op = action.op.as_str();
    if !changes_objects(action.op) {
        return LeftChanges::None {
            reason: format!("`{op}` changes nothing in the cluster"),
        };
    }
    let Some(evidence) = outcome.evidence.as_ref().or(evidence) else {
        return LeftChanges::None {
            reason: "it failed before it recorded its snapshot, so before it changed anything"
                .to_owned(),
        };
    };
    let Ok(evidence) = parse_evidence::<KubectlEvidence>(ExecutorKind::Kubectl, Some(evidence))
    else {
        return LeftChanges::Unknown;
    };
    if outcome.exit_code.is_none() {
        return LeftChanges::Unknown;
    }
    if versions_unchanged(&evidence) {
        return LeftChanges::None {
            reason: "every object still has the version its snapshot recorded".to_owned(),
        };
    }
    if outcome.stdout_tail.trim().is_empty() && !outcome.stdout_truncated {
        let said = outcome
            .error_line()
            .map_or_else(String::new, |line| format!(": {line}"));
        return LeftChanges::None {
            reason: format!("kubectl reported no object changed{said}"),
        };
    }
    LeftChanges::Some
}

/// Whether an `apply`'s objects are all as the snapshot recorded them: each
/// that existed has the same `resourceVersion`, and none that was absent
/// exists. Only an `apply` records the versions it leaves.
fn versions_unchanged(evidence: &KubectlEvidence) -> bool {
    if evidence.objects.is_empty() || evidence.applied.is_empty() {
        return false;
    }
    evidence.objects.iter().all(|snapshot| {
        let now = evidence
            .applied
            .iter()
            .find(|applied| applied.object.same_object(&snapshot.object));
        match (&snapshot.before, now) {
            (None, None) => true,
            (Some(before), Some(now)) => {
                now.resource_version.is_some()
                    && before["metadata"]["resourceVersion"].as_str()
                        == now.resource_version.as_deref()
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::outcome::OutcomeStatus;

    fn action(yaml: &str) -> KubectlAction {
        serde_yaml::from_str(yaml).expect("a valid kubectl action")
    }

    fn evidence(before: &Value, applied: &Value) -> Value {
        json!({
            "tool_version": "v1.33.9",
            "op": "apply",
            "target": {"context": "dev", "namespace": "demo", "kubeconfig": null},
            "objects": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                         "namespace": "demo", "before": before}],
            "applied": applied,
        })
    }

    fn failed(stdout: &str, stderr: &str, evidence: Option<Value>) -> ActionOutcome {
        let mut outcome = ActionOutcome::new(OutcomeStatus::Failed, "kubectl apply");
        outcome.exit_code = Some(1);
        stdout.clone_into(&mut outcome.stdout_tail);
        stderr.clone_into(&mut outcome.stderr_tail);
        outcome.evidence = evidence;
        outcome
    }

    const APPLY: &str = "op: apply\nfiles: [app.yaml]";

    #[test]
    fn no_snapshot_means_nothing_changed() {
        let outcome = failed("", "error: context \"dev\" does not exist\n", None);
        assert!(matches!(
            left_changes(&action(APPLY), None, &outcome),
            LeftChanges::None { reason } if reason.contains("before it recorded its snapshot")
        ));
    }

    #[test]
    fn waiting_changes_nothing() {
        let outcome = failed("", "error: timed out waiting for the condition\n", None);
        assert_eq!(
            left_changes(
                &action("op: wait\nresource: deployment/web\ncondition: Available"),
                None,
                &outcome
            ),
            LeftChanges::None {
                reason: "`wait` changes nothing in the cluster".to_owned()
            }
        );
    }

    #[test]
    fn unchanged_versions_mean_nothing_changed() {
        let before = json!({"metadata": {"name": "web", "resourceVersion": "7"}});
        let same = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                           "namespace": "demo", "resourceVersion": "7", "generation": 1}]);
        let outcome = failed(
            "deployment.apps/web unchanged\n",
            "error: something later\n",
            Some(evidence(&before, &same)),
        );
        assert!(matches!(
            left_changes(&action(APPLY), None, &outcome),
            LeftChanges::None { reason } if reason.contains("version its snapshot recorded")
        ));
        let newer = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                            "namespace": "demo", "resourceVersion": "8", "generation": 2}]);
        let outcome = failed(
            "deployment.apps/web configured\n",
            "error: a later object failed\n",
            Some(evidence(&before, &newer)),
        );
        assert_eq!(
            left_changes(&action(APPLY), None, &outcome),
            LeftChanges::Some
        );
    }

    #[test]
    fn an_error_before_any_object_result_changed_nothing() {
        let before = json!({"metadata": {"name": "web", "resourceVersion": "7"}});
        let outcome = failed(
            "",
            "error: Apply failed with 1 conflict: conflict with \"kubectl\"\nPlease review the fields above.\n",
            Some(evidence(&before, &json!([]))),
        );
        assert_eq!(
            left_changes(&action(APPLY), None, &outcome),
            LeftChanges::None {
                reason: "kubectl reported no object changed: error: Apply failed with 1 conflict: conflict with \"kubectl\"".to_owned()
            }
        );
    }

    #[test]
    fn a_stopped_command_is_unknown() {
        let before = json!({"metadata": {"name": "web", "resourceVersion": "7"}});
        let mut outcome = failed("", "", Some(evidence(&before, &json!([]))));
        outcome.status = OutcomeStatus::TimedOut;
        outcome.exit_code = None;
        outcome.signal = Some(15);
        assert_eq!(
            left_changes(&action(APPLY), None, &outcome),
            LeftChanges::Unknown
        );
    }
}
