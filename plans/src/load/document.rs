//! The plan's top level: its known keys, `version`, `name` and the
//! sections, put together into a [`Plan`].

use std::{collections::BTreeMap, path::PathBuf};

use serde_yaml::{Mapping, Value};

use super::{Context, hex_sha256};
use crate::{
    ids::PlanName,
    marked::Path,
    model::{PLAN_FORMAT_VERSION, Plan},
    source::SourceFile,
};

pub(super) const ROOT_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "environment",
    "policy",
    "defaults",
    "vars",
    "secrets",
    "executors",
    "phases",
];

impl Context<'_> {
    pub(super) fn plan(
        &mut self,
        root: &mut Mapping,
        source: &SourceFile,
        base_dir: PathBuf,
    ) -> Option<Plan> {
        let path = Path::root();
        self.unknown_keys(root, &path, ROOT_KEYS, "the plan");

        let version = self.version(root);
        let name: Option<String> = self.required(root, &path, "name", "the plan");
        let name = name.and_then(|name| {
            self.id_text(&name, &path.key("name"), "plan name")
                .then(|| PlanName::new(name).ok())
                .flatten()
        });
        let description: Option<String> = self.optional(root, &path, "description").ok().flatten();
        let environment: Option<String> = self.optional(root, &path, "environment").ok().flatten();
        let policy = self.policy(root, environment.as_deref());
        let defaults = self.defaults(root);
        let vars = self.vars(root);
        let secrets: Vec<String> = self
            .optional(root, &path, "secrets")
            .ok()
            .flatten()
            .unwrap_or_default();
        let executors = self.executors(root);
        let (phases, drafts) = self.phases(root, &defaults, &vars, &executors);

        let tasks = self.resolve_tasks(&phases, drafts, &policy);
        let plan = Plan {
            version: version?,
            name: name?,
            description,
            environment: environment.unwrap_or_else(|| "dev".to_owned()),
            policy,
            vars,
            secrets,
            executors,
            phases,
            tasks: tasks?,
            base_dir,
            content_hash: hex_sha256(source.text().as_bytes()),
        };
        Some(plan)
    }

    pub(super) fn version(&mut self, root: &Mapping) -> Option<u32> {
        let path = Path::root();
        let version: u32 = self.required(root, &path, "version", "the plan")?;
        if version != PLAN_FORMAT_VERSION {
            let span = self.at(&path.key("version"));
            self.error(span, format!("unsupported plan version `{version}`"))
                .help = Some(format!(
                "this plangate reads `version: {PLAN_FORMAT_VERSION}`"
            ));
            return None;
        }
        Some(version)
    }

    /// A top-level mapping section (`vars`, `executors`) as name to value;
    /// empty when absent or invalid (invalid is reported).
    pub(super) fn named_section(&mut self, root: &Mapping, key: &str) -> BTreeMap<String, Value> {
        self.optional(root, &Path::root(), key)
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}
