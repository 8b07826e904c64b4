//! The streaming route of loading: a valid plan decoded straight from the
//! parser's events (serde_json's deserializer for a file written as JSON,
//! [`YamlEvents`] for YAML), task by task, without a tree of the document.
//!
//! Each task becomes a [`DraftTask`] as soon as its mapping closes: its
//! scalar fields are read into their types as they stream by, and only its
//! actions (`run`, `verify`, `rollback`; a few small mappings) are captured
//! as `Value`s and decoded by the same code as on the `Value` route. The
//! top-level sections and each phase's own keys are small and are captured
//! as `Value`s too. No position is kept: this route reports nothing.
//!
//! It gives up (`None`) at the first thing that is wrong or that it does
//! not read itself: any diagnostic of the shared decoders, an unknown or
//! repeated key, a null, a scalar of another type, an anchor, alias or tag,
//! a second document, a float in a JSON file, or `defaults`, `vars` or
//! `executors` after `phases` (the tasks were decoded without them). The
//! `Value` route then reads the file from the start and reports every
//! problem with its position, so every diagnostic is the one it always
//! was; a valid plan pays for one parse.

use std::{
    cell::OnceCell,
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    path::PathBuf,
    time::Duration,
};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Number, Value};

use super::{
    Context, Defaults, DraftTask, TaskContext, TaskPath, document::ROOT_KEYS, hex_sha256,
    phases::PHASE_KEYS, yaml_events::YamlEvents,
};
use crate::{
    action::{Action, ExecutorInstance, Rollback},
    diagnostic::Diagnostic,
    duration::{PlanDuration, parse_duration},
    ids::{PhaseId, PlanName, TaskId, is_valid_id},
    marked::Path,
    model::{Phase, Plan, Risk, Task},
    source::SourceFile,
    yaml_value::PackedTasks,
};

/// The plan in `source`, if it is valid and this route reads all of it;
/// `None` leaves the file to the `Value` route.
pub(super) fn load(source: &SourceFile, base_dir: PathBuf) -> Option<Plan> {
    let text = source.text();
    let mut context = Context {
        source,
        tree: OnceCell::new(),
        packed_tasks: PackedTasks::default(),
        diagnostics: Vec::new(),
    };
    let document = if text.trim_start_matches([' ', '\n', '\r']).starts_with('{') {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let document = RootSeed {
            context: &mut context,
            floats: false,
        }
        .deserialize(&mut deserializer)
        .ok()?;
        deserializer.end().ok()?;
        document
    } else {
        let mut events = YamlEvents::new(text).ok()?;
        let document = RootSeed {
            context: &mut context,
            floats: true,
        }
        .deserialize(&mut events)
        .ok()?;
        events.end().ok()?;
        document
    };
    context.streamed_plan(document, base_dir)
}

/// The sections the tasks are decoded with, read from the keys before
/// `phases`.
struct Sections {
    defaults: Defaults,
    vars: BTreeMap<String, String>,
    executors: BTreeMap<String, ExecutorInstance>,
}

/// What the root mapping streamed into.
struct Document {
    /// Every top-level key but `phases`.
    root: Mapping,
    sections: Sections,
    phases: Vec<Phase>,
    drafts: Vec<DraftTask>,
}

impl Context<'_> {
    /// The plan from a streamed document, with the checks of
    /// [`Context::plan`] that come after the phases; `None` on any
    /// diagnostic.
    fn streamed_plan(&mut self, document: Document, base_dir: PathBuf) -> Option<Plan> {
        let Document {
            root,
            sections,
            phases,
            drafts,
        } = document;
        let path = Path::root();
        self.unknown_keys(&root, &path, ROOT_KEYS, "the plan");
        let version = self.version(&root);
        let name: Option<String> = self.required(&root, &path, "name", "the plan");
        let name = name.and_then(|name| {
            self.id_text(&name, &path.key("name"), "plan name")
                .then(|| PlanName::new(name).ok())
                .flatten()
        });
        let description: Option<String> = self.optional(&root, &path, "description").ok().flatten();
        let environment: Option<String> = self.optional(&root, &path, "environment").ok().flatten();
        let policy = self.policy(&root, environment.as_deref());
        let secrets: Vec<String> = self
            .optional(&root, &path, "secrets")
            .ok()
            .flatten()
            .unwrap_or_default();
        if !self.diagnostics.is_empty() {
            return None;
        }
        let tasks = self.resolve_tasks(&phases, drafts, &policy);
        if !self.diagnostics.is_empty() {
            return None;
        }
        Some(Plan {
            version: version?,
            name: name?,
            description,
            environment: environment.unwrap_or_else(|| "dev".to_owned()),
            policy,
            vars: sections.vars,
            secrets,
            executors: sections.executors,
            phases,
            tasks: tasks?,
            base_dir,
            content_hash: hex_sha256(self.source.text().as_bytes()),
        })
    }

    /// Whether the shared decoders found nothing wrong so far; the
    /// streaming route gives up at the first diagnostic.
    fn clean<E: de::Error>(&self) -> Result<(), E> {
        match self.diagnostics.first() {
            None => Ok(()),
            Some(Diagnostic { message, .. }) => Err(E::custom(message)),
        }
    }
}

