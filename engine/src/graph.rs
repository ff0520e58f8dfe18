//! The dependency graph: which resource needs which, validated before
//! anything is planned. Ids must be unique, every reference must name a
//! declared resource, and there must be no cycle.

use std::collections::HashMap;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource};
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::declarations::Declarations;
use crate::resource::{Kind, Resource, ResourceId};
use crate::source::{group_labels, Sources, Span, SpanNote};
use crate::suggest;
use crate::value::Value;

/// A graph that failed validation.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum GraphError {
    /// Several independent problems, each its own diagnostic.
    #[error("{} problems in the stack", errors.len())]
    #[diagnostic(
        code(stack::graph::problems),
        help("each is shown below; fix them and check again")
    )]
    Many {
        #[related]
        errors: Vec<GraphError>,
    },
    /// Two declarations produce the same id.
    #[error("`{id}` is declared twice")]
    #[diagnostic(
        code(stack::graph::duplicate),
        help("ids are `<cluster>/<kind>/<name>`: give one of them another name")
    )]
    Duplicate {
        id: ResourceId,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
        #[related]
        notes: Vec<SpanNote>,
    },
    /// A `moved(...)` that cannot hold.
    #[error("{message}")]
    #[diagnostic(code(stack::graph::moved))]
    Moved {
        message: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("declared here")]
        span: miette::SourceSpan,
        #[help]
        help: Option<String>,
    },
    /// A `depends_on` names an id nothing declares.
    #[error("`{id}` is not declared")]
    #[diagnostic(code(stack::graph::dangling))]
    Dangling {
        id: ResourceId,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this refers to `{id}`, which no declaration creates")]
        span: miette::SourceSpan,
        #[help]
        help: Option<String>,
    },
    /// An Argo CD Application on a cluster without Argo CD.
    #[error("`{id}` is delivered by Argo CD, but cluster `{cluster}` has none")]
    #[diagnostic(
        code(stack::graph::no_argocd),
        help("install Argo CD first with `bootstrap(cluster)`, set `argocd_installed: true` on the cluster if it runs Argo CD already, or apply the chart directly with `via: \"helm\"`")
    )]
    NoArgoCd {
        id: ResourceId,
        cluster: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
        #[related]
        notes: Vec<SpanNote>,
    },
    /// A resource needs something the script does not declare.
    #[error("{message}")]
    #[diagnostic(code(stack::graph::unmet))]
    Unmet {
        message: String,
        #[help]
        help: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
        #[related]
        notes: Vec<SpanNote>,
    },
    /// Resources that need each other, directly or through others.
    #[error("dependency cycle: {path}")]
    #[diagnostic(
        code(stack::graph::cycle),
        help("a resource cannot need itself: remove one of these `depends_on` or references")
    )]
    Cycle {
        path: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
        #[related]
        notes: Vec<SpanNote>,
    },
}

/// A validated dependency graph. Edges point from a resource to the ones
/// that need it.
#[derive(Debug, Clone)]
pub struct Graph {
    pub declarations: Declarations,
    graph: DiGraph<usize, ()>,
    index: HashMap<ResourceId, NodeIndex>,
    /// Resource indices in a dependency order (needs first), stable: ties keep
    /// declaration order.
    order: Vec<usize>,
    /// What a GitOps cluster gets from `stack run` itself, not from git.
    direct: std::collections::HashSet<ResourceId>,
}

