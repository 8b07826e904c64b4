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
            let (args, document) = match (&snapshot.before, live) {
                (None, None) => {
                    steps.note(&format!("{}: absent, as before", snapshot.object));
                    continue;
                }
                (Some(before), Some(live)) if same_content(before, live) => {
                    steps.note(&format!("{}: matches its snapshot", snapshot.object));
                    continue;
                }
                (None, Some(_)) => (
                    vec!["delete".to_owned(), "--ignore-not-found".to_owned()],
                    snapshot.object.stub(),
                ),
                (Some(before), Some(live)) => {
                    let mut document = restorable(before);
                    document["metadata"]["resourceVersion"] =
                        live["metadata"]["resourceVersion"].clone();
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, true)
                        .await?;
                    (
                        vec!["replace".to_owned(), "--raw".to_owned(), path],
                        document,
                    )
                }
                (Some(before), None) => {
                    let path = self
                        .api_path(&mut discovery, &snapshot.object, false)
                        .await?;
                    (
                        vec!["create".to_owned(), "--raw".to_owned(), path],
                        restorable(before),
                    )
                }
            };
            let file = scratch
                .write_json(
                    ExecutorKind::Kubectl,
                    &format!("{index}-{}.json", args[0]),
                    &document,
                )
                .await?;
            let mut args = args;
            args.extend(["-f".to_owned(), file.to_string_lossy().into_owned()]);
            args.extend(self.target.kubectl_cluster_args());
            steps.note(&format!("{}: {}", snapshot.object, restore_word(&args[0])));
            let mut outcome = self.invocation.run(&args).await?;
            if outcome.succeeded() && args[1] == "--raw" {
                // The server's answer echoes the whole object back.
                outcome.stdout_tail.clear();
            }
            if !steps.push(outcome) {
                break;
            }
        }
        let evidence = serde_json::json!({ "tool_version": self.version });
        Ok(steps.finish(
            "kubectl: nothing to restore, every object matches its snapshot",
            Some(evidence),
        ))
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

/// What a restore step does, for the outcome's output.
fn restore_word(verb: &str) -> &'static str {
    match verb {
        "delete" => "did not exist before, deleting",
        "replace" => "changed, restoring its snapshot",
        _ => "gone, re-creating it from its snapshot",
    }
}
