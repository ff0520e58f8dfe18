//! Deleting objects, one after the other in the order given, each waited
//! for until it is gone (its finalizers done) before the next: given a
//! resource's objects reversed, what was applied last goes first.

use kube::api::DeleteParams;
use stack_engine::ownership::Owner;
use stack_engine::provider::{ProgressSink, ProviderError};
use stack_engine::state::ObjectRef;

use super::client::Cluster;
use super::error::object_error;
use super::object::ObjectId;
use super::retry::Conflicts;
use super::wait::{self, until_gone, Deadline};

/// How objects are deleted: on behalf of whom, waiting or not.
pub struct Deletion<'a> {
    /// Only what this owner still holds is deleted.
    pub owner: &'a Owner,
    /// Each object is waited for until gone.
    pub wait: bool,
    pub deadline: Deadline,
    /// Where an object left to its new holder is told.
    pub progress: &'a ProgressSink,
    /// The objects are recorded as applied; else a run only meant to apply
    /// them, and one without this stack's mark is not its own.
    pub confirmed: bool,
}

/// Deletes `objects` in order. An object (or a kind) that no longer exists
/// is fine; one that another resource or stack holds now is left to it.
pub async fn delete_objects(
    cluster: &Cluster,
    objects: impl IntoIterator<Item = &ObjectRef>,
    how: &Deletion<'_>,
) -> Result<(), ProviderError> {
    for object in objects {
        delete_object(cluster, &ObjectId::from_ref(object), how).await?;
    }
    Ok(())
}

async fn delete_object(
    cluster: &Cluster,
    object: &ObjectId,
    how: &Deletion<'_>,
) -> Result<(), ProviderError> {
    let (wait, deadline) = (how.wait, how.deadline);
    let kind = match cluster.kind(object).await {
        Ok(Some(kind)) => kind,
        // The kind is gone (its CRD was deleted), and its objects with it.
        Ok(None) => return Ok(()),
        Err(e) => return Err(object_error(cluster, "look up the kind of", object, &e)),
    };
    let (api, id) = cluster.api(object, &kind);
    let Some(live) = wait::read(cluster, &api, &id.name)
        .await
        .map_err(|e| object_error(cluster, "read, before deleting,", &id, &e))?
    else {
        return Ok(());
    };
    let holder = how.owner.holder_of(&live);
    if !crate::ownership::may_delete(&holder, how.confirmed) {
        how.progress.report(crate::ownership::left_to(&id, &holder));
        return Ok(());
    }
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
