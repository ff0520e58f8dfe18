//! `stack run FILE`: plan, confirm, execute.

use std::process::ExitCode;

use stack_engine::ResourceId;

use crate::apply::{Apply, Operation};
use crate::cli::{ApplyArgs, StackArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::load;
use crate::saved_plan::SavedPlan;

pub fn run(
    context: &Context,
    args: &StackArgs,
    apply: &ApplyArgs,
    targets: Vec<ResourceId>,
) -> Result<ExitCode, Failure> {
    if let Some(saved) = SavedPlan::read(&args.file).map_err(Failure::usage)? {
        return run_saved(context, args, apply, targets, saved);
    }
    let graph = load::planned_graph(context, args)?;
    Apply {
        operation: Operation::Run,
        connection: context.connect(args, &graph),
        graph,
        args: apply,
        targets,
        saved: None,
    }
    .execute(context)
}

/// `run PLAN`: the plan's own script, values files, targets and refresh.
fn run_saved(
    context: &Context,
    given: &StackArgs,
    apply: &ApplyArgs,
    targets: Vec<ResourceId>,
    saved: SavedPlan,
) -> Result<ExitCode, Failure> {
    if !targets.is_empty() || !given.values.is_empty() || apply.refresh {
        return Err(Failure::usage(SavedPlanArgs));
    }
    let args = saved.stack_args(given);
    let graph = load::planned_graph(context, &args)?;
    let apply = ApplyArgs {
        refresh: saved.refresh,
        ..apply.clone()
    };
    Apply {
        operation: Operation::Run,
        connection: context.connect(&args, &graph),
        graph,
        args: &apply,
        targets: saved.target_ids(),
        saved: Some(saved),
    }
    .execute(context)
}

/// `run PLAN` with what only a plan decides.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`--target`, `--values` and `--refresh` are decided by the saved plan")]
#[diagnostic(
    code(stack::plan::saved_args),
    help(
        "`stack run PLAN` applies the plan as it was made: give these to `stack plan --out PLAN`"
    )
)]
struct SavedPlanArgs;