fn give_up<E: de::Error>(why: impl fmt::Display) -> E {
    E::custom(why)
}

/// The root mapping.
struct RootSeed<'c, 's> {
    context: &'c mut Context<'s>,
    /// Whether a float may be captured (YAML); serde_json reads numbers by
    /// JSON's rules, which YAML's do not match in every corner (`1e400`).
    floats: bool,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = Document;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_> {
    type Value = Document;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a plan mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Document, A::Error> {
        let context = self.context;
        let mut root = Mapping::new();
        let mut streamed: Option<(Sections, Vec<Phase>, Vec<DraftTask>)> = None;
        while let Some(key) = access.next_key_seed(Text)? {
            if key == "phases" {
                if streamed.is_some() {
                    return Err(give_up("`phases` twice"));
                }
                let sections = Sections {
                    defaults: context.defaults(&root),
                    vars: context.vars(&root),
                    executors: context.executors(&root),
                };
                context.clean()?;
                let mut state = PhasesState::default();
                access.next_value_seed(PhasesSeed {
                    context: &mut *context,
                    sections: &sections,
                    state: &mut state,
                    floats: self.floats,
                })?;
                if state.phases.is_empty() {
                    return Err(give_up("no phases"));
                }
                streamed = Some((sections, state.phases, state.drafts));
                continue;
            }
            if streamed.is_some() && matches!(key.as_str(), "defaults" | "vars" | "executors") {
                return Err(give_up(format!("`{key}` after `phases`")));
            }
            let value = access.next_value_seed(ValueSeed {
                floats: self.floats,
            })?;
            if root.insert(Value::String(key), value).is_some() {
                return Err(give_up("a repeated key"));
            }
        }
        let (sections, phases, drafts) = streamed.ok_or_else(|| give_up("no `phases`"))?;
        Ok(Document {
            root,
            sections,
            phases,
            drafts,
        })
    }
}

/// The phases and tasks decoded so far.
#[derive(Default)]
struct PhasesState {
    phases: Vec<Phase>,
    drafts: Vec<DraftTask>,
    seen_phases: HashSet<String>,
    seen_tasks: HashMap<String, TaskPath>,
}

/// `phases:`.
struct PhasesSeed<'c, 's, 'x> {
    context: &'c mut Context<'s>,
    sections: &'x Sections,
    state: &'x mut PhasesState,
    floats: bool,
}

impl<'de> DeserializeSeed<'de> for PhasesSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PhasesSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a sequence of phases")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut index = 0;
        while access
            .next_element_seed(PhaseSeed {
                context: &mut *self.context,
                sections: self.sections,
                state: &mut *self.state,
                floats: self.floats,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

/// `phases[index]`.
struct PhaseSeed<'c, 's, 'x> {
    context: &'c mut Context<'s>,
    sections: &'x Sections,
    state: &'x mut PhasesState,
    floats: bool,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for PhaseSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PhaseSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a phase mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let Self {
            context,
            sections,
            state,
            floats,
            index,
        } = self;
        let mut fields = Mapping::new();
        let mut tasks: Option<Vec<usize>> = None;
        // Tasks name their phase by its place among the valid phases; on
        // this route every phase before this one is valid.
        let task_context = TaskContext {
            phase: state.phases.len(),
            defaults: &sections.defaults,
            vars: &sections.vars,
            executors: &sections.executors,
        };
        while let Some(key) = access.next_key_seed(Text)? {
            if key == "tasks" {
                if tasks.is_some() {
                    return Err(give_up("`tasks` twice"));
                }
                tasks = Some(access.next_value_seed(TasksSeed {
                    context: &mut *context,
                    task_context: &task_context,
                    state: &mut *state,
                    floats,
                    phase_index: index,
                })?);
                continue;
            }
            if !PHASE_KEYS.contains(&key.as_str()) {
                return Err(give_up(format!("unknown phase key `{key}`")));
            }
            let value = access.next_value_seed(ValueSeed { floats })?;
            if fields.insert(Value::String(key), value).is_some() {
                return Err(give_up("a repeated key"));
            }
        }
        let tasks = tasks.ok_or_else(|| give_up("a phase without `tasks`"))?;
        let path = Path::root().key("phases").index(index);
        let id: Option<String> = context.required(&fields, &path, "id", "a phase");
        let name = context
            .optional::<String>(&fields, &path, "name")
            .ok()
            .flatten();
        let budget = context
            .optional::<PlanDuration>(&fields, &path, "budget")
            .ok()
            .flatten();
        let approval = context
            .optional::<bool>(&fields, &path, "approval")
            .ok()
            .flatten();
        context.clean()?;
        let id = id.ok_or_else(|| give_up("a phase without `id`"))?;
        if !is_valid_id(&id) || !state.seen_phases.insert(id.clone()) {
            return Err(give_up("an invalid or repeated phase id"));
        }
        state.phases.push(Phase {
            id: PhaseId::new(id).map_err(give_up)?,
            name,
            budget: budget.map(PlanDuration::get),
            approval: approval.unwrap_or(false),
            tasks,
        });
        Ok(())
    }
}

