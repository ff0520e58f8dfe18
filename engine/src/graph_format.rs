//! The dependency graph for people (`text`) and for tools (`json`, `dot`,
//! `mermaid`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::graph::Graph;
use crate::resource::{Resource, ResourceId};

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

/// The edges a drawing needs: an edge is left out when its end is
/// reached from its start through another path (a cluster's edge to an
/// object in a namespace on it, which the namespace already draws).
fn reduced_edges(graph: &Graph) -> Vec<(&Resource, &Resource)> {
    let order: Vec<&Resource> = graph.in_order().collect();
    let position: HashMap<&ResourceId, usize> =
        order.iter().enumerate().map(|(i, r)| (&r.id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    for (from, to) in graph.edges() {
        children[position[&from.id]].push(position[&to.id]);
    }
    // What each resource reaches, filled from the end of the order back.
    let mut reach: Vec<HashSet<usize>> = vec![HashSet::new(); order.len()];
    for i in (0..order.len()).rev() {
        let mut all = HashSet::new();
        for &c in &children[i] {
            all.insert(c);
            all.extend(reach[c].iter().copied());
        }
        reach[i] = all;
    }
    let mut edges = Vec::new();
    for (i, kids) in children.iter().enumerate() {
        for &v in kids {
            let through_another = kids.iter().any(|&c| c != v && reach[c].contains(&v));
            if !through_another {
                edges.push((order[i], order[v]));
            }
        }
    }
    edges
}

/// Resources grouped by the cluster they live on (in dependency order),
/// then those on none: clusters themselves and what spans them.
fn by_cluster(graph: &Graph) -> (Vec<(&ResourceId, Vec<&Resource>)>, Vec<&Resource>) {
    let mut groups: Vec<(&ResourceId, Vec<&Resource>)> = Vec::new();
    let mut loose = Vec::new();
    for resource in graph.in_order() {
        match &resource.cluster {
            Some(cluster) => match groups.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, members)) => members.push(resource),
                None => groups.push((cluster, vec![resource])),
            },
            None => loose.push(resource),
        }
    }
    (groups, loose)
}

fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph stack {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    let node = |out: &mut String, indent: &str, resource: &Resource| {
        let _ = writeln!(
            out,
            "{indent}{:?} [label={:?}];",
            resource.id.as_str(),
            format!("{}\n{}", resource.kind, resource.name)
        );
    };
    let (groups, loose) = by_cluster(graph);
    for resource in loose {
        node(&mut out, "  ", resource);
    }
    for (i, (cluster, members)) in groups.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(out, "    label={:?};", cluster.as_str());
        for resource in members {
            node(&mut out, "    ", resource);
        }
        out.push_str("  }\n");
    }
    for (from, to) in reduced_edges(graph) {
        let _ = writeln!(out, "  {:?} -> {:?};", from.id.as_str(), to.id.as_str());
    }
    out.push_str("}\n");
    out
}

fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    let ids: HashMap<&str, usize> = graph
        .in_order()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let quoted = |text: &str| text.replace('"', "#quot;");
    let node = |out: &mut String, indent: &str, resource: &Resource| {
        let label = quoted(resource.id.as_str());
        let _ = writeln!(out, "{indent}n{}[\"{label}\"]", ids[resource.id.as_str()]);
    };
    let (groups, loose) = by_cluster(graph);
    for resource in loose {
        node(&mut out, "  ", resource);
    }
    for (i, (cluster, members)) in groups.iter().enumerate() {
        let _ = writeln!(out, "  subgraph c{i}[\"{}\"]", quoted(cluster.as_str()));
        for resource in members {
            node(&mut out, "    ", resource);
        }
        out.push_str("  end\n");
    }
    for (from, to) in reduced_edges(graph) {
        let _ = writeln!(
            out,
            "  n{} --> n{}",
            ids[from.id.as_str()],
            ids[to.id.as_str()]
        );
    }
    out
}
