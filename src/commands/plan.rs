//! `stack plan FILE`: what `run` would do, checked against the clusters
//! that can be reached; with `--refresh`, also what changed outside the
//! stack.

use std::path::Path;
use std::process::ExitCode;

use stack_engine::plan;

use crate::cli::OutputFormat;
use crate::cli::StackArgs;
use crate::context::Context;
use crate::failure::Failure;
use crate::saved_plan::SavedPlan;
use crate::{load, style};

/// How `plan` was asked to plan and what to do with the plan.
pub struct PlanArgs<'a> {
    pub output: OutputFormat,
    pub detailed_exitcode: bool,
    pub refresh: bool,
    pub targets: &'a [stack_engine::ResourceId],
    /// `--out`: where to save the plan for `run PLAN`.
    pub out: Option<&'a Path>,
    pub detail: plan::Detail,
}

pub fn run(context: &Context, args: &StackArgs, how: PlanArgs<'_>) -> Result<ExitCode, Failure> {
    let PlanArgs {
        output,
        detailed_exitcode,
        refresh,
        targets,
        out,
        detail,
    } = how;
    let graph = load::planned_graph(context, args)?;
    let connection = context.connect(args, &graph);
    let mut state = connection.load(context)?;
    // What a saved plan was made against: the state as loaded.
    let saved_against = out.map(|_| state.clone());
    let (router, backend) = (&connection.router, connection.backend.as_ref());
    // A plan reads as many resources at once as a run applies by default.
    let parallelism = stack_engine::execute::ExecuteOptions::default().parallelism;
    let selection = load::selection(&graph, &state, targets)?;
    let plan = context.block_on(async {
        if refresh {
            crate::refresh::fold_unrecorded(&graph, &mut state, router).await;
        }
        let mut plan = plan::plan(&graph, &state);
        if let Some(selected) = &selection {
            plan = plan.only(selected);
        }
        if refresh {
            plan =
                crate::refresh::refresh(&graph, plan, &state, router, backend, parallelism).await?;
        }
        crate::preflight::preflight(&graph, plan, &state, router, backend, parallelism).await
    })??;
    crate::protection::refuse_protected(&graph, &plan, &state)?;
    match output {
        OutputFormat::Text => print!(
            "{}",
            plan::render_text(&plan, style::stdout_style(), detail)
        ),
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&plan.to_json()).unwrap_or_default()
            )
        }
    }
    if let (Some(path), Some(loaded)) = (out, &saved_against) {
        SavedPlan::new(args, &graph, loaded, &plan, targets, refresh)
            .write(path)
            .map_err(Failure::runtime)?;
        eprintln!(
            "Saved the plan to {}: `stack run {}` applies exactly it, unless the script or the state changes first.",
            path.display(),
            path.display()
        );
    }
    let code = if detailed_exitcode && plan.has_changes() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    };
    load::keep_until_exit((graph, plan, state));
    Ok(code)
}