impl Graph {
    #[allow(
        clippy::result_large_err,
        reason = "a diagnostic carries its source text; it is built once, when a command fails"
    )]
    pub fn build(declarations: Declarations) -> Result<Graph, GraphError> {
        let sources = &declarations.sources;
        let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(
            declarations.resources.len(),
            declarations.resources.len() * 2,
        );
        let mut index: HashMap<ResourceId, NodeIndex> = HashMap::new();
        for (i, resource) in declarations.resources.iter().enumerate() {
            if let Some(&first) = index.get(&resource.id) {
                let first: &Resource = &declarations.resources[graph[first]];
                let (src, labels, notes) = group_labels(
                    sources,
                    &[
                        (first.span, "first declared here".into()),
                        (resource.span, "declared again here".into()),
                    ],
                );
                return Err(GraphError::Duplicate {
                    id: resource.id.clone(),
                    src,
                    labels,
                    notes,
                });
            }
            index.insert(resource.id.clone(), graph.add_node(i));
        }
        for (i, resource) in declarations.resources.iter().enumerate() {
            if let Some(own) = resource.depends_on.iter().find(|d| d.id == resource.id) {
                let (src, labels, notes) = group_labels(
                    sources,
                    &[(
                        own.span,
                        format!("`{}` depends on itself here", resource.id),
                    )],
                );
                return Err(GraphError::Cycle {
                    path: format!("{0} → {0}", resource.id),
                    src,
                    labels,
                    notes,
                });
            }
            // One edge per pair, found without `update_edge`: it searches
            // the edges of `from`, and a cluster has an edge to every
            // resource on it, which made building quadratic.
            let mut froms = Vec::new();
            for (need, span) in resource.needs() {
                let Some(&from) = index.get(&need) else {
                    return Err(dangling(sources, &index, &need, span));
                };
                froms.push(from);
            }
            froms.extend(implicit_needs(&declarations, &index, resource));
            froms.sort_unstable();
            froms.dedup();
            for from in froms {
                graph.add_edge(from, NodeIndex::new(i), ());
            }
        }
        // Independent checks: each problem they find is reported at once.
        let mut problems = check_argocd(&declarations, &index);
        problems.extend(check_requirements(&declarations));
        problems.extend(check_moves(&declarations, &index));
        if problems.len() > 1 {
            return Err(GraphError::Many { errors: problems });
        }
        if let Some(problem) = problems.pop() {
            return Err(problem);
        }
        if let Some(cycle) = find_cycle(&graph) {
            return Err(cycle_error(&declarations, &graph, &cycle));
        }
        let order = stable_topological_order(&graph);
        let direct = crate::delivery::applied_directly(&declarations);
        Ok(Graph {
            declarations,
            graph,
            index,
            order,
            direct,
        })
    }

    /// Whether `id`, on a GitOps cluster, is applied by `stack run` itself
    /// rather than written to git (see `delivery.rs`).
    pub fn applied_directly(&self, id: &ResourceId) -> bool {
        self.direct.contains(id)
    }

    /// Sets an input settled after evaluation, like the exact chart version
    /// a constraint resolves to. The value refers to no other resource:
    /// edges are not rebuilt. False when there is no such resource.
    pub fn settle_input(&mut self, id: &ResourceId, key: &str, value: Value) -> bool {
        match self.index.get(id) {
            Some(&n) => {
                let i = self.graph[n];
                self.declarations.resources[i]
                    .inputs
                    .insert(key.to_string(), value);
                true
            }
            None => false,
        }
    }

    pub fn resources(&self) -> &[Resource] {
        &self.declarations.resources
    }

    pub fn sources(&self) -> &Sources {
        &self.declarations.sources
    }

    pub fn get(&self, id: &ResourceId) -> Option<&Resource> {
        self.index
            .get(id)
            .map(|&n| &self.declarations.resources[self.graph[n]])
    }

    /// Resources in dependency order: everything a resource needs comes before it.
    pub fn in_order(&self) -> impl Iterator<Item = &Resource> {
        self.order.iter().map(|&i| &self.declarations.resources[i])
    }

    /// The resources `id` needs directly, in declaration order.
    pub fn needs(&self, id: &ResourceId) -> Vec<&Resource> {
        self.neighbours(id, Direction::Incoming)
    }

    /// The resources that need `id` directly, in declaration order.
    pub fn needed_by(&self, id: &ResourceId) -> Vec<&Resource> {
        self.neighbours(id, Direction::Outgoing)
    }

    fn neighbours(&self, id: &ResourceId, direction: Direction) -> Vec<&Resource> {
        let Some(&node) = self.index.get(id) else {
            return Vec::new();
        };
        let mut found: Vec<usize> = self
            .graph
            .neighbors_directed(node, direction)
            .map(|n| self.graph[n])
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .map(|i| &self.declarations.resources[i])
            .collect()
    }

    /// Length of the longest chain of needs below each resource: 0 for
    /// resources that need nothing. Argo CD sync waves are derived from it.
    pub fn depths(&self) -> HashMap<ResourceId, usize> {
        let mut depth: HashMap<NodeIndex, usize> = HashMap::new();
        for &i in &self.order {
            let node = NodeIndex::new(i);
            let d = self
                .graph
                .neighbors_directed(node, Direction::Incoming)
                .map(|n| depth.get(&n).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0);
            depth.insert(node, d);
        }
        depth
            .into_iter()
            .map(|(n, d)| (self.declarations.resources[self.graph[n]].id.clone(), d))
            .collect()
    }

    /// Every edge as (needed, needing), in a stable order.
    pub fn edges(&self) -> Vec<(&Resource, &Resource)> {
        let mut edges: Vec<(usize, usize)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a], self.graph[b]))
            .collect();
        edges.sort_unstable_by_key(|&(a, b)| (b, a));
        let resources = &self.declarations.resources;
        edges
            .into_iter()
            .map(|(a, b)| (&resources[a], &resources[b]))
            .collect()
    }
}

