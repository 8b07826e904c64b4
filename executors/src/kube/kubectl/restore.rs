//! `rollback: auto` of a kubectl action: putting every snapshot back.

use std::collections::BTreeMap;

use plangate_plans::ExecutorKind;
use serde_json::Value;

use super::executor::Request;
use crate::{
    error::ExecutorError,
    kube::{
        Halt, ObjectRef, ScratchDir, Snapshot, Steps, holds_redacted, restorable, same_content,
    },
    outcome::ActionOutcome,
};

impl Request<'_> {
    /// Puts every snapshot back, in the given order.
    pub(super) async fn restore(&self, order: &[&Snapshot]) -> Result<ActionOutcome, Halt> {
        for snapshot in order {
            if snapshot.before.as_ref().is_some_and(holds_redacted) {
                return Err(Halt::Failed(ExecutorError::RedactedSnapshot {
                    object: snapshot.object.to_string(),
                }));
            }
        }
        let identities: Vec<ObjectRef> = order.iter().map(|s| s.object.clone()).collect();
        let current = self.live(&identities).await?;
        let scratch = ScratchDir::new(ExecutorKind::Kubectl).await?;
        let mut discovery = Discovery::default();
        let mut steps = Steps::new(self.ctx().output_limit);
        for (index, snapshot) in order.iter().enumerate() {
            let live = current
                .iter()
                .find(|live| live.object.same_object(&snapshot.object))
                .and_then(|live| live.before.as_ref());
            // `kubectl replace` and `create` rewrite the client-side apply
            // annotation from the object they send; `--raw` sends the
            // snapshot exactly as it was.
            let (verb, path, document) = match (&snapshot.before, live) {
                (None, None) => {
                    steps.note(&format!("{}: absent, as before", snapshot.object));
                    continue;
                }
                (Some(before), Some(live)) if same_content(before, live) => {
                    if restored_ownership(before, live).is_none() {
                        steps.note(&format!("{}: matches its snapshot", snapshot.object));
                    } else if !self
                        .restore_ownership(&mut discovery, &scratch, index, snapshot, &mut steps)
                        .await?
                    {
                        break;
                    }
                    continue;
                }
                (None, Some(_)) => ("delete", None, snapshot.object.stub()),
                (Some(before), Some(live)) => {
                    let mut document = restorable(before);
                    document["metadata"]["resourceVersion"] =
                        live["metadata"]["resourceVersion"].clone();
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, true)
                        .await?;
                    ("replace", Some(path), document)
                }
                (Some(before), None) => {
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, false)
                        .await?;
                    ("create", Some(path), restorable(before))
                }
            };
            steps.note(&format!("{}: {}", snapshot.object, restore_word(verb)));
            let outcome = self
                .write(&scratch, &format!("{index}-{verb}"), verb, path, &document)
                .await?;
            if !steps.push(outcome) {
                break;
            }
            if snapshot
                .before
                .as_ref()
                .is_some_and(|before| before["metadata"]["managedFields"].is_array())
                && !self
                    .restore_ownership(&mut discovery, &scratch, index, snapshot, &mut steps)
                    .await?
            {
                break;
            }
        }
        let evidence = serde_json::json!({ "tool_version": self.version });
        Ok(steps.finish(
            "kubectl: nothing to restore, every object matches its snapshot",
            Some(evidence),
        ))
    }

    /// Sends `document` with `kubectl VERB` (`--raw PATH` for `replace` and
    /// `create`; `delete --ignore-not-found` names the object by its stub).
    async fn write(
        &self,
        scratch: &ScratchDir,
        name: &str,
        verb: &str,
        path: Option<String>,
        document: &Value,
    ) -> Result<ActionOutcome, Halt> {
        let file = scratch
            .write_json(ExecutorKind::Kubectl, &format!("{name}.json"), document)
            .await?;
        let mut args = vec![verb.to_owned()];
        match path {
            Some(path) => args.extend(["--raw".to_owned(), path]),
            None => args.push("--ignore-not-found".to_owned()),
        }
        args.extend(["-f".to_owned(), file.to_string_lossy().into_owned()]);
        args.extend(self.target.kubectl_cluster_args());
        let mut outcome = self.invocation.run(&args).await?;
        if outcome.succeeded() && args[1] == "--raw" {
            // The server's answer echoes the whole object back.
            outcome.stdout_tail.clear();
        }
        Ok(outcome)
    }

    /// Gives the fields of a restored object back to the managers that
    /// owned them in the snapshot; `false` when that failed (the failure is
    /// in `steps`).
    ///
    /// Writing the content back hands every field it changes to the writer
    /// (`kubectl`, an Update manager), as the API server does for any
    /// update, whatever `managedFields` the request carries; the owners'
    /// next `kubectl apply --server-side` would then conflict with
    /// `kubectl`. A second update that changes no field but sends the
    /// snapshot's `managedFields` sets them as they were: the server takes
    /// the request's `managedFields` when they are not empty, and gives
    /// nothing to the writer when no field changes. Entries of subresources
    /// (`status`) stay as they are now: their fields are not restored.
    async fn restore_ownership(
        &self,
        discovery: &mut Discovery,
        scratch: &ScratchDir,
        index: usize,
        snapshot: &Snapshot,
        steps: &mut Steps,
    ) -> Result<bool, Halt> {
        let Some(before) = &snapshot.before else {
            return Ok(true);
        };
        let path = self.api_path(discovery, &snapshot.object, true).await?;
        // A controller writing the status in between changes the
        // resourceVersion; the update is then tried again, a few times.
        let mut last = None;
        for attempt in 0..OWNERSHIP_ATTEMPTS {
            let now = self.live(std::slice::from_ref(&snapshot.object)).await?;
            let Some(now) = now.into_iter().next().and_then(|live| live.before) else {
                return Ok(true);
            };
            let Some(managed) = restored_ownership(before, &now) else {
                return Ok(true);
            };
            if attempt == 0 {
                steps.note(&format!(
                    "{}: giving its fields back to their owners in the snapshot",
                    snapshot.object
                ));
            }
            let mut document = restorable(before);
            document["metadata"]["managedFields"] = managed;
            document["metadata"]["resourceVersion"] = now["metadata"]["resourceVersion"].clone();
            let outcome = self
                .write(
                    scratch,
                    &format!("{index}-ownership-{attempt}"),
                    "replace",
                    Some(path.clone()),
                    &document,
                )
                .await?;
            if outcome.succeeded() || !is_conflict(&outcome) {
                return Ok(steps.push(outcome));
            }
            last = Some(outcome);
        }
        let outcome = last.expect("OWNERSHIP_ATTEMPTS is not zero, so an attempt was made");
        Ok(steps.push(outcome))
    }

    /// The API path of an object (`item`) or of its collection, from the
    /// server's discovery of the object's group version.
    async fn api_path(
        &self,
        discovery: &mut Discovery,
        object: &ObjectRef,
        item: bool,
    ) -> Result<String, Halt> {
        let base = match object.group() {
            "" => format!("/api/{}", object.version()),
            group => format!("/apis/{group}/{}", object.version()),
        };
        if !discovery.0.contains_key(&base) {
            let mut args = vec!["get".to_owned(), "--raw".to_owned(), base.clone()];
            args.extend(self.target.kubectl_cluster_args());
            let stdout = self.invocation.query(&args).await?;
            let list: Value = serde_json::from_str(&stdout)
                .map_err(|error| self.invocation.not_json(&args, &error))?;
            discovery.0.insert(base.clone(), list);
        }
        let resource = discovery.0[&base]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|resource| {
                resource["kind"] == object.kind.as_str()
                    && resource["name"]
                        .as_str()
                        .is_some_and(|name| !name.contains('/'))
            })
            .ok_or_else(|| ExecutorError::KindNotServed {
                object: object.to_string(),
            })?;
        let plural = resource["name"].as_str().unwrap_or_default();
        let mut path = base;
        if resource["namespaced"] == true {
            let namespace = object.namespace.as_deref().unwrap_or("default");
            path.push_str(&format!("/namespaces/{namespace}"));
        }
        path.push_str(&format!("/{plural}"));
        if item {
            path.push_str(&format!("/{}", object.name));
        }
        Ok(path)
    }
}

