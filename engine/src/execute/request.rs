//! What a provider is asked for a step: the request, built from the
//! declaration (or the record, for a delete), the outputs known so far and
//! the cluster it goes to.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value as Json;

use super::error::StepError;
use super::schedule::Run;
use super::{Executor, Outputs, RunOutputs};
use crate::objects::{self, ObjectsError};
use crate::ownership::Owner;
use crate::provider::{ApplyRequest, ClusterTarget, DeleteRequest, ProgressSink, ProviderError};
use crate::resource::{Resource, ResourceId};
use crate::state::{ResourceState, State};
use crate::value::{self, OutputRef, Value};

impl Executor<'_> {
    /// How long a resource may take: its `timeout` input, else the run's.
    fn timeout(&self, inputs: &Json) -> Duration {
        inputs
            .get("timeout")
            .and_then(Json::as_str)
            .and_then(crate::duration::parse)
            .unwrap_or(self.options.default_timeout)
    }

    /// The one way to the cluster a resource lives on: as declared (its
    /// inputs with the outputs known so far), else as the state recorded it
    /// (for a cluster no longer declared).
    pub(super) fn cluster_target(
        &self,
        cluster: &ResourceId,
        state: &State,
        outputs: &Outputs,
    ) -> Option<ClusterTarget> {
        let known = outputs.get(cluster).cloned().unwrap_or_default();
        if let Some(declared) = self.graph.get(cluster) {
            let resolve = RunOutputs {
                graph: self.graph,
                outputs,
            };
            let inputs = Value::Map(declared.inputs.clone())
                .materialize(&resolve)
                .unwrap_or(Json::Null);
            return Some(ClusterTarget::new(cluster.clone(), inputs, known));
        }
        let recorded = state.resources.get(cluster)?;
        Some(ClusterTarget::new(
            cluster.clone(),
            recorded.inputs.clone(),
            recorded.outputs.clone(),
        ))
    }

    /// The request to delete what `recorded` holds of `id`.
    pub(super) fn delete_request(
        &self,
        id: &ResourceId,
        recorded: ResourceState,
        run: &Run,
        progress: ProgressSink,
    ) -> DeleteRequest {
        DeleteRequest {
            id: id.clone(),
            kind: recorded.kind,
            timeout: self.timeout(&recorded.inputs),
            cluster: recorded
                .cluster
                .as_ref()
                .and_then(|c| self.cluster_target(c, &run.state, &run.outputs)),
            recorded,
            owner: self.owner(&run.state, id),
            progress,
        }
    }

    /// Builds the request for a resource, reading back sensitive outputs it
    /// needs from resources applied by an earlier run.
    pub(super) async fn request(
        &self,
        resource: &Resource,
        state: &State,
        outputs: &mut Outputs,
        depths: &HashMap<ResourceId, usize>,
    ) -> Result<ApplyRequest, ProviderError> {
        let mut missing_secrets: Vec<OutputRef> = Vec::new();
        for value in resource.inputs.values() {
            value.visit_refs(&mut |_, r| {
                if let Some(r) = r.filter(|r| r.secret) {
                    let recorded = outputs.get(&r.resource).and_then(|o| o.get(&r.output));
                    let hashed = recorded.is_none_or(value::hides_secret);
                    if hashed && !missing_secrets.contains(r) {
                        missing_secrets.push(r.clone());
                    }
                }
            });
        }
        for r in missing_secrets {
            let Some(producer) = self.graph.get(&r.resource) else {
                continue;
            };
            let request = self.plain_request(producer, state, outputs, depths)?;
            let provider = self.router.route(request.route_key())?;
            let read = provider.read_outputs(&request).await?;
            let value =
                read.get(&r.output)
                    .cloned()
                    .ok_or_else(|| StepError::SecretNotReadable {
                        resource: resource.id.clone(),
                        output: r.clone(),
                    })?;
            outputs
                .entry(r.resource.clone())
                .or_default()
                .insert(r.output.clone(), value);
        }
        self.plain_request(resource, state, outputs, depths)
    }

    /// The request for a resource from what is known now, reading nothing.
    pub(super) fn plain_request(
        &self,
        resource: &Resource,
        state: &State,
        outputs: &Outputs,
        depths: &HashMap<ResourceId, usize>,
    ) -> Result<ApplyRequest, ProviderError> {
        let resolve = RunOutputs {
            graph: self.graph,
            outputs,
        };
        let unknown = |output: OutputRef| StepError::Unreported {
            resource: resource.id.clone(),
            output,
        };
        let inputs = Value::Map(resource.inputs.clone())
            .materialize(&resolve)
            .map_err(unknown)?;
        let objects = objects::objects(self.graph, resource, &resolve)
            .map_err(|ObjectsError::Unknown(r)| unknown(r))?;
        let cluster = resource
            .cluster
            .as_ref()
            .and_then(|c| self.cluster_target(c, state, outputs));
        let base = cluster
            .as_ref()
            .and_then(|c| depths.get(&c.id))
            .map_or(0, |d| d + 1);
        let recorded = state.resources.get(&resource.id);
        Ok(ApplyRequest {
            id: resource.id.clone(),
            kind: resource.kind,
            name: resource.name.clone(),
            wait: inputs.get("wait").and_then(Json::as_bool).unwrap_or(true),
            direct: self.applied_directly(state, resource),
            timeout: self.timeout(&inputs),
            inputs,
            objects,
            cluster,
            previous: recorded.and_then(ResourceState::confirmed),
            unconfirmed: recorded
                .map(|r| r.unconfirmed_objects().to_vec())
                .unwrap_or_default(),
            wave: depths
                .get(&resource.id)
                .copied()
                .unwrap_or(0)
                .saturating_sub(base),
            owner: self.owner(state, &resource.id),
            progress: ProgressSink::default(),
        })
    }

    /// The owner of what `id` makes in this stack.
    pub(super) fn owner(&self, state: &State, id: &ResourceId) -> Owner {
        Owner {
            stack: self.graph.declarations.stack.clone(),
            identity: state.identity.clone(),
            resource: id.clone(),
        }
    }
}
