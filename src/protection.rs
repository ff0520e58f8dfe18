//! Resources declared with `protect: true`: a plan that would delete or
//! replace one is refused before anything is shown or changed.

use stack_engine::plan::{Action, Plan};
use stack_engine::provider::ProviderError;
use stack_engine::{Graph, State};

use crate::failure::Failure;
use crate::resource_failed::ResourceFailed;

/// Protected resources the plan would delete or replace.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the plan would delete or replace {count} protected resource(s); nothing was changed")]
#[diagnostic(
    code(stack::plan::protected),
    help("a resource with `protect: true` is never deleted or replaced: remove the option and run first, if that is what you mean")
)]
pub struct Protected {
    count: usize,
    #[related]
    resources: Vec<ResourceFailed>,
}

/// One protected resource the plan would delete or replace.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("it is protected and the plan would {verb} it")]
#[diagnostic(code(stack::plan::protected))]
struct WouldChange {
    verb: &'static str,
    #[help]
    help: &'static str,
}

/// Fails (exit 2) when `plan` deletes or replaces a protected resource.
pub fn refuse_protected(graph: &Graph, plan: &Plan, state: &State) -> Result<(), Failure> {
    let resources: Vec<ResourceFailed> = plan
        .protected(state)
        .into_iter()
        .map(|change| {
            let (verb, help) = match (change.action, graph.get(&change.id)) {
                (Action::Replace, _) => (
                    "replace",
                    "keep the inputs that force a replace, or remove `protect: true` and run before changing them",
                ),
                (_, Some(_)) => (
                    "delete",
                    "remove `protect: true` from its declaration and run, then delete it",
                ),
                (_, None) => (
                    "delete",
                    "it is no longer declared but was protected when last applied: declare it again without `protect: true` and run, then remove it",
                ),
            };
            let error: ProviderError = WouldChange { verb, help }.into();
            ResourceFailed::refused(graph, &change.id, &error)
        })
        .collect();
    if resources.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(Protected {
        count: resources.len(),
        resources,
    }))
}
