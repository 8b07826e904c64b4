//! `observe` of a kubectl action after a crash: are its changes in place?

use std::collections::BTreeMap;

use plangate_plans::action::KubectlOp;
use serde_json::Value;

use super::{evidence::KubectlEvidence, executor::Request, snapshot::parse_json_items};
use crate::{
    kube::{Halt, ObjectRef, Snapshot, same_content},
    outcome::Observation,
};

impl Request<'_> {
    /// `observe` of an `apply`.
    pub(super) async fn observe_apply(
        &self,
        evidence: &KubectlEvidence,
    ) -> Result<Observation, Halt> {
        let identities: Vec<ObjectRef> = if evidence.objects.is_empty() {
            self.render().await?
        } else {
            evidence.objects.iter().map(|s| s.object.clone()).collect()
        };
        let live = self.live(&identities).await?;
        let diffs = self.diff().await?;
        let mut in_place = Vec::new();
        let mut not_in_place = Vec::new();
        let mut changed = false;
        for current in &live {
            let before = evidence
                .objects
                .iter()
                .find(|snapshot| snapshot.object.same_object(&current.object))
                .and_then(|snapshot| snapshot.before.as_ref());
            changed |= differs(before, current.before.as_ref());
            let matches = current.before.is_some()
                && diffs
                    .as_ref()
                    .is_ok_and(|diffs| !diffs.contains_key(&current.object.diff_file_name()));
            if matches {
                in_place.push(current.object.to_string());
            } else {
                not_in_place.push(current.object.to_string());
            }
        }
        if !evidence.prune_candidates.is_empty() {
            let identities: Vec<ObjectRef> = evidence
                .prune_candidates
                .iter()
                .map(|s| s.object.clone())
                .collect();
            for current in self.live(&identities).await? {
                let before = evidence
                    .prune_candidates
                    .iter()
                    .find(|snapshot| snapshot.object.same_object(&current.object))
                    .and_then(|snapshot| snapshot.before.as_ref());
                changed |= differs(before, current.before.as_ref());
            }
        }
        Ok(settle(&in_place, &not_in_place, changed, diffs.map(|_| ())))
    }

    /// `observe` of `delete`, `scale`, `patch`, `set_image` and
    /// `rollout_undo`: each snapshotted object, live.
    pub(super) async fn observe_objects(&self, objects: &[Snapshot]) -> Result<Observation, Halt> {
        if objects.is_empty() {
            return Ok(Observation::NotApplied);
        }
        let identities: Vec<ObjectRef> = objects.iter().map(|s| s.object.clone()).collect();
        let live = self.live(&identities).await?;
        let patched = if self.action.op == KubectlOp::Patch {
            let args = self.dry_run_args();
            let outcome = self.invocation.probe(&args, &[]).await?;
            if outcome.succeeded() {
                Some(parse_json_items(
                    &self.invocation,
                    &args,
                    &outcome.stdout_tail,
                )?)
            } else {
                None
            }
        } else {
            None
        };
        let mut in_place = Vec::new();
        let mut not_in_place = Vec::new();
        let mut changed = false;
        for snapshot in objects {
            let current = live
                .iter()
                .find(|live| live.object.same_object(&snapshot.object))
                .and_then(|live| live.before.as_ref());
            changed |= differs(snapshot.before.as_ref(), current);
            let applied = match (self.action.op, current) {
                (KubectlOp::Delete, None) => true,
                (KubectlOp::Delete, Some(current)) => snapshot
                    .before
                    .as_ref()
                    .is_some_and(|before| before["metadata"]["uid"] != current["metadata"]["uid"]),
                (_, None) => false,
                (KubectlOp::Scale, Some(current)) => {
                    current["spec"]["replicas"].as_u64() == self.action.replicas.map(u64::from)
                }
                (KubectlOp::SetImage, Some(current)) => has_images(current, &self.action.images),
                (KubectlOp::Patch, Some(current)) => patched.as_ref().is_some_and(|patched| {
                    patched.iter().any(|result| {
                        ObjectRef::of(result).is_some_and(|id| id.same_object(&snapshot.object))
                            && same_content(result, current)
                    })
                }),
                (_, Some(current)) => snapshot.before.as_ref().is_some_and(|before| {
                    before["spec"]["template"] != current["spec"]["template"]
                }),
            };
            if applied {
                in_place.push(snapshot.object.to_string());
            } else {
                not_in_place.push(snapshot.object.to_string());
            }
        }
        Ok(settle(
            &in_place,
            &not_in_place,
            changed,
            Ok::<(), String>(()),
        ))
    }
}

/// Whether an object differs from its snapshot (appeared, vanished, or
/// changed in content).
fn differs(before: Option<&Value>, now: Option<&Value>) -> bool {
    match (before, now) {
        (None, None) => false,
        (Some(before), Some(now)) => !same_content(before, now),
        _ => true,
    }
}

/// The observation from which objects are in place, and whether anything
/// changed since the snapshot.
fn settle<E: std::fmt::Display>(
    in_place: &[String],
    not_in_place: &[String],
    changed: bool,
    check: Result<(), E>,
) -> Observation {
    let check = check.err();
    if not_in_place.is_empty() && check.is_none() {
        return Observation::Applied;
    }
    if !changed {
        return Observation::NotApplied;
    }
    let mut detail = match (in_place.is_empty(), not_in_place.is_empty()) {
        (false, false) => format!(
            "in place: {}; not in place: {}",
            in_place.join(", "),
            not_in_place.join(", ")
        ),
        (true, _) => format!(
            "objects changed since the snapshot, but none matches the action: {}",
            not_in_place.join(", ")
        ),
        (false, true) => format!("in place: {}", in_place.join(", ")),
    };
    if let Some(error) = check {
        detail.push_str(&format!(" (kubectl diff failed: {error})"));
    }
    Observation::Partial { detail }
}

/// Whether every container named in `images` runs that image.
fn has_images(object: &Value, images: &BTreeMap<String, String>) -> bool {
    let spec = &object["spec"]["template"]["spec"];
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|field| spec[*field].as_array())
        .flatten()
        .collect();
    images.iter().all(|(name, image)| {
        name == "*"
            && containers
                .iter()
                .all(|container| container["image"] == image.as_str())
            || containers.iter().any(|container| {
                container["name"] == name.as_str() && container["image"] == image.as_str()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_observations() {
        let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            settle(&names(&["a"]), &[], true, Ok::<(), String>(())),
            Observation::Applied
        );
        assert_eq!(
            settle(&[], &names(&["a"]), false, Ok::<(), String>(())),
            Observation::NotApplied
        );
        assert_eq!(
            settle(&names(&["a"]), &names(&["b"]), true, Ok::<(), String>(())),
            Observation::Partial {
                detail: "in place: a; not in place: b".to_owned()
            }
        );
        assert_eq!(
            settle(&names(&["a"]), &[], true, Err("boom")),
            Observation::Partial {
                detail: "in place: a (kubectl diff failed: boom)".to_owned()
            }
        );
    }
}
