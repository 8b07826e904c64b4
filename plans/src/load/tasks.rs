//! One task: its keys, defaults applied, and its `run`, `verify` and
//! `rollback`, kept as a [`DraftTask`] until `needs` are resolved.

use std::collections::{BTreeMap, HashMap};

use serde_yaml::Value;

use super::{Context, Defaults, context::At};
use crate::{
    action::{Action, ActionSpec, ExecutorInstance, GitOp, Rollback},
    duration::PlanDuration,
    ids::{TaskId, is_valid_id},
    marked::Path,
    model::{Risk, Task},
};

pub(super) const TASK_KEYS: &[&str] = &[
    "id",
    "name",
    "source",
    "risk",
    "needs",
    "estimate",
    "timeout",
    "retries",
    "retry_backoff",
    "idempotent",
    "run",
    "verify",
    "rollback",
    "environment",
    "exclusive",
];

/// A task as decoded, before `needs` are resolved to indexes. A draft exists
/// for every task with a valid, unique id, even when other fields are invalid,
/// so that graph checks still run over the whole plan.
pub(super) struct DraftTask {
    pub(super) id: TaskId,
    pub(super) phase: usize,
    pub(super) path: TaskPath,
    /// The ids listed in `needs`, in order; the `i`th is at
    /// [`TaskPath::need`]`(i)`.
    pub(super) needs: Vec<String>,
    pub(super) risk: Option<Risk>,
    pub(super) has_rollback: bool,
    /// The fully decoded task (with `needs` still empty), if every field was valid.
    pub(super) task: Option<Task>,
}

/// Where a task is in the document: `phases[phase].tasks[task]`. Kept as
/// two indexes rather than a [`Path`] (a vector of owned segments), since
/// every task of a large plan keeps one until `needs` are resolved and the
/// path is only wanted for a diagnostic.
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskPath {
    pub(super) phase: usize,
    pub(super) task: usize,
}

impl TaskPath {
    /// The task's path.
    pub(super) fn path(self) -> Path {
        Path::root()
            .key("phases")
            .index(self.phase)
            .key("tasks")
            .index(self.task)
    }

    /// The path of the task's `index`th need.
    pub(super) fn need(self, index: usize) -> Path {
        self.path().key("needs").index(index)
    }
}

pub(super) struct TaskContext<'a> {
    pub(super) phase: usize,
    pub(super) defaults: &'a Defaults,
    pub(super) vars: &'a BTreeMap<String, String>,
    pub(super) executors: &'a BTreeMap<String, ExecutorInstance>,
}