/// Edges nobody wrote but everyone means: an Argo CD Application needs its
/// cluster's Argo CD, and objects going into a namespace declared in the
/// stack need that namespace.
fn implicit_needs(
    declarations: &Declarations,
    index: &HashMap<ResourceId, NodeIndex>,
    resource: &Resource,
) -> Vec<NodeIndex> {
    let Some(cluster) = resource
        .cluster
        .as_ref()
        .and_then(|c| declarations.resources.get(index.get(c)?.index()))
    else {
        return Vec::new();
    };
    let mut needs = Vec::new();
    let mut add = |id: ResourceId| {
        if id != resource.id {
            if let Some(&n) = index.get(&id) {
                needs.push(n);
            }
        }
    };
    if crate::objects::delivered_by_argocd(resource) {
        add(ResourceId::of(
            Kind::Bootstrap,
            Some(&cluster.name),
            "argocd",
        ));
    }
    if let Some(namespace) = resource.target_namespace() {
        add(ResourceId::of(
            Kind::Namespace,
            Some(&cluster.name),
            namespace,
        ));
    }
    for requirement in declarations
        .requirements
        .iter()
        .filter(|r| r.resource == resource.id)
    {
        if let Some(met) = requirement.met_in(&declarations.resources) {
            add(met.id.clone());
        }
    }
    needs
}

/// Every requirement is met by something the script declares.
fn check_requirements(declarations: &Declarations) -> Vec<GraphError> {
    let mut problems = Vec::new();
    for requirement in &declarations.requirements {
        if requirement.met_in(&declarations.resources).is_some() {
            continue;
        }
        let find = |id: &ResourceId| declarations.resources.iter().find(|r| &r.id == id);
        let (Some(resource), Some(cluster)) =
            (find(&requirement.resource), find(&requirement.cluster))
        else {
            continue;
        };
        let (src, labels, notes) = group_labels(
            &declarations.sources,
            &[
                (resource.span, "declared here".into()),
                (cluster.span, "on this cluster".into()),
            ],
        );
        problems.push(GraphError::Unmet {
            message: requirement.missing.clone(),
            help: requirement.help.clone(),
            src,
            labels,
            notes,
        });
    }
    problems
}

/// An Argo CD Application applied directly needs Argo CD on the cluster:
/// a `bootstrap`, or the cluster saying Argo CD is installed already.
fn check_argocd(
    declarations: &Declarations,
    index: &HashMap<ResourceId, NodeIndex>,
) -> Vec<GraphError> {
    let mut problems = Vec::new();
    let bootstrapped: std::collections::HashSet<&ResourceId> = declarations
        .resources
        .iter()
        .filter(|r| r.kind == Kind::Bootstrap)
        .filter_map(|r| r.cluster.as_ref())
        .collect();
    for resource in &declarations.resources {
        if !crate::objects::delivered_by_argocd(resource) {
            continue;
        }
        let Some(cluster) = resource
            .cluster
            .as_ref()
            .and_then(|c| declarations.resources.get(index.get(c)?.index()))
        else {
            continue;
        };
        let direct = cluster.input_str("delivery").unwrap_or("direct") == "direct";
        let installed = matches!(
            cluster.input("argocd_installed"),
            Some(crate::Value::Bool(true))
        );
        if direct && !installed && !bootstrapped.contains(&cluster.id) {
            let (src, labels, notes) = group_labels(
                &declarations.sources,
                &[
                    (resource.span, "an Argo CD Application".into()),
                    (cluster.span, "on this cluster, which has no Argo CD".into()),
                ],
            );
            problems.push(GraphError::NoArgoCd {
                id: resource.id.clone(),
                cluster: cluster.name.clone(),
                src,
                labels,
                notes,
            });
        }
    }
    problems
}

