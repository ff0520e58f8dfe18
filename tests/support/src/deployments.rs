//! A workload readiness double standing in for the scheduler, the kubelets
//! and kube-controller-manager's workload controllers (none of which run
//! here: no container runtime), a controller that works against any API
//! server through a Kubernetes client: after a delay, Deployments and StatefulSets report all
//! replicas available for their current generation (condition
//! Available=True), and Jobs report Complete. Workloads put on hold stay
//! unavailable, so timeouts can be tested; Jobs told to fail report Failed
//! once their pods have run out of retries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use kube::core::ApiResource;
use kube::runtime::watcher;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::time::now_rfc3339;
use crate::watched::Watched;

const MANAGER: &str = "kube-controller-manager";
const KINDS: &[(&str, &str)] = &[
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
];

/// Settings of the readiness double.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessSettings {
    pub enabled: bool,
    /// Time from a workload change to its ready status.
    pub delay: Duration,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        ReadinessSettings {
            enabled: true,
            delay: Duration::ZERO,
        }
    }
}

#[derive(Debug)]
struct State {
    settings: ReadinessSettings,
    held: BTreeSet<String>,
    /// Name prefix → the message Jobs with such names fail with.
    failing: BTreeMap<String, String>,
}

/// Run-time knobs of the readiness double.
#[derive(Debug)]
pub struct ReadinessKnobs {
    state: Watched<State>,
}

impl ReadinessKnobs {
    pub(crate) fn new(settings: ReadinessSettings) -> ReadinessKnobs {
        ReadinessKnobs {
            state: Watched::new(State {
                settings,
                held: BTreeSet::new(),
                failing: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        self.state.update(f);
    }

    pub fn enable(&self) {
        self.update(|s| s.settings.enabled = true);
    }

    pub fn disable(&self) {
        self.update(|s| s.settings.enabled = false);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.update(|s| s.settings.delay = delay);
    }

    /// Keeps the workload of this name unavailable (incomplete, for Jobs).
    pub fn hold(&self, name: &str) {
        self.update(|s| {
            s.held.insert(name.to_string());
        });
    }

    /// Lets a held workload become ready.
    pub fn release(&self, name: &str) {
        self.update(|s| {
            s.held.remove(name);
        });
    }

    /// Makes Jobs whose names start with `prefix` fail with `message`
    /// (those created from now on, and those not finished yet).
    pub fn fail_jobs(&self, prefix: &str, message: &str) {
        self.update(|s| {
            s.failing.insert(prefix.to_string(), message.to_string());
        });
    }

    /// Lets Jobs whose names start with `prefix` complete again. A Job that
    /// failed stays failed, as in Kubernetes.
    pub fn heal_jobs(&self, prefix: &str) {
        self.update(|s| {
            s.failing.remove(prefix);
        });
    }

    pub fn settings(&self) -> ReadinessSettings {
        self.lock().settings.clone()
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// The status of a Job whose pods failed until its backoff limit.
fn failed_job_status(message: &str, now: &str) -> Value {
    json!({
        "startTime": now,
        "failed": 1,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            { "type": "FailureTarget", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": message },
            { "type": "Failed", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": message }
        ],
    })
}

/// The status the controllers would report for this workload.
fn ready_status(resource: &str, obj: &Value, held: bool, now: &str) -> Value {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let generation = obj
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match resource {
        "deployments" if held => json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "unavailableReplicas": replicas,
            "conditions": [
                condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now),
                condition("Progressing", true, "ReplicaSetUpdated", &format!("ReplicaSet \"{name}\" is progressing."), now),
            ],
        }),
        "deployments" => json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                condition("Progressing", true, "NewReplicaSetAvailable", &format!("ReplicaSet \"{name}\" has successfully progressed."), now),
            ],
        }),
        "statefulsets" => {
            let ready = if held { 0 } else { replicas };
            json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": ready,
                "currentRevision": format!("{name}-{generation}"),
                "updateRevision": format!("{name}-{generation}"),
                "collisionCount": 0,
            })
        }
        _ if held => json!({ "startTime": now, "active": 1, "ready": 0 }),
        _ => {
            let completions = obj
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            json!({
                "startTime": now,
                "completionTime": now,
                "succeeded": completions,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "conditions": [
                    { "type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods" },
                    { "type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods" }
                ],
            })
        }
    }
}

#[derive(Default)]
struct Tracker {
    /// resource/namespace/name → the latest workload.
    workloads: BTreeMap<String, (&'static str, &'static str, Value)>,
    done: HashMap<String, String>,
    pending: HashSet<String>,
}

fn lock(tracker: &Mutex<Tracker>) -> MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(|e| e.into_inner())
}