/// API discovery documents already read, by group-version path.
#[derive(Debug, Default)]
struct Discovery(BTreeMap<String, Value>);

/// How many times the ownership update is tried when the object changed
/// in between.
const OWNERSHIP_ATTEMPTS: usize = 5;

/// Whether a write failed because the object changed since it was read.
fn is_conflict(outcome: &ActionOutcome) -> bool {
    let stderr = outcome.stderr();
    stderr.contains("the object has been modified") || stderr.contains("Conflict")
}

/// The `managedFields` that give a restored object's fields back to their
/// snapshot owners: the snapshot's entries for the object itself, and the
/// current ones of its subresources. `None` when the object already has
/// its snapshot's owners, or the snapshot records none.
pub(super) fn restored_ownership(before: &Value, now: &Value) -> Option<Value> {
    let before = before["metadata"]["managedFields"].as_array()?;
    let empty = Vec::new();
    let now = now["metadata"]["managedFields"]
        .as_array()
        .unwrap_or(&empty);
    let of_object = |entries: &[Value]| -> Vec<Value> {
        entries
            .iter()
            .filter(|entry| entry.get("subresource").is_none_or(Value::is_null))
            .cloned()
            .collect()
    };
    let restored = of_object(before);
    if restored.is_empty() || owners(&restored) == owners(&of_object(now)) {
        return None;
    }
    let mut entries = restored;
    entries.extend(
        now.iter()
            .filter(|entry| entry.get("subresource").is_some_and(|s| !s.is_null()))
            .cloned(),
    );
    Some(Value::Array(entries))
}

