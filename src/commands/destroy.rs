//! `stack destroy FILE`: delete everything the state records, dependents
//! first (Argo CD apps before Argo CD, Argo CD before the cluster).

use std::process::ExitCode;

use stack_engine::{Declarations, Graph, ResourceId};

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
    // The script names the stack and its state; nothing it declares is kept.
    let declared = load::graph(args)?;
    let nothing = Declarations {
        resources: Vec::new(),
        ..declared.declarations.clone()
    };
    let graph = Graph::build(nothing).map_err(Failure::usage)?;
    Apply {
        operation: Operation::Destroy,
        connection: context.connect(args, &graph),
        graph,
        args: apply,
        targets,
        saved: None,
    }
    .execute(context)
}
