//! The dry run of a kubectl action: `kubectl diff` for `apply`, a
//! server-side dry run for `scale`, `patch` and `set_image`.

use std::collections::BTreeMap;

use super::{executor::Request, snapshot::parse_json_items};
use crate::{
    kube::{ChangeCounts, Halt, ObjectRef, failure_line, object_diff, parse_kubectl_diff},
    preview::{ChangeKind, Preview, PreviewChange},
};

impl Request<'_> {
    /// `kubectl diff` of the manifests against the cluster (a server-side
    /// dry run): the per-object diffs, or `None` when kubectl could not diff
    /// (with its last error line).
    pub(super) async fn diff(&self) -> Result<Result<BTreeMap<String, String>, String>, Halt> {
        let action = self.action;
        let mut args = vec!["diff".to_owned()];
        args.extend(self.source_args());
        args.extend(self.apply_flags());
        if let Some(selector) = &action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args.extend(self.target.kubectl_args());
        let outcome = self
            .invocation
            .probe(&args, &[("KUBECTL_EXTERNAL_DIFF", "diff -u -N")])
            .await?;
        Ok(match outcome.exit_code {
            Some(0) => Ok(BTreeMap::new()),
            Some(1) => Ok(parse_kubectl_diff(&outcome.stdout_tail)),
            _ => Err(failure_line(&outcome)),
        })
    }

    pub(super) async fn preview_apply(&self) -> Result<Preview, Halt> {
        let snapshots = self.snapshot().await?;
        let diffs = self.diff().await?;
        let mut counts = ChangeCounts::default();
        let mut changes = Vec::new();
        for snapshot in snapshots {
            let diff = diffs
                .as_ref()
                .ok()
                .and_then(|diffs| diffs.get(&snapshot.object.diff_file_name()))
                .map(|diff| self.invocation.redactor().redact(diff).into_owned());
            let change = match (&snapshot.before, &diffs, &diff) {
                (None, _, _) => ChangeKind::Create,
                (Some(_), _, Some(_)) => ChangeKind::Update,
                (Some(_), Ok(_), None) => ChangeKind::Unchanged,
                (Some(_), Err(_), None) => ChangeKind::Unknown,
            };
            counts.add(change);
            changes.push(PreviewChange {
                object: snapshot.object.preview_name(None),
                change,
                diff,
            });
        }
        let mut summary = format!(
            "kubectl apply in context `{}`: {}",
            self.target.context,
            counts.describe()
        );
        if let Err(error) = &diffs {
            summary.push_str(&format!(" (kubectl diff failed: {error})"));
        }
        Ok(Preview::new(summary, changes))
    }

    /// `scale`, `patch`, `set_image`: a server-side dry run against the
    /// live objects.
    pub(super) async fn preview_dry_run(&self) -> Result<Preview, Halt> {
        let live = self.snapshot().await?;
        let args = self.dry_run_args();
        let outcome = self.invocation.probe(&args, &[]).await?;
        if !outcome.succeeded() {
            return Ok(Preview::new(
                format!(
                    "kubectl {} in context `{}`: the server-side dry run failed: {}",
                    self.action.op.as_str(),
                    self.target.context,
                    failure_line(&outcome)
                ),
                vec![PreviewChange {
                    object: self.preview_label().await,
                    change: ChangeKind::Unknown,
                    diff: None,
                }],
            ));
        }
        let mut counts = ChangeCounts::default();
        let mut changes = Vec::new();
        for result in parse_json_items(&self.invocation, &args, &outcome.stdout_tail)? {
            let Some(identity) = ObjectRef::of(&result) else {
                continue;
            };
            let before = live
                .iter()
                .find(|snapshot| snapshot.object.same_object(&identity))
                .and_then(|snapshot| snapshot.before.as_ref());
            let (change, diff) = match before {
                None => (ChangeKind::Unknown, None),
                Some(before) => match object_diff(
                    before,
                    &result,
                    &format!("live/{}", identity.diff_file_name()),
                    &format!("merged/{}", identity.diff_file_name()),
                ) {
                    Some(diff) => (
                        ChangeKind::Update,
                        Some(self.invocation.redactor().redact(&diff).into_owned()),
                    ),
                    None => (ChangeKind::Unchanged, None),
                },
            };
            counts.add(change);
            changes.push(PreviewChange {
                object: identity.preview_name(None),
                change,
                diff,
            });
        }
        Ok(Preview::new(
            format!(
                "kubectl {} in context `{}`: {}",
                self.action.op.as_str(),
                self.target.context,
                counts.describe()
            ),
            changes,
        ))
    }
}
