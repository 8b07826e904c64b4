//! `/openapi/v2`: the Swagger 2.0 document, as JSON or as gnostic's protobuf encoding.
//!
//! client-go's `OpenAPISchema` (kubectl's client-side validation fallback,
//! `kubectl explain --output plaintext-openapiv2`, helm's v2 checks) asks with `Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes the answer as an
//! `openapi.v2.Document` message (`google/gnostic`'s `openapiv2/OpenAPIv2.proto`); other
//! clients ask for `application/json`. Like the real server's handler, any other `Accept` is
//! answered `406 Not Acceptable`.
//!
//! The document lists the same paths and operations as the v3 documents ([`crate::openapi`]),
//! with the `fieldValidation` parameter the clients' query-parameter check looks for, and the
//! same component schemas under `definitions`.

use crate::{
    discovery::KUBERNETES_VERSION,
    openapi::{self, Operation, RequestBody},
    resources::ResourceType,
};
use serde_json::{Map, Value, json};

/// The protobuf media type clients ask for.
pub(crate) const PROTOBUF_ACCEPT: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The alternative spelling the real handler also accepts, and the `Content-Type` it answers
/// protobuf with.
pub(crate) const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// How a `/openapi/v2` request wants its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json`, `*/*` or no `Accept`.
    Json,
    /// gnostic protobuf.
    Protobuf,
}

/// Picks the format from an `Accept` header, in the header's order; `None` means `406`.
pub(crate) fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|accept| !accept.trim().is_empty()) else {
        return Some(Format::Json);
    };
    accept.split(',').find_map(|entry| {
        let media = entry.split(';').next().unwrap_or_default().trim();
        match media {
            PROTOBUF_ACCEPT | PROTOBUF_CONTENT_TYPE => Some(Format::Protobuf),
            "application/json" | "application/*" | "*/*" => Some(Format::Json),
            _ => None,
        }
    })
}

fn consumes(operation: &Operation) -> &'static [&'static str] {
    match operation.body {
        RequestBody::None => &[],
        RequestBody::Object => &["application/json"],
        RequestBody::Patch => openapi::patch_types(operation.resource),
    }
}

/// The JSON document.
pub(crate) fn json_document(
    types: &[&'static ResourceType],
    definitions: &Map<String, Value>,
) -> Value {
    let mut paths = Map::new();
    for (path, operations) in openapi::paths(types) {
        let mut item = Map::new();
        for operation in &operations {
            let parameters: Vec<Value> = operation
                .parameters
                .iter()
                .map(|(name, kind)| json!({"name": name, "in": "query", "type": kind, "uniqueItems": true}))
                .collect();
            let mut rendered = json!({
                "operationId": operation.id,
                "produces": ["application/json"],
                "parameters": parameters,
                "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
                "x-kubernetes-action": operation.action,
                "x-kubernetes-group-version-kind": openapi::group_version_kind(operation.resource),
            });
            if !consumes(operation).is_empty() {
                rendered["consumes"] = json!(consumes(operation));
            }
            item.insert(operation.method.to_owned(), rendered);
        }
        paths.insert(path, Value::Object(item));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions.clone(),
    })
}

/// A protobuf message under construction.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = u8::try_from(value & 0x7f).expect("seven bits fit in a byte");
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn bytes(&mut self, field: u64, bytes: &[u8]) -> &mut Self {
        self.varint(field << 3 | 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
        self
    }

    fn string(&mut self, field: u64, text: &str) -> &mut Self {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
        self
    }

    fn message(&mut self, field: u64, message: &Message) -> &mut Self {
        self.bytes(field, &message.0)
    }

    fn boolean(&mut self, field: u64, value: bool) -> &mut Self {
        if value {
            self.varint(field << 3);
            self.varint(1);
        }
        self
    }

    /// A `NamedAny` whose `Any` holds YAML text.
    fn extension(&mut self, field: u64, name: &str, yaml: &str) -> &mut Self {
        let mut any = Message::default();
        any.string(2, yaml);
        let mut named = Message::default();
        named.string(1, name).message(2, &any);
        self.message(field, &named)
    }
}

fn yaml_of(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}

