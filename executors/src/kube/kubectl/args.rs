//! The kubectl command lines of a request: the action's own, and the
//! pieces other steps reuse (its manifests, its resource, a dry run).

use plangate_plans::{
    action::{KubectlOp, PatchType},
    duration::PlanDuration,
};
use serde_json::Value;
use tokio::time::Instant;

use super::executor::Request;
use crate::kube::{format_go_duration, is_folder, names_cluster_scoped};

impl Request<'_> {
    /// `-f FILE... [-R]` or `-k DIR`.
    pub(super) fn source_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for file in &self.action.files {
            args.extend(["-f".to_owned(), file.clone()]);
        }
        if self
            .action
            .files
            .iter()
            .any(|file| is_folder(&self.ctx().base_dir, file))
        {
            args.push("-R".to_owned());
        }
        if let Some(kustomize) = &self.action.kustomize {
            args.extend(["-k".to_owned(), kustomize.clone()]);
        }
        args
    }

    /// `--server-side`, `--force-conflicts` and `--field-manager` of an
    /// `apply`, which its `kubectl diff` takes too.
    pub(super) fn apply_flags(&self) -> Vec<String> {
        let action = self.action;
        let mut args = Vec::new();
        if action.server_side {
            args.push("--server-side".to_owned());
        }
        if action.force_conflicts {
            args.push("--force-conflicts".to_owned());
        }
        if let Some(manager) = &action.field_manager {
            args.push(format!("--field-manager={manager}"));
        }
        args
    }

    /// `RESOURCE [-l SELECTOR]`.
    pub(super) fn resource_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self.action.resource.iter().cloned().collect();
        if let Some(selector) = &self.action.selector {
            args.extend(["-l".to_owned(), selector.clone()]);
        }
        args
    }

    /// What the action names with where it lives, for previews:
    /// `deployment/web (namespace demo)`.
    pub(super) async fn preview_label(&self) -> String {
        let label = self.resource_label();
        match &self.action.resource {
            Some(resource) if names_cluster_scoped(resource) => format!("{label} (cluster-scoped)"),
            _ => format!("{label} (namespace {})", self.namespace().await),
        }
    }

    /// What the action names, for previews: `deployment/web`, or the
    /// selector.
    pub(super) fn resource_label(&self) -> String {
        match (&self.action.resource, &self.action.selector) {
            (Some(resource), Some(selector)) => format!("{resource} -l {selector}"),
            (Some(resource), None) => resource.clone(),
            (None, Some(selector)) => format!("-l {selector}"),
            (None, None) => "(nothing)".to_owned(),
        }
    }

    /// Whether the action names its objects by files or a kustomization.
    pub(super) fn uses_manifests(&self) -> bool {
        !self.action.files.is_empty() || self.action.kustomize.is_some()
    }

    /// `--timeout` of waiting operations: the action's, else the time left
    /// before the context's deadline, else kubectl's default.
    pub(super) fn timeout_arg(&self) -> Option<String> {
        let timeout = self.action.timeout.map(PlanDuration::get).or_else(|| {
            self.ctx()
                .deadline
                .map(|deadline| deadline.saturating_duration_since(Instant::now()))
        })?;
        Some(format!("--timeout={}", format_go_duration(timeout)))
    }

    /// The action's own command line (after the binary).
    pub(super) fn command_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args: Vec<String> = Vec::new();
        match action.op {
            KubectlOp::Apply => {
                args.push("apply".to_owned());
                args.extend(self.source_args());
                args.extend(self.apply_flags());
                match (&action.prune, &action.selector) {
                    (Some(prune), _) => {
                        args.extend(["--prune".to_owned(), "-l".to_owned(), prune.clone()]);
                    }
                    (None, Some(selector)) => args.extend(["-l".to_owned(), selector.clone()]),
                    (None, None) => {}
                }
            }
            KubectlOp::Delete => {
                args.push("delete".to_owned());
                if self.uses_manifests() {
                    args.extend(self.source_args());
                    if let Some(selector) = &action.selector {
                        args.extend(["-l".to_owned(), selector.clone()]);
                    }
                } else {
                    args.extend(self.resource_args());
                }
            }
            KubectlOp::RolloutStatus => {
                args.extend(["rollout".to_owned(), "status".to_owned()]);
                args.extend(self.resource_args());
                args.extend(self.timeout_arg());
            }
            KubectlOp::RolloutUndo => {
                args.extend(["rollout".to_owned(), "undo".to_owned()]);
                args.extend(self.resource_args());
            }
            KubectlOp::Wait => {
                args.push("wait".to_owned());
                args.extend(self.resource_args());
                if let Some(condition) = &action.condition {
                    args.push(format!("--for=condition={condition}"));
                }
                args.extend(self.timeout_arg());
            }
            KubectlOp::Scale => {
                args.push("scale".to_owned());
                args.extend(self.resource_args());
                if let Some(replicas) = action.replicas {
                    args.push(format!("--replicas={replicas}"));
                }
            }
            KubectlOp::Patch => {
                args.push("patch".to_owned());
                args.extend(self.resource_args());
                let patch_type = match action.patch_type {
                    PatchType::Strategic => "strategic",
                    PatchType::Merge => "merge",
                    PatchType::Json => "json",
                };
                args.extend(["--type".to_owned(), patch_type.to_owned()]);
                let patch = action
                    .patch
                    .as_ref()
                    .map_or_else(String::new, Value::to_string);
                args.extend(["-p".to_owned(), patch]);
                if let Some(manager) = &action.field_manager {
                    args.push(format!("--field-manager={manager}"));
                }
            }
            KubectlOp::SetImage => {
                args.extend(["set".to_owned(), "image".to_owned()]);
                args.extend(self.resource_args());
                args.extend(
                    action
                        .images
                        .iter()
                        .map(|(container, image)| format!("{container}={image}")),
                );
            }
        }
        args.extend(self.target.kubectl_args());
        args
    }

    /// The command run as a server-side dry run printing the result.
    pub(super) fn dry_run_args(&self) -> Vec<String> {
        let mut args = self.command_args();
        args.extend([
            "--dry-run=server".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ]);
        args
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use plangate_plans::{ExecutorKind, TaskId, action::KubectlAction};

    use super::*;
    use crate::{
        context::ActionContext,
        kube::{Target, Tool},
    };

    fn action(yaml: &str) -> KubectlAction {
        serde_yaml::from_str(yaml).expect("a valid kubectl action")
    }

    /// The command line of `yaml` in a plan folder holding a `k8s/` folder.
    fn command(yaml: &str, namespace: Option<&str>, deadline: Option<Duration>) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("k8s")).expect("a folder");
        let mut ctx = ActionContext::new("run", TaskId::new("task").expect("valid id"), dir.path());
        if let Some(deadline) = deadline {
            ctx = ctx.with_timeout(deadline);
        }
        let tool = Tool::new(ExecutorKind::Kubectl, "kubectl".to_owned());
        let action = action(yaml);
        let request = Request {
            action: &action,
            invocation: tool.invocation(&ctx),
            target: Target {
                context: "dev".to_owned(),
                namespace: namespace.map(str::to_owned),
                kubeconfig: None,
            },
            version: "v1.33.9".to_owned(),
        };
        request.command_args()
    }

    #[test]
    fn apply_command_lines() {
        assert_eq!(
            command(
                "op: apply\nfiles: [app.yaml, k8s]\nserver_side: true\nforce_conflicts: true\nfield_manager: plangate",
                Some("demo"),
                None
            ),
            [
                "apply",
                "-f",
                "app.yaml",
                "-f",
                "k8s",
                "-R",
                "--server-side",
                "--force-conflicts",
                "--field-manager=plangate",
                "--context",
                "dev",
                "-n",
                "demo"
            ]
        );
        assert_eq!(
            command("op: apply\nkustomize: overlay\nprune: app=web", None, None),
            [
                "apply",
                "-k",
                "overlay",
                "--prune",
                "-l",
                "app=web",
                "--context",
                "dev"
            ]
        );
    }

    #[test]
    fn resource_command_lines() {
        assert_eq!(
            command(
                "op: patch\nresource: deployment/web\npatch_type: json\npatch: [{op: remove, path: /spec/paused}]",
                None,
                None
            ),
            [
                "patch",
                "deployment/web",
                "--type",
                "json",
                "-p",
                r#"[{"op":"remove","path":"/spec/paused"}]"#,
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command(
                "op: set_image\nresource: deployment/web\nimages: {web: 'nginx:1.28', sidecar: 'envoy:1'}",
                None,
                None
            ),
            [
                "set",
                "image",
                "deployment/web",
                "sidecar=envoy:1",
                "web=nginx:1.28",
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command(
                "op: wait\nresource: pods\nselector: app=web\ncondition: Ready\ntimeout: 90s",
                Some("demo"),
                None
            ),
            [
                "wait",
                "pods",
                "-l",
                "app=web",
                "--for=condition=Ready",
                "--timeout=90s",
                "--context",
                "dev",
                "-n",
                "demo"
            ]
        );
        assert_eq!(
            command(
                "op: scale\nresource: statefulset/db\nreplicas: 0",
                None,
                None
            ),
            [
                "scale",
                "statefulset/db",
                "--replicas=0",
                "--context",
                "dev"
            ]
        );
        assert_eq!(
            command("op: delete\nresource: configmap/old", None, None),
            ["delete", "configmap/old", "--context", "dev"]
        );
    }

    #[test]
    fn rollout_status_waits_until_the_deadline_by_default() {
        let status = "op: rollout_status\nresource: deployment/web";
        assert_eq!(
            command(status, None, None),
            ["rollout", "status", "deployment/web", "--context", "dev"]
        );
        let bounded = command(status, None, Some(Duration::from_secs(600)));
        let timeout = bounded
            .iter()
            .find_map(|arg| arg.strip_prefix("--timeout="))
            .expect("a timeout");
        let millis: u64 = match timeout.strip_suffix("ms") {
            Some(millis) => millis.parse().expect("milliseconds"),
            None => {
                let seconds: u64 = timeout
                    .strip_suffix('s')
                    .and_then(|seconds| seconds.parse().ok())
                    .expect("seconds");
                seconds * 1000
            }
        };
        assert!((590_000..=600_000).contains(&millis), "{timeout}");
        assert!(
            command(
                &format!("{status}\ntimeout: 2m"),
                None,
                Some(Duration::from_secs(600))
            )
            .contains(&"--timeout=120s".to_owned())
        );
    }
}
