//! Moves: a resource the script no longer declares and a new one that
//! stand for the same live things — the same Kubernetes objects on the same
//! cluster (a Namespace rewritten as a `manifest`, a cluster handle renamed
//! on the same context) — are one resource under a new id. The plan shows
//! the new one as an update "moved from" the old, the run rekeys the state
//! and re-marks the objects' ownership, and nothing is deleted and made anew.
//! Renames no live object tells (a module that changed how it names its
//! resources) are declared with `moved(#{ from, to })` and taken as they are.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value as Json;

use super::{diff, Action, Change};
use crate::graph::Graph;
use crate::objects::{self, KnownOutputs};
use crate::resource::{Kind, ResourceId};
use crate::state::State;

/// An object's identity for matching: group, kind, namespace, name.
type Identity = (String, String, Option<String>, String);

fn group(api_version: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => group.to_string(),
        None => String::new(),
    }
}

/// Turns each pair of a delete and a create that are the same thing into
/// one move, in place.
pub(super) fn detect(graph: &Graph, state: &State, changes: &mut Vec<Change>) {
    let deleted: Vec<ResourceId> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.id.clone())
        .collect();
    if deleted.is_empty() {
        return;
    }
    let mut moves: HashMap<ResourceId, ResourceId> = HashMap::new();
    // Declared moves of what the state records under the old id only.
    for moved in &graph.declarations.moves {
        let creates = changes
            .iter()
            .any(|c| c.id == moved.to && c.action == Action::Create);
        if creates && deleted.contains(&moved.from) {
            moves.insert(moved.to.clone(), moved.from.clone());
        }
    }
    // Clusters first: what lives on them matches through them.
    for kind_pass in [true, false] {
        for change in changes.iter() {
            if change.action != Action::Create
                || (change.kind == Kind::Cluster) != kind_pass
                || moves.contains_key(&change.id)
            {
                continue;
            }
            let found = deleted
                .iter()
                .filter(|old| !moves.values().any(|taken| taken == *old))
                .find(|old| same_thing(graph, state, change, old, &moves));
            if let Some(old) = found {
                moves.insert(change.id.clone(), old.clone());
            }
        }
    }
    if moves.is_empty() {
        return;
    }
    changes.retain(|c| !(c.action == Action::Delete && moves.values().any(|old| *old == c.id)));
    for change in changes.iter_mut() {
        let Some(old) = moves.get(&change.id) else {
            continue;
        };
        let recorded = &state.resources[old];
        change.action = Action::Update;
        change.reason = Some(format!("moved from `{old}`"));
        change.fields = diff(
            &recorded.inputs,
            change.inputs.as_ref().unwrap_or(&Json::Null),
        );
        change.moved_from = Some(old.clone());
        change.unknown_outputs.clear();
    }
}

/// Whether the planned create `new` stands for what the state records as
/// `old`.
fn same_thing(
    graph: &Graph,
    state: &State,
    new: &Change,
    old: &ResourceId,
    moves: &HashMap<ResourceId, ResourceId>,
) -> bool {
    let (Some(recorded), Some(declared)) = (state.resources.get(old), graph.get(&new.id)) else {
        return false;
    };
    if new.kind == Kind::Cluster {
        // A cluster reached the same way: only `existing` clusters are
        // found by their inputs alone (others are named by their id).
        return recorded.kind == Kind::Cluster
            && declared.input_str("provider") == Some("existing")
            && new.inputs.as_ref() == Some(&recorded.inputs);
    }
    let same_cluster = declared.cluster == recorded.cluster
        || declared
            .cluster
            .as_ref()
            .is_some_and(|c| moves.get(c) == recorded.cluster.as_ref());
    if !same_cluster || recorded.objects.is_empty() {
        return false;
    }
    let resolve = KnownOutputs {
        graph,
        state: Some(state),
    };
    let Ok(desired) = objects::objects(graph, declared, &resolve) else {
        return false;
    };
    let desired: BTreeSet<Identity> = desired.iter().filter_map(identity).collect();
    let recorded: BTreeSet<Identity> = recorded
        .objects
        .iter()
        .map(|o| {
            (
                group(&o.api_version),
                o.kind.clone(),
                o.namespace.clone(),
                o.name.clone(),
            )
        })
        .collect();
    desired == recorded
}

fn identity(object: &Json) -> Option<Identity> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Json::as_str);
    Some((
        group(text("/apiVersion")?),
        text("/kind")?.to_string(),
        text("/metadata/namespace").map(str::to_string),
        text("/metadata/name")?.to_string(),
    ))
}