/// Encodes a JSON Schema object as gnostic's `Schema` message (the fields kubectl reads:
/// `$ref`, `description`, `required`, `type`, `items`, `properties`, `additionalProperties`,
/// `format`, and vendor extensions).
fn schema_message(schema: &Value) -> Message {
    let mut message = Message::default();
    let Some(map) = schema.as_object() else {
        return message;
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        message.string(1, reference);
    }
    if let Some(format) = map.get("format").and_then(Value::as_str) {
        message.string(2, format);
    }
    if let Some(description) = map.get("description").and_then(Value::as_str) {
        message.string(4, description);
    }
    for required in map
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message.string(19, required.as_str().unwrap_or_default());
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.boolean(2, *allowed);
            message.message(21, &item);
        }
        Some(additional @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, &schema_message(additional));
            message.message(21, &item);
        }
        _ => {}
    }
    if let Some(kind) = map.get("type").and_then(Value::as_str) {
        let mut item = Message::default();
        item.string(1, kind);
        message.message(22, &item);
    }
    if let Some(items) = map.get("items").filter(|items| items.is_object()) {
        let mut item = Message::default();
        item.message(1, &schema_message(items));
        message.message(23, &item);
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        let mut list = Message::default();
        for (name, property) in properties {
            let mut named = Message::default();
            named.string(1, name).message(2, &schema_message(property));
            list.message(1, &named);
        }
        message.message(25, &list);
    }
    for (name, value) in map.iter().filter(|(name, _)| name.starts_with("x-")) {
        message.extension(31, name, &yaml_of(value));
    }
    message
}

/// The protobuf document.
pub(crate) fn protobuf_document(
    types: &[&'static ResourceType],
    definitions: &Map<String, Value>,
) -> Vec<u8> {
    let mut info = Message::default();
    info.string(1, "Kubernetes").string(2, KUBERNETES_VERSION);
    let mut paths = Message::default();
    for (path, operations) in openapi::paths(types) {
        let mut item = Message::default();
        for operation in &operations {
            let mut rendered = Message::default();
            rendered.string(5, &operation.id);
            rendered.string(6, "application/json");
            for media in consumes(operation) {
                rendered.string(7, media);
            }
            for (name, kind) in &operation.parameters {
                let mut query = Message::default();
                query
                    .string(2, "query")
                    .string(4, name)
                    .string(6, kind)
                    .boolean(20, true);
                let mut non_body = Message::default();
                non_body.message(3, &query);
                let mut parameter = Message::default();
                parameter.message(2, &non_body);
                let mut parameters_item = Message::default();
                parameters_item.message(1, &parameter);
                rendered.message(8, &parameters_item);
            }
            let mut responses = Message::default();
            for (code, description) in [("200", "OK"), ("401", "Unauthorized")] {
                let mut response = Message::default();
                response.string(1, description);
                let mut value = Message::default();
                value.message(1, &response);
                let mut named = Message::default();
                named.string(1, code).message(2, &value);
                responses.message(1, &named);
            }
            rendered.message(9, &responses);
            rendered.extension(
                13,
                "x-kubernetes-action",
                &yaml_of(&json!(operation.action)),
            );
            rendered.extension(
                13,
                "x-kubernetes-group-version-kind",
                &yaml_of(&openapi::group_version_kind(operation.resource)),
            );
            let field = match operation.method {
                "get" => 2,
                "put" => 3,
                "post" => 4,
                "delete" => 5,
                _ => 8,
            };
            item.message(field, &rendered);
        }
        let mut named = Message::default();
        named.string(1, &path).message(2, &item);
        paths.message(2, &named);
    }
    let mut schemas = Message::default();
    for (name, schema) in definitions {
        let mut named = Message::default();
        named.string(1, name).message(2, &schema_message(schema));
        schemas.message(1, &named);
    }
    let mut document = Message::default();
    document
        .string(1, "2.0")
        .message(2, &info)
        .message(8, &paths)
        .message(9, &schemas);
    document.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_the_real_handler() {
        assert_eq!(negotiate(None), Some(Format::Json));
        assert_eq!(negotiate(Some("application/json")), Some(Format::Json));
        assert_eq!(
            negotiate(Some(
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )),
            Some(Format::Protobuf)
        );
        assert_eq!(negotiate(Some("text/html")), None);
    }

    #[test]
    fn json_lists_every_served_kind_with_field_validation() {
        let types: Vec<&'static ResourceType> = crate::resources::RESOURCES.iter().collect();
        let document = json_document(&types, &Map::new());
        let patch = &document["paths"]["/apis/networking.k8s.io/v1/ingressclasses/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "IngressClass"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("a list")
                .iter()
                .any(|parameter| parameter["name"] == "fieldValidation")
        );
        assert!(!protobuf_document(&types, &Map::new()).is_empty());
    }

    #[test]
    fn varints_and_strings_encode() {
        let mut message = Message::default();
        message.varint(300);
        assert_eq!(message.0, [0xac, 0x02]);
        let mut message = Message::default();
        message.string(1, "2.0");
        assert_eq!(message.0, [0x0a, 3, b'2', b'.', b'0']);
    }
}
