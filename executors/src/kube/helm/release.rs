//! What a request reads of its release: the latest revision, a manifest,
//! and the manifest an upgrade would install.

use serde_json::Value;

use super::{evidence::Revision, executor::Request};
use crate::kube::{Halt, tool_error};

impl Request<'_> {
    /// The release's latest revision, `None` when it does not exist.
    pub(super) async fn latest(&self) -> Result<Option<Revision>, Halt> {
        let mut args = vec![
            "history".to_owned(),
            self.action.release.clone(),
            "--max".to_owned(),
            "1".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(self.target.helm_args());
        let outcome = self.invocation.probe(&args, &[]).await?;
        if !outcome.succeeded() {
            // Only this message means the release is absent: a missing
            // context or namespace must not read as "no release", or a
            // rollback would uninstall what it should restore.
            if outcome.stderr_tail.contains("release: not found") {
                return Ok(None);
            }
            return Err(Halt::Failed(tool_error(outcome)));
        }
        let history: Vec<Revision> = serde_json::from_str(outcome.stdout_tail.trim())
            .map_err(|error| self.invocation.not_json(&args, &error))?;
        Ok(history.into_iter().max_by_key(|revision| revision.revision))
    }

    /// The release's manifest: the current one, or that of `revision`.
    pub(super) async fn manifest(&self, revision: Option<u32>) -> Result<String, Halt> {
        let mut args = vec![
            "get".to_owned(),
            "manifest".to_owned(),
            self.action.release.clone(),
        ];
        if let Some(revision) = revision {
            args.push(format!("--revision={revision}"));
        }
        args.extend(self.target.helm_args());
        self.invocation.query(&args).await
    }

    /// The manifest the upgrade would install, rendered by a server-side
    /// dry run.
    pub(super) async fn rendered(&self) -> Result<String, Halt> {
        let mut args = self.upgrade_args();
        args.extend([
            "--dry-run=server".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args.extend(self.target.helm_args());
        let stdout = self.invocation.query(&args).await?;
        let release: Value = serde_json::from_str(&stdout)
            .map_err(|error| self.invocation.not_json(&args, &error))?;
        Ok(release["manifest"].as_str().unwrap_or_default().to_owned())
    }
}
