//! `stack run FILE`: plan, confirm, execute.

use std::process::ExitCode;

use stack_engine::ResourceId;

use crate::apply::Apply;
use crate::cli::{ApplyArgs, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(args: &StackArgs, apply: &ApplyArgs, target: Option<&str>) -> Result<ExitCode, Failure> {
    let graph = load::planned_graph(args)?;
    let stack_dir = load::stack_dir(&args.file);
    Apply {
        operation: "run",
        graph,
        stack: args,
        stack_dir: &stack_dir,
        args: apply,
        target: target.map(ResourceId::new),
    }
    .execute()
}
