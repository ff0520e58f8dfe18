//! Every object on a cluster that carries a stack's mark, of every kind the
//! cluster serves: what a killed run applied and did not record is found
//! so, for `destroy` and prune to delete.

use super::error::KubeError;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::{verbs, Discovery};
use stack_engine::objects::STACK_LABEL;
use stack_engine::ownership::{Holder, Owner};
use stack_engine::provider::ProviderError;
use stack_engine::resource::ResourceId;
use stack_engine::state::ObjectRef;

use super::client::Cluster;
use super::retry::Conflicts;

/// The objects marked with `owner`'s stack and identity, with the resource
/// each names. Objects another object owns (`ownerReferences`) are left
/// out: they go with their owner.
pub async fn marked(
    cluster: &Cluster,
    owner: &Owner,
) -> Result<Vec<(ResourceId, ObjectRef)>, ProviderError> {
    let discovery = cluster
        .retry
        .run(Conflicts::Retry, || {
            Discovery::new(cluster.client.clone()).run()
        })
        .await
        .map_err(|e| searching(cluster, "list the kinds it serves", &e))?;
    let selector = ListParams::default().labels(&format!("{STACK_LABEL}={}", owner.stack));
    let mut found = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if !capabilities.supports_operation(verbs::LIST)
                || !capabilities.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &resource);
            let listed = cluster
                .retry
                .run(Conflicts::Retry, || api.list(&selector))
                .await
                .map_err(|e| searching(cluster, &format!("list {}", resource.plural), &e))?;
            for object in listed.items {
                if object
                    .metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| !o.is_empty())
                {
                    continue;
                }
                let live = serde_json::json!({ "metadata": object.metadata });
                let held_by = match owner.holder_of(&live) {
                    Holder::This => owner.resource.clone(),
                    Holder::OtherResource(resource) => resource,
                    Holder::OtherStack { .. } | Holder::Nobody => continue,
                };
                found.push((
                    held_by,
                    ObjectRef {
                        api_version: resource.api_version.clone(),
                        kind: resource.kind.clone(),
                        namespace: object.metadata.namespace.clone(),
                        name: object.metadata.name.clone().unwrap_or_default(),
                    },
                ));
            }
        }
    }
    Ok(found)
}

fn searching(cluster: &Cluster, what: &str, error: &impl std::fmt::Display) -> ProviderError {
    KubeError::Refused {
        message: format!(
            "cannot search {} for objects this stack made: cannot {what}: {error}",
            cluster.describe()
        ),
        status: 0,
        help: None,
    }
    .into()
}
