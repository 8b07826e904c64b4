//! The checks across tasks once all are decoded: `needs` (unknown, twice,
//! a later phase), required rollbacks and dependency cycles.

use std::collections::{HashMap, HashSet};

use super::{Context, DraftTask, context::At};
use crate::{
    dag,
    model::{Phase, Policy, Task},
    text::did_you_mean,
};

impl Context<'_> {
    /// Resolves `needs` to indexes, checks their phases, rollback requirements and cycles.
    pub(super) fn resolve_tasks(
        &mut self,
        phases: &[Phase],
        drafts: Vec<DraftTask>,
        policy: &Policy,
    ) -> Option<Vec<Task>> {
        let index_of: HashMap<&str, usize> = drafts
            .iter()
            .enumerate()
            .map(|(i, draft)| (draft.id.as_str(), i))
            .collect();
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); drafts.len()];
        let phase_name = |i: usize| {
            phases
                .get(i)
                .map_or_else(|| "?".to_owned(), |p| p.id.to_string())
        };
        for (index, draft) in drafts.iter().enumerate() {
            let id = &draft.id;
            let mut listed = HashSet::new();
            for (need_index, need) in draft.needs.iter().enumerate() {
                let need_path = &draft.path.need(need_index);
                // Spans are looked up only for diagnostics: the marked pass
                // runs only when one is needed.
                if !listed.insert(need.as_str()) {
                    let span = self.at(need_path);
                    self.error(span, format!("task `{id}` needs `{need}` twice"))
                        .help = Some("list each task once in `needs`".to_owned());
                    continue;
                }
                let Some(&target) = index_of.get(need.as_str()) else {
                    let help = match did_you_mean(need, index_of.keys().copied()) {
                        Some(suggestion) => format!(
                            "did you mean `{suggestion}`? `needs` lists task ids of this phase or an earlier one"
                        ),
                        None => "`needs` lists task ids of this phase or an earlier one".to_owned(),
                    };
                    let span = self.at(need_path);
                    self.error(span, format!("task `{id}` needs unknown task `{need}`"))
                        .help = Some(help);
                    continue;
                };
                let target_phase = drafts[target].phase;
                if target_phase > draft.phase {
                    let span = self.at(need_path);
                    self.error(
                        span,
                        format!(
                            "task `{id}` in phase `{}` needs `{need}`, which is in the later phase `{}`",
                            phase_name(draft.phase),
                            phase_name(target_phase)
                        ),
                    )
                    .help = Some("phases run in order: move the needed task to this phase or an earlier one".to_owned());
                    continue;
                }
                needs[index].push(target);
            }
            if let Some(environment) = draft
                .task
                .as_ref()
                .and_then(|task| task.environment.as_deref())
            {
                self.check_task_environment(policy, environment, &draft.path.path());
            }
            if let (Some(level), Some(risk)) = (policy.require_rollback, draft.risk)
                && risk >= level
                && !draft.has_rollback
            {
                let span = self.key_at(&draft.path.path(), "risk");
                self.error(
                    span,
                    format!("task `{id}` has risk `{risk}` but no `rollback`"),
                )
                .help = Some(format!(
                    "`policy.require_rollback` is `{level}`: add `rollback:` with an action, or `rollback: auto` for kubectl, helm, git and github_merge"
                ));
            }
        }
        for cycle in dag::find_cycles(&needs) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| format!("`{}`", drafts[i].id))
                .collect();
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let span = match drafts[first]
                .needs
                .iter()
                .position(|need| need.as_str() == drafts[next].id.as_str())
            {
                Some(index) => self.at(&drafts[first].path.need(index)),
                None => At::new(None, &drafts[first].path.path()),
            };
            self.error(
                span,
                format!(
                    "task `{}` has a circular dependency: {} -> `{}`",
                    drafts[first].id,
                    names.join(" -> "),
                    drafts[first].id
                ),
            )
            .help = Some("`a -> b` reads \"`a` needs `b`\"; remove one of these needs".to_owned());
        }
        drafts
            .into_iter()
            .zip(needs)
            .map(|(draft, needs)| draft.task.map(|task| Task { needs, ..task }))
            .collect()
    }
}
