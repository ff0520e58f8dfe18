//! The provider's side of ownership: an object that exists before this
//! resource first applies it is taken over only when this stack already
//! holds it (a run killed before it saved, or a declaration renamed within
//! the stack) or when nobody does and the declaration says `adopt: true`;
//! an object is deleted only while this resource still holds it.

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

/// Fails when creating `object` would take it from someone: another
/// stack, or nobody unless `adopt`.
pub fn check_create(
    object: &ObjectId,
    holder: Option<&Holder>,
    owner: &Owner,
    adopt: bool,
) -> Result<(), ProviderError> {
    match holder {
        None | Some(Holder::This) | Some(Holder::OtherResource(_)) => Ok(()),
        Some(Holder::Nobody) if adopt => Ok(()),
        Some(Holder::Nobody) => Err(ProviderError::new(format!(
            "refused to take over {object}: it exists already and no stack owns it"
        ))
        .detail("it was made outside any stack (with kubectl, helm, or by the cluster itself)")
        .help(format!(
            "to manage it from now on, declare `{}` with `adopt: true` (the plan shows `<= adopt`); otherwise choose another name",
            owner.resource
        ))),
        Some(Holder::OtherStack { stack, resource }) => {
            let held = match resource {
                Some(r) => format!("stack `{stack}` holds it as `{r}`"),
                None => format!("stack `{stack}` (or an earlier release of this one) holds it"),
            };
            let mut error = ProviderError::new(format!("refused to take over {object}: {held}"));
            if *stack == owner.stack {
                error = error.detail(format!(
                    "that is another stack named `{stack}`: a copy of this script in another directory or repository, or with another state"
                ));
            }
            Err(error
                .help(format!(
                    "an object has one owner: remove `{}` from this script, or remove it from stack `{stack}` first; `adopt: true` does not take objects from another stack",
                    owner.resource
                )))
        }
    }
}

/// Whether `owner` may delete an object held by `holder`: what another
/// stack or another resource holds now is left alone. An object without
/// ownership that the state records is this stack's, applied by a release
/// that did not mark ownership yet.
pub fn may_delete(holder: &Holder) -> bool {
    matches!(holder, Holder::This | Holder::Nobody)
}

/// What a delete says about an object it leaves to its new holder.
pub fn left_to(object: &ObjectId, holder: &Holder) -> String {
    match holder {
        Holder::OtherResource(r) => format!("{object} now belongs to `{r}`: not deleted"),
        Holder::OtherStack { stack, .. } => {
            format!("{object} now belongs to stack `{stack}`: not deleted")
        }
        Holder::This | Holder::Nobody => format!("{object} deleted"),
    }
}
