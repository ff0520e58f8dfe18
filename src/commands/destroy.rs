//! `stack destroy FILE`: delete everything the state records, dependents
//! first (Argo CD apps before Argo CD, Argo CD before the cluster).

use std::process::ExitCode;

use stack_engine::{Declarations, Graph};

use crate::apply::Apply;
use crate::cli::{ApplyArgs, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(args: &StackArgs, apply: &ApplyArgs) -> Result<ExitCode, Failure> {
    // The script names the stack and its state; nothing it declares is kept.
    let declared = load::graph(args)?;
    let nothing = Declarations {
        resources: Vec::new(),
        ..declared.declarations.clone()
    };
    let graph = Graph::build(nothing).map_err(Failure::usage)?;
    let stack_dir = load::stack_dir(&args.file);
    Apply {
        operation: "destroy",
        graph,
        stack: args,
        stack_dir: &stack_dir,
        args: apply,
        target: None,
    }
    .execute()
}
