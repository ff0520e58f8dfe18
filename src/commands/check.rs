//! `stack check FILE`: evaluate, validate, summarize.

use std::collections::BTreeMap;
use std::fmt::Write;

use stack_engine::{Graph, Kind};

use crate::cli::{OutputFormat, StackArgs};
use crate::failure::Failure;
use crate::load;

/// Lints without the secrets: one that cannot be read is checked as an
/// unknown sensitive value, and named (`plan` and `run` need it).
pub fn run(args: &StackArgs, output: OutputFormat) -> Result<String, Failure> {
    let (graph, unread) = load::linted_graph(args)?;
    let style = crate::style::stderr_style();
    for source in &unread {
        eprintln!(
            "{} secret(\"{source}\") could not be read: checked as an unknown sensitive value (`plan` and `run` need it)",
            style.bold("note:")
        );
    }
    let summary = match output {
        OutputFormat::Text => summary(&graph, &args.file.to_string_lossy()),
        OutputFormat::Json => stack_engine::graph_format::format(
            &graph,
            stack_engine::graph_format::GraphFormat::Json,
        ),
    };
    load::keep_until_exit(graph);
    Ok(summary)
}

/// Counts per kind, then every resource id with its direct needs.
pub fn summary(graph: &Graph, file: &str) -> String {
    let mut out = String::new();
    let resources = graph.resources();
    let clusters = resources.iter().filter(|r| r.kind == Kind::Cluster).count();
    let _ = writeln!(
        out,
        "{file} is valid: stack `{}` declares {} resource{} on {} cluster{}.",
        graph.declarations.stack,
        resources.len(),
        if resources.len() == 1 { "" } else { "s" },
        clusters,
        if clusters == 1 { "" } else { "s" },
    );
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for r in resources {
        *counts.entry(r.kind).or_default() += 1;
    }
    let _ = writeln!(out);
    for (kind, n) in counts {
        let _ = writeln!(out, "  {:<10} {n:>5}", kind.as_str());
    }
    let _ = writeln!(out);
    for r in graph.in_order() {
        let _ = writeln!(out, "  {}", r.id);
    }
    out
}
