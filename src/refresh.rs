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
    match quiet_executor(graph, router, backend)
        .refresh(&plan, state)
        .await
    {
        Ok(drifts) => Ok(plan.with_drift(&drifts)),
        Err((id, error)) => Err(Failure::runtime(ResourceFailed::new(graph, &id, &error))),
    }
}

/// An executor that reports nothing, for the reads made before a plan is
/// shown (drift, what the clusters serve).
pub fn quiet_executor<'a>(
    graph: &'a Graph,
    router: &'a dyn Router,
    backend: &'a dyn StateBackend,
) -> Executor<'a> {
    Executor {
        graph,
        router,
        observer: &Quiet,
        backend,
        options: ExecuteOptions::default(),
    }
}
