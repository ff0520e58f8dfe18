//! `--refresh`: asks the providers for live differences of what the plan
//! leaves alone, and turns drifted resources into updates.

use stack_engine::execute::{ExecuteOptions, Executor, Quiet};
use stack_engine::plan::Plan;
use stack_engine::provider::Router;
use stack_engine::state::{State, StateBackend};
use stack_engine::Graph;

use crate::apply::ResourceFailed;
use crate::failure::Failure;

pub async fn refresh(
    graph: &Graph,
    plan: Plan,
    state: &State,
    router: &dyn Router,
    backend: &dyn StateBackend,
) -> Result<Plan, Failure> {
    let executor = Executor {
        graph,
        router,
        observer: &Quiet,
        backend,
        options: ExecuteOptions::default(),
    };
    match executor.refresh(&plan, state).await {
        Ok(drifts) => Ok(plan.with_drift(&drifts)),
        Err((id, error)) => Err(Failure::runtime(ResourceFailed::new(graph, &id, &error))),
    }
}
