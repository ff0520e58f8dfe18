//! What the state records around a step: the intent before it (so that a
//! killed run finds what it was making), the record after it, and records
//! that follow a moved declaration.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Executor, Outputs, RunOutputs};
use crate::objects;
use crate::plan::{hash, Change, Plan};
use crate::provider::{Applied, ApplyRequest};
use crate::resource::{Kind, Resource, ResourceId};
use crate::state::{Intent, ObjectRef, ResourceState, State};
use crate::value;

/// A moved resource is the same one under its new id: its record goes
/// with it (and what named it, names it anew), and its apply re-marks
/// what it owns. True when anything moved.
pub(super) fn move_records(plan: &Plan, state: &mut State) -> bool {
    let mut moved = false;
    for change in &plan.changes {
        let Some(from) = &change.moved_from else {
            continue;
        };
        moved = true;
        state.rename(from, &change.id);
    }
    moved
}

impl Executor<'_> {
    /// Records in `state` what `request` is about to make that the state
    /// does not hold yet (the resource itself, or objects it gains); true
    /// when there is such a thing, and the state must be saved before the
    /// apply begins.
    pub(super) fn write_intent(
        &self,
        state: &mut State,
        resource: &Resource,
        change: &Change,
        request: &ApplyRequest,
    ) -> bool {
        let recorded = state.resources.get(&resource.id);
        let first = recorded.is_none_or(|r| r.confirmed().is_none());
        let mut objects: Vec<ObjectRef> = recorded
            .map(|r| r.unconfirmed_objects().to_vec())
            .unwrap_or_default();
        for object in request.objects.iter().filter_map(objects::object_ref) {
            let held = recorded.is_some_and(|r| r.objects.contains(&object));
            if !held && !objects.contains(&object) {
                objects.push(object);
            }
        }
        if !first && objects.is_empty() {
            return false;
        }
        let intent = Some(Intent { first, objects });
        match state.resources.get_mut(&resource.id) {
            Some(recorded) if !first => recorded.intent = intent,
            _ => {
                let inputs = change.inputs.clone().unwrap_or(Json::Null);
                state.resources.insert(
                    resource.id.clone(),
                    ResourceState {
                        kind: resource.kind,
                        inputs_hash: change.inputs_hash.clone().unwrap_or_else(|| hash(&inputs)),
                        inputs,
                        outputs: BTreeMap::new(),
                        objects: Vec::new(),
                        depends_on: self.needed_ids(&resource.id),
                        cluster: resource.cluster.clone(),
                        direct: request.direct,
                        deleting: false,
                        intent,
                        moved_from: None,
                    },
                );
            }
        }
        true
    }

    /// Whether `resource` reaches a GitOps cluster from the run rather than
    /// through git: as the graph says, except that a namespace an earlier
    /// run delivered through git stays there. Moving it would leave its file
    /// in git, with Argo CD owning the namespace as well as the stack.
    pub(super) fn applied_directly(&self, state: &State, resource: &Resource) -> bool {
        let through_git = state
            .resources
            .get(&resource.id)
            .is_some_and(|r| r.kind == Kind::Namespace && !r.direct);
        self.graph.applied_directly(&resource.id) && !through_git
    }

    /// What the state records `id` as needing: deletes go the other way.
    fn needed_ids(&self, id: &ResourceId) -> Vec<ResourceId> {
        self.graph.needs(id).iter().map(|r| r.id.clone()).collect()
    }

    /// Writes a completed resource into the state and the run's outputs.
    pub(super) fn record(
        &self,
        state: &mut State,
        outputs: &mut Outputs,
        resource: &Resource,
        applied: &Applied,
    ) {
        let mut reported = applied.outputs.clone();
        {
            let resolve = RunOutputs {
                graph: self.graph,
                outputs,
            };
            for (name, value) in &resource.known_outputs {
                if let Ok(v) = value.materialize(&resolve) {
                    reported.entry(name.clone()).or_insert(v);
                }
            }
        }
        outputs.insert(resource.id.clone(), reported.clone());
        let resolve = RunOutputs {
            graph: self.graph,
            outputs,
        };
        let inputs = crate::value::canonical_inputs(&resource.inputs, &resolve, &state.salt);
        let recorded_outputs = reported
            .into_iter()
            .map(|(name, output)| {
                let secret = resource.kind.output(&name).is_some_and(|o| o.secret);
                if secret {
                    (name, value::redacted_output(&output, &state.salt))
                } else {
                    (name, output)
                }
            })
            .collect();
        let direct = self.applied_directly(state, resource);
        for object in &applied.objects {
            state.forgotten.remove(object);
        }
        state.resources.insert(
            resource.id.clone(),
            ResourceState {
                kind: resource.kind,
                inputs_hash: hash(&inputs),
                inputs,
                outputs: recorded_outputs,
                objects: applied.objects.clone(),
                depends_on: self.needed_ids(&resource.id),
                cluster: resource.cluster.clone(),
                direct,
                deleting: false,
                intent: None,
                moved_from: None,
            },
        );
    }
}
