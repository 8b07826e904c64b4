//! Merge metadata for the lists and maps of the served kinds.
//!
//! The real API server reads `patchMergeKey`/`patchStrategy` struct tags (strategic merge
//! patch) and `listType`/`listMapKeys` markers (server-side apply) from its Go types. The
//! emulator has no Go types, so this module hard-codes the same facts for the fields of the
//! served kinds, keyed by the field's name and its enclosing context. Every list not named here
//! is atomic, which is also what the real types say for most lists (`args`, `command`,
//! `tolerations`, RBAC `rules` and `subjects`, ingress `rules`, ...).

/// How a list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// Items are maps identified by key fields.
    Map {
        /// The strategic-merge-patch merge key (`patchMergeKey`).
        merge_key: &'static str,
        /// The server-side-apply list-map keys (`listMapKeys`).
        apply_keys: &'static [&'static str],
        /// Whether the list has the `retainKeys` strategy (items drop unlisted keys).
        retain_keys: bool,
    },
    /// Scalars merged as a set (`patchStrategy:"merge"` on a primitive list).
    Set,
}

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

const fn keyed(merge_key: &'static str, apply_keys: &'static [&'static str]) -> ListKind {
    ListKind::Map {
        merge_key,
        apply_keys,
        retain_keys: false,
    }
}

/// The merge behaviour of the list at `path` (field names from the object root; list indices
/// are not part of the path) in an object of `kind`.
pub(crate) fn list_kind(kind: &str, path: &[&str]) -> ListKind {
    let Some((last, parents)) = path.split_last() else {
        return ListKind::Atomic;
    };
    let parent = parents.last().copied().unwrap_or_default();
    match *last {
        "volumes" => ListKind::Map {
            merge_key: "name",
            apply_keys: &["name"],
            retain_keys: true,
        },
        "env" if CONTAINER_LISTS.contains(&parent) => keyed("name", &["name"]),
        "ports" if CONTAINER_LISTS.contains(&parent) => {
            keyed("containerPort", &["containerPort", "protocol"])
        }
        "ports" if kind == "Service" && path == ["spec", "ports"] => {
            keyed("port", &["port", "protocol"])
        }
        "volumeMounts" => keyed("mountPath", &["mountPath"]),
        "volumeDevices" => keyed("devicePath", &["devicePath"]),
        "resizePolicy" => keyed("resourceName", &["resourceName"]),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => keyed("name", &["name"]),
        "secrets" if kind == "ServiceAccount" => keyed("name", &["name"]),
        "webhooks" if kind.ends_with("WebhookConfiguration") => keyed("name", &["name"]),
        "hostAliases" => keyed("ip", &["ip"]),
        "topologySpreadConstraints" => keyed("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
        "conditions" if parent == "status" => keyed("type", &["type"]),
        "ownerReferences" if parent == "metadata" => keyed("uid", &["uid"]),
        "finalizers" if parent == "metadata" => ListKind::Set,
        _ => ListKind::Atomic,
    }
}

/// Whether the map at `path` is atomic for server-side apply (owned and replaced as a whole),
/// like `metav1.LabelSelector`, which is `structType=atomic`.
pub(crate) fn map_is_atomic(path: &[&str]) -> bool {
    matches!(path.last(), Some(&"selector")) && path.len() == 2 && path[0] == "spec"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_lists_are_keyed_by_name() {
        assert_eq!(
            list_kind("Deployment", &["spec", "template", "spec", "containers"]),
            keyed("name", &["name"])
        );
        assert_eq!(
            list_kind("Pod", &["spec", "containers", "env"]),
            keyed("name", &["name"])
        );
    }

    #[test]
    fn ports_depend_on_context() {
        assert_eq!(
            list_kind(
                "Deployment",
                &["spec", "template", "spec", "containers", "ports"]
            ),
            keyed("containerPort", &["containerPort", "protocol"])
        );
        assert_eq!(
            list_kind("Service", &["spec", "ports"]),
            keyed("port", &["port", "protocol"])
        );
        assert_eq!(
            list_kind("NetworkPolicy", &["spec", "ingress", "ports"]),
            ListKind::Atomic
        );
    }

    #[test]
    fn unnamed_lists_are_atomic() {
        assert_eq!(
            list_kind(
                "Deployment",
                &["spec", "template", "spec", "containers", "args"]
            ),
            ListKind::Atomic
        );
        assert_eq!(list_kind("Pod", &["metadata", "finalizers"]), ListKind::Set);
    }
}
