//! Validates HTTP responses against GitHub's published OpenAPI description.
//!
//! plangate's tests run its GitHub executor against an in-repo emulator of GitHub's REST API.
//! Every response the emulator serves is checked with [`Spec::check_response`] against the
//! description GitHub publishes (npm `@octokit/openapi`, `generated/api.github.com.json`,
//! installed by `./scripts/install-test-tools.sh`), so an emulator that drifts from GitHub's
//! shapes fails the tests instead of hiding bugs.
//!
//! # The schema subset
//!
//! The schema validator is written for exactly the subset of OpenAPI 3.0 the description uses.
//!
//! Checked keywords: `type` (with `nullable`), `required`, `properties`,
//! `additionalProperties` (boolean or schema), `items`, `enum`, `allOf` (every branch),
//! `anyOf` and `oneOf` (at least one branch each), `$ref` (local, with cycle safety), `format`
//! (`date-time` must parse as RFC 3339; nothing else is checked), `minimum` and `maximum`.
//!
//! `oneOf` is checked as "at least one", not "exactly one": GitHub's `oneOf` alternatives
//! overlap (a simple user and a full user, an enterprise and an organization), so real
//! responses match several of them.
//!
//! Ignored keywords, all of them annotations or constraints GitHub's responses are not tested
//! for: `description`, `title`, `example`, `examples`, `default`, `readOnly`, `deprecated`,
//! `discriminator`, `pattern`, `minLength`, `maxLength`, `minItems`, `maxItems`,
//! `uniqueItems`, `maxProperties`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `not`,
//! `x-*` extensions and every `format` but `date-time` (`uri`, `uri-template`, `email`, `date`
//! and `int64` are not checked). Siblings of a `$ref` are ignored, as OpenAPI 3.0 specifies.
//!
//! Invented properties are violations: at every location of the response, an object property
//! that no applied schema declares (the union of `properties` over `allOf` branches, and over
//! the `anyOf`/`oneOf` branches that matched) is reported unless some applied schema has
//! `additionalProperties`. A schema that declares neither `properties` nor
//! `additionalProperties` anywhere (a bare `type: object`, or no constraints at all) is a
//! free-form object and accepts any property.
//!
//! ```no_run
//! use plangate_openapi_check::Spec;
//! use serde_json::json;
//!
//! let spec = Spec::from_env()?;
//! let operation = spec.operation("GET", "/repos/o/r/pulls/1").expect("documented");
//! assert_eq!(operation.operation_id, "pulls/get");
//! let violations = spec.check_response("DELETE", "/repos/o/r/git/refs/heads/x", 204, None);
//! assert!(violations.is_empty(), "{violations:?}");
//! # Ok::<(), plangate_openapi_check::SpecError>(())
//! ```
#![warn(missing_docs)]

mod error;
mod path;
mod schema;
mod spec;
mod violation;

pub use error::SpecError;
pub use spec::{OPENAPI_PATH_ENV, OperationRef, Spec};
pub use violation::Violation;
