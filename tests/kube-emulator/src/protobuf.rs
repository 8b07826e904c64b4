//! Decoding of the Kubernetes protobuf request bodies that typed clients send.
//!
//! client-go's typed clientsets, as configured by kubectl and helm, encode request bodies as
//! `application/vnd.kubernetes.protobuf` and accept JSON or protobuf answers. The emulator
//! always answers JSON (which the clients accept), but it must read what they send: helm
//! stores releases through the typed Secret client and creates namespaces with
//! `--create-namespace`, and kubectl's
//! generators (`create secret|configmap|namespace|serviceaccount|deployment|job|service`)
//! and typed deletes use it too. client-go has no fallback to JSON on `415`
//! for protobuf (only for CBOR), so these bodies must be understood.
//!
//! The envelope is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` message whose
//! `raw` field holds the typed message. Typed messages are decoded with hand-written field
//! tables for the kinds above, covering the fields kubectl's generators set (from `k8s.io/api/core/v1/generated.proto` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`); any other kind is answered
//! with `415 UnsupportedMediaType`.

use crate::defaults::base64;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtobufError {
    /// The body lacks the `k8s\0` envelope or is truncated.
    #[error("malformed protobuf body")]
    Malformed,
    /// The kind has no field table here.
    #[error("protobuf bodies of kind `{0}` are not supported by the emulator; send JSON")]
    UnsupportedKind(String),
}

#[derive(Clone, Copy)]
enum Field {
    String,
    Int,
    Bool,
    Time,
    FieldsV1,
    StringMap,
    BytesMap,
    Strings,
    Message(&'static [(u64, &'static str, Field)]),
    Messages(&'static [(u64, &'static str, Field)]),
    /// An embedded struct whose fields JSON inlines into the parent (`LocalObjectReference`
    /// inside `ConfigMapKeySelector`).
    Inline(&'static [(u64, &'static str, Field)]),
    /// `map<string, Quantity>`; a `Quantity` is a message holding one string.
    QuantityMap,
    /// `IntOrString`: JSON renders it as a number or a string.
    IntOrString,
}

type Table = &'static [(u64, &'static str, Field)];

const OWNER_REFERENCE: Table = &[
    (5, "apiVersion", Field::String),
    (1, "kind", Field::String),
    (3, "name", Field::String),
    (4, "uid", Field::String),
    (6, "controller", Field::Bool),
    (7, "blockOwnerDeletion", Field::Bool),
];

const MANAGED_FIELDS_ENTRY: Table = &[
    (1, "manager", Field::String),
    (2, "operation", Field::String),
    (3, "apiVersion", Field::String),
    (4, "time", Field::Time),
    (6, "fieldsType", Field::String),
    (7, "fieldsV1", Field::FieldsV1),
    (8, "subresource", Field::String),
];

const OBJECT_META: Table = &[
    (1, "name", Field::String),
    (2, "generateName", Field::String),
    (3, "namespace", Field::String),
    (5, "uid", Field::String),
    (6, "resourceVersion", Field::String),
    (7, "generation", Field::Int),
    (8, "creationTimestamp", Field::Time),
    (9, "deletionTimestamp", Field::Time),
    (10, "deletionGracePeriodSeconds", Field::Int),
    (11, "labels", Field::StringMap),
    (12, "annotations", Field::StringMap),
    (13, "ownerReferences", Field::Messages(OWNER_REFERENCE)),
    (14, "finalizers", Field::Strings),
    (17, "managedFields", Field::Messages(MANAGED_FIELDS_ENTRY)),
];

const SECRET: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (2, "data", Field::BytesMap),
    (3, "type", Field::String),
    (4, "stringData", Field::StringMap),
    (5, "immutable", Field::Bool),
];

const CONFIG_MAP: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (2, "data", Field::StringMap),
    (3, "binaryData", Field::BytesMap),
    (4, "immutable", Field::Bool),
];

const NAMESPACE: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (
        2,
        "spec",
        Field::Message(&[(1, "finalizers", Field::Strings)]),
    ),
    (3, "status", Field::Message(&[(1, "phase", Field::String)])),
];

const OBJECT_REFERENCE: Table = &[
    (1, "kind", Field::String),
    (2, "namespace", Field::String),
    (3, "name", Field::String),
    (4, "uid", Field::String),
    (5, "apiVersion", Field::String),
];

const SERVICE_ACCOUNT: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (2, "secrets", Field::Messages(OBJECT_REFERENCE)),
    (
        3,
        "imagePullSecrets",
        Field::Messages(&[(1, "name", Field::String)]),
    ),
    (4, "automountServiceAccountToken", Field::Bool),
];

