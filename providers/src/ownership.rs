//! Ownership decisions every provider makes the same way: whether a
//! resource may take over what exists already, and whether it may delete
//! what it recorded. Each provider reads who holds a thing its own way (a
//! Kubernetes object's annotations, a cloud resource's tags).

use std::fmt::Display;

use crate::notes::with_notes;
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
        // Marked with this stack's name only: made by an earlier release of
        // this stack (or a copy of it), which did not mark its identity.
        Some(Holder::OtherStack {
            stack,
            resource: None,
        }) if adopt && *stack == owner.stack => Ok(()),
        Some(Holder::Nobody) => Err(OwnershipError::Taken {
            what: what.to_string(),
            held: "it exists already and no stack owns it".into(),
            help: with_notes(
                ["it was made outside any stack (by hand, with another tool, or by the cluster itself)".to_string()],
                Some(format!(
                    "to manage it from now on, declare `{}` with `adopt: true`; otherwise choose another name",
                    owner.resource
                )),
            ),
        }
        .into()),
        Some(Holder::OtherStack { stack, resource }) => {
            let held = match resource {
                Some(r) => format!("stack `{stack}` holds it as `{r}`"),
                None => format!("stack `{stack}` (or an earlier release of this one) holds it"),
            };
            let help = if *stack == owner.stack && resource.is_none() {
                Some(format!(
                    "if this stack made it before it marked what it owns, declare `{}` with `adopt: true`; otherwise remove it from this script",
                    owner.resource
                ))
            } else {
                let copy = (*stack == owner.stack).then(|| format!(
                    "that is another stack named `{stack}`: a copy of this script in another directory or repository, or with another state"
                ));
                with_notes(copy, Some(format!(
                    "a thing has one owner: remove `{}` from this script, or remove it from stack `{stack}` first; `adopt: true` does not take from another stack",
                    owner.resource
                )))
            };
            Err(OwnershipError::Taken {
                what: what.to_string(),
                held,
                help,
            }
            .into())
        }
    }
}

/// What the ownership check refuses.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OwnershipError {
    /// Something of another stack, or of nobody, that the apply would take.
    #[error("refused to take over {what}: {held}")]
    #[diagnostic(code(stack::ownership::taken))]
    Taken {
        what: String,
        held: String,
        #[help]
        help: Option<String>,
    },
}

/// Whether a create that `check_create` lets through takes over what
/// `holder` holds: something no stack marked as its own now.
pub fn is_adopted(holder: &Holder) -> bool {
    matches!(
        holder,
        Holder::Nobody | Holder::OtherStack { resource: None, .. }
    )
}

/// Whether `owner` may delete what `holder` holds: what another stack or
/// another resource holds now is left alone. A thing without ownership
/// that the state records as applied (`confirmed`) is this stack's, made
/// by a release that did not mark ownership yet; one a run only meant to
/// make is this stack's only if it carries its mark (else the run never
/// made it: it was refused, or killed first).
pub fn may_delete(holder: &Holder, confirmed: bool) -> bool {
    match holder {
        Holder::This => true,
        Holder::Nobody => confirmed,
        Holder::OtherResource(_) | Holder::OtherStack { .. } => false,
    }
}

/// What a delete says about a thing it leaves to its new holder.
pub fn left_to(what: &dyn Display, holder: &Holder) -> String {
    match holder {
        Holder::OtherResource(r) => format!("{what} now belongs to `{r}`: not deleted"),
        Holder::OtherStack { stack, .. } => {
            format!("{what} now belongs to stack `{stack}`: not deleted")
        }
        Holder::Nobody => format!("{what} was not made by this stack: not deleted"),
        Holder::This => format!("{what} deleted"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            stack: "prod".into(),
            identity: "id-1".into(),
            resource: "t/namespace/a".into(),
        }
    }

    #[test]
    fn only_what_nobody_holds_or_an_earlier_release_marked_is_adopted() {
        let me = owner();
        let what = "Namespace a";
        assert!(check_create(&what, None, &me, false).is_ok());
        assert!(check_create(&what, Some(&Holder::This), &me, false).is_ok());
        assert!(check_create(&what, Some(&Holder::Nobody), &me, false).is_err());
        assert!(check_create(&what, Some(&Holder::Nobody), &me, true).is_ok());
        let earlier = Holder::OtherStack {
            stack: "prod".into(),
            resource: None,
        };
        assert!(check_create(&what, Some(&earlier), &me, false).is_err());
        assert!(check_create(&what, Some(&earlier), &me, true).is_ok());
        let other = Holder::OtherStack {
            stack: "prod".into(),
            resource: Some("t/namespace/a".into()),
        };
        let refused = check_create(&what, Some(&other), &me, true).expect_err("another copy");
        assert!(refused
            .help()
            .is_some_and(|h| h.contains("another stack named `prod`")));
        let elsewhere = Holder::OtherStack {
            stack: "web".into(),
            resource: None,
        };
        assert!(check_create(&what, Some(&elsewhere), &me, true).is_err());
    }

    #[test]
    fn what_a_run_only_meant_to_make_is_deleted_only_with_this_stacks_mark() {
        assert!(may_delete(&Holder::This, false));
        assert!(may_delete(&Holder::Nobody, true));
        assert!(!may_delete(&Holder::Nobody, false));
        let other = Holder::OtherResource("t/namespace/b".into());
        assert!(!may_delete(&other, true));
    }
}
