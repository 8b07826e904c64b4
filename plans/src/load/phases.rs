//! `phases:`: each phase's keys, and its tasks, decoded one by one.

use std::collections::{BTreeMap, HashMap};

use serde_yaml::{Mapping, Value};

use super::{Context, Defaults, DraftTask, TaskContext, TaskPath};
use crate::{
    action::ExecutorInstance, duration::PlanDuration, ids::PhaseId, marked::Path, model::Phase,
};

pub(super) const PHASE_KEYS: &[&str] = &["id", "name", "budget", "approval", "tasks"];

impl Context<'_> {
    pub(super) fn phases(
        &mut self,
        root: &mut Mapping,
        defaults: &Defaults,
        vars: &BTreeMap<String, String>,
        executors: &BTreeMap<String, ExecutorInstance>,
    ) -> (Vec<Phase>, Vec<DraftTask>) {
        let root_path = Path::root();
        let Some(raw_phases) = self.take_sequence(root, &root_path, "phases", "the plan") else {
            return (Vec::new(), Vec::new());
        };
        if raw_phases.is_empty() {
            let span = self.at(&root_path.key("phases"));
            self.error(span, "the plan has no phases").help =
                Some("add at least one phase with `id:` and `tasks:`".to_owned());
        }
        let mut phases = Vec::new();
        let mut drafts = Vec::new();
        let mut seen_phases: HashMap<String, Path> = HashMap::new();
        let mut seen_tasks: HashMap<String, TaskPath> = HashMap::new();
        for (phase_index, raw) in raw_phases.into_iter().enumerate() {
            let path = root_path.key("phases").index(phase_index);
            let Value::Mapping(mut map) = raw else {
                let span = self.at(&path);
                self.error(span, "a phase must be a mapping").help = Some(
                    "a phase has `id:`, optional `name:`, `budget:`, `approval:`, and `tasks:`"
                        .to_owned(),
                );
                continue;
            };
            self.unknown_keys(&map, &path, PHASE_KEYS, "a phase");
            let id: Option<String> = self.required(&map, &path, "id", "a phase");
            let name = self.optional::<String>(&map, &path, "name").ok().flatten();
            let budget = self
                .optional::<PlanDuration>(&map, &path, "budget")
                .ok()
                .flatten();
            let approval = self
                .optional::<bool>(&map, &path, "approval")
                .ok()
                .flatten();
            let raw_tasks = self
                .take_sequence(&mut map, &path, "tasks", "a phase")
                .unwrap_or_default();
            let phase_id = id.and_then(|id| {
                if !self.id_text(&id, &path.key("id"), "phase id") {
                    return None;
                }
                if let Some(first) = seen_phases.get(&id) {
                    let first_line = self.span(first).unwrap_or_default().line;
                    let id_span = self.at(&path.key("id"));
                    self.error(id_span, format!("duplicate phase id `{id}`"))
                        .help = Some(format!(
                        "phase `{id}` is first defined on line {first_line}; phase ids are unique"
                    ));
                    return None;
                }
                seen_phases.insert(id.clone(), path.key("id"));
                PhaseId::new(id).ok()
            });
            let mut phase_tasks = Vec::new();
            for (task_index, raw_task) in raw_tasks.into_iter().enumerate() {
                let task_path = TaskPath {
                    phase: phase_index,
                    task: task_index,
                };
                let context = TaskContext {
                    phase: phases.len(),
                    defaults,
                    vars,
                    executors,
                };
                let raw_task = self
                    .packed_tasks
                    .take(phase_index, task_index)
                    .unwrap_or(raw_task);
                if let Some(draft) = self.task(&raw_task, task_path, &context, &mut seen_tasks) {
                    phase_tasks.push(drafts.len());
                    drafts.push(draft);
                }
            }
            if let Some(id) = phase_id {
                phases.push(Phase {
                    id,
                    name,
                    budget: budget.map(PlanDuration::get),
                    approval: approval.unwrap_or(false),
                    tasks: phase_tasks,
                });
            }
        }
        (phases, drafts)
    }
}
