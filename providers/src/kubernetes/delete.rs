//! Deleting objects, one after the other in the order given, each waited
//! for until it is gone (its finalizers done) before the next: given a
//! resource's objects reversed, what was applied last goes first.

use kube::api::DeleteParams;
use stack_engine::provider::ProviderError;
use stack_engine::state::ObjectRef;

use super::client::Cluster;
use super::error::object_error;
use super::object::ObjectId;
use super::retry::Conflicts;
use super::wait::{until_gone, Deadline};

/// Deletes `objects` in order; with `wait`, each is waited for until gone.
/// An object (or a kind) that no longer exists is fine.
pub async fn delete_objects(
    cluster: &Cluster,
    objects: impl IntoIterator<Item = &ObjectRef>,
    wait: bool,
    deadline: Deadline,
) -> Result<(), ProviderError> {
    for object in objects {
        delete_object(cluster, &ObjectId::from_ref(object), wait, deadline).await?;
    }
    Ok(())
}

async fn delete_object(
    cluster: &Cluster,
    object: &ObjectId,
    wait: bool,
    deadline: Deadline,
) -> Result<(), ProviderError> {
    let kind = match cluster.kind(object).await {
        Ok(Some(kind)) => kind,
        // The kind is gone (its CRD was deleted), and its objects with it.
        Ok(None) => return Ok(()),
        Err(e) => return Err(object_error(cluster, "look up the kind of", object, &e)),
    };
    let (api, id) = cluster.api(object, &kind);
    let answer = cluster
        .retry
        .run(Conflicts::Retry, || {
            let api = api.clone();
            let name = id.name.clone();
            async move { api.delete(&name, &DeleteParams::background()).await }
        })
        .await;
    // An object with finalizers is answered with itself, marked for
    // deletion: its uid tells it from a re-created one while waiting.
    let uid = match answer {
        Ok(either) => either.left().and_then(|pending| pending.metadata.uid),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(object_error(cluster, "delete", &id, &e)),
    };
    if !wait {
        return Ok(());
    }
    until_gone(cluster, &api, &id, uid, deadline).await
}
