//! When an applied object is ready, read from its live status:
//! Deployments, StatefulSets and DaemonSets available at their current
//! generation, Jobs complete, CustomResourceDefinitions Established, Argo CD
//! Applications Synced and Healthy, ApplicationSets with every Application
//! they generated Synced and Healthy. A Degraded Application, a failed Job or
//! a Deployment past its progress deadline is a failure, reported with the
//! object's own conditions and messages.

use serde_json::Value as Json;

use super::object::ObjectId;

/// Where an object stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready,
    /// Not yet, and why (for a timeout message).
    Pending(String),
    /// Never will be without a change: a summary and the object's own words.
    Failed {
        summary: String,
        details: Vec<String>,
    },
}

impl Readiness {
    pub fn is_pending(&self) -> bool {
        matches!(self, Readiness::Pending(_))
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Readiness::Failed { .. })
    }
}

/// Whether `object` has a readiness to wait for.
pub fn waits_for(object: &ObjectId) -> bool {
    object.is("apps", "Deployment")
        || object.is("apps", "StatefulSet")
        || object.is("apps", "DaemonSet")
        || object.is("batch", "Job")
        || object.is("apiextensions.k8s.io", "CustomResourceDefinition")
        || is_application(object)
        || object.is("argoproj.io", "ApplicationSet")
}

pub fn is_application(object: &ObjectId) -> bool {
    object.is("argoproj.io", "Application")
}

/// The readiness of the live `object`.
pub fn readiness(object: &ObjectId, live: &Json) -> Readiness {
    match (object.group(), object.kind.as_str()) {
        ("apps", "Deployment") => deployment(live),
        ("apps", "StatefulSet") => stateful_set(live),
        ("apps", "DaemonSet") => daemon_set(live),
        ("batch", "Job") => job(live),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(live),
        ("argoproj.io", "Application") => application(object, live),
        ("argoproj.io", "ApplicationSet") => application_set(live),
        _ => Readiness::Ready,
    }
}

fn int(value: &Json, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_i64()
}

fn text<'a>(value: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

/// The condition of `type_` in `status.conditions`.
fn condition<'a>(live: &'a Json, type_: &str) -> Option<&'a Json> {
    live.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Json::as_str) == Some(type_))
}

fn condition_is(live: &Json, type_: &str, status: &str) -> bool {
    condition(live, type_)
        .and_then(|c| c.get("status"))
        .and_then(Json::as_str)
        == Some(status)
}

fn condition_message(live: &Json, type_: &str) -> Option<String> {
    let c = condition(live, type_)?;
    let message = c.get("message").and_then(Json::as_str).unwrap_or_default();
    let reason = c.get("reason").and_then(Json::as_str).unwrap_or_default();
    match (reason.is_empty(), message.is_empty()) {
        (true, true) => None,
        (false, true) => Some(reason.to_string()),
        (true, false) => Some(message.to_string()),
        (false, false) => Some(format!("{reason}: {message}")),
    }
}

/// Pending until the controller has seen the current generation.
fn observed(live: &Json) -> Option<Readiness> {
    let generation = int(live, &["metadata", "generation"]).unwrap_or(0);
    let observed = int(live, &["status", "observedGeneration"]);
    match observed {
        Some(o) if o >= generation => None,
        _ => Some(Readiness::Pending(format!(
            "its controller has not observed generation {generation} yet"
        ))),
    }
}

fn deployment(live: &Json) -> Readiness {
    if condition(live, "Progressing")
        .and_then(|c| c.get("reason"))
        .and_then(Json::as_str)
        == Some("ProgressDeadlineExceeded")
    {
        return Readiness::Failed {
            summary: "did not finish its rollout within its progress deadline".into(),
            details: condition_message(live, "Progressing").into_iter().collect(),
        };
    }
    if let Some(pending) = observed(live) {
        return pending;
    }
    let replicas = int(live, &["spec", "replicas"]).unwrap_or(1);
    let updated = int(live, &["status", "updatedReplicas"]);
    let available = int(live, &["status", "availableReplicas"]).unwrap_or(0);
    if updated.is_some_and(|u| u < replicas) {
        return Readiness::Pending(format!(
            "{} of {replicas} replicas updated",
            updated.unwrap_or(0)
        ));
    }
    if available < replicas {
        let mut why = format!("{available} of {replicas} replicas available");
        if let Some(m) = condition_message(live, "Available")
            .filter(|_| condition_is(live, "Available", "False"))
        {
            why.push_str(&format!(" ({m})"));
        }
        return Readiness::Pending(why);
    }
    Readiness::Ready
}

