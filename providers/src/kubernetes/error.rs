//! API failures as provider errors a person can act on: they name the
//! object (`Deployment team-web/api`), carry the server's message, and for
//! a field conflict name the other field manager and the fields.

use kube::core::Status;
use stack_engine::provider::ProviderError;

use super::client::Cluster;
use super::object::ObjectId;
use super::retry::{is_conflict_cause, is_field_conflict, CallError};

/// The failure of `verb` (`apply`, `delete`, `read`) on `object`.
pub fn object_error(
    cluster: &Cluster,
    verb: &str,
    object: &ObjectId,
    error: &CallError,
) -> ProviderError {
    if error.is_transport() {
        let mut e = cluster.unreachable(error);
        e.message = format!("cannot {verb} {object}: {}", e.message);
        return e;
    }
    let Some(status) = error.status() else {
        return ProviderError::new(format!("cannot {verb} {object} on {}", cluster.describe()))
            .detail(error.to_string());
    };
    if is_field_conflict(status) {
        return conflict(object, status);
    }
    let mut e = ProviderError::new(format!("cannot {verb} {object}: {}", message(status)));
    if !status.reason.is_empty() || status.code != 0 {
        e = e.detail(
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
        e = e.detail(line);
    }
    match status.code {
        401 => match cluster.tokens.as_ref().and_then(|t| t.refresh_failure()) {
            Some(why) => e.detail(format!("renewing the cluster's token failed: {why}")).help(
                "the cloud credentials expired during the run: log in again and run again; what finished is saved",
            ),
            None => e.help(format!(
                "the credentials of {} were refused; log in again",
                cluster.describe()
            )),
        },
        403 => e.help(format!(
            "the identity used for {} may not {verb} {}s; check its RBAC permissions",
            cluster.describe(),
            object.kind
        )),
        404 if object.namespace.is_some() && status.message.contains("namespace") => {
            e.help("declare the namespace, or make this resource depend on the one that creates it")
        }
        422 => e.help("the object is not valid for this cluster's API; check the manifest"),
        _ => e,
    }
}

fn message(status: &Status) -> String {
    if status.message.is_empty() {
        format!("{} ({})", status.reason, status.code)
    } else {
        status.message.clone()
    }
}

/// A server-side apply conflict: who else manages which field.
fn conflict(object: &ObjectId, status: &Status) -> ProviderError {
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
    let mut e = ProviderError::new(format!(
        "cannot apply {object}: its fields are managed by field manager {managers}"
    ));
    for (manager, field) in &causes {
        e = e.detail(format!("`{field}` is managed by `{manager}`"));
    }
    e.help(format!(
        "another client ({managers}) changed these fields; drop them from that client, or let `stack` take them over by applying with force"
    ))
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
