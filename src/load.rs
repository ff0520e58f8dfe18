//! The pipeline every command starts with: evaluate the script, build and
//! validate the graph, pin chart version constraints.

use stack_stdlib::lockfile::LockPolicy;

use stack_engine::objects::RESOLVED_VERSION;
use stack_engine::{state, Graph, Value};

use crate::cli::StackArgs;
use crate::context::Context;
use crate::failure::Failure;
use crate::params::params;
use crate::resource_failed::ResourceFailed;

pub fn graph(args: &StackArgs) -> Result<Graph, Failure> {
    graph_with(args, lock_policy(args))
}

/// What git imports may do with `stack.lock`: `--locked` forbids changes.
pub fn lock_policy(args: &StackArgs) -> LockPolicy {
    if args.locked {
        LockPolicy::Locked
    } else {
        LockPolicy::Extend
    }
}

/// The graph, with git imports resolved as `policy` says.
pub fn graph_with(args: &StackArgs, policy: LockPolicy) -> Result<Graph, Failure> {
    let declarations = stack_stdlib::evaluate(&args.file, params(&args.values, &args.set)?, policy)
        .map_err(Failure::usage)?;
    Graph::build(declarations).map_err(Failure::usage)
}

/// The graph `check` validates, and the secrets it could not read (they
/// are unknown sensitive values in it: such a graph is never applied).
pub fn linted_graph(args: &StackArgs) -> Result<(Graph, Vec<String>), Failure> {
    let linted = stack_stdlib::lint(
        &args.file,
        params(&args.values, &args.set)?,
        lock_policy(args),
    )
    .map_err(Failure::usage)?;
    let graph = Graph::build(linted.declarations).map_err(Failure::usage)?;
    Ok((graph, linted.unread_secrets))
}

/// The graph with chart version constraints pinned to the exact versions
/// they resolve to now (`resolved_version`), for commands that plan or
/// write: `plan`, `run`, `render`. Exact versions need no network.
pub fn pinned_graph(context: &Context, args: &StackArgs) -> Result<Graph, Failure> {
    let mut graph = graph(args)?;
    pin_chart_versions(context, &mut graph)?;
    Ok(graph)
}

/// A script that declares nothing would have `plan` and `run` delete
/// everything the stack holds: most likely a script emptied by mistake.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{} declares no resources; nothing was planned", file.display())]
#[diagnostic(
    code(stack::plan::empty),
    help("declare what the stack holds; to delete everything use `stack destroy`")
)]
pub struct NothingDeclared {
    file: std::path::PathBuf,
}

/// What `plan` and `run` work from: the pinned graph of a script that
/// declares something.
pub fn planned_graph(context: &Context, args: &StackArgs) -> Result<Graph, Failure> {
    let graph = pinned_graph(context, args)?;
    if graph.resources().is_empty() {
        return Err(Failure::usage(NothingDeclared {
            file: args.file.clone(),
        }));
    }
    Ok(graph)
}

fn pin_chart_versions(context: &Context, graph: &mut Graph) -> Result<(), Failure> {
    let resolved = context
        .block_on(stack_providers::helm::pin::resolve_constraints(graph))?
        .map_err(|(id, error)| Failure::runtime(ResourceFailed::new(graph, &id, &error)))?;
    for (id, version) in resolved {
        graph.settle_input(&id, RESOLVED_VERSION, Value::String(version));
    }
    Ok(())
}

/// The directory of the stack script: relative paths in it start there.
pub fn stack_dir(file: &std::path::Path) -> std::path::PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf()
}

/// The state file of a stack: `--state`, or the default next to the script.
pub fn state_path(args: &StackArgs, stack: &str) -> std::path::PathBuf {
    args.state
        .clone()
        .unwrap_or_else(|| state::path_for(&args.file, stack))
}

/// Keeps `value` until the process exits instead of freeing it: a command
/// that has printed its answer has no use for a thousand resources' maps,
/// and freeing them one by one took a tenth of a `plan`. Only for plain
/// data: nothing with work to do when dropped (a lock, a file, a child).
pub fn keep_until_exit<T>(value: T) {
    std::mem::forget(value);
}

/// What `--target` narrows a plan to; none without targets.
pub fn selection(
    graph: &Graph,
    state: &state::State,
    targets: &[stack_engine::ResourceId],
) -> Result<Option<std::collections::HashSet<stack_engine::ResourceId>>, Failure> {
    if targets.is_empty() {
        return Ok(None);
    }
    stack_engine::plan::selection(graph, state, targets)
        .map(Some)
        .map_err(Failure::usage)
}