/// `phases[phase_index].tasks`: the index of each task's draft.
struct TasksSeed<'c, 's, 'x> {
    context: &'c mut Context<'s>,
    task_context: &'x TaskContext<'x>,
    state: &'x mut PhasesState,
    floats: bool,
    phase_index: usize,
}

impl<'de> DeserializeSeed<'de> for TasksSeed<'_, '_, '_> {
    type Value = Vec<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<usize>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TasksSeed<'_, '_, '_> {
    type Value = Vec<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a sequence of tasks")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Vec<usize>, A::Error> {
        let mut indexes = Vec::with_capacity(access.size_hint().unwrap_or(0));
        loop {
            let task_path = TaskPath {
                phase: self.phase_index,
                task: indexes.len(),
            };
            let seed = TaskSeed {
                context: &mut *self.context,
                task_context: self.task_context,
                floats: self.floats,
                task_path,
            };
            let Some(draft) = access.next_element_seed(seed)? else {
                break;
            };
            if self
                .state
                .seen_tasks
                .insert(draft.id.as_str().to_owned(), task_path)
                .is_some()
            {
                return Err(give_up("a repeated task id"));
            }
            indexes.push(self.state.drafts.len());
            self.state.drafts.push(draft);
        }
        Ok(indexes)
    }
}

/// The keys of a task, in [`super::tasks::TASK_KEYS`]'s order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskKey {
    Id,
    Name,
    Source,
    Risk,
    Needs,
    Estimate,
    Timeout,
    Retries,
    RetryBackoff,
    Idempotent,
    Run,
    Verify,
    Rollback,
    Environment,
    Exclusive,
}

impl TaskKey {
    const ALL: [TaskKey; 15] = [
        TaskKey::Id,
        TaskKey::Name,
        TaskKey::Source,
        TaskKey::Risk,
        TaskKey::Needs,
        TaskKey::Estimate,
        TaskKey::Timeout,
        TaskKey::Retries,
        TaskKey::RetryBackoff,
        TaskKey::Idempotent,
        TaskKey::Run,
        TaskKey::Verify,
        TaskKey::Rollback,
        TaskKey::Environment,
        TaskKey::Exclusive,
    ];

    fn from_key(key: &str) -> Option<Self> {
        super::tasks::TASK_KEYS
            .iter()
            .position(|known| *known == key)
            .map(|index| Self::ALL[index])
    }
}

/// `phases[i].tasks[j]`, decoded into its draft.
struct TaskSeed<'c, 's, 'x> {
    context: &'c mut Context<'s>,
    task_context: &'x TaskContext<'x>,
    floats: bool,
    task_path: TaskPath,
}

impl<'de> DeserializeSeed<'de> for TaskSeed<'_, '_, '_> {
    type Value = DraftTask;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DraftTask, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// A task's fields as they stream by.
#[derive(Default)]
struct TaskFields {
    id: Option<String>,
    name: Option<String>,
    source: Option<String>,
    risk: Option<Risk>,
    needs: Option<Vec<String>>,
    estimate: Option<Duration>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    retry_backoff: Option<Duration>,
    idempotent: Option<bool>,
    environment: Option<String>,
    exclusive: Option<Vec<String>>,
    run: Option<Value>,
    verify: Option<Value>,
    rollback: Option<Value>,
}

