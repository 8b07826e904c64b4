//! Comparing two release manifests object by object, for previews.

use serde::Deserialize;
use serde_json::Value;

use crate::{
    error::ExecutorError,
    kube::{ChangeCounts, Halt, ObjectRef, object_diff},
    preview::{ChangeKind, PreviewChange},
};

/// The per-object changes from manifest `old` to manifest `new`.
/// Objects without a namespace are named in `namespace`, the release's.
pub(super) fn compare(
    old: &str,
    new: &str,
    namespace: &str,
) -> Result<(Vec<PreviewChange>, ChangeCounts), Halt> {
    let old = manifest_objects(old)?;
    let new = manifest_objects(new)?;
    let mut changes = Vec::new();
    let mut counts = ChangeCounts::default();
    for (identity, object) in &new {
        let before = old
            .iter()
            .find(|(known, _)| known.same_kind_and_name(identity))
            .map(|(_, before)| before);
        let name = identity.to_string();
        let (change, diff) = match before {
            None => (
                ChangeKind::Create,
                object_diff(&Value::Null, object, "/dev/null", &format!("new/{name}")),
            ),
            Some(before) => match object_diff(
                before,
                object,
                &format!("current/{name}"),
                &format!("new/{name}"),
            ) {
                Some(diff) => (ChangeKind::Update, Some(diff)),
                None => (ChangeKind::Unchanged, None),
            },
        };
        counts.add(change);
        changes.push(PreviewChange {
            object: identity.preview_name(Some(namespace)),
            change,
            diff,
        });
    }
    for (identity, object) in &old {
        if !new
            .iter()
            .any(|(known, _)| known.same_kind_and_name(identity))
        {
            let name = identity.to_string();
            counts.add(ChangeKind::Delete);
            changes.push(PreviewChange {
                diff: object_diff(
                    object,
                    &Value::Null,
                    &format!("current/{name}"),
                    "/dev/null",
                ),
                object: identity.preview_name(Some(namespace)),
                change: ChangeKind::Delete,
            });
        }
    }
    Ok((changes, counts))
}

/// The objects of a multi-document YAML manifest, with their identities.
fn manifest_objects(manifest: &str) -> Result<Vec<(ObjectRef, Value)>, Halt> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(manifest) {
        let object = Value::deserialize(document).map_err(|error| {
            Halt::Failed(ExecutorError::Tool {
                command: "helm (reading a release manifest)".to_owned(),
                exit_code: Some(0),
                signal: None,
                stderr_tail: format!("the manifest is not valid YAML: {error}"),
            })
        })?;
        if let Some(identity) = ObjectRef::of(&object) {
            objects.push((identity, object));
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_compare_object_by_object() {
        let old = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: gone}\n";
        let new = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
        let (changes, counts) = compare(old, new, "demo").expect("valid manifests");
        let summary: Vec<(&str, ChangeKind)> = changes
            .iter()
            .map(|change| (change.object.as_str(), change.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("configmap/a (namespace demo)", ChangeKind::Update),
                ("service/s (namespace demo)", ChangeKind::Unchanged),
                ("deployment.apps/d (namespace demo)", ChangeKind::Create),
                ("secret/gone (namespace demo)", ChangeKind::Delete),
            ]
        );
        assert_eq!(
            counts.describe(),
            "1 to create, 1 to update, 1 to delete, 1 unchanged"
        );
        let diff = changes[0].diff.as_deref().expect("a diff");
        assert!(diff.contains("-  k: v\n+  k: w\n"), "{diff}");
        assert!(compare("", "", "demo").expect("empty").0.is_empty());
    }
}
