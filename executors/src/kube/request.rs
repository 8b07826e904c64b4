//! [`Request`]: one request of a cluster executor, with its target resolved
//! and its tool's version known, and [`prepare`], which makes one.

use super::{
    Halt, Invocation, KubeTool, Target, check_context, configured, kubeconfig_context_namespace,
};
use crate::context::ActionContext;

/// One request: the action, its resolved target and the tool.
pub(crate) struct Request<'a, A> {
    /// The action's fields.
    pub(crate) action: &'a A,
    /// The tool, bound to the request's context.
    pub(crate) invocation: Invocation<'a>,
    /// The cluster the request talks to.
    pub(crate) target: Target,
    /// The tool's version, recorded in the evidence.
    pub(crate) version: String,
}

impl<A> Request<'_, A> {
    /// The context of the request.
    pub(crate) fn ctx(&self) -> &ActionContext {
        self.invocation.ctx()
    }

    /// The namespace objects without one go to: the configured one, else
    /// the kube context's (from the kubeconfig), else `default`, as kubectl
    /// and Helm decide it.
    pub(crate) async fn namespace(&self) -> String {
        if let Some(namespace) = &self.target.namespace {
            return namespace.clone();
        }
        kubeconfig_context_namespace(
            self.target.kubeconfig.as_deref(),
            self.invocation.tool_env(),
            &self.target.context,
        )
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "default".to_owned())
    }
}

/// Checks the action, resolves its target (or takes the `recorded` one),
/// applies the wrong-cluster guard, and learns the tool's version.
///
/// A recorded target passed the guard when the change was made there;
/// undoing or observing the change must reach the same cluster, so it is
/// not checked again.
pub(crate) async fn prepare<'a, T: KubeTool>(
    executor: &'a T,
    action: &'a T::Spec,
    ctx: &'a ActionContext,
    recorded: Option<&Target>,
) -> Result<Request<'a, T::Spec>, Halt> {
    T::validate(action)?;
    let configured = configured(T::KIND, T::target_fields(action), ctx)?;
    let tool = executor.tool();
    let invocation = tool.invocation(ctx);
    let target = match recorded {
        Some(recorded) => recorded.clone(),
        None => {
            let context = match configured.context {
                Some(context) => context,
                None => {
                    executor
                        .current_context(&invocation, configured.kubeconfig.as_deref())
                        .await?
                }
            };
            check_context(
                T::KIND,
                &ctx.environment,
                &context,
                configured.allow_context_mismatch,
            )?;
            Target {
                context,
                namespace: configured.namespace,
                kubeconfig: configured.kubeconfig,
            }
        }
    };
    let version = tool
        .version(&invocation, T::VERSION_ARGS, T::parse_version)
        .await?;
    Ok(Request {
        action,
        invocation,
        target,
        version,
    })
}
