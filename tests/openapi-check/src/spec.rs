//! The loaded OpenAPI description: operations indexed for path matching, and response checks.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use serde_json::Value;

use crate::{
    SpecError, Violation,
    path::{self, Template},
    schema::Validator,
};

/// The environment variable naming the OpenAPI description file.
pub const OPENAPI_PATH_ENV: &str = "PLANGATE_GITHUB_OPENAPI";

/// Where `./scripts/install-test-tools.sh` installs the description.
const DEFAULT_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../.tools/openapi/api.github.com.json"
);

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of the description.
#[derive(Debug)]
struct IndexedOperation {
    /// Upper-case method.
    method: String,
    /// The path template, as the key of the `paths` object.
    template: String,
    operation_id: String,
    parsed: Template,
}

/// An operation found by [`Spec::operation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationRef<'a> {
    /// The upper-case HTTP method, `GET`.
    pub method: &'a str,
    /// The path template, `/repos/{owner}/{repo}/pulls/{pull_number}`.
    pub template: &'a str,
    /// GitHub's `operationId`, `pulls/get`.
    pub operation_id: &'a str,
}

impl OperationRef<'_> {
    /// `GET /repos/{owner}/{repo}/pulls/{pull_number} (pulls/get)`, as violations name it.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.method, self.template, self.operation_id)
    }
}

/// GitHub's OpenAPI description, parsed and indexed.
///
/// ```no_run
/// use plangate_openapi_check::Spec;
/// use serde_json::json;
///
/// let spec = Spec::from_env()?;
/// let violations = spec.check_response("GET", "/user", 200, Some(&json!({"login": "octocat"})));
/// for violation in &violations {
///     eprintln!("{violation}");
/// }
/// # Ok::<(), plangate_openapi_check::SpecError>(())
/// ```
#[derive(Debug)]
pub struct Spec {
    document: Value,
    version: String,
    operations: Vec<IndexedOperation>,
    /// Operation indices by upper-case method and segment count.
    by_shape: HashMap<(String, usize), Vec<usize>>,
    /// Indices of operations with a parameter that may match several segments, by method.
    spanning: HashMap<String, Vec<usize>>,
}

