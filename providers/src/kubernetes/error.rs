//! API failures as provider errors a person can act on: they name the
//! object (`Deployment team-web/api`), carry the server's message, and for
//! a field conflict name the other field manager and the fields.

use kube::core::Status;
use stack_engine::provider::ProviderError;

pub use crate::notes::with_notes;

use super::client::Cluster;
use super::object::ObjectId;
use super::retry::{is_conflict_cause, is_field_conflict, CallError};

/// How the Kubernetes provider fails. Each kind of failure has its code;
/// the message names the object and the cluster, the help says what to do
/// (with what the server or the object's status said first).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum KubeError {
    /// The API did not answer.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::unreachable))]
    Unreachable {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// No way to reach the cluster: its kubeconfig, context or reported
    /// endpoint is missing or wrong.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::kubeconfig))]
    Connection {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The API refused a call, in its own words.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::refused))]
    Refused {
        message: String,
        /// The HTTP status the API answered with.
        status: u16,
        #[help]
        help: Option<String>,
    },

    /// Fields of the object belong to another field manager.
    #[error("cannot apply {object}: its fields are managed by field manager {managers}")]
    #[diagnostic(code(stack::kubernetes::conflict))]
    Conflict {
        object: String,
        managers: String,
        #[help]
        help: Option<String>,
    },

    /// The cluster does not serve the object's kind or API version.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::not_served))]
    NotServed {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The object reports a failure, or is not ready in time.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::not_ready))]
    NotReady {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The object went away while it was waited for, or stays after its
    /// deletion.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::lifecycle))]
    Lifecycle {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// What the provider was given cannot be applied.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::invalid))]
    Invalid {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A cluster token could not be had.
    #[error("{message}")]
    #[diagnostic(code(stack::kubernetes::token))]
    Token {
        message: String,
        #[help]
        help: Option<String>,
    },
}

/// The failure of `verb` (`apply`, `delete`, `read`) on `object`.
pub fn object_error(
    cluster: &Cluster,
    verb: &str,
    object: &ObjectId,
    error: &CallError,
) -> ProviderError {
    if error.is_transport() {
        return cluster
            .unreachable(&format!("cannot {verb} {object}"), error)
            .into();
    }
    let Some(status) = error.status() else {
        return KubeError::Refused {
            message: format!("cannot {verb} {object} on {}: {error}", cluster.describe()),
            status: 0,
            help: None,
        }
        .into();
    };
    if is_field_conflict(status) {
        return conflict(object, status).into();
    }
    let mut notes = Vec::new();
    if !status.reason.is_empty() || status.code != 0 {
        notes.push(
            format!("the API answered {} {}", status.code, status.reason)
                .trim_end()
                .to_string(),
        );
    }
    for cause in status.details.iter().flat_map(|d| &d.causes) {
        let line = match (cause.field.is_empty(), cause.message.is_empty()) {
            (false, false) => format!("{}: {}", cause.field, cause.message),
            (true, false) => cause.message.clone(),
            (false, true) => format!("{}: {}", cause.field, cause.reason),
            (true, true) => continue,
        };
        notes.push(line);
    }
    let help = match status.code {
        401 => match cluster.tokens.as_ref().and_then(|t| t.refresh_failure()) {
            Some(why) => {
                notes.push(format!("renewing the cluster's token failed: {why}"));
                Some("the cloud credentials expired during the run: log in again and run again; what finished is saved".to_string())
            }
            None => Some(format!(
                "the credentials of {} were refused; log in again",
                cluster.describe()
            )),
        },
        403 => Some(format!(
            "the identity used for {} may not {verb} {}s; check its RBAC permissions",
            cluster.describe(),
            object.kind
        )),
        404 if object.kind == "Application"
            && object.api_version.starts_with("argoproj.io/")
            && status.message.contains("namespace") =>
        {
            Some(format!(
                "an Application lives in Argo CD's namespace, and {} has no `{}`: is Argo CD installed there? \
                 `argocd_installed: true` says it is; install it first (`bootstrap(cluster)`), or set \
                 `argocd_namespace` on the cluster to where it runs",
                cluster.describe(),
                object.namespace.as_deref().unwrap_or("argocd")
            ))
        }
        404 if object.namespace.is_some() && status.message.contains("namespace") => Some(
            "declare the namespace, or make this resource depend on the one that creates it"
                .to_string(),
        ),
        422 => {
            Some("the object is not valid for this cluster's API; check the manifest".to_string())
        }
        _ => None,
    };
    KubeError::Refused {
        message: format!("cannot {verb} {object}: {}", message(status)),
        status: status.code,
        help: with_notes(notes, help),
    }
    .into()
}

fn message(status: &Status) -> String {
    if status.message.is_empty() {
        format!("{} ({})", status.reason, status.code)
    } else {
        status.message.clone()
    }
}

/// A server-side apply conflict: who else manages which field.
fn conflict(object: &ObjectId, status: &Status) -> KubeError {
    let causes: Vec<(String, String)> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .filter(|c| is_conflict_cause(c))
        .map(|c| {
            (
                manager_of(&c.message).unwrap_or_else(|| c.message.clone()),
                c.field.clone(),
            )
        })
        .collect();
    let causes = if causes.is_empty() {
        // Only the message: `Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`.
        let manager = manager_of(&status.message).unwrap_or_else(|| "another client".into());
        let field = status
            .message
            .rsplit(": ")
            .next()
            .unwrap_or_default()
            .to_string();
        vec![(manager, field)]
    } else {
        causes
    };
    let mut managers: Vec<&str> = causes.iter().map(|(m, _)| m.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let managers = managers
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let notes = causes
        .iter()
        .map(|(manager, field)| format!("`{field}` is managed by `{manager}`"));
    let help = format!(
        "another client ({managers}) changed these fields; drop them from that client, or let `stack` take them over by applying with force"
    );
    KubeError::Conflict {
        object: object.to_string(),
        help: with_notes(notes, Some(help)),
        managers,
    }
}

/// `conflict with "kubectl" using apps/v1` → `kubectl`.
pub fn manager_of(message: &str) -> Option<String> {
    let start = message.find('"')? + 1;
    let end = start + message[start..].find('"')?;
    Some(message[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_other_manager() {
        assert_eq!(
            manager_of("conflict with \"kubectl\" using apps/v1").as_deref(),
            Some("kubectl")
        );
        assert_eq!(
            manager_of("conflict with \"helm\" with subresource \"scale\" using apps/v1")
                .as_deref(),
            Some("helm")
        );
        assert_eq!(manager_of("no quotes"), None);
    }
}
