//! The helm command lines of a request.

use plangate_plans::action::HelmOp;

use super::executor::Request;
use crate::kube::format_go_duration;

impl Request<'_> {
    /// `--timeout` from the action.
    pub(super) fn timeout_arg(&self) -> Option<String> {
        self.action
            .timeout
            .map(|timeout| format!("--timeout={}", format_go_duration(timeout.get())))
    }

    /// `upgrade --install RELEASE CHART` with the chart's inputs, but without
    /// waiting: shared by the action and its dry run.
    pub(super) fn upgrade_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args = vec![
            "upgrade".to_owned(),
            "--install".to_owned(),
            action.release.clone(),
            action.chart.clone().unwrap_or_default(),
        ];
        for values in &action.values {
            args.extend(["-f".to_owned(), values.clone()]);
        }
        for (key, value) in &action.set {
            args.extend(["--set".to_owned(), format!("{key}={value}")]);
        }
        if let Some(version) = &action.version {
            args.extend(["--version".to_owned(), version.clone()]);
        }
        if action.create_namespace {
            args.push("--create-namespace".to_owned());
        }
        args
    }

    pub(super) fn command_args(&self) -> Vec<String> {
        let action = self.action;
        let mut args = match action.op {
            HelmOp::Upgrade => {
                let mut args = self.upgrade_args();
                if action.wait {
                    args.push("--wait".to_owned());
                }
                if action.atomic {
                    // Helm 4 renamed `--atomic`, which it still accepts with a warning.
                    let flag = if self.version.starts_with("v3.") {
                        "--atomic"
                    } else {
                        "--rollback-on-failure"
                    };
                    args.push(flag.to_owned());
                }
                args
            }
            HelmOp::Uninstall => {
                let mut args = vec!["uninstall".to_owned(), action.release.clone()];
                if action.wait {
                    args.push("--wait".to_owned());
                }
                args
            }
            HelmOp::Test => vec!["test".to_owned(), action.release.clone()],
            HelmOp::Rollback => {
                let mut args = vec!["rollback".to_owned(), action.release.clone()];
                args.extend(action.revision.map(|revision| revision.to_string()));
                if action.wait {
                    args.push("--wait".to_owned());
                }
                args
            }
        };
        args.extend(self.timeout_arg());
        args.extend(self.target.helm_args());
        args
    }
}

#[cfg(test)]
mod tests {
    use plangate_plans::{ExecutorKind, TaskId, action::HelmAction};

    use super::*;
    use crate::{
        context::ActionContext,
        kube::{Target, Tool},
    };

    fn command(yaml: &str, version: &str) -> Vec<String> {
        let ctx = ActionContext::new("run", TaskId::new("task").expect("valid id"), "/plans");
        let tool = Tool::new(ExecutorKind::Helm, "helm".to_owned());
        let action: HelmAction = serde_yaml::from_str(yaml).expect("a valid helm action");
        let request = Request {
            action: &action,
            invocation: tool.invocation(&ctx),
            target: Target {
                context: "dev".to_owned(),
                namespace: Some("demo".to_owned()),
                kubeconfig: Some("/k".into()),
            },
            version: version.to_owned(),
        };
        request.command_args()
    }

    #[test]
    fn upgrade_command_lines() {
        let upgrade = "op: upgrade\nrelease: api\nchart: charts/api\nversion: 1.2.x\nvalues: [prod.yaml]\nset: {replicas: '3', image.tag: v2}\ncreate_namespace: true\nwait: true\natomic: true\ntimeout: 5m";
        assert_eq!(
            command(upgrade, "v4.1.4+g05fa379"),
            [
                "upgrade",
                "--install",
                "api",
                "charts/api",
                "-f",
                "prod.yaml",
                "--set",
                "image.tag=v2",
                "--set",
                "replicas=3",
                "--version",
                "1.2.x",
                "--create-namespace",
                "--wait",
                "--rollback-on-failure",
                "--timeout=300s",
                "-n",
                "demo",
                "--kube-context",
                "dev",
                "--kubeconfig",
                "/k"
            ]
        );
        assert!(command(upgrade, "v3.17.0+gabc").contains(&"--atomic".to_owned()));
    }

    #[test]
    fn other_command_lines() {
        assert_eq!(
            command(
                "op: rollback\nrelease: api\nrevision: 3\nwait: true",
                "v4.1.4"
            ),
            [
                "rollback",
                "api",
                "3",
                "--wait",
                "-n",
                "demo",
                "--kube-context",
                "dev",
                "--kubeconfig",
                "/k"
            ]
        );
        assert_eq!(
            command("op: test\nrelease: api", "v4.1.4")[..2],
            ["test", "api"]
        );
        assert_eq!(
            command("op: uninstall\nrelease: api", "v4.1.4")[..2],
            ["uninstall", "api"]
        );
    }
}
