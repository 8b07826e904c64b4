//! `plangate explain PLAN TASK`: one task as plangate resolves it. Each
//! setting with where it comes from (the task, its phase, the plan's
//! `defaults` or `policy`, plangate's built-in default), each action after
//! `{{ vars.NAME }}` substitution with the vars it used and its executor
//! instance, the dry run's decision with the rule behind it, and the task's
//! place in the graph. `--format json` is documented in `docs/json/explain.md`.
//!
//! Where a value comes from is read from the plan file itself (the marked
//! tree the loader's diagnostics use), since the validated model holds only
//! the resolved values.

use std::{collections::BTreeSet, fmt::Write as _, time::Duration};

use plangate_engine::run::{approval_targets, dry_run_promotion, unpromoted};
use plangate_plans::{
    Action, ActionSpec, Approvals, Decision, ExecutorInstance, LoadedPlan, Plan, Rollback, Task,
    TaskDecision, decide_promoted, format_duration, load_plan,
    marked::{self, Node, NodeKind, Path},
    text::{and_ticked, did_you_mean, plural},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    CliError,
    args::{ExplainArgs, ExplainFormat},
    commands::{Settings, emit, emit_json},
    exit,
    printer::Printer,
};

/// The version of the JSON document; bumped when a field changes meaning
/// or goes away (fields may be added without a bump).
const FORMAT_VERSION: u32 = 2;

/// How many close ids an unknown task id suggests at most.
const SUGGESTIONS: usize = 3;

pub(crate) fn explain(
    args: &ExplainArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, CliError> {
    let loaded = load_plan(&args.plan)?;
    let plan = &loaded.plan;
    approval_targets(plan, &args.approve)?;
    let Some(index) = plan.task_index(&args.task) else {
        return Err(CliError::UnknownTask {
            plan: plan.name.to_string(),
            task: args.task.clone(),
            nearest: nearest_ids(plan, &args.task),
        });
    };
    let approvals = Approvals {
        tasks: args.approve.iter().cloned().collect(),
        phases: args.approve.iter().cloned().collect(),
        ..Approvals::default()
    };
    // The same evidence as `plangate plan`: a promoted task's decision
    // depends on the state file.
    let promotions = dry_run_promotion(&settings.state_path, plan)?;
    let dry_run = decide_promoted(
        plan,
        &approvals,
        &std::collections::BTreeMap::new(),
        &unpromoted(&promotions),
    );
    let explanation = Explanation::new(&loaded, index, &dry_run.decisions[index]);
    match args.format {
        ExplainFormat::Json => emit_json(&explanation, None, printer)?,
        ExplainFormat::Text => emit(&explanation.text(), None, printer)?,
    }
    Ok(exit::SUCCESS)
}

/// The ids closest to `wanted`, closest first, among those close enough to be a typo.
fn nearest_ids(plan: &Plan, wanted: &str) -> Vec<String> {
    let mut candidates: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
    let mut nearest = Vec::new();
    while nearest.len() < SUGGESTIONS {
        let Some(found) = did_you_mean(wanted, candidates.iter().copied()) else {
            break;
        };
        nearest.push(found.to_owned());
        candidates.retain(|candidate| *candidate != found);
    }
    nearest
}

/// What `explain` prints; the JSON form is documented field by field in
/// `docs/json/explain.md`.
#[derive(Serialize)]
struct Explanation {
    format_version: u32,
    plan: PlanInfo,
    task: TaskInfo,
    /// The task's own settings, resolved, each with its origin.
    settings: Vec<Setting>,
    /// The plan's policy, as it applies to this task.
    policy: Vec<Setting>,
    decision: DecisionInfo,
    needs: Relatives,
    dependents: Relatives,
    run: ActionInfo,
    /// The checks of `verify`, in order (empty: none).
    verify: Vec<ActionInfo>,
    rollback: Option<RollbackInfo>,
    content: ContentInfo,
}

/// The task's environment and content hash: what environment promotion
/// matches evidence by.
#[derive(Serialize)]
struct ContentInfo {
    /// The environment the task targets.
    environment: String,
    /// `task` when the task sets `environment`, else `plan`.
    environment_from: &'static str,
    /// The environment whose evidence it needs, when `policy.environments`
    /// puts one before it.
    promoted_from: Option<String>,
    /// SHA-256 of `hashed`, written as canonical JSON.
    content_hash: String,
    /// What goes into the hash.
    hashed: serde_json::Value,
    /// What is left out of it, on purpose.
    left_out: &'static [&'static str],
}

