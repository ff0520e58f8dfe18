//! The dependency graph for people (`text`) and for tools (`json`, `dot`,
//! `mermaid`).

use std::collections::HashMap;
use std::fmt::Write;

use crate::graph::Graph;

/// An output format of `stack graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

pub fn format(graph: &Graph, format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => text(graph),
        GraphFormat::Json => json(graph),
        GraphFormat::Dot => dot(graph),
        GraphFormat::Mermaid => mermaid(graph),
    }
}

/// One line per resource in dependency order, with what it needs.
fn text(graph: &Graph) -> String {
    let mut out = String::new();
    for resource in graph.in_order() {
        let needs: Vec<String> = graph
            .needs(&resource.id)
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        if needs.is_empty() {
            let _ = writeln!(out, "{}", resource.id);
        } else {
            let _ = writeln!(out, "{}  ← {}", resource.id, needs.join(", "));
        }
    }
    out
}

/// Every resource in dependency order (id, kind, name, cluster, what it
/// needs), as one JSON document.
fn json(graph: &Graph) -> String {
    let resources: Vec<serde_json::Value> = graph
        .in_order()
        .map(|resource| {
            let needs: Vec<&str> = graph
                .needs(&resource.id)
                .iter()
                .map(|r| r.id.as_str())
                .collect();
            serde_json::json!({
                "id": resource.id,
                "kind": resource.kind,
                "name": resource.name,
                "cluster": resource.cluster,
                "needs": needs,
            })
        })
        .collect();
    let document = serde_json::json!({
        "stack": graph.declarations.stack,
        "resources": resources,
    });
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}

fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph stack {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for resource in graph.in_order() {
        let _ = writeln!(
            out,
            "  {:?} [label={:?}];",
            resource.id.as_str(),
            format!("{}\n{}", resource.kind, resource.name)
        );
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(out, "  {:?} -> {:?};", from.id.as_str(), to.id.as_str());
    }
    out.push_str("}\n");
    out
}

fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, resource) in graph.in_order().enumerate() {
        ids.insert(resource.id.as_str(), i);
        let label = resource.id.as_str().replace('"', "#quot;");
        let _ = writeln!(out, "  n{i}[\"{label}\"]");
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(
            out,
            "  n{} --> n{}",
            ids[from.id.as_str()],
            ids[to.id.as_str()]
        );
    }
    out
}
