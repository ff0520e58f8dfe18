//! `stack run FILE`: plan, confirm, execute.

use std::process::ExitCode;

use stack_engine::{state, ResourceId};

use crate::apply::Apply;
use crate::cli::{ApplyArgs, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(args: &StackArgs, apply: &ApplyArgs, target: Option<&str>) -> Result<ExitCode, Failure> {
    let graph = load::graph(args)?;
    let state_path = args.state.clone().unwrap_or_else(|| state::path_for(&args.file, &graph.declarations.stack));
    let stack_dir = load::stack_dir(&args.file);
    Apply {
        operation: "run",
        graph,
        state_path: &state_path,
        stack_dir: &stack_dir,
        args: apply,
        target: target.map(ResourceId::new),
    }
    .execute()
}
