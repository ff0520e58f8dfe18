//! `stack plan FILE`: what `run` would do.

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
) -> Result<ExitCode, Failure> {
    let loaded = load::load(args)?;
    let plan = plan::plan(&loaded.graph, &loaded.state);
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
