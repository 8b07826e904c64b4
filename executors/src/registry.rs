//! [`Executors`]: the executor for each action kind.

use std::{collections::BTreeMap, fmt, sync::Arc};

use plangate_plans::{Action, ExecutorKind};

use crate::{
    executor::Executor,
    git::GitExecutor,
    github::GithubMergeExecutor,
    kube::{HelmExecutor, KubectlExecutor},
    shell::ShellExecutor,
};

/// The executors available to a run, one per kind.
#[derive(Clone, Default)]
pub struct Executors {
    by_kind: BTreeMap<ExecutorKind, Arc<dyn Executor>>,
}

impl Executors {
    /// No executor at all (tests register fakes).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every built-in executor: shell, kubectl, helm, github_merge and git.
    pub fn with_defaults() -> Self {
        let mut executors = Self::new();
        executors.register(Arc::new(ShellExecutor::new()));
        executors.register(Arc::new(KubectlExecutor::new()));
        executors.register(Arc::new(HelmExecutor::new()));
        executors.register(Arc::new(GithubMergeExecutor::new()));
        executors.register(Arc::new(GitExecutor::new()));
        executors
    }

    /// Adds `executor` for its kind, returning the one it replaces.
    pub fn register(&mut self, executor: Arc<dyn Executor>) -> Option<Arc<dyn Executor>> {
        self.by_kind.insert(executor.kind(), executor)
    }

    /// The executor for `kind`.
    pub fn get(&self, kind: ExecutorKind) -> Option<Arc<dyn Executor>> {
        self.by_kind.get(&kind).cloned()
    }

    /// The executor for `action`'s kind.
    pub fn for_action(&self, action: &Action) -> Option<Arc<dyn Executor>> {
        self.get(action.kind())
    }

    /// The kinds that have an executor.
    pub fn kinds(&self) -> impl Iterator<Item = ExecutorKind> + '_ {
        self.by_kind.keys().copied()
    }
}

impl fmt::Debug for Executors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.kinds()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_include_shell() {
        let executors = Executors::with_defaults();
        let shell = executors
            .get(ExecutorKind::Shell)
            .expect("shell is built in");
        assert_eq!(shell.kind(), ExecutorKind::Shell);
        assert_eq!(
            format!("{executors:?}"),
            "{Shell, Kubectl, Helm, GithubMerge, Git}"
        );
    }

    #[test]
    fn register_replaces_the_executor_of_a_kind() {
        let mut executors = Executors::new();
        assert!(executors.register(Arc::new(ShellExecutor::new())).is_none());
        assert!(executors.register(Arc::new(ShellExecutor::new())).is_some());
        assert_eq!(executors.kinds().collect::<Vec<_>>(), [ExecutorKind::Shell]);
    }
}
