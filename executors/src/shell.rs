//! [`ShellExecutor`]: runs `shell:` actions, an argv spawned directly.
//!
//! The child's environment is this process's, plus the instance's `env`,
//! plus the action's `env`, plus the `PLANGATE_*` variables (which the
//! others cannot override). It runs in the plan's folder joined with the
//! action's `cwd`, else the instance's, so an absolute `cwd` is used as is.
//!
//! A shell command can do anything, so the executor cannot preview its
//! effect, has no automatic inverse and cannot observe whether an
//! interrupted run took effect.

use std::{borrow::Cow, collections::BTreeMap};

use plangate_plans::{
    Action, ActionSpec, ExecutorInstance, ExecutorKind, Rollback, action::ShellAction,
};

use crate::{
    context::ActionContext,
    error::ExecutorError,
    executor::{BoxFuture, Executor},
    outcome::{ActionOutcome, Observation},
    preview::{ChangeKind, Preview, PreviewChange},
    process::{ProcessSpec, quote_command, run_process},
    redact::Redactor,
};

/// Runs `shell:` actions.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct ShellExecutor;

impl ShellExecutor {
    /// The shell executor.
    pub fn new() -> Self {
        Self
    }

    async fn run(
        &self,
        shell: &ShellAction,
        ctx: &ActionContext,
    ) -> Result<ActionOutcome, ExecutorError> {
        let spec = process_spec(shell, ctx)?;
        let redactor = redactor_for(&spec, ctx);
        let outcome = run_process(&spec, &ctx.cancel, &ctx.force_kill, ctx.deadline, &redactor)
            .await
            .map_err(|error| ExecutorError::from_spawn(error, ExecutorKind::Shell))?;
        Ok(outcome.into_action_outcome(None))
    }
}

impl Executor for ShellExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Shell
    }

    fn preview<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Preview, ExecutorError>> {
        Box::pin(async move {
            let spec = process_spec(shell_action(action)?, ctx)?;
            let command = quote_command(&spec.argv, &redactor_for(&spec, ctx));
            Ok(Preview::new(
                format!("would run `{command}`"),
                vec![PreviewChange {
                    object: command,
                    change: ChangeKind::Unknown,
                    diff: None,
                }],
            ))
        })
    }

    fn apply<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.run(shell_action(action)?, ctx).await })
    }

    fn verify<'a>(
        &'a self,
        action: &'a Action,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move { self.run(shell_action(action)?, ctx).await })
    }

    fn rollback<'a>(
        &'a self,
        rollback: &'a Rollback,
        run: &'a Action,
        _evidence: Option<&'a serde_json::Value>,
        ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<ActionOutcome, ExecutorError>> {
        Box::pin(async move {
            shell_action(run)?;
            match rollback {
                Rollback::Auto => Err(ExecutorError::UnsupportedRollback {
                    kind: ExecutorKind::Shell,
                }),
                Rollback::Action(action) => self.run(shell_action(action)?, ctx).await,
            }
        })
    }

    fn observe<'a>(
        &'a self,
        action: &'a Action,
        _evidence: Option<&'a serde_json::Value>,
        _ctx: &'a ActionContext,
    ) -> BoxFuture<'a, Result<Observation, ExecutorError>> {
        Box::pin(async move {
            shell_action(action)?;
            Ok(Observation::Unknown)
        })
    }
}

fn shell_action(action: &Action) -> Result<&ShellAction, ExecutorError> {
    match &action.spec {
        ActionSpec::Shell(shell) => Ok(shell),
        other => Err(ExecutorError::WrongKind {
            executor: ExecutorKind::Shell,
            action: other.kind(),
        }),
    }
}

/// The configured instance, which must be a shell one.
fn shell_instance(ctx: &ActionContext) -> Result<Option<&ExecutorInstance>, ExecutorError> {
    match &ctx.instance {
        Some(instance) if instance.kind != ExecutorKind::Shell => {
            Err(ExecutorError::InstanceKind {
                kind: ExecutorKind::Shell,
                instance: instance.kind,
            })
        }
        instance => Ok(instance.as_ref()),
    }
}

