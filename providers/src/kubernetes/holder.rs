//! Who holds a live Kubernetes object, read from its label and
//! annotations; the decisions on it are [`crate::ownership`]'s.

use stack_engine::ownership::{Holder, Owner};
use stack_engine::provider::ProviderError;

use super::client::Cluster;
use super::error::object_error;
use super::object::ObjectId;
use super::wait;

/// Who holds `object` now; `None` when it does not exist (or its kind is
/// not served yet). A failed read is an error: nothing is decided on it.
pub async fn live_holder(
    cluster: &Cluster,
    object: &ObjectId,
    owner: &Owner,
) -> Result<Option<Holder>, ProviderError> {
    let kind = match cluster.kind(object).await {
        Ok(Some(kind)) => kind,
        Ok(None) => return Ok(None),
        Err(e) => return Err(object_error(cluster, "look up the kind of", object, &e)),
    };
    let (api, id) = cluster.api(object, &kind);
    let live = wait::read(cluster, &api, &id.name)
        .await
        .map_err(|e| object_error(cluster, "read", &id, &e))?;
    Ok(live.map(|live| owner.holder_of(&live)))
}