impl Spec {
    /// Parses the description at `path` and indexes its operations.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SpecError::Missing {
                    path: path.to_owned(),
                }
            } else {
                SpecError::Read {
                    path: path.to_owned(),
                    source: Arc::new(source),
                }
            }
        })?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|source| SpecError::Parse {
                path: path.to_owned(),
                source: Arc::new(source),
            })?;
        Spec::from_document(document).map_err(|reason| SpecError::Malformed {
            path: path.to_owned(),
            reason,
        })
    }

    /// The description named by `PLANGATE_GITHUB_OPENAPI`, else the one
    /// `./scripts/install-test-tools.sh` installs in the repository's `.tools/openapi/`; loaded
    /// once per process.
    pub fn from_env() -> Result<&'static Spec, SpecError> {
        static SPEC: OnceLock<Result<Spec, SpecError>> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path = std::env::var_os(OPENAPI_PATH_ENV)
                .filter(|value| !value.is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from);
            Spec::load(&path)
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    fn from_document(document: Value) -> Result<Spec, String> {
        let version = document
            .pointer("/info/version")
            .and_then(Value::as_str)
            .ok_or("it has no `info.version`")?
            .to_owned();
        let paths = document
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("it has no `paths` object")?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(*method) else {
                    continue;
                };
                let operation_id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                operations.push(IndexedOperation {
                    method: method.to_ascii_uppercase(),
                    template: template.clone(),
                    operation_id,
                    parsed: Template::parse(template),
                });
            }
        }
        let mut by_shape: HashMap<(String, usize), Vec<usize>> = HashMap::new();
        let mut spanning: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, operation) in operations.iter().enumerate() {
            by_shape
                .entry((operation.method.clone(), operation.parsed.len()))
                .or_default()
                .push(index);
            if operation.parsed.has_spanning_parameter() {
                spanning
                    .entry(operation.method.clone())
                    .or_default()
                    .push(index);
            }
        }
        Ok(Spec {
            document,
            version,
            operations,
            by_shape,
            spanning,
        })
    }

    /// The description's `info.version`, `1.1.4`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The operation that serves `method` (any case) on the concrete `path`, which may carry a
    /// query.
    pub fn operation(&self, method: &str, path: &str) -> Option<OperationRef<'_>> {
        self.find(&method.to_ascii_uppercase(), path)
            .map(|index| self.reference(index))
    }

    fn reference(&self, index: usize) -> OperationRef<'_> {
        let operation = &self.operations[index];
        OperationRef {
            method: &operation.method,
            template: &operation.template,
            operation_id: &operation.operation_id,
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<usize> {
        let concrete: Vec<&str> = path::split(path).collect();
        let exact = self
            .by_shape
            .get(&(method.to_owned(), concrete.len()))
            .into_iter()
            .flatten()
            .filter_map(|&index| {
                self.operations[index]
                    .parsed
                    .match_exact(&concrete)
                    .map(|rank| (rank, index))
            })
            .max_by(|left, right| left.0.cmp(&right.0));
        if let Some((_, index)) = exact {
            return Some(index);
        }
        self.spanning
            .get(method)
            .into_iter()
            .flatten()
            .filter_map(|&index| {
                self.operations[index]
                    .parsed
                    .match_spanning(&concrete)
                    .map(|literals| (literals, index))
            })
            .max_by(|left, right| left.0.cmp(&right.0).then(right.1.cmp(&left.1)))
            .map(|(_, index)| index)
    }

    /// Checks a response of `method` on the concrete `path` with `status` and the JSON `body`
    /// (`None` for no body) against the description; empty when the response conforms.
    ///
    /// # Caveats
    ///
    /// Only bodies are checked, not headers. A `oneOf` passes when at least one alternative
    /// matches (see the crate docs).
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let method = method.to_ascii_uppercase();
        let Some(index) = self.find(&method, path) else {
            return vec![self.no_operation(&method, path, status)];
        };
        let operation = self.reference(index);
        let label = operation.label();
        let violation = |pointer: String, message: String| Violation {
            operation: label.clone(),
            status,
            pointer,
            message,
        };
        let responses = self
            .document
            .get("paths")
            .and_then(|paths| paths.get(operation.template))
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .and_then(|operation| operation.get("responses"))
            .and_then(Value::as_object);
        let Some(responses) = responses else {
            return vec![violation(
                String::new(),
                "GitHub's description documents no responses".to_owned(),
            )];
        };
        let response = responses
            .get(&status.to_string())
            .or_else(|| responses.get(&format!("{}XX", status / 100)))
            .or_else(|| responses.get("default"));
        let Some(response) = response else {
            let documented: Vec<&str> = responses.keys().map(String::as_str).collect();
            return vec![violation(
                String::new(),
                format!(
                    "status {status} is not documented; documented: {}",
                    documented.join(", ")
                ),
            )];
        };
        let response = self.resolve(response);
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .filter(|content| !content.is_empty());
        let Some(content) = content else {
            return match body {
                Some(_) => vec![violation(
                    String::new(),
                    format!("status {status} documents no body, but a body was given"),
                )],
                None => Vec::new(),
            };
        };
        let json = content
            .get("application/json")
            .map(|media| ("application/json", media))
            .or_else(|| {
                content
                    .iter()
                    .find(|(media_type, _)| {
                        media_type.ends_with("+json") || media_type.ends_with("/json")
                    })
                    .map(|(media_type, media)| (media_type.as_str(), media))
            });
        let Some((media_type, media)) = json else {
            let media_types: Vec<&str> = content.keys().map(String::as_str).collect();
            return match body {
                Some(_) => vec![violation(
                    String::new(),
                    format!(
                        "status {status} documents only {} content, but a JSON body was given",
                        media_types.join(", ")
                    ),
                )],
                None => Vec::new(),
            };
        };
        let Some(body) = body else {
            return vec![violation(
                String::new(),
                format!("status {status} documents a `{media_type}` body, but none was given"),
            )];
        };
        let Some(schema) = media.get("schema") else {
            return Vec::new();
        };
        Validator::new(&self.document)
            .validate(schema, body, "")
            .into_iter()
            .map(|issue| violation(issue.pointer, issue.message))
            .collect()
    }

    /// The violation for a method and path that no operation serves.
    fn no_operation(&self, method: &str, path: &str, status: u16) -> Violation {
        let concrete = path.split(['?', '#']).next().unwrap_or(path);
        let parts: Vec<&str> = path::split(path).collect();
        let other_methods: Vec<&str> = self
            .operations
            .iter()
            .filter(|operation| operation.method != method)
            .filter(|operation| {
                operation.parsed.match_exact(&parts).is_some()
                    || operation.parsed.match_spanning(&parts).is_some()
            })
            .map(|operation| operation.method.as_str())
            .collect();
        let message = if other_methods.is_empty() {
            format!("no operation in GitHub's description matches `{method} {concrete}`")
        } else {
            format!(
                "no operation in GitHub's description matches `{method} {concrete}`; the path has {}",
                other_methods.join(", ")
            )
        };
        Violation {
            operation: format!("{method} {concrete}"),
            status,
            pointer: String::new(),
            message,
        }
    }

    /// Follows a `$ref` to `#/components/responses/...`.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..8 {
            let Some(target) = value
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix('#'))
                .and_then(|pointer| self.document.pointer(pointer))
            else {
                break;
            };
            value = target;
        }
        value
    }

    /// The whole parsed document, for tests that walk it.
    pub fn document(&self) -> &Value {
        &self.document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(directory: &Path, name: &str, contents: &str) -> PathBuf {
        let path = directory.join(name);
        std::fs::write(&path, contents).expect("the temporary directory is writable");
        path
    }

    #[test]
    fn a_missing_file_says_how_to_install_it() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("api.github.com.json");
        let error = Spec::load(&path).expect_err("the file is missing");
        assert!(matches!(error, SpecError::Missing { .. }));
        assert_eq!(
            error.to_string(),
            format!(
                "GitHub's OpenAPI description `{}` does not exist; run ./scripts/install-test-tools.sh to install it",
                path.display()
            )
        );
    }

    #[test]
    fn malformed_files() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let not_json = write(directory.path(), "a.json", "{");
        assert!(matches!(
            Spec::load(&not_json),
            Err(SpecError::Parse { .. })
        ));
        let no_paths = write(directory.path(), "b.json", r#"{"info": {"version": "1"}}"#);
        assert_eq!(
            Spec::load(&no_paths).expect_err("no paths").to_string(),
            format!(
                "GitHub's OpenAPI description `{}` is malformed: it has no `paths` object",
                no_paths.display()
            )
        );
    }

    #[test]
    fn a_small_document() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = write(
            directory.path(),
            "c.json",
            r##"{
                "info": {"version": "9.9"},
                "paths": {"/things/{id}": {"get": {"operationId": "things/get", "responses": {
                    "200": {"$ref": "#/components/responses/thing"},
                    "default": {"description": "error"}
                }}}},
                "components": {"responses": {"thing": {"description": "a thing", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["id"],
                        "properties": {"id": {"type": "integer", "minimum": 1}}}}
                }}}}
            }"##,
        );
        let spec = Spec::load(&path).expect("a valid document");
        assert_eq!(spec.version(), "9.9");
        let operation = spec.operation("GET", "/things/3").expect("an operation");
        assert_eq!(operation.label(), "GET /things/{id} (things/get)");
        let body = serde_json::json!({"id": 0});
        let messages: Vec<String> = spec
            .check_response("GET", "/things/3", 200, Some(&body))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            ["GET /things/{id} (things/get) status 200: /id: expected at least 1, found integer 0"]
        );
        assert!(
            spec.check_response("GET", "/things/3", 500, None)
                .is_empty()
        );
    }
}
