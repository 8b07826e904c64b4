//! [`EnvOverrides`]: the variables an in-process executor (git, GitHub)
//! reads before the process environment, for embedding plangate and for
//! tests, which must not change the process's environment.

use std::{collections::BTreeMap, fmt};

/// Variables read before the process environment. They hold tokens, so
/// `Debug` shows their names only.
#[derive(Clone, Default)]
pub(crate) struct EnvOverrides(BTreeMap<String, String>);

impl EnvOverrides {
    /// Sets `name` to `value`.
    pub(crate) fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The value of `name`: the override, else the process environment's;
    /// `None` when unset or empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|value| !value.trim().is_empty())
    }
}

impl fmt::Debug for EnvOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_and_debug_hides_values() {
        let mut env = EnvOverrides::default();
        env.set("PLANGATE_TEST_OVERRIDE_TOKEN", "s3cr3t-value");
        env.set("PLANGATE_TEST_EMPTY", " ");
        assert_eq!(
            env.get("PLANGATE_TEST_OVERRIDE_TOKEN").as_deref(),
            Some("s3cr3t-value")
        );
        assert_eq!(env.get("PLANGATE_TEST_EMPTY"), None);
        assert_eq!(env.get("PLANGATE_TEST_NEVER_SET_ANYWHERE"), None);
        let shown = format!("{env:?}");
        assert!(shown.contains("PLANGATE_TEST_OVERRIDE_TOKEN") && !shown.contains("s3cr3t"));
    }
}
