//! Ownership decisions every provider makes the same way: whether a
//! resource may take over what exists already, and whether it may delete
//! what it recorded. Each provider reads who holds a thing its own way (a
//! Kubernetes object's annotations, a cloud resource's tags).

use std::fmt::Display;

use stack_engine::ownership::{Holder, Owner};
use stack_engine::provider::ProviderError;

/// Fails when creating `what` would take it from someone: another stack,
/// or nobody unless `adopt`. `None` is "it does not exist".
pub fn check_create(
    what: &dyn Display,
    holder: Option<&Holder>,
    owner: &Owner,
    adopt: bool,
) -> Result<(), ProviderError> {
    match holder {
        None | Some(Holder::This) | Some(Holder::OtherResource(_)) => Ok(()),
        Some(Holder::Nobody) if adopt => Ok(()),
        Some(Holder::Nobody) => Err(ProviderError::new(format!(
            "refused to take over {what}: it exists already and no stack owns it"
        ))
        .detail("it was made outside any stack (by hand, with another tool, or by the cluster itself)")
        .help(format!(
            "to manage it from now on, declare `{}` with `adopt: true`; otherwise choose another name",
            owner.resource
        ))),
        Some(Holder::OtherStack { stack, resource }) => {
            let held = match resource {
                Some(r) => format!("stack `{stack}` holds it as `{r}`"),
                None => format!("stack `{stack}` (or an earlier release of this one) holds it"),
            };
            let mut error = ProviderError::new(format!("refused to take over {what}: {held}"));
            if *stack == owner.stack {
                error = error.detail(format!(
                    "that is another stack named `{stack}`: a copy of this script in another directory or repository, or with another state"
                ));
            }
            Err(error.help(format!(
                "a thing has one owner: remove `{}` from this script, or remove it from stack `{stack}` first; `adopt: true` does not take from another stack",
                owner.resource
            )))
        }
    }
}

/// Whether `owner` may delete what `holder` holds: what another stack or
/// another resource holds now is left alone. A thing without ownership
/// that the state records is this stack's, made by a release that did not
/// mark ownership yet.
pub fn may_delete(holder: &Holder) -> bool {
    matches!(holder, Holder::This | Holder::Nobody)
}

/// What a delete says about a thing it leaves to its new holder.
pub fn left_to(what: &dyn Display, holder: &Holder) -> String {
    match holder {
        Holder::OtherResource(r) => format!("{what} now belongs to `{r}`: not deleted"),
        Holder::OtherStack { stack, .. } => {
            format!("{what} now belongs to stack `{stack}`: not deleted")
        }
        Holder::This | Holder::Nobody => format!("{what} deleted"),
    }
}
