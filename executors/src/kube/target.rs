//! Which cluster an action talks to, and the wrong-cluster guard.
//!
//! Each of context, namespace and kubeconfig comes from the first of: the
//! action's field, the executor instance's (`executor: NAME`), the plan's
//! `vars` (`kube_context`, `namespace`; there is no var for the kubeconfig),
//! and finally the tool's own default: the kubeconfig's current context,
//! `$KUBECONFIG` (or `~/.kube/config`), and the context's namespace
//! (`default` unless the kubeconfig names another). A relative kubeconfig
//! path is relative to the plan's folder.
//!
//! The context is always resolved to a name before anything runs, and passed
//! explicitly (`--context`, `--kube-context`), so a current context changed
//! by someone else mid-run cannot redirect later commands. The namespace is
//! passed only when configured: kubectl refuses `-n X` for a manifest whose
//! objects name another namespace, and multi-namespace manifests are common.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

use plangate_plans::{ExecutorInstance, ExecutorKind};
use serde::{Deserialize, Serialize};

use crate::{context::ActionContext, error::ExecutorError};

/// The plan `vars` key naming the kube context.
const CONTEXT_VAR: &str = "kube_context";
/// The plan `vars` key naming the namespace.
const NAMESPACE_VAR: &str = "namespace";

/// An action's own target fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TargetFields<'a> {
    pub(crate) context: Option<&'a str>,
    pub(crate) namespace: Option<&'a str>,
    pub(crate) kubeconfig: Option<&'a str>,
}

/// What the action, its instance and the plan's vars configure; the context
/// may still be missing (the kubeconfig's current context is then used).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Configured {
    pub(crate) context: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) kubeconfig: Option<PathBuf>,
    pub(crate) allow_context_mismatch: bool,
}

/// The cluster an action talks to, with the context resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Target {
    /// The kube context's name.
    pub(crate) context: String,
    /// The namespace, when configured.
    pub(crate) namespace: Option<String>,
    /// The kubeconfig file, when configured (absolute, or relative to the
    /// plan's folder when the plan's folder is).
    pub(crate) kubeconfig: Option<PathBuf>,
}

impl Target {
    /// `--context C [-n N] [--kubeconfig K]` for kubectl.
    pub(crate) fn kubectl_args(&self) -> Vec<String> {
        let mut args = self.kubectl_cluster_args();
        if let Some(namespace) = &self.namespace {
            args.extend(["-n".to_owned(), namespace.clone()]);
        }
        args
    }

    /// `--context C [--kubeconfig K]`, for commands whose objects carry
    /// their namespaces.
    pub(crate) fn kubectl_cluster_args(&self) -> Vec<String> {
        let mut args = vec!["--context".to_owned(), self.context.clone()];
        if let Some(kubeconfig) = &self.kubeconfig {
            args.extend([
                "--kubeconfig".to_owned(),
                kubeconfig.to_string_lossy().into_owned(),
            ]);
        }
        args
    }

    /// `[-n N] --kube-context C [--kubeconfig K]` for helm.
    pub(crate) fn helm_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(namespace) = &self.namespace {
            args.extend(["-n".to_owned(), namespace.clone()]);
        }
        args.extend(["--kube-context".to_owned(), self.context.clone()]);
        if let Some(kubeconfig) = &self.kubeconfig {
            args.extend([
                "--kubeconfig".to_owned(),
                kubeconfig.to_string_lossy().into_owned(),
            ]);
        }
        args
    }
}

/// What the action, the instance and the plan's vars say, in that order of
/// precedence. An instance of another kind is an invalid action.
pub(crate) fn configured(
    kind: ExecutorKind,
    fields: TargetFields<'_>,
    ctx: &ActionContext,
) -> Result<Configured, ExecutorError> {
    let instance = instance_of(kind, ctx)?;
    let pick = |action: Option<&str>, from_instance: Option<&str>, var: Option<&str>| {
        [action, from_instance, var]
            .into_iter()
            .flatten()
            .find(|value| !value.is_empty())
            .map(str::to_owned)
    };
    Ok(Configured {
        context: pick(
            fields.context,
            instance.and_then(|instance| instance.context.as_deref()),
            ctx.vars.get(CONTEXT_VAR).map(String::as_str),
        ),
        namespace: pick(
            fields.namespace,
            instance.and_then(|instance| instance.namespace.as_deref()),
            ctx.vars.get(NAMESPACE_VAR).map(String::as_str),
        ),
        kubeconfig: pick(
            fields.kubeconfig,
            instance.and_then(|instance| instance.kubeconfig.as_deref()),
            None,
        )
        .map(|path| ctx.base_dir.join(path)),
        allow_context_mismatch: instance.is_some_and(|instance| instance.allow_context_mismatch),
    })
}