impl<'de> Visitor<'de> for TaskSeed<'_, '_, '_> {
    type Value = DraftTask;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a task mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<DraftTask, A::Error> {
        let Self {
            context,
            task_context,
            floats,
            task_path,
        } = self;
        let mut fields = TaskFields::default();
        let mut seen = 0_u16;
        while let Some(key) = access.next_key_seed(KeySeed)? {
            let bit = 1 << (key as u16);
            if seen & bit != 0 {
                return Err(give_up("a repeated key"));
            }
            seen |= bit;
            match key {
                TaskKey::Id => fields.id = Some(access.next_value_seed(Text)?),
                TaskKey::Name => fields.name = Some(access.next_value_seed(Text)?),
                TaskKey::Source => fields.source = Some(access.next_value_seed(Text)?),
                TaskKey::Risk => {
                    let risk = access.next_value_seed(Text)?;
                    fields.risk = Some(match risk.as_str() {
                        "low" => Risk::Low,
                        "medium" => Risk::Medium,
                        "high" => Risk::High,
                        _ => return Err(give_up("an unknown risk")),
                    });
                }
                TaskKey::Needs => fields.needs = Some(access.next_value_seed(Texts)?),
                TaskKey::Estimate => fields.estimate = Some(access.next_value_seed(Span)?),
                TaskKey::Timeout => fields.timeout = Some(access.next_value_seed(Span)?),
                TaskKey::RetryBackoff => {
                    fields.retry_backoff = Some(access.next_value_seed(Span)?);
                }
                TaskKey::Retries => fields.retries = Some(access.next_value_seed(Whole)?),
                TaskKey::Idempotent => fields.idempotent = Some(access.next_value_seed(Flag)?),
                TaskKey::Environment => fields.environment = Some(access.next_value_seed(Text)?),
                TaskKey::Exclusive => fields.exclusive = Some(access.next_value_seed(Texts)?),
                TaskKey::Run | TaskKey::Verify | TaskKey::Rollback => {
                    let value = access.next_value_seed(ValueSeed { floats })?;
                    if value.is_null() {
                        return Err(give_up("a null action"));
                    }
                    match key {
                        TaskKey::Run => fields.run = Some(value),
                        TaskKey::Verify => fields.verify = Some(value),
                        _ => fields.rollback = Some(value),
                    }
                }
            }
        }
        let path = &task_path.path();
        let (Some(id), Some(risk), Some(run)) = (fields.id, fields.risk, fields.run) else {
            return Err(give_up("a task without `id`, `risk` or `run`"));
        };
        if !is_valid_id(&id) {
            return Err(give_up("an invalid task id"));
        }
        let exclusive = fields.exclusive.unwrap_or_default();
        if exclusive
            .iter()
            .enumerate()
            .any(|(i, group)| !is_valid_id(group) || exclusive[..i].contains(group))
        {
            return Err(give_up("an invalid or repeated resource group"));
        }
        let run = context.action(&run, &path.key("run"), task_context);
        // A decoder may give nothing without a diagnostic; that is giving up too.
        let verify = match fields.verify {
            None => Vec::new(),
            Some(value) => context
                .verify(&value, &path.key("verify"), task_context)
                .ok_or_else(|| give_up("an invalid `verify`"))?,
        };
        let rollback = match fields.rollback {
            None => None,
            Some(value) => Some(
                context
                    .rollback(&value, &path.key("rollback"), task_context)
                    .ok_or_else(|| give_up("an invalid `rollback`"))?,
            ),
        };
        if let (Some(Action { spec, .. }), Some(Rollback::Auto)) = (&run, &rollback) {
            context.refuse_auto_rollback(spec, path);
        }
        context.clean()?;
        let run = run.ok_or_else(|| give_up("an invalid `run`"))?;
        let defaults = task_context.defaults;
        let id = TaskId::new(id).map_err(give_up)?;
        let task = Task {
            id: id.clone(),
            name: fields.name,
            source: fields.source,
            risk,
            environment: fields.environment,
            phase: task_context.phase,
            needs: Vec::new(),
            estimate: fields.estimate.or(defaults.estimate),
            timeout: fields.timeout.unwrap_or(defaults.timeout),
            retries: fields.retries.unwrap_or(defaults.retries),
            retry_backoff: fields.retry_backoff.unwrap_or(defaults.retry_backoff),
            idempotent: fields.idempotent.unwrap_or(false),
            exclusive,
            run,
            verify,
            rollback,
        };
        Ok(DraftTask {
            id,
            phase: task_context.phase,
            path: task_path,
            needs: fields.needs.unwrap_or_default(),
            risk: Some(risk),
            has_rollback: task.rollback.is_some(),
            task: Some(task),
        })
    }
}

/// A task's key, known or not.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = TaskKey;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TaskKey, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = TaskKey;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a task key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<TaskKey, E> {
        TaskKey::from_key(key).ok_or_else(|| give_up(format!("unknown task key `{key}`")))
    }
}

/// A string scalar, and nothing else (a plain `12` is a number in YAML).
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Text {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<String, E> {
        Ok(text)
    }
}

/// A sequence of strings (`needs`).
struct Texts;

impl<'de> DeserializeSeed<'de> for Texts {
    type Value = Vec<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<String>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Texts {
    type Value = Vec<String>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a sequence of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Vec<String>, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(item) = access.next_element_seed(Text)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// A duration, written as a string (`30s`).
struct Span;

impl<'de> DeserializeSeed<'de> for Span {
    type Value = Duration;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Duration, D::Error> {
        let text = Text.deserialize(deserializer)?;
        parse_duration(&text).map_err(give_up)
    }
}

/// A whole number that fits `u32` (`retries`).
struct Whole;

impl<'de> DeserializeSeed<'de> for Whole {
    type Value = u32;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u32, D::Error> {
        deserializer.deserialize_u32(self)
    }
}

impl Visitor<'_> for Whole {
    type Value = u32;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a whole number")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u32, E> {
        u32::try_from(value).map_err(give_up)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u32, E> {
        u32::try_from(value).map_err(give_up)
    }
}

/// A boolean (`idempotent`).
struct Flag;

impl<'de> DeserializeSeed<'de> for Flag {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_bool(self)
    }
}

