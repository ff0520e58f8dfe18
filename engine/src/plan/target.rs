//! `--target`: a plan narrowed to some resources. A declared target comes
//! with everything it needs (they are applied first); one the script no
//! longer declares — all of them, for `destroy` — comes with every record
//! that needs it or lives on it (they are deleted first).

use std::collections::HashSet;

use super::Plan;
use crate::graph::Graph;
use crate::resource::ResourceId;
use crate::state::State;

/// A target that is neither declared nor recorded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`--target {id}` is not a resource of this stack")]
#[diagnostic(code(stack::cli::target))]
pub struct UnknownTarget {
    pub id: ResourceId,
    #[help]
    pub help: Option<String>,
}

/// The resources `targets` select, in `graph` and `state`.
pub fn selection(
    graph: &Graph,
    state: &State,
    targets: &[ResourceId],
) -> Result<HashSet<ResourceId>, UnknownTarget> {
    let mut keep: HashSet<ResourceId> = HashSet::new();
    let mut needed: Vec<ResourceId> = Vec::new();
    let mut needing: Vec<ResourceId> = Vec::new();
    for target in targets {
        if graph.get(target).is_some() {
            needed.push(target.clone());
        } else if state.resources.contains_key(target) {
            needing.push(target.clone());
        } else {
            let known = graph
                .resources()
                .iter()
                .map(|r| r.id.as_str())
                .chain(state.resources.keys().map(ResourceId::as_str));
            return Err(UnknownTarget {
                id: target.clone(),
                help: crate::suggest::did_you_mean(target.as_str(), known)
                    .or_else(|| Some("`stack check` lists every declared id, `stack state list` every recorded one".into())),
            });
        }
    }
    while let Some(id) = needed.pop() {
        if keep.insert(id.clone()) {
            needed.extend(graph.needs(&id).into_iter().map(|r| r.id.clone()));
        }
    }
    while let Some(id) = needing.pop() {
        if keep.insert(id.clone()) {
            let dependents = state
                .resources
                .iter()
                .filter(|(_, r)| r.depends_on.contains(&id) || r.cluster.as_ref() == Some(&id));
            // A dependent still declared is not deleted: it stays out.
            needing.extend(
                dependents
                    .filter(|(other, _)| graph.get(other).is_none())
                    .map(|(other, _)| other.clone()),
            );
        }
    }
    Ok(keep)
}

impl Plan {
    /// The plan of the selected resources only.
    pub fn only(mut self, selected: &HashSet<ResourceId>) -> Plan {
        self.changes.retain(|c| selected.contains(&c.id));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::namespace_record;

    #[test]
    fn a_recorded_target_brings_what_needs_it_and_an_unknown_one_is_refused() {
        let graph = Graph::build(crate::Declarations::new("dev", ".")).expect("empty");
        let mut state = State::empty("dev");
        for name in ["apps", "web", "other"] {
            let (id, record) = namespace_record(name);
            state.resources.insert(id, record);
        }
        let (apps, web) = (
            ResourceId::from("c/namespace/apps"),
            ResourceId::from("c/namespace/web"),
        );
        state.resources.get_mut(&web).expect("web").depends_on = vec![apps.clone()];
        let selected = selection(&graph, &state, std::slice::from_ref(&apps)).expect("known");
        assert_eq!(selected, HashSet::from([apps, web]));
        let unknown = selection(&graph, &state, &[ResourceId::from("c/namespace/aps")]);
        assert!(unknown
            .expect_err("refused")
            .help
            .is_some_and(|h| h.contains("c/namespace/apps")));
    }
}
