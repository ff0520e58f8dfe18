//! The plan: what `run` would do to each resource, and why.
//!
//! Desired inputs are put in canonical form (outputs resolved where known,
//! secrets as salted hashes) and compared with what the state recorded.

mod diff;
mod json;
mod moves;
mod target;
mod text;

use std::collections::{BTreeMap, HashSet};

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::graph::Graph;
use crate::objects::KnownOutputs;
use crate::resource::{Kind, ResourceId};
use crate::state::State;
use crate::value::{OutputRef, Resolve};

pub use diff::{diff, FieldChange};
pub use json::field_json;
pub use target::{selection, UnknownTarget};
pub use text::{render_fields, render_text, Detail, Style};

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Create,
    /// Create by taking over what exists already and nobody owns
    /// (`adopt: true`): the live object is the "before".
    Adopt,
    Update,
    /// Delete, then create: an input changed that cannot change in place.
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Adopt => "<=",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => "=",
        }
    }
}

/// The planned change of one resource.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: ResourceId,
    pub kind: Kind,
    pub action: Action,
    /// Why a replace is needed.
    pub reason: Option<String>,
    /// Field-level differences (for a create: every input, from nothing).
    pub fields: Vec<FieldChange>,
    /// Outputs that will only be known after apply.
    pub unknown_outputs: Vec<String>,
    /// Canonical desired inputs and their hash (none for a delete).
    pub inputs: Option<Json>,
    pub inputs_hash: Option<String>,
    /// The id the state records it under, for a resource that moved.
    pub moved_from: Option<ResourceId>,
}

/// A whole plan, in execution order: creates and updates in dependency
/// order, then deletes with dependents first.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: String,
    pub changes: Vec<Change>,
    /// Parameters that differ from those of the last run.
    pub params: Vec<ParamChange>,
}

/// A parameter set differently than in the last run. Only that it differs
/// is known: the state keeps parameters as hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamChange {
    pub name: String,
    /// It was set in the last run.
    pub was_set: bool,
    /// It is set now (else the script's default applies).
    pub is_set: bool,
}

/// Parameters that differ between the last run and now; none for a stack
/// that has not run.
fn param_changes(graph: &Graph, state: &State) -> Vec<ParamChange> {
    if state.resources.is_empty() && state.params.is_empty() {
        return Vec::new();
    }
    let now = state.hashed_params(&graph.declarations.params);
    let names: std::collections::BTreeSet<&String> =
        state.params.keys().chain(now.keys()).collect();
    names
        .into_iter()
        .filter(|name| state.params.get(*name) != now.get(*name))
        .map(|name| ParamChange {
            name: name.clone(),
            was_set: state.params.contains_key(name),
            is_set: now.contains_key(name),
        })
        .collect()
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub adopt: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => s.create += 1,
                Action::Adopt => s.adopt += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.unchanged += 1,
            }
        }
        s
    }

    /// The deletes and replaces of resources declared with `protect: true`,
    /// or recorded so at their last apply: no run may carry them out.
    pub fn protected<'a>(&'a self, state: &State) -> Vec<&'a Change> {
        let protects = |inputs: Option<&Json>| {
            inputs
                .and_then(|i| i.get("protect"))
                .and_then(Json::as_bool)
                == Some(true)
        };
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
            .filter(|c| {
                protects(c.inputs.as_ref())
                    || protects(state.resources.get(&c.id).map(|r| &r.inputs))
            })
            .collect()
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn to_json(&self) -> Json {
        json::plan_json(self)
    }
}

/// Outputs resolvable at plan time: known at evaluation, or recorded in
/// state for a resource the plan leaves alone or updates in place.
struct PlanOutputs<'a> {
    known: KnownOutputs<'a>,
    recreated: &'a HashSet<ResourceId>,
}

impl Resolve for PlanOutputs<'_> {
    fn output(&self, output: &OutputRef) -> Option<Json> {
        let declared_known = self
            .known
            .graph
            .get(&output.resource)
            .is_some_and(|r| r.known_outputs.contains_key(&output.output));
        if !declared_known && self.recreated.contains(&output.resource) {
            return None;
        }
        self.known.output(output)
    }
}

impl Plan {
    /// Says of each delete that only forgets its record which provider
    /// deletes nothing (`forgotten`: id → provider).
    pub fn with_forgotten(
        mut self,
        forgotten: &std::collections::HashMap<ResourceId, &'static str>,
    ) -> Plan {
        for change in &mut self.changes {
            if change.action != Action::Delete || change.reason.is_some() {
                continue;
            }
            if let Some(provider) = forgotten.get(&change.id) {
                change.reason = Some(format!(
                    "only forgotten: the `{provider}` provider leaves it as it is"
                ));
            }
        }
        self
    }