const LABEL_SELECTOR: Table = &[
    (1, "matchLabels", Field::StringMap),
    (
        2,
        "matchExpressions",
        Field::Messages(&[
            (1, "key", Field::String),
            (2, "operator", Field::String),
            (3, "values", Field::Strings),
        ]),
    ),
];

const LOCAL_OBJECT_REFERENCE: Table = &[(1, "name", Field::String)];

const KEY_SELECTOR: Table = &[
    (1, "", Field::Inline(LOCAL_OBJECT_REFERENCE)),
    (2, "key", Field::String),
    (3, "optional", Field::Bool),
];

const CONTAINER: Table = &[
    (1, "name", Field::String),
    (2, "image", Field::String),
    (3, "command", Field::Strings),
    (4, "args", Field::Strings),
    (5, "workingDir", Field::String),
    (
        6,
        "ports",
        Field::Messages(&[
            (1, "name", Field::String),
            (2, "hostPort", Field::Int),
            (3, "containerPort", Field::Int),
            (4, "protocol", Field::String),
            (5, "hostIP", Field::String),
        ]),
    ),
    (
        7,
        "env",
        Field::Messages(&[
            (1, "name", Field::String),
            (2, "value", Field::String),
            (
                3,
                "valueFrom",
                Field::Message(&[
                    (3, "configMapKeyRef", Field::Message(KEY_SELECTOR)),
                    (4, "secretKeyRef", Field::Message(KEY_SELECTOR)),
                ]),
            ),
        ]),
    ),
    (
        8,
        "resources",
        Field::Message(&[
            (1, "limits", Field::QuantityMap),
            (2, "requests", Field::QuantityMap),
        ]),
    ),
    (
        9,
        "volumeMounts",
        Field::Messages(&[
            (1, "name", Field::String),
            (2, "readOnly", Field::Bool),
            (3, "mountPath", Field::String),
            (4, "subPath", Field::String),
        ]),
    ),
    (13, "terminationMessagePath", Field::String),
    (14, "imagePullPolicy", Field::String),
    (16, "stdin", Field::Bool),
    (17, "stdinOnce", Field::Bool),
    (18, "tty", Field::Bool),
    (20, "terminationMessagePolicy", Field::String),
];

const POD_SPEC: Table = &[
    (2, "containers", Field::Messages(CONTAINER)),
    (3, "restartPolicy", Field::String),
    (4, "terminationGracePeriodSeconds", Field::Int),
    (5, "activeDeadlineSeconds", Field::Int),
    (6, "dnsPolicy", Field::String),
    (7, "nodeSelector", Field::StringMap),
    (8, "serviceAccountName", Field::String),
    (10, "nodeName", Field::String),
    (
        15,
        "imagePullSecrets",
        Field::Messages(LOCAL_OBJECT_REFERENCE),
    ),
    (19, "schedulerName", Field::String),
    (20, "initContainers", Field::Messages(CONTAINER)),
    (21, "automountServiceAccountToken", Field::Bool),
    (24, "priorityClassName", Field::String),
];

const POD_TEMPLATE_SPEC: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (2, "spec", Field::Message(POD_SPEC)),
];

const DEPLOYMENT: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (
        2,
        "spec",
        Field::Message(&[
            (1, "replicas", Field::Int),
            (2, "selector", Field::Message(LABEL_SELECTOR)),
            (3, "template", Field::Message(POD_TEMPLATE_SPEC)),
            (
                4,
                "strategy",
                Field::Message(&[
                    (1, "type", Field::String),
                    (
                        2,
                        "rollingUpdate",
                        Field::Message(&[
                            (1, "maxUnavailable", Field::IntOrString),
                            (2, "maxSurge", Field::IntOrString),
                        ]),
                    ),
                ]),
            ),
            (5, "minReadySeconds", Field::Int),
            (6, "revisionHistoryLimit", Field::Int),
            (7, "paused", Field::Bool),
            (9, "progressDeadlineSeconds", Field::Int),
        ]),
    ),
];

const JOB_SPEC: Table = &[
    (1, "parallelism", Field::Int),
    (2, "completions", Field::Int),
    (3, "activeDeadlineSeconds", Field::Int),
    (4, "selector", Field::Message(LABEL_SELECTOR)),
    (5, "manualSelector", Field::Bool),
    (6, "template", Field::Message(POD_TEMPLATE_SPEC)),
    (7, "backoffLimit", Field::Int),
    (8, "ttlSecondsAfterFinished", Field::Int),
    (9, "completionMode", Field::String),
    (10, "suspend", Field::Bool),
];

const JOB: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (2, "spec", Field::Message(JOB_SPEC)),
];

