//! Validation, the `422 Invalid` answers of the real API server.
//!
//! Only the rules that real tools trip over in practice are checked: object names, the total
//! size of annotations (which a large CRD's `last-applied-configuration` exceeds), workload
//! selectors that must match their pod template, required containers and images, and the
//! immutable fields an upgrade must not change (workload selectors, Job templates, Service
//! cluster IPs). Messages follow the real field paths and wording.

use crate::{
    errors::{ApiError, Cause},
    meta,
    resources::ResourceType,
    selectors::{LabelSelector, labels_of},
};
use serde_json::Value;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// The most bytes (keys plus values) an object's annotations may hold, which large CRDs
/// exceed when `kubectl apply` stores them in `last-applied-configuration`.
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label)
}

fn cause(reason: &'static str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason,
        message: message.into(),
        field: field.to_owned(),
    }
}

fn go_map(labels: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key:?}:{value:?}"))
        .collect();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// Validates `object` (of `resource`); `old` is the stored object on updates.
pub(crate) fn validate(
    resource: &ResourceType,
    object: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let name = meta::name_of(object);
    let mut causes = Vec::new();
    let dns_label = matches!(resource.kind, "Namespace" | "Service");
    if name.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else if dns_label && !is_label(name) {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: {LABEL_MESSAGE}"),
        ));
    } else if !dns_label && !resource.group.starts_with("rbac") && !is_subdomain(name) {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: {SUBDOMAIN_MESSAGE}"),
        ));
    }
    let annotations: usize = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map_or(0, |annotations| {
            annotations
                .iter()
                .map(|(key, value)| key.len() + value.as_str().map_or(0, str::len))
                .sum()
        });
    if annotations > TOTAL_ANNOTATION_SIZE {
        causes.push(cause(
            "FieldValueTooLong",
            "metadata.annotations",
            format!("Too long: must have at most {TOTAL_ANNOTATION_SIZE} bytes"),
        ));
    }
    match (resource.group, resource.kind) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(object, old, &mut causes);
        }
        ("batch", "Job") => {
            pod_template(object, "spec.template", &mut causes);
            if let Some(old) = old
                && old.pointer("/spec/template") != object.pointer("/spec/template")
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.template",
                    "Invalid value: core.PodTemplateSpec{...}: field is immutable",
                ));
            }
        }
        ("", "Pod") => containers(
            object.pointer("/spec/containers"),
            "spec.containers",
            &mut causes,
        ),
        ("", "Service") => {
            if let Some(old) = old {
                let old_ip = old.pointer("/spec/clusterIP");
                let new_ip = object.pointer("/spec/clusterIP");
                if old_ip.is_some() && new_ip.is_some() && old_ip != new_ip {
                    causes.push(cause(
                        "FieldValueInvalid",
                        "spec.clusterIPs[0]",
                        format!(
                            "Invalid value: {}: may not change once set",
                            new_ip.map(Value::to_string).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(resource, name, &causes))
    }
}

fn workload(object: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    let selector = object.pointer("/spec/selector");
    match selector {
        None | Some(Value::Null) => causes.push(cause("FieldValueRequired", "spec.selector", "Required value")),
        Some(selector) => match LabelSelector::from_object(selector) {
            None => causes.push(cause("FieldValueInvalid", "spec.selector", "Invalid value: malformed label selector")),
            Some(parsed) if parsed.is_empty() => causes.push(cause(
                "FieldValueInvalid",
                "spec.selector",
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
            )),
            Some(parsed) => {
                let template_labels = object
                    .pointer("/spec/template")
                    .map(labels_of)
                    .unwrap_or_default();
                if !parsed.matches(&template_labels) {
                    causes.push(cause(
                        "FieldValueInvalid",
                        "spec.template.metadata.labels",
                        format!(
                            "Invalid value: {}: `selector` does not match template `labels`",
                            go_map(&template_labels)
                        ),
                    ));
                }
            }
        },
    }
    if let Some(old) = old
        && old.pointer("/spec/selector").is_some()
        && old.pointer("/spec/selector") != selector
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.selector",
            format!(
                "Invalid value: v1.LabelSelector{{MatchLabels:{}}}: field is immutable",
                selector
                    .and_then(|s| s.get("matchLabels"))
                    .map(Value::to_string)
                    .unwrap_or_default()
            ),
        ));
    }
    pod_template(object, "spec.template", causes);
}

fn pod_template(object: &Value, field: &str, causes: &mut Vec<Cause>) {
    containers(
        object.pointer("/spec/template/spec/containers"),
        &format!("{field}.spec.containers"),
        causes,
    );
}

fn containers(list: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    let Some(Value::Array(containers)) = list else {
        causes.push(cause("FieldValueRequired", field, "Required value"));
        return;
    };
    if containers.is_empty() {
        causes.push(cause("FieldValueRequired", field, "Required value"));
    }
    for (index, container) in containers.iter().enumerate() {
        if container
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(cause(
                "FieldValueRequired",
                &format!("{field}[{index}].name"),
                "Required value",
            ));
        }
        if container
            .get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(cause(
                "FieldValueRequired",
                &format!("{field}[{index}].image"),
                "Required value",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;
    use serde_json::json;

    #[test]
    fn selector_must_match_template() {
        let deployments = by_plural("apps", "v1", "deployments").expect("registered");
        let object = json!({
            "metadata": {"name": "api"},
            "spec": {
                "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
            },
        });
        let error = validate(deployments, &object, None).expect_err("invalid");
        assert_eq!(
            error.message,
            "Deployment.apps \"api\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
        );
    }

    #[test]
    fn annotations_are_limited_in_total() {
        let definitions = by_plural("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("registered");
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE);
        let object = json!({"metadata": {"name": "apps.example.com", "annotations": {"a": big}}});
        let error = validate(definitions, &object, None).expect_err("too long");
        assert_eq!(
            error.message,
            "CustomResourceDefinition.apiextensions.k8s.io \"apps.example.com\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"
        );
    }

    #[test]
    fn names_are_checked() {
        let configmaps = by_plural("", "v1", "configmaps").expect("registered");
        assert!(validate(configmaps, &json!({"metadata": {"name": "a.b-c"}}), None).is_ok());
        assert!(validate(configmaps, &json!({"metadata": {"name": "Bad"}}), None).is_err());
        assert!(validate(configmaps, &json!({"metadata": {}}), None).is_err());
    }
}