    /// Turns creates that take over what exists into adoptions, showing
    /// what the apply changes in each live thing.
    pub fn with_adoptions(
        mut self,
        adoptions: &std::collections::HashMap<ResourceId, Vec<crate::provider::Adoption>>,
    ) -> Plan {
        for change in &mut self.changes {
            let Some(taken) = adoptions.get(&change.id).filter(|a| !a.is_empty()) else {
                continue;
            };
            if change.action != Action::Create {
                continue;
            }
            change.action = Action::Adopt;
            let what: Vec<&str> = taken.iter().map(|a| a.what.as_str()).collect();
            change.reason = Some(format!(
                "{} exists already and no stack owns it: `adopt: true` takes it over",
                what.join(", ")
            ));
            change.fields = taken
                .iter()
                .flat_map(|a| &a.changes)
                .map(FieldChange::from_drift)
                .collect();
        }
        self
    }

    /// Turns unchanged resources whose live objects drifted into updates
    /// that put them back (`--refresh`).
    pub fn with_drift(
        mut self,
        drifts: &std::collections::HashMap<ResourceId, Vec<crate::provider::Drift>>,
    ) -> Plan {
        for change in &mut self.changes {
            let Some(found) = drifts.get(&change.id) else {
                continue;
            };
            if change.action != Action::NoOp {
                continue;
            }
            change.action = Action::Update;
            change.reason = Some("changed outside the stack".into());
            change.fields = found.iter().map(FieldChange::from_drift).collect();
        }
        self
    }
}

/// sha256 of a canonical value.
pub fn hash(inputs: &Json) -> String {
    // Serialized straight into the digest: the same bytes as
    // `inputs.to_string()`, without holding them.
    let mut digest = Sha256::new();
    serde_json::to_writer(&mut digest, inputs).expect("a JSON value serializes into a digest");
    format!("sha256:{}", hex::encode(digest.finalize()))
}

/// Compares the graph with the state.
pub fn plan(graph: &Graph, state: &State) -> Plan {
    let mut recreated: HashSet<ResourceId> = HashSet::new();
    // Declared resources whose deletion a killed run began.
    let mut unfinished: HashSet<ResourceId> = HashSet::new();
    let mut changes = Vec::new();
    for resource in graph.in_order() {
        let resolve = PlanOutputs {
            known: KnownOutputs {
                graph,
                state: Some(state),
            },
            recreated: &recreated,
        };
        let inputs = crate::value::canonical_inputs(&resource.inputs, &resolve, &state.salt);
        let inputs_hash = hash(&inputs);
        let unknown_outputs = |all: bool| -> Vec<String> {
            resource
                .kind
                .outputs()
                .iter()
                .filter(|o| !resource.known_outputs.contains_key(o.name))
                .filter(|o| all || o.secret)
                .map(|o| o.name.to_string())
                .collect()
        };
        // What it needs may have gone with a resource whose deletion a
        // killed run began (the contents of a Namespace, say).
        let gone_with: Option<ResourceId> = state.resources.get(&resource.id).and_then(|r| {
            r.depends_on
                .iter()
                .find(|d| unfinished.contains(*d))
                .cloned()
        });
        let (action, reason, fields) = match state.resources.get(&resource.id) {
            None => (Action::Create, None, diff(&Json::Null, &inputs)),
            Some(recorded) if recorded.confirmed().is_none() => (
                Action::Create,
                Some("a run that did not finish began creating it".to_string()),
                diff(&Json::Null, &inputs),
            ),
            Some(recorded) if recorded.deleting => (
                Action::Replace,
                Some("a run that did not finish began deleting it".to_string()),
                diff(&recorded.inputs, &inputs),
            ),
            Some(recorded) if gone_with.is_some() => (
                Action::Replace,
                Some(format!(
                    "it may have gone with `{}`, whose deletion did not finish",
                    gone_with
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )),
                diff(&recorded.inputs, &inputs),
            ),
            Some(_)
                if resource
                    .cluster
                    .as_ref()
                    .is_some_and(|c| recreated.contains(c)) =>
            {
                let cluster = resource
                    .cluster
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let recorded = &state.resources[&resource.id];
                let fields = diff(&recorded.inputs, &inputs);
                (
                    Action::Replace,
                    Some(format!("its cluster `{cluster}` is replaced")),
                    fields,
                )
            }
            // One renamed by `stack state mv` is applied again, so that what
            // it made names its new id.
            Some(recorded)
                if recorded.moved_from.is_none()
                    && (recorded.inputs_hash == inputs_hash || recorded.inputs == inputs) =>
            {
                (Action::NoOp, None, Vec::new())
            }
            Some(recorded) => {
                let fields = diff(&recorded.inputs, &inputs);
                let forced: Vec<&str> = resource
                    .kind
                    .replace_on()
                    .iter()
                    .copied()
                    .filter(|key| recorded.inputs.get(key) != inputs.get(key))
                    .collect();
                if forced.is_empty() {
                    let moved = recorded
                        .moved_from
                        .as_ref()
                        .map(|from| format!("moved from `{from}` by `stack state mv`"));
                    (Action::Update, moved, fields)
                } else {
                    let keys: Vec<String> = forced.iter().map(|k| format!("`{k}`")).collect();
                    let reason = format!("{} cannot change in place", keys.join(", "));
                    (Action::Replace, Some(reason), fields)
                }
            }
        };
        if matches!(action, Action::Create | Action::Replace) {
            recreated.insert(resource.id.clone());
        }
        if state
            .resources
            .get(&resource.id)
            .is_some_and(|r| r.deleting)
        {
            unfinished.insert(resource.id.clone());
        }
        let unknown_outputs = match action {
            Action::Create | Action::Replace => unknown_outputs(true),
            _ => Vec::new(),
        };
        changes.push(Change {
            id: resource.id.clone(),
            kind: resource.kind,
            action,
            reason,
            fields,
            unknown_outputs,
            inputs: Some(inputs),
            inputs_hash: Some(inputs_hash),
            moved_from: state
                .resources
                .get(&resource.id)
                .and_then(|r| r.moved_from.clone()),
        });
    }
    changes.extend(deletes(graph, state));
    moves::detect(graph, state, &mut changes);
    for change in &mut changes {
        conceal_secret_data(change, state);
    }
    Plan {
        stack: graph.declarations.stack.clone(),
        changes,
        params: param_changes(graph, state),
    }
}

