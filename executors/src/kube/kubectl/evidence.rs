//! What the kubectl executor records for an action: [`KubectlEvidence`].

use plangate_plans::action::KubectlOp;
use serde::{Deserialize, Serialize};

use super::executor::Request;
use crate::kube::{ObjectRef, Snapshot, Target};

/// What the executor records for an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct KubectlEvidence {
    pub(super) tool_version: String,
    pub(super) op: KubectlOp,
    pub(super) target: Target,
    #[serde(default)]
    pub(super) objects: Vec<Snapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) prune_candidates: Vec<Snapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) applied: Vec<AppliedObject>,
}

/// An object as an `apply` left it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct AppliedObject {
    #[serde(flatten)]
    pub(super) object: ObjectRef,
    #[serde(rename = "resourceVersion")]
    pub(super) resource_version: Option<String>,
    pub(super) generation: Option<i64>,
}

impl Request<'_> {
    /// The evidence of the request before anything is snapshotted.
    pub(super) fn evidence(&self) -> KubectlEvidence {
        KubectlEvidence {
            tool_version: self.version.clone(),
            op: self.action.op,
            target: self.target.clone(),
            objects: Vec::new(),
            prune_candidates: Vec::new(),
            applied: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use plangate_plans::ExecutorKind;
    use serde_json::Value;

    use super::*;
    use crate::{
        error::ExecutorError,
        kube::{Halt, evidence_json, parse_evidence},
    };

    #[test]
    fn evidence_round_trips() {
        let evidence = KubectlEvidence {
            tool_version: "v1.33.9".to_owned(),
            op: KubectlOp::Apply,
            target: Target {
                context: "dev".to_owned(),
                namespace: Some("demo".to_owned()),
                kubeconfig: None,
            },
            objects: vec![Snapshot {
                object: ObjectRef {
                    api_version: "v1".to_owned(),
                    kind: "ConfigMap".to_owned(),
                    name: "c".to_owned(),
                    namespace: Some("demo".to_owned()),
                },
                before: None,
            }],
            prune_candidates: Vec::new(),
            applied: Vec::new(),
        };
        let json = evidence_json(&evidence);
        assert_eq!(json["op"], "apply");
        assert_eq!(json["objects"][0]["before"], Value::Null);
        assert!(json.get("applied").is_none());
        assert_eq!(
            parse_evidence::<KubectlEvidence>(ExecutorKind::Kubectl, Some(&json)).expect("parses"),
            evidence
        );
        assert!(matches!(
            parse_evidence::<KubectlEvidence>(ExecutorKind::Kubectl, None),
            Err(Halt::Failed(ExecutorError::MissingEvidence { .. }))
        ));
    }
}