/// The configured instance, which must be of `kind`.
fn instance_of(
    kind: ExecutorKind,
    ctx: &ActionContext,
) -> Result<Option<&ExecutorInstance>, ExecutorError> {
    match &ctx.instance {
        Some(instance) if instance.kind != kind => Err(ExecutorError::InstanceKind {
            kind,
            instance: instance.kind,
        }),
        instance => Ok(instance.as_ref()),
    }
}

/// The wrong-cluster guard: a production plan (`environment` `prod` or
/// `production`) may only use a context whose name contains `prod`, and any
/// other plan only one whose name does not, unless the executor instance
/// sets `allow_context_mismatch`. Case is ignored.
pub(crate) fn check_context(
    kind: ExecutorKind,
    environment: &str,
    context: &str,
    allow_context_mismatch: bool,
) -> Result<(), ExecutorError> {
    if allow_context_mismatch {
        return Ok(());
    }
    let production = matches!(
        environment.to_ascii_lowercase().as_str(),
        "prod" | "production"
    );
    let mentions_prod = context.to_ascii_lowercase().contains("prod");
    if production == mentions_prod {
        return Ok(());
    }
    Err(ExecutorError::WrongCluster {
        kind,
        context: context.to_owned(),
        environment: environment.to_owned(),
        production,
    })
}

/// The error of an action whose context cannot be determined.
pub(crate) fn no_context(kind: ExecutorKind) -> ExecutorError {
    ExecutorError::NoContext { kind }
}