const SERVICE: Table = &[
    (1, "metadata", Field::Message(OBJECT_META)),
    (
        2,
        "spec",
        Field::Message(&[
            (
                1,
                "ports",
                Field::Messages(&[
                    (1, "name", Field::String),
                    (2, "protocol", Field::String),
                    (3, "port", Field::Int),
                    (4, "targetPort", Field::IntOrString),
                    (5, "nodePort", Field::Int),
                    (6, "appProtocol", Field::String),
                ]),
            ),
            (2, "selector", Field::StringMap),
            (3, "clusterIP", Field::String),
            (4, "type", Field::String),
            (5, "externalIPs", Field::Strings),
            (7, "sessionAffinity", Field::String),
            (10, "externalName", Field::String),
            (18, "clusterIPs", Field::Strings),
        ]),
    ),
];

const DELETE_OPTIONS: Table = &[
    (1, "gracePeriodSeconds", Field::Int),
    (
        2,
        "preconditions",
        Field::Message(&[
            (1, "uid", Field::String),
            (2, "resourceVersion", Field::String),
        ]),
    ),
    (3, "orphanDependents", Field::Bool),
    (4, "propagationPolicy", Field::String),
    (5, "dryRun", Field::Strings),
];

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn done(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.position)
                .ok_or(ProtobufError::Malformed)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed)
    }

    fn slice(&mut self, length: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .position
            .checked_add(length)
            .ok_or(ProtobufError::Malformed)?;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(ProtobufError::Malformed)?;
        self.position = end;
        Ok(slice)
    }

    /// Reads one field: its number and, for length-delimited fields, the payload.
    fn field(&mut self) -> Result<(u64, Wire<'a>), ProtobufError> {
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.slice(8)?;
                Wire::Fixed
            }
            2 => {
                let length =
                    usize::try_from(self.varint()?).map_err(|_| ProtobufError::Malformed)?;
                Wire::Bytes(self.slice(length)?)
            }
            5 => {
                self.slice(4)?;
                Wire::Fixed
            }
            _ => return Err(ProtobufError::Malformed),
        };
        Ok((key >> 3, wire))
    }
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn map_entry(bytes: &[u8], binary: bool) -> Result<(String, Value), ProtobufError> {
    let mut reader = Reader::new(bytes);
    let mut key = String::new();
    let mut value = Value::String(String::new());
    while !reader.done() {
        match reader.field()? {
            (1, Wire::Bytes(bytes)) => key = String::from_utf8_lossy(bytes).into_owned(),
            (2, Wire::Bytes(bytes)) => {
                value = if binary {
                    Value::String(base64(bytes))
                } else {
                    text(bytes)
                };
            }
            _ => {}
        }
    }
    Ok((key, value))
}

fn time(bytes: &[u8]) -> Result<Option<Value>, ProtobufError> {
    let mut reader = Reader::new(bytes);
    let mut seconds = 0u64;
    while !reader.done() {
        if let (1, Wire::Varint(value)) = reader.field()? {
            seconds = value;
        }
    }
    Ok((seconds != 0).then(|| Value::String(crate::meta::rfc3339(seconds))))
}

