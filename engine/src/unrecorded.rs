//! What carries a stack's mark on its clusters but no record of its state
//! holds: objects a run applied and did not live to record (a state from
//! before write-ahead intents, or restored from an older copy). They are
//! folded into the state as unconfirmed, so that `destroy` and prune treat
//! them like the rest: deleted if, when the time comes, they still carry
//! this stack's mark.

use serde_json::Value as Json;

use crate::ownership::Owner;
use crate::provider::{ClusterTarget, ProviderError, RouteKey, Router};
use crate::resource::{Kind, ResourceId};
use crate::state::{Intent, ObjectRef, ResourceState, State};

/// A cluster that could not be searched: what the state records is still
/// acted on, only the unrecorded is not found.
#[derive(Debug)]
pub struct Unsearched {
    pub cluster: ResourceId,
    pub error: ProviderError,
}

/// Searches every cluster the state records and folds what carries the
/// mark of `stack` (with the state's identity) into `state`. Returns the
/// objects found and the clusters that could not be searched.
pub async fn fold_into(
    state: &mut State,
    stack: &str,
    router: &dyn Router,
) -> (Vec<ObjectRef>, Vec<Unsearched>) {
    let clusters: Vec<ResourceId> = state
        .resources
        .iter()
        .filter(|(_, r)| r.kind == Kind::Cluster && r.confirmed().is_some())
        .map(|(id, _)| id.clone())
        .collect();
    let (mut found, mut unsearched) = (Vec::new(), Vec::new());
    for cluster in clusters {
        let Some(target) = ClusterTarget::recorded(state, &cluster) else {
            continue;
        };
        let owner = Owner {
            stack: stack.to_string(),
            identity: state.identity.clone(),
            resource: cluster.clone(),
        };
        let key = RouteKey {
            kind: Kind::Manifest,
            inputs: &Json::Null,
            cluster: Some(&target),
            direct: false,
        };
        let marked = match router.route(key) {
            Ok(provider) => provider.marked(&target, &owner).await,
            Err(error) => Err(error),
        };
        match marked {
            Ok(marked) => {
                for (resource, object) in marked {
                    if state.forgotten.contains(&object) {
                        continue;
                    }
                    if fold(state, &cluster, resource, &object) {
                        found.push(object);
                    }
                }
            }
            Err(error) => unsearched.push(Unsearched { cluster, error }),
        }
    }
    (found, unsearched)
}

/// Adds `object` to what `resource` may have applied on `cluster`; true
/// when the state did not know it.
fn fold(state: &mut State, cluster: &ResourceId, resource: ResourceId, object: &ObjectRef) -> bool {
    let known =
        |r: &ResourceState| r.objects.contains(object) || r.unconfirmed_objects().contains(object);
    match state.resources.get_mut(&resource) {
        Some(recorded) if known(recorded) => false,
        Some(recorded) => {
            let first = recorded.confirmed().is_none();
            recorded
                .intent
                .get_or_insert(Intent {
                    first,
                    objects: Vec::new(),
                })
                .objects
                .push(object.clone());
            true
        }
        None => {
            state.resources.insert(
                resource,
                ResourceState {
                    kind: Kind::Manifest,
                    inputs_hash: String::new(),
                    inputs: Json::Object(Default::default()),
                    outputs: Default::default(),
                    objects: Vec::new(),
                    depends_on: Vec::new(),
                    cluster: Some(cluster.clone()),
                    direct: false,
                    deleting: false,
                    intent: Some(Intent {
                        first: true,
                        objects: vec![object.clone()],
                    }),
                    moved_from: None,
                },
            );
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shared".into()),
            name: name.into(),
        }
    }

    #[test]
    fn an_unrecorded_object_joins_its_resource_or_a_record_of_its_own() {
        let mut state = State::empty("web");
        let cluster = ResourceId::new("cluster/t");
        let known = ResourceId::new("t/manifest/ConfigMap/shared/a");
        assert!(fold(&mut state, &cluster, known.clone(), &object("a")));
        assert!(
            !fold(&mut state, &cluster, known.clone(), &object("a")),
            "found twice"
        );
        let recorded = &state.resources[&known];
        assert!(recorded.confirmed().is_none(), "never confirmed");
        assert_eq!(recorded.unconfirmed_objects(), [object("a")]);
        assert_eq!(recorded.cluster.as_ref(), Some(&cluster));
    }
}