/// The current context of the kubeconfig, read the way client-go reads it:
/// the explicit file, else every file of `$KUBECONFIG` (the first to set a
/// current context wins), else `$HOME/.kube/config`. `env` overrides this
/// process's `KUBECONFIG` and `HOME`, as it does for the tool's children.
///
/// `None` when no file sets one.
pub(crate) async fn kubeconfig_current_context(
    explicit: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> io::Result<Option<String>> {
    for config in kubeconfigs(explicit, env).await? {
        if let Some(context) = config
            .get("current-context")
            .and_then(serde_yaml::Value::as_str)
            .filter(|context| !context.is_empty())
        {
            return Ok(Some(context.to_owned()));
        }
    }
    Ok(None)
}

/// The namespace the kubeconfig gives `context` (the first file that
/// defines the context wins), `None` when it gives none.
pub(crate) async fn kubeconfig_context_namespace(
    explicit: Option<&Path>,
    env: &BTreeMap<String, String>,
    context: &str,
) -> io::Result<Option<String>> {
    for config in kubeconfigs(explicit, env).await? {
        let defined = config
            .get("contexts")
            .and_then(serde_yaml::Value::as_sequence)
            .into_iter()
            .flatten()
            .find(|entry| entry.get("name").and_then(serde_yaml::Value::as_str) == Some(context));
        if let Some(entry) = defined {
            return Ok(entry
                .get("context")
                .and_then(|context| context.get("namespace"))
                .and_then(serde_yaml::Value::as_str)
                .filter(|namespace| !namespace.is_empty())
                .map(str::to_owned));
        }
    }
    Ok(None)
}

/// The kubeconfig files, parsed, in client-go's order (see
/// [`kubeconfig_current_context`]); missing files of `$KUBECONFIG` and the
/// default one are skipped, a missing explicit one is an error.
async fn kubeconfigs(
    explicit: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> io::Result<Vec<serde_yaml::Value>> {
    let var = |name: &str| {
        env.get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|value| !value.is_empty())
    };
    let files: Vec<PathBuf> = match (explicit, var("KUBECONFIG")) {
        (Some(path), _) => vec![path.to_owned()],
        (None, Some(list)) => std::env::split_paths(&list)
            .filter(|path| !path.as_os_str().is_empty())
            .collect(),
        (None, None) => var("HOME")
            .map(|home| PathBuf::from(home).join(".kube/config"))
            .into_iter()
            .collect(),
    };
    let mut configs = Vec::new();
    for file in files {
        let text = match tokio::fs::read_to_string(&file).await {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound && explicit.is_none() => {
                continue;
            }
            Err(error) => return Err(error),
        };
        configs.push(
            serde_yaml::from_str(&text)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?,
        );
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use plangate_plans::TaskId;

    use super::*;

    fn instance(kind: ExecutorKind) -> ExecutorInstance {
        ExecutorInstance {
            kind,
            context: Some("instance-ctx".to_owned()),
            namespace: Some("instance-ns".to_owned()),
            kubeconfig: Some("instance.kubeconfig".to_owned()),
            binary: None,
            allow_context_mismatch: false,
            env: BTreeMap::new(),
            cwd: None,
            api_url: None,
            token_env: None,
            repo: None,
            exclusive: false,
        }
    }

    fn ctx() -> ActionContext {
        ActionContext::new("run", TaskId::new("task").expect("valid id"), "/plans")
    }

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("kube_context".to_owned(), "vars-ctx".to_owned()),
            ("namespace".to_owned(), "vars-ns".to_owned()),
        ])
    }

    #[test]
    fn the_action_wins_then_the_instance_then_the_vars() {
        let with_instance = ctx()
            .with_vars(vars())
            .with_instance(instance(ExecutorKind::Kubectl));
        let fields = TargetFields {
            context: Some("action-ctx"),
            namespace: Some("action-ns"),
            kubeconfig: Some("/abs/kubeconfig"),
        };
        let all = configured(ExecutorKind::Kubectl, fields, &with_instance).expect("valid");
        assert_eq!(all.context.as_deref(), Some("action-ctx"));
        assert_eq!(all.namespace.as_deref(), Some("action-ns"));
        assert_eq!(all.kubeconfig, Some(PathBuf::from("/abs/kubeconfig")));

        let from_instance = configured(
            ExecutorKind::Kubectl,
            TargetFields::default(),
            &with_instance,
        )
        .expect("valid");
        assert_eq!(from_instance.context.as_deref(), Some("instance-ctx"));
        assert_eq!(from_instance.namespace.as_deref(), Some("instance-ns"));
        assert_eq!(
            from_instance.kubeconfig,
            Some(PathBuf::from("/plans/instance.kubeconfig"))
        );

        let from_vars = configured(
            ExecutorKind::Kubectl,
            TargetFields::default(),
            &ctx().with_vars(vars()),
        )
        .expect("valid");
        assert_eq!(from_vars.context.as_deref(), Some("vars-ctx"));
        assert_eq!(from_vars.namespace.as_deref(), Some("vars-ns"));
        assert_eq!(from_vars.kubeconfig, None);

        let nothing =
            configured(ExecutorKind::Helm, TargetFields::default(), &ctx()).expect("valid");
        assert_eq!(nothing.context, None);
        assert_eq!(nothing.namespace, None);
        assert!(!nothing.allow_context_mismatch);
    }

    #[test]
    fn an_instance_of_another_kind_is_invalid() {
        let ctx = ctx().with_instance(instance(ExecutorKind::Helm));
        let error = configured(ExecutorKind::Kubectl, TargetFields::default(), &ctx)
            .expect_err("helm instance");
        assert_eq!(
            error.to_string(),
            "invalid `kubectl` action: its executor instance is of kind `helm`"
        );
    }

    #[test]
    fn the_guard_matches_production_with_prod_contexts_only() {
        let check = |environment, context, allow| {
            check_context(ExecutorKind::Kubectl, environment, context, allow).is_ok()
        };
        assert!(check("prod", "prod-eu", false));
        assert!(check("Production", "eks-PROD", false));
        assert!(!check("prod", "dev", false));
        assert!(!check("production", "staging", false));
        assert!(check("dev", "dev", false));
        assert!(check("staging", "kind-staging", false));
        assert!(!check("dev", "prod-eu", false));
        assert!(check("prod", "dev", true));
        assert!(check("dev", "prod-eu", true));
        let error = check_context(ExecutorKind::Helm, "prod", "dev", false).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("the wrong-cluster guard refuses kube context `dev` for environment `prod`: a production plan needs"),
            "{error}"
        );
    }

    #[test]
    fn target_args() {
        let target = Target {
            context: "dev".to_owned(),
            namespace: Some("demo".to_owned()),
            kubeconfig: Some(PathBuf::from("/k")),
        };
        assert_eq!(
            target.kubectl_args(),
            ["--context", "dev", "--kubeconfig", "/k", "-n", "demo"]
        );
        assert_eq!(
            target.helm_args(),
            ["-n", "demo", "--kube-context", "dev", "--kubeconfig", "/k"]
        );
    }

    #[tokio::test]
    async fn current_context_comes_from_the_first_kubeconfig_that_sets_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        std::fs::write(&first, "apiVersion: v1\nkind: Config\n").expect("write");
        std::fs::write(&second, "current-context: kind-dev\n").expect("write");
        let list = std::env::join_paths([&first, &dir.path().join("missing"), &second])
            .expect("joinable")
            .into_string()
            .expect("UTF-8");
        let env = BTreeMap::from([("KUBECONFIG".to_owned(), list)]);
        assert_eq!(
            kubeconfig_current_context(None, &env).await.expect("reads"),
            Some("kind-dev".to_owned())
        );
        assert_eq!(
            kubeconfig_current_context(Some(&first), &env)
                .await
                .expect("reads"),
            None
        );
        assert!(
            kubeconfig_current_context(Some(&dir.path().join("missing")), &env)
                .await
                .is_err()
        );
        std::fs::write(
            &second,
            "current-context: kind-dev\ncontexts:\n- name: kind-dev\n  context: {cluster: c, namespace: apps}\n- name: other\n  context: {cluster: c}\n",
        )
        .expect("write");
        assert_eq!(
            kubeconfig_context_namespace(None, &env, "kind-dev")
                .await
                .expect("reads"),
            Some("apps".to_owned())
        );
        assert_eq!(
            kubeconfig_context_namespace(None, &env, "other")
                .await
                .expect("reads"),
            None
        );
    }
}
