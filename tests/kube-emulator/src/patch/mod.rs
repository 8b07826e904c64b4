//! The four patch types of the Kubernetes API, and field ownership for server-side apply.
//!
//! Each patch type lives in its own module; [`schema`] holds the merge metadata (merge keys,
//! list types) that strategic merge patch and server-side apply share.

pub(crate) mod apply;
pub(crate) mod fieldset;
pub(crate) mod json;
pub(crate) mod merge;
pub(crate) mod schema;
pub(crate) mod strategic;