fn stateful_set(live: &Json) -> Readiness {
    if let Some(pending) = observed(live) {
        return pending;
    }
    let replicas = int(live, &["spec", "replicas"]).unwrap_or(1);
    let ready = int(live, &["status", "readyReplicas"]).unwrap_or(0);
    let updated = int(live, &["status", "updatedReplicas"]);
    if updated.is_some_and(|u| u < replicas) {
        return Readiness::Pending(format!(
            "{} of {replicas} replicas updated",
            updated.unwrap_or(0)
        ));
    }
    if ready < replicas {
        return Readiness::Pending(format!("{ready} of {replicas} replicas ready"));
    }
    Readiness::Ready
}

fn daemon_set(live: &Json) -> Readiness {
    if let Some(pending) = observed(live) {
        return pending;
    }
    let desired = int(live, &["status", "desiredNumberScheduled"]).unwrap_or(0);
    let available = int(live, &["status", "numberAvailable"]).unwrap_or(0);
    let updated = int(live, &["status", "updatedNumberScheduled"]).unwrap_or(desired);
    if updated < desired || available < desired {
        return Readiness::Pending(format!(
            "{available} of {desired} pods available, {updated} updated"
        ));
    }
    Readiness::Ready
}

fn job(live: &Json) -> Readiness {
    if condition_is(live, "Complete", "True") {
        return Readiness::Ready;
    }
    if condition_is(live, "Failed", "True") {
        return Readiness::Failed {
            summary: "failed".into(),
            details: condition_message(live, "Failed").into_iter().collect(),
        };
    }
    let succeeded = int(live, &["status", "succeeded"]).unwrap_or(0);
    let active = int(live, &["status", "active"]).unwrap_or(0);
    Readiness::Pending(format!("{active} pods running, {succeeded} succeeded"))
}

fn crd(live: &Json) -> Readiness {
    if condition_is(live, "Established", "True") {
        return Readiness::Ready;
    }
    if condition_is(live, "NamesAccepted", "False") {
        return Readiness::Failed {
            summary: "was not accepted".into(),
            details: condition_message(live, "NamesAccepted")
                .into_iter()
                .collect(),
        };
    }
    Readiness::Pending("not Established yet".into())
}

/// Whether the Application's status was computed for its current source:
/// Argo CD records what it compared in `status.sync.comparedTo`; a status
/// compared to another source predates the last apply.
fn status_is_current(live: &Json) -> bool {
    let Some(compared) = live
        .pointer("/status/sync/comparedTo/source")
        .and_then(Json::as_object)
    else {
        return true;
    };
    let Some(source) = live.pointer("/spec/source").and_then(Json::as_object) else {
        return true;
    };
    source
        .iter()
        .all(|(key, value)| compared.get(key).is_none_or(|c| c == value))
}

fn application(object: &ObjectId, live: &Json) -> Readiness {
    let sync = text(live, &["status", "sync", "status"]).unwrap_or("Unknown");
    let health = text(live, &["status", "health", "status"]).unwrap_or("Unknown");
    let phase = text(live, &["status", "operationState", "phase"]).unwrap_or_default();
    if !status_is_current(live) {
        return Readiness::Pending("Argo CD has not compared the current source yet".into());
    }
    if sync == "Synced" && health == "Healthy" {
        return Readiness::Ready;
    }
    let sync_failed = matches!(phase, "Failed" | "Error");
    if health == "Degraded" || sync_failed {
        let summary = if health == "Degraded" {
            "is Degraded".to_string()
        } else {
            format!("failed to sync ({phase})")
        };
        return Readiness::Failed {
            summary,
            details: application_details(object, live),
        };
    }
    Readiness::Pending(format!("sync {sync}, health {health}"))
}

/// Ready when the set's Applications are up to date with its generators
/// and each is Synced and Healthy (its `status.resources`); failed when
/// the set reports an error or one of them is Degraded, naming them.
fn application_set(live: &Json) -> Readiness {
    if condition_is(live, "ErrorOccurred", "True") {
        return Readiness::Failed {
            summary: "cannot generate its Applications".into(),
            details: condition_message(live, "ErrorOccurred")
                .into_iter()
                .collect(),
        };
    }
    if !condition_is(live, "ResourcesUpToDate", "True") {
        return Readiness::Pending("its Applications are not generated yet".into());
    }
    let resources = live
        .pointer("/status/resources")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let described = |r: &Json| {
        let name = text(r, &["name"]).unwrap_or("?");
        let sync = text(r, &["status"]).unwrap_or("Unknown");
        let health = text(r, &["health", "status"]).unwrap_or("Unknown");
        (name.to_string(), sync.to_string(), health.to_string())
    };
    let apps: Vec<(String, String, String)> = resources.iter().map(described).collect();
    let degraded: Vec<String> = apps
        .iter()
        .filter(|(_, _, health)| health == "Degraded")
        .map(|(name, _, _)| format!("Application {name} is Degraded"))
        .collect();
    if !degraded.is_empty() {
        return Readiness::Failed {
            summary: format!(
                "has {} Degraded Application{}",
                degraded.len(),
                if degraded.len() == 1 { "" } else { "s" }
            ),
            details: degraded,
        };
    }
    let waiting: Vec<String> = apps
        .iter()
        .filter(|(_, sync, health)| sync != "Synced" || health != "Healthy")
        .map(|(name, sync, health)| format!("{name} (sync {sync}, health {health})"))
        .collect();
    if waiting.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Pending(format!("waiting for {}", waiting.join(", ")))
    }
}

