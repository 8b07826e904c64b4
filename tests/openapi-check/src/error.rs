//! The error of loading GitHub's OpenAPI description.

use std::{path::PathBuf, sync::Arc};

/// Loading GitHub's OpenAPI description failed.
///
/// Cloneable, so that [`Spec::from_env`](crate::Spec::from_env) can hand the same failure to
/// every caller of the process.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SpecError {
    /// The description file does not exist. Not retryable: the test tools are not installed.
    #[error(
        "GitHub's OpenAPI description `{}` does not exist; run ./scripts/install-test-tools.sh to install it",
        path.display()
    )]
    Missing {
        /// The path that was looked at.
        path: PathBuf,
    },
    /// The description file exists but could not be read.
    #[error("failed to read GitHub's OpenAPI description `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The description file is not JSON.
    #[error(
        "GitHub's OpenAPI description `{}` is not valid JSON; rerun ./scripts/install-test-tools.sh with PLANGATE_TOOLS_FORCE=1",
        path.display()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// The file is JSON but not an OpenAPI description of the expected shape.
    #[error("GitHub's OpenAPI description `{}` is malformed: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
