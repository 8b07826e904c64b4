//! Reading the objects an action touches before it changes them: the
//! snapshots `apply` records, and the versions it leaves.

use plangate_plans::{ExecutorKind, action::KubectlOp};
use serde_json::Value;

use super::{evidence::AppliedObject, executor::Request};
use crate::kube::{Halt, Invocation, ObjectRef, ScratchDir, Snapshot, parse_items};

/// The annotation client-side apply keeps; prune only deletes objects that
/// carry it.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The resources `kubectl apply --prune` considers by default (kubectl's
/// built-in allowlist).
const PRUNE_ALLOWLIST: [&str; 16] = [
    "configmaps",
    "endpoints",
    "namespaces",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "replicationcontrollers",
    "secrets",
    "services",
    "jobs.batch",
    "cronjobs.batch",
    "ingresses.networking.k8s.io",
    "daemonsets.apps",
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
];

impl Request<'_> {
    /// The objects the action will touch, as they are now.
    pub(super) async fn snapshot(&self) -> Result<Vec<Snapshot>, Halt> {
        match self.action.op {
            KubectlOp::Apply => {
                let objects = self.render().await?;
                self.live(&objects).await
            }
            KubectlOp::Delete if self.uses_manifests() => {
                let mut args = vec!["get".to_owned()];
                args.extend(self.source_args());
                if let Some(selector) = &self.action.selector {
                    args.extend(["-l".to_owned(), selector.clone()]);
                }
                self.existing(args).await
            }
            _ => {
                let mut args = vec!["get".to_owned()];
                args.extend(self.resource_args());
                self.existing(args).await
            }
        }
    }

    /// The existing objects a `get` lists, as snapshots.
    pub(super) async fn existing(&self, mut args: Vec<String>) -> Result<Vec<Snapshot>, Halt> {
        args.extend([
            "-o".to_owned(),
            "json".to_owned(),
            "--ignore-not-found".to_owned(),
            // A restore puts field ownership back too.
            "--show-managed-fields".to_owned(),
        ]);
        args.extend(self.target.kubectl_args());
        let stdout = self.invocation.query(&args).await?;
        let items = parse_json_items(&self.invocation, &args, &stdout)?;
        Ok(items
            .into_iter()
            .filter_map(|object| {
                Some(Snapshot {
                    object: ObjectRef::of(&object)?,
                    before: Some(object),
                })
            })
            .collect())
    }

    /// The identities of the objects the manifests hold, rendered client-side.
    pub(super) async fn render(&self) -> Result<Vec<ObjectRef>, Halt> {
        let mut args = vec!["apply".to_owned()];
        args.extend(self.source_args());
        if let Some(selector) = &self.action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args.extend([
            "--dry-run=client".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args.extend(self.target.kubectl_args());
        let stdout = self.invocation.query(&args).await?;
        let mut objects: Vec<ObjectRef> = Vec::new();
        for object in parse_json_items(&self.invocation, &args, &stdout)? {
            if let Some(object) = ObjectRef::of(&object)
                && !objects.iter().any(|known| known.same_object(&object))
            {
                objects.push(object);
            }
        }
        Ok(objects)
    }

    /// The live version of each object (`None` when absent).
    pub(super) async fn live(&self, objects: &[ObjectRef]) -> Result<Vec<Snapshot>, Halt> {
        let mut snapshots: Vec<Snapshot> = objects
            .iter()
            .map(|object| Snapshot {
                object: object.clone(),
                before: None,
            })
            .collect();
        if objects.is_empty() {
            return Ok(snapshots);
        }
        let scratch = ScratchDir::new(ExecutorKind::Kubectl).await?;
        let stubs = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": objects.iter().map(ObjectRef::stub).collect::<Vec<_>>(),
        });
        let file = scratch
            .write_json(ExecutorKind::Kubectl, "objects.json", &stubs)
            .await?;
        let mut args = vec![
            "get".to_owned(),
            "-f".to_owned(),
            file.to_string_lossy().into_owned(),
            "-o".to_owned(),
            "json".to_owned(),
            "--ignore-not-found".to_owned(),
            // A restore puts field ownership back too.
            "--show-managed-fields".to_owned(),
        ];
        args.extend(self.target.kubectl_cluster_args());
        let stdout = self.invocation.query(&args).await?;
        for live in parse_json_items(&self.invocation, &args, &stdout)? {
            let Some(identity) = ObjectRef::of(&live) else {
                continue;
            };
            if let Some(snapshot) = snapshots
                .iter_mut()
                .find(|snapshot| snapshot.object.same_object(&identity))
            {
                snapshot.before = Some(live);
            }
        }
        Ok(snapshots)
    }

    /// The objects `--prune` may delete: those of the allowlisted kinds the
    /// server serves, matching the selector, applied client-side, and not in
    /// the manifests.
    pub(super) async fn prune_candidates(
        &self,
        objects: &[Snapshot],
    ) -> Result<Vec<Snapshot>, Halt> {
        let Some(selector) = &self.action.prune else {
            return Ok(Vec::new());
        };
        let mut args = vec![
            "api-resources".to_owned(),
            "-o".to_owned(),
            "name".to_owned(),
        ];
        args.extend(self.target.kubectl_cluster_args());
        let served = self.invocation.query(&args).await?;
        let kinds: Vec<&str> = PRUNE_ALLOWLIST
            .into_iter()
            .filter(|kind| served.lines().any(|line| line.trim() == *kind))
            .collect();
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let args = vec![
            "get".to_owned(),
            kinds.join(","),
            "-l".to_owned(),
            selector.clone(),
        ];
        let candidates = self.existing(args).await?;
        Ok(candidates
            .into_iter()
            .filter(|candidate| {
                candidate.before.as_ref().is_some_and(|object| {
                    object["metadata"]["annotations"][LAST_APPLIED].is_string()
                }) && !objects
                    .iter()
                    .any(|object| object.object.same_object(&candidate.object))
            })
            .collect())
    }

    /// The versions the applied objects have now.
    pub(super) async fn applied(&self, objects: &[Snapshot]) -> Result<Vec<AppliedObject>, Halt> {
        let identities: Vec<ObjectRef> = objects.iter().map(|s| s.object.clone()).collect();
        Ok(self
            .live(&identities)
            .await?
            .into_iter()
            .filter_map(|snapshot| {
                let live = snapshot.before?;
                Some(AppliedObject {
                    object: snapshot.object,
                    resource_version: live["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_owned),
                    generation: live["metadata"]["generation"].as_i64(),
                })
            })
            .collect())
    }
}

/// The objects of a query's JSON answer; unreadable JSON is the query's error.
pub(super) fn parse_json_items(
    invocation: &Invocation<'_>,
    args: &[String],
    stdout: &str,
) -> Result<Vec<Value>, Halt> {
    parse_items(stdout).map_err(|error| invocation.not_json(args, &error))
}
