//! The public constructors kubectl's and helm's executors share: each wraps
//! a [`Tool`](super::Tool) and differs only in its names, so one macro
//! writes them.

/// `Default`, `BINARY_ENV`, `new`, `with_binary` and `with_env` for an
/// executor struct with a `tool: Tool` field.
macro_rules! tool_executor_constructors {
    (
        $executor:ident,
        kind: $kind:expr,
        binary: $binary:literal,
        env: $env:literal,
        $(#[$with_env_doc:meta])*
    ) => {
        impl Default for $executor {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $executor {
            /// The environment variable naming the default binary.
            pub const BINARY_ENV: &'static str = $env;

            #[doc = concat!(
                "The executor, running [`BINARY_ENV`](Self::BINARY_ENV) if set, else `",
                $binary,
                "` on `PATH` (an executor instance's `binary` wins over both)."
            )]
            pub fn new() -> Self {
                Self {
                    tool: $crate::kube::Tool::from_env($kind, Self::BINARY_ENV, $binary),
                }
            }

            /// Runs `binary` unless an executor instance names another.
            #[must_use]
            pub fn with_binary(mut self, binary: impl Into<String>) -> Self {
                self.tool.set_default_binary(binary.into());
                self
            }

            $(#[$with_env_doc])*
            #[must_use]
            pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.tool.set_env(name.into(), value.into());
                self
            }
        }
    };
}

pub(crate) use tool_executor_constructors;