impl Visitor<'_> for Flag {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a boolean")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
        Ok(value)
    }
}

/// Any value, captured as the `Value` serde_yaml would give, for the
/// decoders shared with the `Value` route; gives up on a repeated key, and
/// on what serde_json reads by other rules than YAML (floats, `-0`).
#[derive(Clone, Copy)]
struct ValueSeed {
    floats: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        if value == 0 && !self.floats {
            return Err(give_up("negative zero"));
        }
        Ok(Value::Number(Number::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        if !self.floats {
            return Err(give_up("a float in JSON"));
        }
        Ok(Value::Number(Number::from(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(item) = access.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some(key) = access.next_key_seed(self)? {
            let value = access.next_value_seed(self)?;
            if mapping.insert(key, value).is_some() {
                return Err(give_up("a repeated key"));
            }
        }
        Ok(Value::Mapping(mapping))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::load::{file::value_route, tasks::TASK_KEYS};

    /// What each route makes of `text`: the streamed plan, if this route
    /// reads it, and the `Value` route's plan or diagnostics.
    fn routes(text: &str) -> (Option<Plan>, Result<Plan, Vec<Diagnostic>>) {
        let source = SourceFile::new("plan.yaml", text);
        let streamed = load(&source, PathBuf::from("."));
        let value = value_route(&source, PathBuf::from("."));
        (streamed, value)
    }

    /// The streamed plan is the `Value` route's plan, whenever there is one.
    #[track_caller]
    fn agrees(text: &str) -> bool {
        let (streamed, value) = routes(text);
        match (streamed, value) {
            (Some(streamed), Ok(value)) => {
                assert_eq!(
                    format!("{streamed:#?}"),
                    format!("{value:#?}"),
                    "for {text:?}"
                );
                true
            }
            (Some(streamed), Err(diagnostics)) => {
                panic!("streamed {streamed:?} where the Value route reports {diagnostics:?}")
            }
            (None, _) => false,
        }
    }

    #[track_caller]
    fn streams(text: &str) {
        assert!(agrees(text), "the streaming route gives up on {text:?}");
    }

    #[track_caller]
    fn gives_up(text: &str) {
        assert!(
            load(&SourceFile::new("plan.yaml", text), PathBuf::from(".")).is_none(),
            "{text:?}"
        );
    }

    const HEAD: &str = "version: 1\nname: p\npolicy: {require_rollback: none}\n";

    fn one_task(task: &str) -> String {
        format!("{HEAD}phases:\n  - id: a\n    tasks:\n      - {task}\n")
    }

    fn chained(tasks: usize, json: bool) -> String {
        let mut text = if json {
            "{\"version\": 1, \"name\": \"c\", \"defaults\": {\"retries\": 2}, \"policy\": {\"max_tasks\": \"none\", \"concurrency\": 2},\n \"phases\": [{\"id\": \"p\", \"budget\": \"1h\", \"tasks\": [\n".to_owned()
        } else {
            "version: 1\nname: c\ndefaults:\n  retries: 2\npolicy:\n  max_tasks: none\n  concurrency: 2\nphases:\n  - id: p\n    budget: 1h\n    tasks:\n".to_owned()
        };
        for i in 0..tasks {
            if json {
                let needs = if i > 0 {
                    format!("\"needs\": [\"t{}\"], ", i - 1)
                } else {
                    String::new()
                };
                let comma = if i + 1 < tasks { "," } else { "" };
                let _ = writeln!(
                    text,
                    "  {{\"id\": \"t{i}\", \"risk\": \"low\", \"estimate\": \"30s\", {needs}\"run\": {{\"shell\": [\"true\"]}}}}{comma}"
                );
            } else {
                let _ = write!(
                    text,
                    "      - id: t{i}\n        risk: low\n        estimate: 30s\n"
                );
                if i > 0 {
                    let _ = write!(text, "        needs:\n          - t{}\n", i - 1);
                }
                text.push_str("        run:\n          shell:\n            - \"true\"\n");
            }
        }
        if json {
            text.push_str("]}]}\n");
        }
        text
    }

    #[test]
    fn task_keys_are_the_value_routes() {
        for (index, key) in TASK_KEYS.iter().enumerate() {
            assert_eq!(TaskKey::from_key(key), Some(TaskKey::ALL[index]));
        }
        assert_eq!(TASK_KEYS.len(), TaskKey::ALL.len());
    }

    #[test]
    fn generated_plans_stream_in_json_and_block_yaml() {
        streams(&chained(50, true));
        streams(&chained(50, false));
        // The same plan either way, but for its hash.
        let (json, _) = routes(&chained(20, true));
        let (yaml, _) = routes(&chained(20, false));
        let strip = |plan: Plan| Plan {
            content_hash: String::new(),
            ..plan
        };
        assert_eq!(
            format!("{:?}", strip(json.expect("streams"))),
            format!("{:?}", strip(yaml.expect("streams")))
        );
    }

    #[test]
    fn every_example_plan_agrees() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut streamed = 0;
        for entry in std::fs::read_dir(&examples).expect("the examples folder exists") {
            let path = entry.expect("readable").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("readable");
                streamed += usize::from(agrees(&text));
            }
        }
        assert!(streamed >= 3, "only {streamed} example plans stream");
    }

    #[test]
    fn every_task_field_streams() {
        let full = "{id: t, name: T, source: s.md, risk: high, needs: [], estimate: 1m, timeout: 2m, retries: 3, retry_backoff: 5s, idempotent: true, exclusive: [db, ingress], run: {shell: {argv: [make], env: {A: b}, cwd: sub}}, verify: {shell: [test, -e, x]}, rollback: {shell: [rm, x]}}";
        streams(&one_task(full));
        streams(
            &one_task("{id: t, risk: medium, run: {shell: [\"{{ vars.x }}\"]}}")
                .replace("phases:", "vars: {x: make}\nphases:"),
        );
        streams(&one_task(
            "{id: t, risk: low, name: 'yes', source: \"12\", run: {shell: [make]}}",
        ));
        streams(&one_task(
            "{id: t, risk: low, retries: 0x10, run: {shell: [make]}}",
        ));
        streams(&format!(
            "{HEAD}executors:\n  local: {{kind: shell, cwd: w}}\nphases:\n  - id: a\n    tasks:\n      - {{id: t, risk: low, run: {{executor: local, with: {{argv: [make]}}}}}}\n"
        ));
        streams(&format!(
            "{HEAD}phases:\n  - id: a\n    tasks: []\n  - id: b\n    name: B\n    approval: true\n    tasks:\n      - {{id: t, risk: low, run: {{shell: [make]}}}}\n"
        ));
        streams(&chained(3, false).replace('\n', "\r\n"));
        // yaml-rust2 keeps a byte-order mark as part of the first key, so
        // the Value route reports that key as unknown; this route agrees.
        assert!(!agrees(&format!("\u{feff}{}", chained(3, false))));
        assert!(routes(&format!("\u{feff}{}", chained(3, false))).1.is_err());
        agrees(&format!("\u{feff}{}", chained(3, true)));
        streams(&format!("---\n{}...\n", chained(3, false)));
        streams(&format!("# a comment\n{}", chained(3, true)));
    }

    #[test]
    fn what_it_leaves_to_the_value_route() {
        for task in [
            "{id: t, risk: low, risk: low, run: {shell: [make]}}",
            "{id: t, risk: low, run: {shell: [make], shell: [x]}}",
            "{id: t, risk: low, colour: red, run: {shell: [make]}}",
            "{id: 12, risk: low, run: {shell: [make]}}",
            "{id: T, risk: low, run: {shell: [make]}}",
            "{id: t, risk: lo, run: {shell: [make]}}",
            "{id: t, risk: low, estimate: 30, run: {shell: [make]}}",
            "{id: t, risk: low, estimate: 30x, run: {shell: [make]}}",
            "{id: t, risk: low, retries: -1, run: {shell: [make]}}",
            "{id: t, risk: low, retries: 1.5, run: {shell: [make]}}",
            "{id: t, risk: low, idempotent: yes, run: {shell: [make]}}",
            "{id: t, risk: low, exclusive: [DB], run: {shell: [make]}}",
            "{id: t, risk: low, exclusive: [db, db], run: {shell: [make]}}",
            "{id: t, risk: low, exclusive: db, run: {shell: [make]}}",
            "{id: t, risk: low}",
            "{id: t, risk: low, run: {shell: []}}",
            "{id: t, risk: low, run: {shell: [make]}, rollback: auto}",
            "{id: t, risk: low, run: {shell: [make]}, rollback: {executor: nowhere}}",
            "{id: t, risk: low, run: {shell: [\"{{ vars.missing }}\"]}}",
            "{id: t, risk: low, needs: [t], run: {shell: [make]}}",
            "{id: t, risk: low, needs: [u], run: {shell: [make]}}",
            "{<<: {risk: low}, id: t, run: {shell: [make]}}",
        ] {
            let text = one_task(task);
            gives_up(&text);
            assert!(routes(&text).1.is_err(), "{text:?} is invalid");
        }
        // Valid, but a null, an anchor or a tag is left to the Value route.
        for task in [
            "{id: t, risk: low, run: {shell: [make]}, verify: null}",
            "{id: t, risk: low, needs: ~, run: {shell: [make]}}",
            "&a {id: t, risk: low, run: {shell: [make]}}",
            "!!map {id: t, risk: low, run: {shell: [make]}}",
        ] {
            gives_up(&one_task(task));
            assert!(routes(&one_task(task)).1.is_ok(), "{task}");
        }
        let valid = one_task("{id: t, risk: low, run: {shell: [make]}}");
        streams(&valid);
        for text in [
            format!("{valid}version: 1\n"),
            format!("{valid}defaults: {{retries: 1}}\n"),
            valid.replace("phases:\n", "phases:\n  - id: a\n    tasks: []\n"),
            valid.replace("name: p\n", "name: p\nname: q\n"),
            valid.replace("version: 1", "version: 2"),
            valid.replace("- id: a\n", "- id: a\n    id: b\n"),
            valid.replace("- id: a\n", "- id: a\n    colour: red\n"),
            format!("{valid}---\nversion: 1\n"),
            format!("{valid}other: &x 1\nmore: *x\n"),
            chained(2, false).replace("phases:\n", "phases: []\nsecrets: []\n"),
            chained(2, true).replace("\"retries\": 2", "\"retries\": 2.0"),
            chained(2, true).replace("\"retries\": 2", "\"retries\": -0"),
            chained(2, true).replace("\"concurrency\": 2", "\"concurrency\": 1e400"),
            chained(2, true).replace("\"t1\"", "\"t0\""),
            String::new(),
            "[]".to_owned(),
            "{}".to_owned(),
        ] {
            gives_up(&text);
        }
    }

    #[test]
    fn a_verify_list_streams_and_each_bad_check_is_reported_where_it_is() {
        let text = one_task(
            "{id: t, risk: low, run: {shell: [make]}, verify: [{shell: [test, -f, a]}, {shell: [test, -f, b]}]}",
        );
        streams(&text);
        let plan = routes(&text).1.expect("valid");
        let checks: Vec<String> = plan.tasks[0]
            .verify
            .iter()
            .map(crate::Action::summary)
            .collect();
        assert_eq!(checks, ["shell: test -f a", "shell: test -f b"]);
        let single =
            one_task("{id: t, risk: low, run: {shell: [make]}, verify: {shell: [\"true\"]}}");
        assert_eq!(routes(&single).1.expect("valid").tasks[0].verify.len(), 1);

        let bad = format!(
            "{PHASE}      - id: t\n        risk: low\n        run: {{shell: [make]}}\n        verify:\n          - {{shell: [\"true\"]}}\n          - {{shel: [x]}}\n          - [test, -f, x]\n"
        );
        gives_up(&bad);
        let shown = rendered(&bad);
        assert!(
            shown.contains("error: unknown key `shel` in an action\n  --> plan.yaml:12:14"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "error: a `verify` check must be an action, not a list\n  --> plan.yaml:13:13"
            ),
            "{shown}"
        );
        let empty = one_task("{id: t, risk: low, run: {shell: [make]}, verify: []}");
        assert!(
            rendered(&empty).contains("error: `verify` is an empty list\n --> plan.yaml:7:"),
            "{}",
            rendered(&empty)
        );
    }

    #[test]
    fn sections_after_the_phases_are_read_when_no_task_needs_them() {
        let valid = one_task("{id: t, risk: low, run: {shell: [make]}}");
        streams(&format!(
            "{valid}description: last\nenvironment: staging\nsecrets: [TOKEN]\n"
        ));
        gives_up(&format!("{valid}vars: {{x: y}}\n"));
        gives_up(&format!("{valid}executors: {{}}\n"));
        assert!(routes(&format!("{valid}vars: {{x: y}}\n")).1.is_ok());
    }

    /// The diagnostics of `text` as the user sees them.
    fn rendered(text: &str) -> String {
        match crate::load_plan_text("plan.yaml".as_ref(), text.to_owned()) {
            Ok(_) => "valid".to_owned(),
            Err(crate::LoadPlanError::Invalid(diagnostics)) => diagnostics.render(),
            Err(error) => error.to_string(),
        }
    }

    const PHASE: &str =
        "version: 1\nname: p\npolicy: {require_rollback: none}\nphases:\n  - id: a\n    tasks:\n";

    #[test]
    fn a_position_deep_in_one_long_flow_line() {
        let mut tasks = Vec::new();
        for i in 0..300 {
            let needs = match i {
                0 => String::new(),
                250 => "\"nope\"".to_owned(),
                _ => format!("\"t{}\"", i - 1),
            };
            tasks.push(format!(
                "{{\"id\": \"t{i}\", \"risk\": \"low\", \"needs\": [{needs}], \"run\": {{\"shell\": [\"true\"]}}}}"
            ));
        }
        let text = format!(
            "{{\"version\": 1, \"name\": \"long\", \"policy\": {{\"require_rollback\": \"none\"}}, \"phases\": [{{\"id\": \"p\", \"tasks\": [{}]}}]}}\n",
            tasks.join(", ")
        );
        let column = text.find("\"nope\"").expect("in the text") + 1;
        let rendered = rendered(&text);
        assert!(
            rendered.starts_with(&format!(
                "error: task `t250` needs unknown task `nope`\n --> plan.yaml:1:{column}\n"
            )),
            "{rendered}"
        );
    }

    #[test]
    fn bad_resource_groups_are_named_on_their_line() {
        let text = format!(
            "{PHASE}      - id: t\n        risk: low\n        exclusive: [db, Ingress, db]\n        run: {{shell: [make]}}\n      - {{id: u, risk: low, exclusive: db, run: {{shell: [make]}}}}\n"
        );
        assert_eq!(
            rendered(&text),
            "error: invalid resource group `Ingress` in `exclusive`\n --> plan.yaml:9:25\n  |\n9 |         exclusive: [db, Ingress, db]\n  |                         ^^^^^^^\n  = help: resource groups follow the id syntax `[a-z0-9][a-z0-9-]*` (e.g. `db`, `ingress`); an executor instance is made one-at-a-time with `exclusive: true` on the instance\n\nerror: resource group `db` is listed twice in `exclusive`\n --> plan.yaml:9:34\n  |\n9 |         exclusive: [db, Ingress, db]\n  |                                  ^^\n  = help: it is first listed on line 9; remove this one\n\nerror: invalid `exclusive`: invalid type: string \"db\"\n  --> plan.yaml:11:39\n   |\n11 |       - {id: u, risk: low, exclusive: db, run: {shell: [make]}}\n   |                                       ^^\n   = help: expected a sequence\n",
        );
        let instance = format!(
            "{HEAD}executors:\n  db: {{kind: shell, exclusive: 1}}\nphases:\n  - id: a\n    tasks:\n      - {{id: t, risk: low, run: {{executor: db, with: [make]}}}}\n"
        );
        assert!(
            rendered(&instance).starts_with(
                "error: invalid `exclusive`: invalid type: integer `1`\n --> plan.yaml:5:32\n"
            ),
            "{}",
            rendered(&instance)
        );
    }

    #[test]
    fn diagnostics_of_what_the_streaming_route_leaves() {
        let cases = [
            (
                format!(
                    "{PHASE}      - id: t\n        risk: low\n        risk: high\n        run: {{shell: [make]}}\n"
                ),
                "error: invalid YAML: phases[0].tasks[0]: duplicate entry with key \"risk\"\n --> plan.yaml:7:9\n  |\n7 |       - id: t\n  |         ^\n  = help: the YAML parser stopped here; the cause is usually before this point: an unclosed `[`, `{` or quote, or a line indented differently from its siblings\n",
            ),
            (
                format!(
                    "{PHASE}      - &base {{id: t, risk: low, run: {{shell: [make]}}}}\n      - *base\n"
                ),
                "error: duplicate task id `t`\n --> plan.yaml:8:9\n  |\n8 |       - *base\n  |         ^\n  = help: task `t` is first defined on line 7; task ids are unique in the whole plan\n",
            ),
            (
                format!("{PHASE}      - {{<<: {{risk: low}}, id: t, run: {{shell: [make]}}}}\n"),
                "error: a task has no `risk`\n --> plan.yaml:7:9\n  |\n7 |       - {<<: {risk: low}, id: t, run: {shell: [make]}}\n  |         ^\n  = help: add `risk:` with one of `low`, `medium`, `high`\n\nerror: unknown key `<<` in a task\n --> plan.yaml:7:10\n  |\n7 |       - {<<: {risk: low}, id: t, run: {shell: [make]}}\n  |          ^^\n  = help: task keys are `id`, `name`, `source`, `risk`, `needs`, `estimate`, `timeout`, `retries`, `retry_backoff`, `idempotent`, `run`, `verify`, `rollback`, `environment` and `exclusive`\n",
            ),
            (
                format!("{PHASE}      - {{id: t, risk: lw, run: {{shell: [make]}}}}\n")
                    .replace('\n', "\r\n"),
                "error: invalid `risk`: unknown variant `lw`\n --> plan.yaml:7:23\n  |\n7 |       - {id: t, risk: lw, run: {shell: [make]}}\n  |                       ^^\n  = help: expected one of `low`, `medium`, `high`\n",
            ),
            (
                format!(
                    "{PHASE}      - {{id: t, risk: low, run: {{shell: [make]}}}}\n---\nversion: 1\n"
                ),
                "error: plan file holds more than one YAML document\n --> plan.yaml:8:1\n  |\n8 | ---\n  | ^\n  = help: remove the `---` separators; a plan is one document\n",
            ),
            (
                format!("{PHASE}      - id: t\n\t  risk: low\n"),
                "error: tab character in indentation\n --> plan.yaml:8:1\n  |\n8 |    risk: low\n  | ^ tab\n  = help: YAML indents with spaces only; replace the tab with spaces\n",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(rendered(&text), expected, "for {text:?}");
        }
        // yaml-rust2 keeps a byte-order mark in the first key; the loader
        // drops the mark before parsing (regression: it reported an unknown
        // key `\u{feff}version`).
        let bom = rendered(&format!(
            "\u{feff}{PHASE}      - {{id: t, risk: low, run: {{shell: [make]}}}}\n"
        ));
        assert_eq!(bom, "valid");
    }
}
