//! Before a plan is shown: what the reachable clusters say about it — an
//! object of a kind or API version the cluster does not serve, an object
//! that exists already and belongs to another stack or to nobody — as
//! diagnostics at the declarations, so the run never starts on a plan
//! that cannot be applied.

use stack_engine::plan::Plan;
use stack_engine::provider::Router;
use stack_engine::state::{State, StateBackend};
use stack_engine::Graph;

use crate::failure::Failure;
use crate::resource_failed::ResourceFailed;

/// Resources the cluster cannot take as declared.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{count} resource(s) cannot be applied to their cluster as declared; nothing was changed")]
#[diagnostic(
    code(stack::plan::preflight),
    help("each resource below says what its cluster holds or serves instead")
)]
pub struct Refused {
    count: usize,
    #[related]
    problems: Vec<ResourceFailed>,
}

/// Fails with every problem the providers find in `plan` (exit 2: the
/// script does not fit its cluster); else the plan with what its creates
/// adopt marked so. When no cluster could be asked, the plan as it is.
pub async fn preflight(
    graph: &Graph,
    plan: Plan,
    state: &State,
    router: &dyn Router,
    backend: &dyn StateBackend,
    parallelism: usize,
) -> Result<Plan, Failure> {
    let found = crate::refresh::quiet_executor(graph, router, backend, parallelism)
        .preflight(&plan, state)
        .await;
    let problems: Vec<ResourceFailed> = found
        .problems
        .iter()
        .map(|(id, error)| ResourceFailed::refused(graph, id, error))
        .collect();
    if problems.is_empty() {
        return Ok(plan
            .with_adoptions(&found.adoptions)
            .with_forgotten(&found.forgotten));
    }
    Err(Failure::usage(Refused {
        count: problems.len(),
        problems,
    }))
}
