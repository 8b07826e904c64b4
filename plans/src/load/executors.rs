//! `executors:`: configured executor instances and the keys each kind takes.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::{Context, key_text};
use crate::{action::ExecutorInstance, ids::is_valid_id, marked::Path, text::and_ticked};

impl Context<'_> {
    pub(super) fn executors(&mut self, root: &Mapping) -> BTreeMap<String, ExecutorInstance> {
        let path = Path::root().key("executors");
        let raw = self.named_section(root, "executors");
        let mut executors = BTreeMap::new();
        for (name, value) in raw {
            let instance_path = path.key(&name);
            if !is_valid_id(&name) {
                let span = self.key_at(&path, &name);
                self.error(span, format!("invalid executor name `{name}`"))
                    .help =
                    Some("executor names follow the id syntax `[a-z0-9][a-z0-9-]*`".to_owned());
            }
            let Some(instance) = self.decode::<ExecutorInstance>(&value, &instance_path) else {
                continue;
            };
            self.instance_fields(&value, &instance_path, &instance);
            executors.insert(name, instance);
        }
        executors
    }

    /// Reports instance fields that mean nothing for the instance's kind.
    pub(super) fn instance_fields(
        &mut self,
        value: &Value,
        path: &Path,
        instance: &ExecutorInstance,
    ) {
        let allowed = crate::schema::instance_keys(instance.kind);
        let Value::Mapping(map) = value else { return };
        for key in map.keys() {
            let key = key_text(key);
            if !allowed.contains(&key.as_str()) {
                let span = self.key_at(path, &key);
                self.error(
                    span,
                    format!(
                        "key `{key}` does not apply to a `{}` executor",
                        instance.kind
                    ),
                )
                .help = Some(format!(
                    "`{}` executors take {}",
                    instance.kind,
                    and_ticked(allowed)
                ));
            }
        }
    }
}
