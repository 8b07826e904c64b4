//! Identifier newtypes: plan names, phase ids and task ids.
//!
//! All three share one syntax, `[a-z0-9][a-z0-9-]*`, so they can appear in file
//! names, URLs, Graphviz and Mermaid without quoting.

use std::{borrow::Borrow, fmt};

use serde::Serialize;

/// Whether `text` is a valid identifier: `[a-z0-9][a-z0-9-]*`.
pub fn is_valid_id(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The error of an identifier constructor: the text does not match the syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a valid id: use lowercase letters, digits and `-`, starting with a letter or digit"
)]
pub struct InvalidId {
    /// The rejected text.
    pub text: String,
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks the syntax and wraps the text.
            pub fn new(text: impl Into<String>) -> Result<Self, InvalidId> {
                let text = text.into();
                if is_valid_id(&text) {
                    Ok(Self(text))
                } else {
                    Err(InvalidId { text })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_newtype!(
    /// The `name` of a plan.
    PlanName
);
id_newtype!(
    /// The `id` of a phase, unique among phases.
    PhaseId
);
id_newtype!(
    /// The `id` of a task, unique in the whole plan.
    TaskId
);

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("k8s-architecture", true)]
    #[test_case("0day", true)]
    #[test_case("a", true)]
    #[test_case("", false)]
    #[test_case("-a", false)]
    #[test_case("Upper", false)]
    #[test_case("snake_case", false)]
    #[test_case("dot.ted", false)]
    fn id_syntax(text: &str, valid: bool) {
        assert_eq!(is_valid_id(text), valid);
        assert_eq!(TaskId::new(text).is_ok(), valid);
    }
}