fn message(bytes: &[u8], table: Table) -> Result<Value, ProtobufError> {
    let mut reader = Reader::new(bytes);
    let mut object = Map::new();
    while !reader.done() {
        let (number, wire) = reader.field()?;
        let Some((_, name, field)) = table.iter().find(|(n, _, _)| *n == number) else {
            continue;
        };
        let name = (*name).to_owned();
        match (field, wire) {
            (Field::String, Wire::Bytes(bytes)) => {
                if !bytes.is_empty() {
                    object.insert(name, text(bytes));
                }
            }
            (Field::Int, Wire::Varint(value)) => {
                // Two's complement int64 on the wire.
                #[expect(
                    clippy::cast_possible_wrap,
                    reason = "protobuf int64 is two's complement"
                )]
                let value = value as i64;
                if value != 0 {
                    object.insert(name, json!(value));
                }
            }
            (Field::Bool, Wire::Varint(value)) => {
                object.insert(name, Value::Bool(value != 0));
            }
            (Field::Time, Wire::Bytes(bytes)) => {
                if let Some(value) = time(bytes)? {
                    object.insert(name, value);
                }
            }
            (Field::FieldsV1, Wire::Bytes(bytes)) => {
                let mut inner = Reader::new(bytes);
                while !inner.done() {
                    if let (1, Wire::Bytes(raw)) = inner.field()? {
                        let parsed: Value =
                            serde_json::from_slice(raw).map_err(|_| ProtobufError::Malformed)?;
                        object.insert(name.clone(), parsed);
                    }
                }
            }
            (Field::Inline(inner), Wire::Bytes(bytes)) => {
                if let Value::Object(fields) = message(bytes, inner)? {
                    object.extend(fields);
                }
            }
            (Field::IntOrString, Wire::Bytes(bytes)) => {
                let (mut kind, mut number, mut text_value) = (0, 0, String::new());
                let mut inner = Reader::new(bytes);
                while !inner.done() {
                    match inner.field()? {
                        (1, Wire::Varint(value)) => kind = value,
                        (2, Wire::Varint(value)) => number = value,
                        (3, Wire::Bytes(value)) => {
                            text_value = String::from_utf8_lossy(value).into_owned();
                        }
                        _ => {}
                    }
                }
                object.insert(
                    name,
                    if kind == 1 {
                        Value::String(text_value)
                    } else {
                        json!(number)
                    },
                );
            }
            (Field::QuantityMap, Wire::Bytes(bytes)) => {
                let mut entry = Reader::new(bytes);
                let (mut key, mut quantity) = (String::new(), Value::Null);
                while !entry.done() {
                    match entry.field()? {
                        (1, Wire::Bytes(value)) => {
                            key = String::from_utf8_lossy(value).into_owned();
                        }
                        (2, Wire::Bytes(value)) => {
                            let mut inner = Reader::new(value);
                            while !inner.done() {
                                if let (1, Wire::Bytes(text_value)) = inner.field()? {
                                    quantity = text(text_value);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                object
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .ok_or(ProtobufError::Malformed)?
                    .insert(key, quantity);
            }
            (Field::StringMap | Field::BytesMap, Wire::Bytes(bytes)) => {
                let (key, value) = map_entry(bytes, matches!(field, Field::BytesMap))?;
                object
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .ok_or(ProtobufError::Malformed)?
                    .insert(key, value);
            }
            (Field::Strings, Wire::Bytes(bytes)) => {
                object
                    .entry(name)
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .ok_or(ProtobufError::Malformed)?
                    .push(text(bytes));
            }
            (Field::Message(inner), Wire::Bytes(bytes)) => {
                let value = message(bytes, inner)?;
                if value.as_object().is_some_and(|map| !map.is_empty()) {
                    object.insert(name, value);
                }
            }
            (Field::Messages(inner), Wire::Bytes(bytes)) => {
                let value = message(bytes, inner)?;
                object
                    .entry(name)
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .ok_or(ProtobufError::Malformed)?
                    .push(value);
            }
            _ => return Err(ProtobufError::Malformed),
        }
    }
    Ok(Value::Object(object))
}

/// Decodes a `k8s\0`-enveloped protobuf body into the JSON form of the object.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::Malformed)?;
    let mut reader = Reader::new(envelope);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while !reader.done() {
        match reader.field()? {
            (1, Wire::Bytes(type_meta)) => {
                let mut inner = Reader::new(type_meta);
                while !inner.done() {
                    match inner.field()? {
                        (1, Wire::Bytes(bytes)) => {
                            api_version = String::from_utf8_lossy(bytes).into_owned();
                        }
                        (2, Wire::Bytes(bytes)) => {
                            kind = String::from_utf8_lossy(bytes).into_owned();
                        }
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let table = match kind.as_str() {
        "Secret" => SECRET,
        "ConfigMap" => CONFIG_MAP,
        "Namespace" => NAMESPACE,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Deployment" => DEPLOYMENT,
        "Job" => JOB,
        "Service" => SERVICE,
        "DeleteOptions" => DELETE_OPTIONS,
        _ => return Err(ProtobufError::UnsupportedKind(kind)),
    };
    let mut object = message(raw, table)?;
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(api_version));
        map.insert("kind".into(), Value::String(kind));
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from(number << 3 | 2).expect("small field number")];
        out.push(u8::try_from(payload.len()).expect("short payload"));
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_secret() {
        let entry = [field(1, b"release"), field(2, b"abc")].concat();
        let labels = [field(1, b"owner"), field(2, b"helm")].concat();
        let metadata = [field(1, b"sh.helm.release.v1.web.v1"), field(11, &labels)].concat();
        let secret = [
            field(1, &metadata),
            field(2, &entry),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let mut body = MAGIC.to_vec();
        body.extend([field(1, &type_meta), field(2, &secret)].concat());
        let decoded = decode(&body).expect("decodes");
        assert_eq!(
            decoded,
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "sh.helm.release.v1.web.v1", "labels": {"owner": "helm"}},
                "data": {"release": "YWJj"},
                "type": "helm.sh/release.v1",
            })
        );
    }

    #[test]
    fn rejects_other_kinds() {
        let type_meta = [field(1, b"apps/v1"), field(2, b"StatefulSet")].concat();
        let mut body = MAGIC.to_vec();
        body.extend(field(1, &type_meta));
        assert!(
            matches!(decode(&body), Err(ProtobufError::UnsupportedKind(kind)) if kind == "StatefulSet")
        );
        assert!(matches!(decode(b"{}"), Err(ProtobufError::Malformed)));
    }
}