/// What the content hash leaves out (see `plangate_plans::promotion`).
const LEFT_OUT: &[&str] = &[
    "the environment label",
    "the kube context, namespace and kubeconfig of kubectl and helm actions",
    "the executor instance an action names (its name and configuration)",
    "the rollback",
    "the task's id, name, risk, timeout, retries and needs",
];

#[derive(Serialize)]
struct PlanInfo {
    name: String,
    path: String,
    environment: String,
    plan_hash: String,
}

#[derive(Serialize)]
struct TaskInfo {
    id: String,
    name: Option<String>,
    source: Option<String>,
    phase: PhaseInfo,
}

#[derive(Serialize)]
struct PhaseInfo {
    id: String,
    name: Option<String>,
    /// 1-based position among the plan's phases.
    position: usize,
    phases: usize,
    budget: Option<String>,
    approval: bool,
}

/// One resolved setting: its value as a plan would write it, and where it came from.
#[derive(Serialize)]
struct Setting {
    key: &'static str,
    value: Option<String>,
    from: String,
}

#[derive(Serialize)]
struct DecisionInfo {
    decision: Decision,
    /// The policy key (or `needs`) that decided.
    rule: &'static str,
    /// The sentence that explains it.
    reason: String,
    /// Forecast start and finish from the start of the run, for a task that runs.
    forecast_start: Option<String>,
    forecast_finish: Option<String>,
}

#[derive(Serialize)]
struct Relatives {
    direct: Vec<String>,
    /// Every task reached by following the edges, the direct ones included.
    transitive: usize,
}

#[derive(Serialize)]
struct ActionInfo {
    kind: &'static str,
    summary: String,
    /// The action's fields after `{{ vars.NAME }}` substitution.
    fields: Value,
    /// The vars the action's text names, with their values.
    vars: Vec<VarUse>,
    executor: Option<InstanceInfo>,
    /// For kubectl and helm: which context, namespace and kubeconfig apply.
    target: Vec<Setting>,
}

#[derive(Serialize)]
struct VarUse {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct InstanceInfo {
    name: String,
    kind: &'static str,
    /// The instance's settings that are set.
    settings: Value,
}

#[derive(Serialize)]
struct RollbackInfo {
    /// `true` for `rollback: auto`: the executor undoes the action itself.
    auto: bool,
    /// The rollback action, when it is one.
    action: Option<ActionInfo>,
}

/// Where in the plan file a value was found, or that it was not.
struct Origins<'a> {
    root: Option<Node>,
    task_path: Path,
    plan: &'a Plan,
}

impl Origins<'_> {
    fn node(&self, path: &Path) -> Option<&Node> {
        let node = self.root.as_ref()?.lookup(path)?;
        let null = matches!(&node.kind, NodeKind::Scalar { value, plain: true } if value.is_empty() || value == "~" || value == "null");
        (!null).then_some(node)
    }

    fn given(&self, path: &Path) -> bool {
        self.node(path).is_some()
    }

    /// `task` if the task sets `key`, else `defaults` if `defaults.key` is
    /// set, else the built-in default.
    fn task_or_defaults(&self, key: &str) -> String {
        if self.given(&self.task_path.key(key)) {
            "task".to_owned()
        } else if self.given(&Path::root().key("defaults").key(key)) {
            "defaults".to_owned()
        } else {
            "built-in default".to_owned()
        }
    }

    fn policy(&self, key: &str) -> String {
        if self.given(&Path::root().key("policy").key(key)) {
            "policy".to_owned()
        } else {
            "built-in default".to_owned()
        }
    }

    /// The vars named by placeholders in the action at `path`.
    fn vars_of(&self, path: &Path) -> Vec<VarUse> {
        let mut names = BTreeSet::new();
        if let Some(node) = self.node(path) {
            placeholder_vars(node, &mut names);
        }
        // A loaded plan defines every var it names (the loader refuses the others).
        names
            .into_iter()
            .filter_map(|name| {
                let value = self.plan.vars.get(&name)?.clone();
                Some(VarUse { name, value })
            })
            .collect()
    }
}