/// Each `moved` goes to a declared resource, from one the script no longer
/// declares, and each old id moves once.
fn check_moves(
    declarations: &Declarations,
    index: &HashMap<ResourceId, NodeIndex>,
) -> Vec<GraphError> {
    let mut problems = Vec::new();
    let fail = |moved: &crate::declarations::Moved, message: String, help: Option<String>| {
        GraphError::Moved {
            message,
            src: declarations.sources.named(moved.span.source),
            span: moved.span.source_span(),
            help,
        }
    };
    for (i, moved) in declarations.moves.iter().enumerate() {
        if !index.contains_key(&moved.to) {
            let mut known: Vec<&str> = index.keys().map(ResourceId::as_str).collect();
            known.sort_unstable();
            problems.push(fail(
                moved,
                format!("`{}` is moved to `{}`, which this script does not declare", moved.from, moved.to),
                suggest::did_you_mean(moved.to.as_str(), known)
                    .or_else(|| Some("`to` is the new declaration: its handle, or its id as `stack check` lists it".into())),
            ));
            continue;
        }
        if index.contains_key(&moved.from) {
            problems.push(fail(
                moved,
                format!(
                    "`{}` is moved to `{}`, but the script still declares it",
                    moved.from, moved.to
                ),
                Some("a move renames: remove the old declaration, or this `moved`".into()),
            ));
            continue;
        }
        if let Some(first) = declarations.moves[..i]
            .iter()
            .find(|m| m.from == moved.from)
        {
            problems.push(fail(
                moved,
                format!(
                    "`{}` is moved twice: to `{}` and to `{}`",
                    moved.from, first.to, moved.to
                ),
                Some("one record can become one resource: keep one of the two".into()),
            ));
        }
    }
    problems
}

fn dangling(
    sources: &Sources,
    index: &HashMap<ResourceId, NodeIndex>,
    id: &ResourceId,
    span: Span,
) -> GraphError {
    let mut known: Vec<&str> = index.keys().map(ResourceId::as_str).collect();
    known.sort_unstable();
    GraphError::Dangling {
        id: id.clone(),
        src: sources.named(span.source),
        span: span.source_span(),
        help: suggest::did_you_mean(id.as_str(), known)
            .or_else(|| Some("`stack check` lists every declared id".into())),
    }
}

/// A cycle as a list of nodes, each needing the next, or none.
fn find_cycle(graph: &DiGraph<usize, ()>) -> Option<Vec<NodeIndex>> {
    for component in tarjan_scc(graph) {
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() < 2 && !self_loop {
            continue;
        }
        // Walk inside the component from its earliest declaration until a node repeats.
        let start = *component.iter().min_by_key(|n| graph[**n])?;
        let mut path = vec![start];
        let mut current = start;
        loop {
            let next = graph
                .neighbors_directed(current, Direction::Outgoing)
                .filter(|n| component.contains(n))
                .min_by_key(|n| graph[*n])?;
            if let Some(pos) = path.iter().position(|&n| n == next) {
                return Some(path.split_off(pos));
            }
            path.push(next);
            current = next;
        }
    }
    None
}

fn cycle_error(
    declarations: &Declarations,
    graph: &DiGraph<usize, ()>,
    cycle: &[NodeIndex],
) -> GraphError {
    let resources: Vec<&Resource> = cycle
        .iter()
        .map(|&n| &declarations.resources[graph[n]])
        .collect();
    let mut path: Vec<String> = resources.iter().map(|r| r.id.to_string()).collect();
    path.push(resources[0].id.to_string());
    let labels: Vec<(Span, String)> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let next = resources[(i + 1) % resources.len()];
            (r.span, format!("`{}` is needed by `{}`", r.id, next.id))
        })
        .collect();
    let (src, labels, notes) = group_labels(&declarations.sources, &labels);
    GraphError::Cycle {
        path: path.join(" → "),
        src,
        labels,
        notes,
    }
}

/// Kahn's algorithm with a min-heap on declaration order, so the order is
/// deterministic and reads like the script.
fn stable_topological_order(graph: &DiGraph<usize, ()>) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = graph
        .node_indices()
        .filter(|n| indegree[n.index()] == 0)
        .map(|n| Reverse(graph[n]))
        .collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for next in graph.neighbors_directed(NodeIndex::new(i), Direction::Outgoing) {
            indegree[next.index()] -= 1;
            if indegree[next.index()] == 0 {
                ready.push(Reverse(graph[next]));
            }
        }
    }
    debug_assert!(toposort(graph, None).is_ok());
    order
}