/// Hides the values of a declared Secret's data (literals in the script
/// included): a plan says which keys change, never what they hold.
fn conceal_secret_data(change: &mut Change, state: &State) {
    let secret = |inputs: Option<&Json>| {
        inputs
            .and_then(|i| i.get("object"))
            .is_some_and(crate::objects::is_secret)
    };
    if !secret(change.inputs.as_ref())
        && !secret(state.resources.get(&change.id).map(|r| &r.inputs))
    {
        return;
    }
    conceal_data_fields(&mut change.fields);
}

/// Hides the fields under a Secret object's data.
fn conceal_data_fields(fields: &mut [FieldChange]) {
    let holds_data = |path: &str| {
        crate::objects::SECRET_DATA.iter().any(|key| {
            path.strip_prefix("object.")
                .and_then(|rest| rest.strip_prefix(key))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    };
    for field in fields {
        if !field.sensitive && holds_data(&field.path) {
            *field = field.clone().concealed();
        }
    }
}

/// A record's inputs and outputs, leaf by leaf, as a plan shows them:
/// secrets and a Secret's data hidden (`stack state show`).
pub fn recorded_fields(
    record: &crate::state::ResourceState,
) -> (Vec<FieldChange>, Vec<FieldChange>) {
    let mut inputs = diff(&Json::Null, &record.inputs);
    if record
        .inputs
        .get("object")
        .is_some_and(crate::objects::is_secret)
    {
        conceal_data_fields(&mut inputs);
    }
    let outputs: serde_json::Map<String, Json> = record
        .outputs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (inputs, diff(&Json::Null, &Json::Object(outputs)))
}

/// Resources the state records that the graph no longer declares, ordered
/// so that whatever needed a resource is deleted before it.
fn deletes(graph: &Graph, state: &State) -> Vec<Change> {
    let gone: BTreeMap<&ResourceId, &crate::state::ResourceState> = state
        .resources
        .iter()
        .filter(|(id, _)| graph.get(id).is_none())
        .collect();
    let mut ordered: Vec<&ResourceId> = Vec::new();
    let mut placed: HashSet<&ResourceId> = HashSet::new();
    // Repeatedly take resources that nothing still-unplaced depends on.
    while ordered.len() < gone.len() {
        let before = ordered.len();
        for &id in gone.keys() {
            if placed.contains(id) {
                continue;
            }
            let needed_by_unplaced = gone.iter().any(|(other, r)| {
                !placed.contains(other)
                    && other != &id
                    && (r.depends_on.contains(id)
                        || r.cluster.as_ref() == Some(id)
                        || (r.kind != Kind::Cluster
                            && gone[id].kind == Kind::Cluster
                            && r.depends_on.is_empty()))
            });
            if !needed_by_unplaced {
                ordered.push(id);
            }
        }
        for id in &ordered[before..] {
            placed.insert(id);
        }
        if ordered.len() == before {
            // A cycle in recorded state: delete the rest in id order.
            ordered.extend(gone.keys().filter(|id| !placed.contains(*id)).copied());
            break;
        }
    }
    ordered
        .into_iter()
        .map(|id| {
            let recorded = &state.resources[id];
            Change {
                id: id.clone(),
                kind: recorded.kind,
                action: Action::Delete,
                reason: recorded
                    .confirmed()
                    .is_none()
                    .then(|| "a run that did not finish began creating it".to_string()),
                fields: diff(&recorded.inputs, &Json::Null),
                unknown_outputs: Vec::new(),
                inputs: None,
                inputs_hash: None,
                moved_from: None,
            }
        })
        .collect()
}
