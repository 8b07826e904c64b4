//! [`ScratchDir`]: a private temporary folder for the files handed to
//! `kubectl` (object stubs, snapshots to restore). Children get no stdin, so
//! `-f -` is not an option; a file is.

use std::{
    io,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use plangate_plans::ExecutorKind;

use crate::error::ExecutorError;

/// Distinguishes the folders of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A folder only this user can read, removed (with its files) on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a fresh folder under the system's temporary folder.
    pub(crate) async fn new(kind: ExecutorKind) -> Result<Self, ExecutorError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "plangate-{kind}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        create_private(&path)
            .await
            .map_err(|source| io_error(kind, &path, source))?;
        Ok(Self { path })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` as JSON to the file `name` in the folder.
    pub(crate) async fn write_json(
        &self,
        kind: ExecutorKind,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<PathBuf, ExecutorError> {
        let path = self.path.join(name);
        let text = serde_json::to_vec_pretty(value)
            .expect("a JSON value always serialises because its keys are strings");
        tokio::fs::write(&path, text)
            .await
            .map_err(|source| io_error(kind, &path, source))?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "failed to remove a scratch folder");
        }
    }
}

#[cfg(unix)]
async fn create_private(path: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.mode(0o700);
    builder.create(path).await
}

#[cfg(not(unix))]
async fn create_private(path: &Path) -> io::Result<()> {
    tokio::fs::create_dir(path).await
}

/// A scratch file that cannot be written: reported like a command that
/// cannot be started, since the command needing it cannot run.
fn io_error(kind: ExecutorKind, path: &Path, source: io::Error) -> ExecutorError {
    ExecutorError::Spawn {
        command: format!("{kind} (writing its input `{}`)", path.display()),
        cwd: path.parent().map_or_else(PathBuf::new, Path::to_path_buf),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_live_as_long_as_the_folder() {
        let scratch = ScratchDir::new(ExecutorKind::Kubectl)
            .await
            .expect("created");
        let file = scratch
            .write_json(
                ExecutorKind::Kubectl,
                "a.json",
                &serde_json::json!({"a": 1}),
            )
            .await
            .expect("written");
        assert_eq!(
            std::fs::read_to_string(&file).expect("readable"),
            "{\n  \"a\": 1\n}"
        );
        let folder = file.parent().expect("a folder").to_owned();
        drop(scratch);
        assert!(!folder.exists());
    }
}
