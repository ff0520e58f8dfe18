//! A workload readiness double standing in for kube-controller-manager and
//! the kubelets: after a delay, Deployments and StatefulSets report all
//! replicas available for their current generation (condition
//! Available=True), and Jobs report Complete. Workloads put on hold stay
//! unavailable, so timeouts can be tested; Jobs told to fail report Failed
//! once their pods have run out of retries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::watched::Watched;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::store::{Store, Subresource, Target, WriteOptions};
use crate::time::now_rfc3339;
use crate::watch::{Event, EventKind};

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
    done: HashMap<String, String>,
    pending: HashSet<String>,
}

/// Acts on the given workload (`None`: on every workload).
fn reconcile(
    store: &Arc<Store>,
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
    let batches: Vec<(&'static str, &'static str, Vec<Value>)> = match only {
        Some((g, r, obj)) => vec![(g, r, vec![obj.clone()])],
        None => KINDS
            .iter()
            .map(|(g, r)| (*g, *r, store.all_of(g, r)))
            .collect(),
    };
    for (group, resource, objects) in batches {
        for obj in objects {
            if obj.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let target = Target::of(group, resource, &obj);
            let (name, uid) = (target.name.clone(), target.uid.clone());
            let generation = obj
                .pointer("/metadata/generation")
                .cloned()
                .unwrap_or(json!(1));
            let is_held = held.contains(&name);
            let failure = (resource == "jobs")
                .then(|| {
                    failing
                        .iter()
                        .find(|(prefix, _)| name.starts_with(prefix.as_str()))
                        .map(|(_, message)| message.clone())
                })
                .flatten();
            let finished_job = resource == "jobs"
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
                let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
                if t.done.get(&uid) == Some(&tag) || !t.pending.insert(format!("{uid}|{tag}")) {
                    continue;
                }
            }
            let (store, tracker) = (store.clone(), tracker.clone());
            let delay = settings.delay;
            tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                {
                    let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
                    t.pending.remove(&format!("{uid}|{tag}"));
                    t.done.insert(uid.clone(), tag);
                }
                let mut opts = WriteOptions::new(MANAGER);
                opts.subresource = Subresource::Status;
                let now = now_rfc3339();
                store.update_with(&target, &opts, |o| {
                    let status = match &failure {
                        Some(message) => failed_job_status(message, &now),
                        None => ready_status(resource, o, is_held, &now),
                    };
                    o["status"] = status;
                });
            });
        }
    }
}

/// Runs the double until shutdown.
pub(crate) async fn run(
    store: Arc<Store>,
    mut events: broadcast::Receiver<Arc<Event>>,
    knobs: Arc<ReadinessKnobs>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    reconcile(&store, &knobs, &tracker, None);
    loop {
        // One workload per event; everything again when settings change or
        // events were missed.
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    let kind = KINDS.iter().find(|(g, r)| ev.group == *g && ev.resource == *r);
                    if let (Some((g, r)), true) = (kind, ev.kind != EventKind::Deleted) {
                        reconcile(&store, &knobs, &tracker, Some((g, r, &ev.object)));
                    }
                }
                Err(RecvError::Lagged(_)) => reconcile(&store, &knobs, &tracker, None),
                Err(RecvError::Closed) => return,
            },
            _ = knobs.state.changed() => reconcile(&store, &knobs, &tracker, None),
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
