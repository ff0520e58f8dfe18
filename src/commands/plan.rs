//! `stack plan FILE`: what `run` would do, checked against the clusters
//! that can be reached; with `--refresh`, also what changed outside the
//! stack.

use std::process::ExitCode;

use stack_engine::plan;

use crate::cli::OutputFormat;
use crate::cli::StackArgs;
use crate::failure::Failure;
use crate::{load, style};

pub fn run(
    args: &StackArgs,
    output: OutputFormat,
    detailed_exitcode: bool,
    refresh: bool,
) -> Result<ExitCode, Failure> {
    let graph = load::planned_graph(args)?;
    let router = stack_providers::router::StackRouter::new(
        &graph.declarations.stack,
        &load::stack_dir(&args.file),
    );
    let mut loaded = load::load(args, graph, &router)?;
    let backend = crate::backend::for_stack(args, &loaded.graph, router.clients.clone());
    let runtime = load::runtime()?;
    if refresh {
        runtime.block_on(crate::refresh::fold_unrecorded(
            &loaded.graph,
            &mut loaded.state,
            &router,
        ));
    }
    let mut plan = plan::plan(&loaded.graph, &loaded.state);
    if refresh {
        plan = runtime.block_on(crate::refresh::refresh(
            &loaded.graph,
            plan,
            &loaded.state,
            &router,
            backend.as_ref(),
        ))?;
    }
    let plan = runtime.block_on(crate::preflight::preflight(
        &loaded.graph,
        plan,
        &loaded.state,
        &router,
        backend.as_ref(),
    ))?;
    crate::protection::refuse_protected(&loaded.graph, &plan, &loaded.state)?;
    match output {
        OutputFormat::Text => print!("{}", plan::render_text(&plan, style::stdout_style())),
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&plan.to_json()).unwrap_or_default()
            )
        }
    }
    Ok(if detailed_exitcode && plan.has_changes() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
