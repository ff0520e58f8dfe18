//! `stack graph FILE`: the dependency graph as text, JSON, DOT or Mermaid.

use stack_engine::graph_format::{self, GraphFormat};

use crate::cli::{GraphOutput, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(args: &StackArgs, output: GraphOutput) -> Result<String, Failure> {
    let graph = load::graph(args)?;
    let format = match output {
        GraphOutput::Text => GraphFormat::Text,
        GraphOutput::Json => GraphFormat::Json,
        GraphOutput::Dot => GraphFormat::Dot,
        GraphOutput::Mermaid => GraphFormat::Mermaid,
    };
    Ok(graph_format::format(&graph, format))
}
