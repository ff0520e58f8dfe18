//! `stack graph FILE`: the dependency graph as text, DOT or Mermaid.

use stack_engine::graph_format::{self, GraphFormat};

use crate::cli::{GraphFormatArg, StackArgs};
use crate::failure::Failure;
use crate::load;

pub fn run(args: &StackArgs, format: GraphFormatArg) -> Result<String, Failure> {
    let graph = load::graph(args)?;
    let format = match format {
        GraphFormatArg::Text => GraphFormat::Text,
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
    };
    Ok(graph_format::format(&graph, format))
}