fn field(obj: &Value, f: &str) -> String {
    obj.pointer(&format!("/metadata/{f}"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn resource(group: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: String::new(),
        plural: plural.into(),
    }
}

/// Acts on the given workload (`None`: on every workload seen).
fn reconcile(
    client: &kube::Client,
    knobs: &ReadinessKnobs,
    tracker: &Arc<Mutex<Tracker>>,
    only: Option<(&'static str, &'static str, &Value)>,
) {
    let (settings, held, failing) = {
        let s = knobs.lock();
        (s.settings.clone(), s.held.clone(), s.failing.clone())
    };
    if !settings.enabled {
        return;
    }
    let workloads: Vec<(&'static str, &'static str, Value)> = match only {
        Some((g, r, obj)) => vec![(g, r, obj.clone())],
        None => lock(tracker).workloads.values().cloned().collect(),
    };
    for (group, plural, obj) in workloads {
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let (name, namespace, uid) = (
            field(&obj, "name"),
            field(&obj, "namespace"),
            field(&obj, "uid"),
        );
        let generation = obj
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        let is_held = held.contains(&name);
        let failure = (plural == "jobs")
            .then(|| {
                failing
                    .iter()
                    .find(|(prefix, _)| name.starts_with(prefix.as_str()))
                    .map(|(_, message)| message.clone())
            })
            .flatten();
        let finished_job = plural == "jobs"
            && obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        matches!(c["type"].as_str(), Some("Complete" | "Failed"))
                            && c["status"] == "True"
                    })
                });
        if finished_job {
            // A finished Job keeps its outcome.
            continue;
        }
        let tag = format!("{generation}|{is_held}|{failure:?}");
        {
            let mut t = lock(tracker);
            if t.done.get(&uid) == Some(&tag) || !t.pending.insert(format!("{uid}|{tag}")) {
                continue;
            }
        }
        let (client, tracker) = (client.clone(), tracker.clone());
        let delay = settings.delay;
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            {
                let mut t = lock(&tracker);
                t.pending.remove(&format!("{uid}|{tag}"));
                t.done.insert(uid.clone(), tag);
            }
            let now = now_rfc3339();
            let status = match &failure {
                Some(message) => failed_job_status(message, &now),
                None => ready_status(plural, &obj, is_held, &now),
            };
            let _ = crate::client::write_status(
                &client,
                &resource(group, plural),
                Some(&namespace),
                &name,
                status,
                MANAGER,
            )
            .await;
        });
    }
}

/// Runs the controller against the server `client` reaches until
/// shutdown: watches Deployments, StatefulSets and Jobs in every namespace,
/// acting on each change, and on every workload again when a test changes
/// the knobs.
pub(crate) async fn run(
    client: kube::Client,
    knobs: Arc<ReadinessKnobs>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let streams = KINDS.iter().map(|(group, plural)| {
        let api = crate::client::api(&client, &resource(group, plural), None);
        crate::client::watch_all(api).map(move |event| (*group, *plural, event))
    });
    let mut events = futures_util::stream::select_all(streams);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some((g, r, Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)))) => {
                    let obj = crate::client::to_value(&obj);
                    let key = format!("{r}/{}/{}", field(&obj, "namespace"), field(&obj, "name"));
                    lock(&tracker).workloads.insert(key, (g, r, obj.clone()));
                    reconcile(&client, &knobs, &tracker, Some((g, r, &obj)));
                }
                Some((_, r, Ok(watcher::Event::Delete(obj)))) => {
                    let obj = crate::client::to_value(&obj);
                    let key = format!("{r}/{}/{}", field(&obj, "namespace"), field(&obj, "name"));
                    let mut t = lock(&tracker);
                    t.workloads.remove(&key);
                    t.done.remove(&field(&obj, "uid"));
                }
                Some((_, _, Ok(_))) => {}
                Some((_, _, Err(_))) => tokio::time::sleep(crate::client::RETRY).await,
                None => return,
            },
            _ = knobs.state.changed() => reconcile(&client, &knobs, &tracker, None),
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_status_matches_spec() {
        let d =
            json!({ "metadata": { "name": "web", "generation": 3 }, "spec": { "replicas": 2 } });
        let s = ready_status("deployments", &d, false, "t");
        assert_eq!(s["availableReplicas"], 2);
        assert_eq!(s["observedGeneration"], 3);
        assert_eq!(s["conditions"][0]["type"], "Available");
        assert_eq!(s["conditions"][0]["status"], "True");
        let held = ready_status("deployments", &d, true, "t");
        assert!(held.get("availableReplicas").is_none());
        assert_eq!(held["conditions"][0]["status"], "False");
    }

    #[test]
    fn statefulsets_and_jobs() {
        let s = ready_status(
            "statefulsets",
            &json!({ "metadata": { "name": "db" }, "spec": {} }),
            false,
            "t",
        );
        assert_eq!(s["readyReplicas"], 1);
        let j = ready_status(
            "jobs",
            &json!({ "metadata": { "name": "migrate" }, "spec": { "completions": 1 } }),
            false,
            "t",
        );
        assert_eq!(j["succeeded"], 1);
        assert_eq!(j["conditions"][1]["type"], "Complete");
        let k = ReadinessKnobs::new(ReadinessSettings::default());
        k.hold("x");
        assert!(k.lock().held.contains("x"));
        k.release("x");
        assert!(k.settings().enabled);
    }
}
