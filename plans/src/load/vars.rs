//! `vars:`, and the `{{ vars.NAME }}` placeholders that use them.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::Context;
use crate::{marked::Path, template};

impl Context<'_> {
    pub(super) fn vars(&mut self, root: &Mapping) -> BTreeMap<String, String> {
        let path = Path::root().key("vars");
        let raw = self.named_section(root, "vars");
        let mut vars = BTreeMap::new();
        for (name, value) in raw {
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    let span = self.at(&path.key(&name));
                    self.error(span, format!("var `{name}` is not a plain value"))
                        .help = Some("vars hold strings, numbers or booleans".to_owned());
                    continue;
                }
            };
            if !template::is_var_name(&name) {
                let span = self.key_at(&path, &name);
                self.error(span, format!("invalid var name `{name}`")).help =
                    Some("var names use letters, digits, `_` and `-`".to_owned());
                continue;
            }
            vars.insert(name, text);
        }
        vars
    }

    pub(super) fn check_templates(&mut self, path: &Path, vars: &BTreeMap<String, String>) {
        let mut problems = Vec::new();
        if let Some(node) = self.tree().and_then(|tree| tree.lookup(path)) {
            template::check_node(node, vars, &mut problems);
        }
        for problem in &mut problems {
            problem.path = Some(path.to_string());
        }
        self.diagnostics.extend(problems);
    }
}
