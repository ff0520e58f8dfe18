//! `stack run FILE`: plan, confirm, execute.

use std::process::ExitCode;

use stack_engine::ResourceId;

use crate::apply::{Apply, Operation};
use crate::cli::{ApplyArgs, StackArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::load;

pub fn run(
    context: &Context,
    args: &StackArgs,
    apply: &ApplyArgs,
    targets: Vec<ResourceId>,
) -> Result<ExitCode, Failure> {
    let graph = load::planned_graph(context, args)?;
    Apply {
        operation: Operation::Run,
        connection: context.connect(args, &graph),
        graph,
        args: apply,
        targets,
    }
    .execute(context)
}