impl Context<'_> {
    pub(super) fn task(
        &mut self,
        raw: &Value,
        task_path: TaskPath,
        context: &TaskContext<'_>,
        seen: &mut HashMap<String, TaskPath>,
    ) -> Option<DraftTask> {
        let path = &task_path.path();
        let Value::Mapping(map) = raw else {
            let span = self.at(path);
            self.error(span, "a task must be a mapping").help =
                Some("a task has at least `id:`, `risk:` and `run:`".to_owned());
            return None;
        };
        self.unknown_keys(map, path, TASK_KEYS, "a task");
        let id: Option<String> = self.required(map, path, "id", "a task");
        let name = self.optional::<String>(map, path, "name").ok().flatten();
        let source = self.optional::<String>(map, path, "source").ok().flatten();
        let risk: Option<Risk> = self.required(map, path, "risk", "a task");
        let needs: Vec<String> = self
            .optional(map, path, "needs")
            .ok()
            .flatten()
            .unwrap_or_default();
        let estimate = self.optional::<PlanDuration>(map, path, "estimate");
        let timeout = self.optional::<PlanDuration>(map, path, "timeout");
        let retries = self.optional::<u32>(map, path, "retries");
        let retry_backoff = self.optional::<PlanDuration>(map, path, "retry_backoff");
        let idempotent = self.optional::<bool>(map, path, "idempotent");
        let environment = self.optional::<String>(map, path, "environment");
        let exclusive = self
            .optional::<Vec<String>>(map, path, "exclusive")
            .and_then(|groups| {
                let groups = groups.unwrap_or_default();
                if self.exclusive_groups(&groups, path) {
                    Ok(groups)
                } else {
                    Err(())
                }
            });

        let run = match map.get("run") {
            None | Some(Value::Null) => {
                let span = At::new(self.span(path), &path.key("run"));
                self.error(span, "a task has no `run`").help =
                    Some("add `run:` with one action, e.g. `run: {shell: [\"make\"]}`".to_owned());
                None
            }
            Some(value) => self.action(value, &path.key("run"), context),
        };
        let verify = match map.get("verify") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(value) => self.verify(value, &path.key("verify"), context).ok_or(()),
        };
        let rollback = match map.get("rollback") {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self
                .rollback(value, &path.key("rollback"), context)
                .map(Some)
                .ok_or(()),
        };

        let id = id.and_then(|id| {
            if !self.id_text(&id, &path.key("id"), "task id") {
                return None;
            }
            if let Some(first) = seen.get(&id) {
                let first_line = self.span(&first.path().key("id")).unwrap_or_default().line;
                let id_span = self.at(&path.key("id"));
                self.error(id_span, format!("duplicate task id `{id}`"))
                    .help = Some(format!("task `{id}` is first defined on line {first_line}; task ids are unique in the whole plan"));
                return None;
            }
            seen.insert(id.clone(), task_path);
            TaskId::new(id).ok()
        })?;

        if let (Some(Action { spec, .. }), Ok(Some(Rollback::Auto))) = (&run, &rollback) {
            self.refuse_auto_rollback(spec, path);
        }

        let has_rollback = map.get("rollback").is_some_and(|v| !v.is_null());
        let task = (|| {
            Some(Task {
                id: id.clone(),
                name,
                source,
                risk: risk?,
                environment: environment.ok()?,
                phase: context.phase,
                needs: Vec::new(),
                estimate: estimate
                    .ok()?
                    .map(PlanDuration::get)
                    .or(context.defaults.estimate),
                timeout: timeout
                    .ok()?
                    .map_or(context.defaults.timeout, PlanDuration::get),
                retries: retries.ok()?.unwrap_or(context.defaults.retries),
                retry_backoff: retry_backoff
                    .ok()?
                    .map_or(context.defaults.retry_backoff, PlanDuration::get),
                idempotent: idempotent.ok()?.unwrap_or(false),
                exclusive: exclusive.ok()?,
                run: run?,
                verify: verify.ok()?,
                rollback: rollback.ok()?,
            })
        })();
        Some(DraftTask {
            id,
            phase: context.phase,
            path: task_path,
            needs,
            risk,
            has_rollback,
            task,
        })
    }

    /// Reports the names of a task's `exclusive:` that are not ids, or
    /// repeated; whether there was none.
    pub(super) fn exclusive_groups(&mut self, groups: &[String], path: &Path) -> bool {
        let mut clean = true;
        for (index, group) in groups.iter().enumerate() {
            let at = path.key("exclusive").index(index);
            if !is_valid_id(group) {
                let span = self.at(&at);
                self.error(span, format!("invalid resource group `{group}` in `exclusive`"))
                    .help = Some(
                    "resource groups follow the id syntax `[a-z0-9][a-z0-9-]*` (e.g. `db`, `ingress`); an executor instance is made one-at-a-time with `exclusive: true` on the instance".to_owned(),
                );
                clean = false;
            } else if let Some(first) = groups[..index].iter().position(|g| g == group) {
                let first_line = self
                    .span(&path.key("exclusive").index(first))
                    .unwrap_or_default()
                    .line;
                let span = self.at(&at);
                self.error(
                    span,
                    format!("resource group `{group}` is listed twice in `exclusive`"),
                )
                .help = Some(format!(
                    "it is first listed on line {first_line}; remove this one"
                ));
                clean = false;
            }
        }
        clean
    }

    /// `verify:`: one action, or a non-empty list of them (the checks, run
    /// in order). Every item is decoded, so each bad one is reported.
    pub(super) fn verify(
        &mut self,
        value: &Value,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Vec<Action>> {
        let Value::Sequence(items) = value else {
            return self.action(value, path, context).map(|action| vec![action]);
        };
        if items.is_empty() {
            let span = self.at(path);
            self.error(span, "`verify` is an empty list").help = Some(
                "list at least one check, e.g. `verify: [{shell: [\"test\", \"-f\", \"out.txt\"]}]`, or leave `verify` out".to_owned(),
            );
            return None;
        }
        let checks: Vec<Option<Action>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let item_path = path.index(index);
                if let Value::Sequence(_) = item {
                    let span = self.at(&item_path);
                    self.error(span, "a `verify` check must be an action, not a list")
                        .help = Some(
                        "write each check as an action, e.g. `- {shell: [\"test\", \"-f\", \"out.txt\"]}`".to_owned(),
                    );
                    return None;
                }
                self.action(item, &item_path, context)
            })
            .collect();
        checks.into_iter().collect()
    }

    /// Reports a `rollback: auto` that the kind of `spec`, the task's `run`,
    /// cannot undo by itself.
    pub(super) fn refuse_auto_rollback(&mut self, spec: &ActionSpec, path: &Path) {
        let refusal = match spec {
            ActionSpec::Shell(_) => Some((
                format!(
                    "`rollback: auto` is not available for `{}` actions",
                    spec.kind()
                ),
                "write the rollback as an action; only kubectl, helm, git and github_merge know their own inverse",
            )),
            ActionSpec::Git(git) if git.op == GitOp::Push && !git.force_rollback => Some((
                "`rollback: auto` of a git `push` moves the remote branch back with a forced push"
                    .to_owned(),
                "allow it with `force_rollback: true` on the push (it is refused if the remote moved since), or write the rollback as an action",
            )),
            _ => None,
        };
        if let Some((message, help)) = refusal {
            let span = self.at(&path.key("rollback"));
            self.error(span, message).help = Some(help.to_owned());
        }
    }

    pub(super) fn rollback(
        &mut self,
        value: &Value,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Rollback> {
        match value {
            Value::String(word) if word == "auto" => Some(Rollback::Auto),
            Value::String(word) => {
                let span = self.at(path);
                self.error(span, format!("invalid `rollback`: `{word}`"))
                    .help = Some(
                    "expected `auto` or an action such as `{shell: [\"rm\", \"-f\", \"out.txt\"]}`"
                        .to_owned(),
                );
                None
            }
            _ => self
                .action(value, path, context)
                .map(|action| Rollback::Action(Box::new(action))),
        }
    }
}