/// Entries compared without their times and order.
fn owners(entries: &[Value]) -> Vec<String> {
    let mut owners: Vec<String> = entries
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            if let Some(map) = entry.as_object_mut() {
                map.remove("time");
            }
            entry.to_string()
        })
        .collect();
    owners.sort();
    owners
}

/// What a restore step does, for the outcome's output.
fn restore_word(verb: &str) -> &'static str {
    match verb {
        "delete" => "did not exist before, deleting",
        "replace" => "changed, restoring its snapshot",
        _ => "gone, re-creating it from its snapshot",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(manager: &str, operation: &str, time: &str) -> Value {
        json!({"manager": manager, "operation": operation, "time": time,
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}})
    }

    #[test]
    fn ownership_is_restored_for_the_object_and_kept_for_subresources() {
        let status = json!({"manager": "kube-controller-manager", "operation": "Update",
                            "subresource": "status", "fieldsV1": {"f:status": {}}});
        let before =
            json!({"metadata": {"managedFields": [entry("deploy", "Apply", "t1"), status]}});
        let now_status = json!({"manager": "kube-controller-manager", "operation": "Update",
                                "subresource": "status", "fieldsV1": {"f:status": {"f:replicas": {}}}});
        let now = json!({"metadata": {"managedFields": [
            entry("deploy", "Apply", "t2"), entry("kubectl", "Update", "t3"), now_status.clone()
        ]}});
        assert_eq!(
            restored_ownership(&before, &now),
            Some(json!([entry("deploy", "Apply", "t1"), now_status]))
        );
        let same = json!({"metadata": {"managedFields": [entry("deploy", "Apply", "t9")]}});
        assert_eq!(
            restored_ownership(&before, &same),
            None,
            "times do not count"
        );
        assert_eq!(
            restored_ownership(&json!({"metadata": {}}), &now),
            None,
            "a snapshot without managedFields restores none"
        );
    }
}