/// Collects `NAME` of every `{{ vars.NAME }}` in the scalars under `node`.
fn placeholder_vars(node: &Node, names: &mut BTreeSet<String>) {
    match &node.kind {
        NodeKind::Scalar { value, .. } => {
            let mut rest = value.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                if let Some(name) = after[..end].trim().strip_prefix("vars.") {
                    names.insert(name.to_owned());
                }
                rest = &after[end + 2..];
            }
        }
        NodeKind::Sequence(items) => {
            for item in items {
                placeholder_vars(item, names);
            }
        }
        NodeKind::Mapping(entries) => {
            for (_, value) in entries {
                placeholder_vars(value, names);
            }
        }
        NodeKind::Alias => {}
    }
}

fn duration_text(duration: Option<Duration>) -> Option<String> {
    duration.map(format_duration)
}

impl Explanation {
    fn new(loaded: &LoadedPlan, index: usize, decision: &TaskDecision) -> Self {
        let plan = &loaded.plan;
        let task = &plan.tasks[index];
        let phase = &plan.phases[task.phase];
        let position = phase
            .tasks
            .iter()
            .position(|&member| member == index)
            .expect("a task is listed in its own phase");
        // A plan that loaded parses again; without a tree, origins read as defaults.
        let root = marked::parse(&loaded.source).ok().flatten();
        let origins = Origins {
            root,
            task_path: Path::root()
                .key("phases")
                .index(task.phase)
                .key("tasks")
                .index(position),
            plan,
        };
        let action = |action: &Action, key: &str| {
            ActionInfo::new(plan, action, &origins, &origins.task_path.key(key))
        };
        Self {
            format_version: FORMAT_VERSION,
            plan: PlanInfo {
                name: plan.name.to_string(),
                path: loaded.source.path().display().to_string(),
                environment: plan.environment.clone(),
                plan_hash: plan.content_hash.clone(),
            },
            task: TaskInfo {
                id: task.id.to_string(),
                name: task.name.clone(),
                source: task.source.clone(),
                phase: PhaseInfo {
                    id: phase.id.to_string(),
                    name: phase.name.clone(),
                    position: task.phase + 1,
                    phases: plan.phases.len(),
                    budget: duration_text(phase.budget),
                    approval: phase.approval,
                },
            },
            settings: task_settings(plan, index, &origins),
            policy: policy_settings(plan, &origins),
            decision: DecisionInfo::new(plan, task, decision),
            needs: relatives(plan, index, |task| plan.tasks[task].needs.clone()),
            dependents: relatives(plan, index, |task| dependents_of(plan, task)),
            run: action(&task.run, "run"),
            verify: task
                .verify
                .iter()
                .map(|check| action(check, "verify"))
                .collect(),
            rollback: task.rollback.as_ref().map(|rollback| match rollback {
                Rollback::Auto => RollbackInfo {
                    auto: true,
                    action: None,
                },
                Rollback::Action(rollback) => RollbackInfo {
                    auto: false,
                    action: Some(action(rollback, "rollback")),
                },
            }),
            content: ContentInfo {
                environment: plan.environment_of(task).to_owned(),
                environment_from: if task.environment.is_some() {
                    "task"
                } else {
                    "plan"
                },
                promoted_from: plan
                    .policy
                    .previous_environment(plan.environment_of(task))
                    .map(str::to_owned),
                content_hash: plangate_plans::task_content_hash(task),
                hashed: plangate_plans::task_content(task),
                left_out: LEFT_OUT,
            },
        }
    }
}

fn task_settings(plan: &Plan, index: usize, origins: &Origins<'_>) -> Vec<Setting> {
    let task = &plan.tasks[index];
    let own = |key: &str| {
        if origins.given(&origins.task_path.key(key)) {
            "task".to_owned()
        } else {
            "built-in default".to_owned()
        }
    };
    let mut settings = vec![
        Setting {
            key: "risk",
            value: Some(task.risk.to_string()),
            from: "task".to_owned(),
        },
        Setting {
            key: "timeout",
            value: Some(format_duration(task.timeout)),
            from: origins.task_or_defaults("timeout"),
        },
        Setting {
            key: "retries",
            value: Some(task.retries.to_string()),
            from: origins.task_or_defaults("retries"),
        },
        Setting {
            key: "retry_backoff",
            value: Some(format_duration(task.retry_backoff)),
            from: origins.task_or_defaults("retry_backoff"),
        },
        Setting {
            key: "estimate",
            value: duration_text(task.estimate),
            from: if task.estimate.is_some() {
                origins.task_or_defaults("estimate")
            } else {
                "not set (counts as 0s in forecasts)".to_owned()
            },
        },
        Setting {
            key: "idempotent",
            value: Some(task.idempotent.to_string()),
            from: own("idempotent"),
        },
    ];
    let groups = plan.exclusive_groups(index);
    if !groups.is_empty() {
        let mut from = Vec::new();
        if !task.exclusive.is_empty() {
            from.push("task".to_owned());
        }
        for group in &groups {
            if let Some(instance) = group.strip_prefix(plangate_plans::EXECUTOR_GROUP_PREFIX) {
                from.push(format!("executor `{instance}` (`exclusive: true`)"));
            }
        }
        settings.push(Setting {
            key: "exclusive",
            value: Some(groups.join(", ")),
            from: from.join(", "),
        });
    }
    settings
}

