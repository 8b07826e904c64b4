//! One action: its executor key, `executor: NAME` instances, the kind's
//! typed fields and the rules of its operation (see [`crate::op_fields`]).

use serde_yaml::{Mapping, Value};

use super::{Context, TaskContext};
use crate::{
    action::{
        Action, ActionSpec, ExecutorKind, GitAction, GithubMergeAction, HelmAction, KubectlAction,
        ShellAction,
    },
    marked::Path,
    op_fields::FieldProblem,
    template,
    text::{and_ticked, did_you_mean},
};

pub(super) const ACTION_KEYS: &[&str] = &[
    "shell",
    "kubectl",
    "helm",
    "github_merge",
    "git",
    "executor",
    "with",
];

pub(super) fn action_help() -> String {
    "an action has exactly one of `shell`, `kubectl`, `helm`, `github_merge`, `git`, or `executor: NAME` (with its fields under `with:`)".to_owned()
}

impl Context<'_> {
    pub(super) fn action(
        &mut self,
        value: &Value,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Action> {
        let Value::Mapping(map) = value else {
            let span = self.at(path);
            self.error(span, "an action must be a mapping with one executor key")
                .help = Some(action_help());
            return None;
        };
        self.unknown_keys(map, path, ACTION_KEYS, "an action");
        let present: Vec<&str> = ACTION_KEYS
            .iter()
            .copied()
            .filter(|key| *key != "with" && map.contains_key(*key))
            .collect();
        match present.len() {
            0 => {
                let span = self.at(path);
                self.error(span, "action has no executor key").help = Some(action_help());
                return None;
            }
            1 => {}
            n => {
                let span = self.key_at(path, present[1]);
                self.error(
                    span,
                    format!("action has {n} executor keys: {}", and_ticked(&present)),
                )
                .help = Some(action_help());
                return None;
            }
        }
        // Substitution copies the action; most actions have no placeholder.
        let substituted;
        let value = if template::has_placeholder(value) {
            self.check_templates(path, context.vars);
            substituted = template::substitute_value(value, context.vars);
            &substituted
        } else {
            value
        };
        let Value::Mapping(map) = &value else {
            return None;
        };
        let key = present[0];
        if key == "executor" {
            return self.instance_action(map, path, context);
        }
        if map.contains_key("with") {
            let span = self.key_at(path, "with");
            self.error(span, "`with` is only used together with `executor: NAME`")
                .help = Some(format!("put the fields under `{key}:` instead"));
            return None;
        }
        let kind = ExecutorKind::from_key(key).expect("the key was found in ACTION_KEYS");
        let spec = self.spec(kind, &map[key], &path.key(key))?;
        Some(Action {
            instance: None,
            spec,
        })
    }

    pub(super) fn instance_action(
        &mut self,
        map: &Mapping,
        path: &Path,
        context: &TaskContext<'_>,
    ) -> Option<Action> {
        let name: String = self.optional(map, path, "executor").ok().flatten()?;
        let Some(instance) = context.executors.get(&name) else {
            let span = self.at(&path.key("executor"));
            let known: Vec<&str> = context.executors.keys().map(String::as_str).collect();
            let help = if known.is_empty() {
                "the plan configures no `executors:`".to_owned()
            } else {
                match did_you_mean(&name, known.iter().copied()) {
                    Some(suggestion) => format!(
                        "did you mean `{suggestion}`? configured executors: {}",
                        and_ticked(&known)
                    ),
                    None => format!("configured executors: {}", and_ticked(&known)),
                }
            };
            self.error(span, format!("unknown executor `{name}`")).help = Some(help);
            return None;
        };
        let fields = match map.get("with") {
            Some(fields) => fields.clone(),
            None if instance.kind == ExecutorKind::Shell => {
                let span = self.at(path);
                self.error(
                    span,
                    format!("action using executor `{name}` has no `with:`"),
                )
                .help = Some("a shell instance needs `with: {argv: [...]}`".to_owned());
                return None;
            }
            None => Value::Mapping(Mapping::new()),
        };
        let spec = self.spec(instance.kind, &fields, &path.key("with"))?;
        Some(Action {
            instance: Some(name),
            spec,
        })
    }

    pub(super) fn spec(
        &mut self,
        kind: ExecutorKind,
        value: &Value,
        path: &Path,
    ) -> Option<ActionSpec> {
        let spec = match kind {
            ExecutorKind::Shell => ActionSpec::Shell(self.decode::<ShellAction>(value, path)?),
            ExecutorKind::Kubectl => {
                ActionSpec::Kubectl(Box::new(self.decode::<KubectlAction>(value, path)?))
            }
            ExecutorKind::Helm => {
                ActionSpec::Helm(Box::new(self.decode::<HelmAction>(value, path)?))
            }
            ExecutorKind::GithubMerge => {
                ActionSpec::GithubMerge(Box::new(self.decode::<GithubMergeAction>(value, path)?))
            }
            ExecutorKind::Git => ActionSpec::Git(Box::new(self.decode::<GitAction>(value, path)?)),
        };
        self.check_spec(&spec, path).then_some(spec)
    }

    /// Checks that an operation has the fields it needs and none it ignores.
    pub(super) fn check_spec(&mut self, spec: &ActionSpec, path: &Path) -> bool {
        let before = self.diagnostics.len();
        match spec {
            ActionSpec::Shell(shell) => {
                if shell.argv.is_empty() || shell.argv[0].is_empty() {
                    let span = self.at(path);
                    self.error(span, "`shell` argv is empty").help = Some(
                        "give the program and its arguments, e.g. `[\"make\", \"docs\"]`"
                            .to_owned(),
                    );
                }
            }
            ActionSpec::Kubectl(_) | ActionSpec::Helm(_) | ActionSpec::Git(_) => {
                self.op_fields(spec, path);
            }
            ActionSpec::GithubMerge(g) => {
                let valid = g.repo.split_once('/').is_some_and(|(owner, name)| {
                    !owner.is_empty() && !name.is_empty() && !name.contains('/')
                });
                if !valid {
                    let span = self.at(&path.key("repo"));
                    self.error(span, format!("invalid `repo` `{}`", g.repo))
                        .help = Some("expected `OWNER/NAME`, e.g. `acme/platform`".to_owned());
                }
            }
        }
        self.diagnostics.len() == before
    }

    /// Reports what [`ActionSpec::field_problems`] finds (the table the
    /// executors' `validate` read too), each at its key, and every key of the
    /// document the operation does not use, even one set to its default
    /// (`server_side: false` on a `delete`).
    pub(super) fn op_fields(&mut self, spec: &ActionSpec, path: &Path) {
        let Some((op, fields)) = spec.op_fields() else {
            return;
        };
        let kind = spec.kind();
        let mut problems = spec.field_problems();
        let keys: Vec<String> = self
            .tree()
            .and_then(|tree| tree.lookup(path))
            .map(|node| {
                node.entries()
                    .iter()
                    .filter_map(|(key, _)| key.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for key in &keys {
            if let Some(&field) = fields.all.iter().find(|field| **field == key.as_str())
                && !fields.accepts(field)
                && !problems.contains(&FieldProblem::NotUsed { field })
            {
                problems.push(FieldProblem::NotUsed { field });
            }
        }
        for problem in problems {
            let span = match problem.field() {
                Some(field) => self.key_at(path, field),
                None => self.at(path),
            };
            let help = fields.help(problem);
            self.error(span, format!("`{kind}` `{op}` {problem}")).help = Some(help);
        }
    }
}