fn process_spec(shell: &ShellAction, ctx: &ActionContext) -> Result<ProcessSpec, ExecutorError> {
    if shell.argv.is_empty() {
        return Err(ExecutorError::EmptyArgv {
            kind: ExecutorKind::Shell,
        });
    }
    let instance = shell_instance(ctx)?;
    let mut env = BTreeMap::new();
    if let Some(instance) = instance {
        env.extend(instance.env.clone());
    }
    env.extend(shell.env.clone());
    env.extend(
        ctx.child_env()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    let cwd = shell
        .cwd
        .as_deref()
        .or_else(|| instance.and_then(|instance| instance.cwd.as_deref()));
    Ok(ProcessSpec {
        argv: shell.argv.clone(),
        env,
        cwd: cwd.map_or_else(|| ctx.base_dir.clone(), |cwd| ctx.base_dir.join(cwd)),
        grace_period: ctx.grace_period,
        leak_timeout: ctx.leak_timeout,
        output_limit: ctx.output_limit,
        on_spawn: ctx.on_spawn.clone(),
    })
}

/// The context's redactor, plus the secrets of the child's whole environment
/// (inherited and added), so nothing the child can print slips through even
/// when the engine's redactor did not know the action.
fn redactor_for<'a>(spec: &ProcessSpec, ctx: &'a ActionContext) -> Cow<'a, Redactor> {
    let inherited: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let vars = inherited
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(
            spec.env
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
    match ctx.redactor.with_env(vars) {
        Cow::Borrowed(_) => Cow::Borrowed(&*ctx.redactor),
        Cow::Owned(redactor) => Cow::Owned(redactor),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use plangate_plans::TaskId;

    use super::*;

    fn shell(argv: &[&str]) -> ShellAction {
        ShellAction {
            argv: argv.iter().map(|arg| (*arg).to_owned()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    fn instance(kind: ExecutorKind) -> ExecutorInstance {
        ExecutorInstance {
            kind,
            context: None,
            namespace: None,
            kubeconfig: None,
            binary: None,
            allow_context_mismatch: false,
            env: BTreeMap::from([
                ("FROM".to_owned(), "instance".to_owned()),
                ("ONLY_INSTANCE".to_owned(), "yes".to_owned()),
            ]),
            cwd: Some("instance-dir".to_owned()),
            api_url: None,
            token_env: None,
            repo: None,
            exclusive: false,
        }
    }

    fn ctx() -> ActionContext {
        ActionContext::new("run-7", TaskId::new("render").expect("valid id"), "/plans")
    }

    #[test]
    fn cwd_is_the_base_dir_by_default() {
        let spec = process_spec(&shell(&["true"]), &ctx()).expect("valid");
        assert_eq!(spec.cwd, Path::new("/plans"));
    }

    #[test]
    fn action_cwd_wins_over_instance_cwd() {
        let ctx = ctx().with_instance(instance(ExecutorKind::Shell));
        let spec = process_spec(&shell(&["true"]), &ctx).expect("valid");
        assert_eq!(spec.cwd, Path::new("/plans/instance-dir"));
        let mut action = shell(&["true"]);
        action.cwd = Some("docs".to_owned());
        let spec = process_spec(&action, &ctx).expect("valid");
        assert_eq!(spec.cwd, Path::new("/plans/docs"));
        action.cwd = Some("/abs".to_owned());
        let spec = process_spec(&action, &ctx).expect("valid");
        assert_eq!(spec.cwd, Path::new("/abs"));
    }

    #[test]
    fn env_layers_instance_then_action_then_plangate() {
        let ctx = ctx()
            .with_instance(instance(ExecutorKind::Shell))
            .with_attempt(2);
        let mut action = shell(&["true"]);
        action.env = BTreeMap::from([
            ("FROM".to_owned(), "action".to_owned()),
            ("PLANGATE_RUN_ID".to_owned(), "spoofed".to_owned()),
        ]);
        let spec = process_spec(&action, &ctx).expect("valid");
        let env: Vec<(&str, &str)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("FROM", "action"),
                ("ONLY_INSTANCE", "yes"),
                ("PLANGATE_ATTEMPT", "2"),
                ("PLANGATE_RUN_ID", "run-7"),
                ("PLANGATE_TASK_ID", "render"),
            ]
        );
    }

    #[test]
    fn an_instance_of_another_kind_is_invalid() {
        let ctx = ctx().with_instance(instance(ExecutorKind::Kubectl));
        let error = process_spec(&shell(&["true"]), &ctx).expect_err("kubectl instance");
        assert_eq!(
            error.to_string(),
            "invalid `shell` action: its executor instance is of kind `kubectl`"
        );
    }

    #[test]
    fn an_empty_argv_is_invalid() {
        let error = process_spec(&shell(&[]), &ctx()).expect_err("empty argv");
        assert_eq!(
            error.to_string(),
            "invalid `shell` action: the argv is empty"
        );
    }
}