fn policy_settings(plan: &Plan, origins: &Origins<'_>) -> Vec<Setting> {
    let policy = &plan.policy;
    let setting = |key: &'static str, value: Option<String>| Setting {
        key,
        value,
        from: origins.policy(key),
    };
    vec![
        setting("max_risk", Some(policy.max_risk.to_string())),
        setting("above_max", Some(policy.above_max.as_str().to_owned())),
        setting(
            "require_rollback",
            Some(
                policy
                    .require_rollback
                    .map_or_else(|| "none".to_owned(), |risk| risk.to_string()),
            ),
        ),
        setting("on_failure", Some(policy.on_failure.as_str().to_owned())),
        setting(
            "budget",
            Some(duration_text(policy.budget).unwrap_or_else(|| "none".to_owned())),
        ),
        setting(
            "max_tasks",
            Some(
                policy
                    .max_tasks
                    .map_or_else(|| "none".to_owned(), |max| max.to_string()),
            ),
        ),
        setting("concurrency", Some(policy.concurrency.to_string())),
    ]
}

impl DecisionInfo {
    fn new(plan: &Plan, task: &Task, decision: &TaskDecision) -> Self {
        let phase = &plan.phases[task.phase];
        let reason = decision.reason.clone().unwrap_or_else(|| {
            let mut reason = format!(
                "risk `{}` is at most `policy.max_risk` `{}`",
                task.risk, plan.policy.max_risk
            );
            if task.risk > plan.policy.max_risk {
                reason = format!(
                    "risk `{}` is above `policy.max_risk` `{}`, and the task is approved",
                    task.risk, plan.policy.max_risk
                );
            }
            if phase.approval {
                let _ = write!(reason, "; phase `{}` is approved", phase.id);
            }
            if !task.needs.is_empty() {
                reason.push_str("; every task it needs runs");
            }
            let mut limits = Vec::new();
            if let Some(max) = plan.policy.max_tasks {
                limits.push(format!("`policy.max_tasks` ({max})"));
            }
            if let Some(budget) = phase.budget {
                limits.push(format!(
                    "phase `{}` budget {}",
                    phase.id,
                    format_duration(budget)
                ));
            }
            if let Some(budget) = plan.policy.budget {
                limits.push(format!("`policy.budget` {}", format_duration(budget)));
            }
            if !limits.is_empty() {
                let _ = write!(reason, "; it fits {}", limits.join(", "));
            }
            reason
        });
        let rule = match decision.decision {
            Decision::Run => "policy",
            Decision::Excluded => "policy.max_risk",
            Decision::NeedsApproval if reason.starts_with("environment `") => {
                "policy.promotion.require_approval"
            }
            Decision::NeedsApproval if reason.starts_with("phase `") => "phases[].approval",
            Decision::NeedsApproval if task.risk > plan.policy.max_risk => "policy.above_max",
            Decision::NeedsApproval => "phases[].approval",
            Decision::Blocked if reason.starts_with("promotion to `") => "policy.environments",
            Decision::Blocked => "needs",
            Decision::Deferred if reason.starts_with("needs `") => "needs",
            Decision::Deferred if reason.contains("`policy.max_tasks`") => "policy.max_tasks",
            Decision::Deferred if reason.contains("`policy.budget`") => "policy.budget",
            Decision::Deferred if reason.contains("budget") => "phases[].budget",
            Decision::Deferred => "forecast",
        };
        Self {
            decision: decision.decision,
            rule,
            reason,
            forecast_start: duration_text(decision.start),
            forecast_finish: duration_text(decision.finish),
        }
    }
}

fn dependents_of(plan: &Plan, index: usize) -> Vec<usize> {
    plan.tasks
        .iter()
        .enumerate()
        .filter(|(_, task)| task.needs.contains(&index))
        .map(|(dependent, _)| dependent)
        .collect()
}