/// What an Application says about itself: its health message, its
/// conditions, its last operation and its unhealthy resources.
pub fn application_details(object: &ObjectId, live: &Json) -> Vec<String> {
    let mut details = Vec::new();
    if let Some(status) = text(live, &["status", "health", "status"]) {
        match text(live, &["status", "health", "message"]).filter(|m| !m.is_empty()) {
            Some(m) => details.push(format!("health {status}: {m}")),
            None => details.push(format!("health {status}")),
        }
    }
    for c in live
        .pointer("/status/conditions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let type_ = c.get("type").and_then(Json::as_str).unwrap_or("Condition");
        let message = c.get("message").and_then(Json::as_str).unwrap_or_default();
        details.push(format!("{type_}: {message}"));
    }
    if let Some(phase) = text(live, &["status", "operationState", "phase"]) {
        if let Some(m) =
            text(live, &["status", "operationState", "message"]).filter(|m| !m.is_empty())
        {
            details.push(format!("last sync {phase}: {m}"));
        }
    }
    for r in live
        .pointer("/status/resources")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(
                r.pointer("/health/status").and_then(Json::as_str),
                Some("Degraded" | "Missing")
            )
        })
        .take(5)
    {
        let kind = r.get("kind").and_then(Json::as_str).unwrap_or_default();
        let name = r.get("name").and_then(Json::as_str).unwrap_or_default();
        let at = match r
            .get("namespace")
            .and_then(Json::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        let status = r
            .pointer("/health/status")
            .and_then(Json::as_str)
            .unwrap_or_default();
        match r
            .pointer("/health/message")
            .and_then(Json::as_str)
            .filter(|m| !m.is_empty())
        {
            Some(m) => details.push(format!("{at} is {status}: {m}")),
            None => details.push(format!("{at} is {status}")),
        }
    }
    if details.is_empty() {
        details.push(format!("{object} reports no conditions"));
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(api_version: &str, kind: &str) -> ObjectId {
        ObjectId {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: "x".into(),
        }
    }

    fn state(r: &Readiness) -> &'static str {
        match r {
            Readiness::Ready => "ready",
            Readiness::Pending(_) => "pending",
            Readiness::Failed { .. } => "failed",
        }
    }

    #[test]
    fn workloads() {
        let deployment = id("apps/v1", "Deployment");
        let cases = [
            (
                json!({ "metadata": { "generation": 2 }, "spec": { "replicas": 2 } }),
                "pending",
            ),
            (
                json!({ "metadata": { "generation": 2 }, "spec": { "replicas": 2 },
                        "status": { "observedGeneration": 1, "availableReplicas": 2 } }),
                "pending",
            ),
            (
                json!({ "metadata": { "generation": 2 }, "spec": { "replicas": 2 },
                        "status": { "observedGeneration": 2, "availableReplicas": 1, "updatedReplicas": 2 } }),
                "pending",
            ),
            (
                json!({ "metadata": { "generation": 2 }, "spec": { "replicas": 2 },
                        "status": { "observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 2 } }),
                "ready",
            ),
            (
                json!({ "metadata": { "generation": 1 },
                        "status": { "observedGeneration": 1, "availableReplicas": 1 } }),
                "ready",
            ),
            (
                json!({ "metadata": { "generation": 1 }, "status": { "observedGeneration": 1,
                        "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                         "message": "ReplicaSet \"x-1\" has timed out progressing." }] } }),
                "failed",
            ),
        ];
        for (live, expected) in cases {
            assert_eq!(state(&readiness(&deployment, &live)), expected, "{live}");
        }
        let sts = id("apps/v1", "StatefulSet");
        let live = json!({ "metadata": { "generation": 1 }, "spec": { "replicas": 3 },
                           "status": { "observedGeneration": 1, "readyReplicas": 3 } });
        assert_eq!(readiness(&sts, &live), Readiness::Ready);
        let live = json!({ "metadata": { "generation": 1 }, "spec": { "replicas": 3 },
                           "status": { "observedGeneration": 1, "readyReplicas": 1 } });
        assert_eq!(
            readiness(&sts, &live),
            Readiness::Pending("1 of 3 replicas ready".into())
        );
    }

    #[test]
    fn jobs_and_crds() {
        let job = id("batch/v1", "Job");
        let done =
            json!({ "status": { "conditions": [{ "type": "Complete", "status": "True" }] } });
        assert_eq!(readiness(&job, &done), Readiness::Ready);
        let failed = json!({ "status": { "conditions": [{ "type": "Failed", "status": "True",
                             "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] } });
        let Readiness::Failed { details, .. } = readiness(&job, &failed) else {
            panic!("a failed job fails")
        };
        assert_eq!(
            details,
            ["BackoffLimitExceeded: Job has reached the specified backoff limit"]
        );
        let crd = id("apiextensions.k8s.io/v1", "CustomResourceDefinition");
        assert!(readiness(&crd, &json!({})).is_pending());
        let established =
            json!({ "status": { "conditions": [{ "type": "Established", "status": "True" }] } });
        assert_eq!(readiness(&crd, &established), Readiness::Ready);
    }

    #[test]
    fn application_sets_wait_for_every_application_they_generate() {
        let set = |conditions: Json, resources: Json| json!({ "status": { "conditions": conditions, "resources": resources } });
        let up = json!([{ "type": "ResourcesUpToDate", "status": "True" }]);
        let app = |name: &str, sync: &str, health: &str| json!({ "name": name, "status": sync, "health": { "status": health } });
        assert!(application_set(&set(json!([]), json!([]))).is_pending());
        assert_eq!(
            application_set(&set(up.clone(), json!([app("a", "Synced", "Healthy")]))),
            Readiness::Ready
        );
        let waiting = application_set(&set(
            up.clone(),
            json!([
                app("a", "Synced", "Healthy"),
                app("b", "OutOfSync", "Missing")
            ]),
        ));
        assert!(matches!(&waiting, Readiness::Pending(why) if why.contains("b (sync OutOfSync")));
        let degraded = application_set(&set(up, json!([app("b", "Synced", "Degraded")])));
        assert!(
            matches!(&degraded, Readiness::Failed { details, .. } if details[0].contains("b is Degraded"))
        );
        let error = application_set(&set(
            json!([{ "type": "ErrorOccurred", "status": "True", "message": "no such repository" }]),
            json!([]),
        ));
        assert!(
            matches!(&error, Readiness::Failed { details, .. } if details[0].contains("no such repository"))
        );
    }

    #[test]
    fn applications() {
        let app = id("argoproj.io/v1alpha1", "Application");
        let healthy = json!({ "status": { "sync": { "status": "Synced", "revision": "abc" }, "health": { "status": "Healthy" } } });
        assert_eq!(readiness(&app, &healthy), Readiness::Ready);
        let progressing = json!({ "status": { "sync": { "status": "Synced" }, "health": { "status": "Progressing" } } });
        assert_eq!(
            readiness(&app, &progressing),
            Readiness::Pending("sync Synced, health Progressing".into())
        );
        let degraded = json!({ "status": {
            "sync": { "status": "Synced" },
            "health": { "status": "Degraded", "message": "Deployment web/api exceeded its progress deadline" },
            "conditions": [{ "type": "SyncError", "message": "one or more objects failed to apply" }],
            "resources": [{ "kind": "Deployment", "namespace": "web", "name": "api",
                            "health": { "status": "Degraded", "message": "timed out" } }],
        } });
        let Readiness::Failed { summary, details } = readiness(&app, &degraded) else {
            panic!("a degraded application fails")
        };
        assert_eq!(summary, "is Degraded");
        assert_eq!(
            details,
            [
                "health Degraded: Deployment web/api exceeded its progress deadline",
                "SyncError: one or more objects failed to apply",
                "Deployment web/api is Degraded: timed out",
            ]
        );
        let stale = json!({
            "spec": { "source": { "repoURL": "https://charts", "targetRevision": "2.0.0" } },
            "status": { "sync": { "status": "Synced", "comparedTo": { "source": { "repoURL": "https://charts", "targetRevision": "1.0.0" } } },
                        "health": { "status": "Degraded" } } });
        assert!(readiness(&app, &stale).is_pending());
        let failed_sync = json!({ "status": { "sync": { "status": "OutOfSync" }, "health": { "status": "Missing" },
                                  "operationState": { "phase": "Failed", "message": "namespace not found" } } });
        let Readiness::Failed { details, .. } = readiness(&app, &failed_sync) else {
            panic!("a failed sync fails")
        };
        assert!(
            details.contains(&"last sync Failed: namespace not found".to_string()),
            "{details:?}"
        );
    }
}
