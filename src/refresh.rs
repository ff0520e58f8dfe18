//! `--refresh`: asks the providers for live differences of what the plan
//! leaves alone, and turns drifted resources into updates; and looks on
//! the clusters for what carries the stack's mark without a record (as
//! `destroy` always does).

use stack_engine::execute::{ExecuteOptions, Executor, Quiet};
use stack_engine::plan::Plan;
use stack_engine::provider::Router;
use stack_engine::state::{State, StateBackend};
use stack_engine::unrecorded::Unsearched;
use stack_engine::Graph;

use crate::failure::Failure;
use crate::resource_failed::ResourceFailed;

pub async fn refresh(
    graph: &Graph,
    plan: Plan,
    state: &State,
    router: &dyn Router,
    backend: &dyn StateBackend,
    parallelism: usize,
) -> Result<Plan, Failure> {
    match quiet_executor(graph, router, backend, parallelism)
        .refresh(&plan, state)
        .await
    {
        Ok(drifts) => Ok(plan.with_drift(&drifts)),
        Err((id, error)) => Err(Failure::runtime(ResourceFailed::new(graph, &id, &error))),
    }
}

/// An executor that reports nothing, for the reads made before a plan is
/// shown (drift, what the clusters serve), `parallelism` at a time.
pub fn quiet_executor<'a>(
    graph: &'a Graph,
    router: &'a dyn Router,
    backend: &'a dyn StateBackend,
    parallelism: usize,
) -> Executor<'a> {
    Executor {
        graph,
        router,
        observer: &Quiet,
        backend,
        options: ExecuteOptions {
            parallelism,
            ..ExecuteOptions::default()
        },
    }
}

/// Folds into `state` what carries the stack's mark on its clusters and no
/// record holds, saying what was found; a cluster that cannot be searched
/// is a warning (what the state records is still acted on, and nothing is
/// deleted on the strength of a read that failed).
pub async fn fold_unrecorded(graph: &Graph, state: &mut State, router: &dyn Router) {
    let (found, unsearched) =
        stack_engine::unrecorded::fold_into(state, &graph.declarations.stack, router).await;
    let style = crate::style::stderr_style();
    for object in &found {
        let namespace = object
            .namespace
            .as_ref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        eprintln!(
            "{} {}/{namespace}{} carries this stack's mark and no record: a run that did not finish applied it",
            style.yellow("found"),
            object.kind,
            object.name
        );
    }
    for Unsearched { cluster, error } in unsearched {
        eprintln!(
            "{} {}: {}{}",
            style.yellow("warning"),
            cluster,
            error.message(),
            error
                .help()
                .iter()
                .flat_map(|help| help.lines())
                .map(|line| format!("\n  {line}"))
                .collect::<String>()
        );
    }
}