/// The direct relatives of `index` by `edges`, and how many are reached in all.
fn relatives(plan: &Plan, index: usize, edges: impl Fn(usize) -> Vec<usize>) -> Relatives {
    let direct = edges(index);
    let mut seen = BTreeSet::new();
    let mut stack = direct.clone();
    while let Some(next) = stack.pop() {
        if seen.insert(next) {
            stack.extend(edges(next));
        }
    }
    Relatives {
        direct: direct
            .iter()
            .map(|&task| plan.tasks[task].id.to_string())
            .collect(),
        transitive: seen.len(),
    }
}

/// The fields of `spec` that are set: no nulls, empty lists or maps, and no `false`.
fn set_fields(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, value)| match value {
                    Value::Null | Value::Bool(false) => false,
                    Value::Array(items) => !items.is_empty(),
                    Value::Object(map) => !map.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        other => other,
    }
}

impl ActionInfo {
    fn new(plan: &Plan, action: &Action, origins: &Origins<'_>, path: &Path) -> Self {
        let fields = match serde_json::to_value(&action.spec) {
            Ok(Value::Object(mut tagged)) => {
                tagged.remove(action.kind().as_str()).unwrap_or_default()
            }
            _ => Value::Null,
        };
        let instance = plan.instance_of(action);
        Self {
            kind: action.kind().as_str(),
            summary: action.summary(),
            fields: set_fields(fields),
            vars: origins.vars_of(path),
            executor: action
                .instance
                .as_ref()
                .zip(instance)
                .map(|(name, instance)| InstanceInfo {
                    name: name.clone(),
                    kind: instance.kind.as_str(),
                    settings: set_fields(serde_json::to_value(instance).unwrap_or_default()),
                }),
            target: target(plan, action, instance),
        }
    }
}

/// Which context, namespace and kubeconfig a kubectl or helm action uses,
/// in the executors' order: the action's field, the instance's, the plan's
/// `vars.kube_context` / `vars.namespace`, the tool's own default.
fn target(plan: &Plan, action: &Action, instance: Option<&ExecutorInstance>) -> Vec<Setting> {
    let (context, namespace, kubeconfig) = match &action.spec {
        ActionSpec::Kubectl(k) => (&k.context, &k.namespace, &k.kubeconfig),
        ActionSpec::Helm(h) => (&h.context, &h.namespace, &h.kubeconfig),
        _ => return Vec::new(),
    };
    let instance_name = action.instance.as_deref().unwrap_or_default();
    let pick = |key: &'static str,
                own: &Option<String>,
                configured: Option<&Option<String>>,
                var: Option<&str>,
                fallback: &str| {
        if let Some(value) = own {
            return Setting {
                key,
                value: Some(value.clone()),
                from: "action".to_owned(),
            };
        }
        if let Some(Some(value)) = configured {
            return Setting {
                key,
                value: Some(value.clone()),
                from: format!("executor `{instance_name}`"),
            };
        }
        if let Some((var, value)) = var.and_then(|var| plan.vars.get(var).map(|value| (var, value)))
        {
            return Setting {
                key,
                value: Some(value.clone()),
                from: format!("vars.{var}"),
            };
        }
        Setting {
            key,
            value: None,
            from: fallback.to_owned(),
        }
    };
    vec![
        pick(
            "context",
            context,
            instance.map(|i| &i.context),
            Some("kube_context"),
            "the kubeconfig's current context",
        ),
        pick(
            "namespace",
            namespace,
            instance.map(|i| &i.namespace),
            Some("namespace"),
            "none passed (manifests name their own)",
        ),
        pick(
            "kubeconfig",
            kubeconfig,
            instance.map(|i| &i.kubeconfig),
            None,
            "`$KUBECONFIG`, else the tool's default",
        ),
    ]
}

impl Explanation {
    fn text(&self) -> String {
        let mut out = String::new();
        let task = &self.task;
        let phase = &task.phase;
        let named = |id: &str, name: &Option<String>| match name {
            Some(name) => format!("`{id}` ({name})"),
            None => format!("`{id}`"),
        };
        let _ = writeln!(
            out,
            "task {} in phase {} ({} of {}) of plan `{}` ({})",
            named(&task.id, &task.name),
            named(&phase.id, &phase.name),
            phase.position,
            phase.phases,
            self.plan.name,
            self.plan.path
        );
        if let Some(source) = &task.source {
            let _ = writeln!(out, "source: {source}");
        }
        let mut phase_facts = Vec::new();
        if let Some(budget) = &phase.budget {
            phase_facts.push(format!("budget {budget}"));
        }
        if phase.approval {
            phase_facts.push("waits for an approval (`approval: true`)".to_owned());
        }
        if !phase_facts.is_empty() {
            let _ = writeln!(out, "phase `{}`: {}", phase.id, phase_facts.join(", "));
        }

        let decision = &self.decision;
        let _ = writeln!(out, "\ndecision: {}", decision.decision);
        let _ = writeln!(out, "  rule:     {}", decision.rule);
        let _ = writeln!(out, "  why:      {}", decision.reason);
        if let (Some(start), Some(finish)) = (&decision.forecast_start, &decision.forecast_finish) {
            let _ = writeln!(
                out,
                "  forecast: starts at {start}, finishes at {finish} into the run"
            );
        }

        out.push_str("\nsettings:\n");
        write_settings(&mut out, &self.settings);
        out.push_str("\npolicy:\n");
        write_settings(&mut out, &self.policy);

        out.push('\n');
        write_relatives(&mut out, "needs", &self.needs);
        write_relatives(&mut out, "dependents", &self.dependents);

        write_action(&mut out, "run", &self.run);
        match self.verify.as_slice() {
            [] => out.push_str("\nverify: none\n"),
            [check] => write_action(&mut out, "verify", check),
            checks => {
                for (position, check) in checks.iter().enumerate() {
                    write_action(
                        &mut out,
                        &format!("verify check {} of {}", position + 1, checks.len()),
                        check,
                    );
                }
            }
        }
        match &self.rollback {
            None => out.push_str("\nrollback: none\n"),
            Some(RollbackInfo { auto: true, .. }) => out.push_str(&format!(
                "\nrollback: auto (the `{}` executor undoes its own action)\n",
                self.run.kind
            )),
            Some(RollbackInfo {
                action: Some(action),
                ..
            }) => write_action(&mut out, "rollback", action),
            Some(RollbackInfo { action: None, .. }) => {}
        }
        let content = &self.content;
        let _ = writeln!(
            out,
            "\ncontent hash: {} (environment `{}`, from the {}{})",
            content.content_hash,
            content.environment,
            content.environment_from,
            content
                .promoted_from
                .as_ref()
                .map(|from| format!("; promotion needs evidence of this hash in `{from}`"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  hashed:   the `run` and `verify` actions after templating, with their executor kind"
        );
        let _ = writeln!(out, "  left out: {}", content.left_out.join("; "));
        out
    }
}

fn write_settings(out: &mut String, settings: &[Setting]) {
    let width = settings
        .iter()
        .map(|setting| setting.key.len())
        .max()
        .unwrap_or_default();
    let value_width = settings
        .iter()
        .map(|setting| setting.value.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or_default();
    for setting in settings {
        let value = setting.value.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "  {:width$}  {value:value_width$}  {}",
            setting.key, setting.from
        );
    }
}

fn write_relatives(out: &mut String, what: &str, relatives: &Relatives) {
    if relatives.direct.is_empty() {
        let _ = writeln!(out, "{what}: none");
        return;
    }
    let _ = writeln!(
        out,
        "{what}: {} direct ({}), {} in all",
        relatives.direct.len(),
        and_ticked(&relatives.direct),
        plural(relatives.transitive, "task", "tasks")
    );
}

fn write_action(out: &mut String, what: &str, action: &ActionInfo) {
    let _ = writeln!(out, "\n{what}: {}", action.summary);
    if let Some(executor) = &action.executor {
        let settings = match &executor.settings {
            Value::Object(map) => map
                .iter()
                .filter(|(key, _)| key.as_str() != "kind")
                .map(|(key, value)| format!("{key}: {}", plain(value)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  executor: `{}` ({}){}",
            executor.name,
            executor.kind,
            if settings.is_empty() {
                String::new()
            } else {
                format!(": {settings}")
            }
        );
    }
    if !action.target.is_empty() {
        write_settings(out, &action.target);
    }
    if !action.vars.is_empty() {
        let vars: Vec<String> = action
            .vars
            .iter()
            .map(|var| format!("{} = {}", var.name, var.value))
            .collect();
        let _ = writeln!(out, "  vars: {}", vars.join(", "));
    }
    let _ = writeln!(out, "  fields: {}", plain(&action.fields));
}

/// A JSON value on one line, strings unquoted at the top level.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
