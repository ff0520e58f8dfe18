//! An Argo CD application-controller double (with the applicationset
//! controller double of `applicationset.rs` beside it), a controller that works
//! against any API server through a Kubernetes client (the test server or
//! a real kube-apiserver). It stands in for Argo CD's application
//! controller only: no repo server, no UI, no API, no health checks of the
//! synced objects, no self-heal of drift. For every `Application`
//! (argoproj.io/v1alpha1, served only once its CRD exists) it writes, after
//! a delay, the status real Argo CD reports after a sync: Synced and
//! Healthy, or — for apps told to fail — Degraded with a message, a
//! `SyncError` condition and a Failed operation. On delete it honours the
//! resources finalizer by removing it after a delay, as Argo CD does once
//! it has pruned the app's resources.
//!
//! Syncing applies what the app's source holds when this machine has it: a
//! directory of a local repository, or a chart whose objects a test has
//! provided (`provide_chart`, standing in for the chart's CRDs, say); a
//! chart's templates are not rendered. An app of an AppProject other than
//! `default` is held to it as Argo CD holds it: a destination, a
//! cluster-scoped kind or a denied kind the project does not permit fails
//! the sync (Degraded, with Argo CD's message). Its writes, as manager
//! `argocd-application-controller`, are the test kit's own and stay out of
//! request logs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::watcher;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::time::now_rfc3339;
use crate::watched::Watched;

/// The API group of Argo CD's kinds.
pub const GROUP: &str = "argoproj.io";
/// The finalizer that makes Argo CD delete an app's resources first.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
const MANAGER: &str = "argocd-application-controller";

/// Settings of the Argo CD double.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgoCdSettings {
    /// Whether the double acts at all.
    pub enabled: bool,
    /// Time from an Application change to its status being written.
    pub sync_delay: Duration,
    /// Time from an Application's deletion to its finalizer being removed.
    pub finalizer_delay: Duration,
    /// Install the Application and AppProject CRDs when the server starts.
    pub install_crds: bool,
}

impl Default for ArgoCdSettings {
    fn default() -> Self {
        ArgoCdSettings {
            enabled: false,
            sync_delay: Duration::from_millis(50),
            finalizer_delay: Duration::from_millis(50),
            install_crds: false,
        }
    }
}

#[derive(Debug)]
struct State {
    settings: ArgoCdSettings,
    /// App name → the message it degrades with.
    degraded: BTreeMap<String, String>,
    /// Chart name → the objects a sync of an app with that chart applies.
    charts: BTreeMap<String, Vec<Value>>,
}

/// Run-time knobs of the Argo CD double.
#[derive(Debug)]
pub struct ArgoCdKnobs {
    state: Watched<State>,
}

impl ArgoCdKnobs {
    pub(crate) fn new(settings: ArgoCdSettings) -> ArgoCdKnobs {
        ArgoCdKnobs {
            state: Watched::new(State {
                settings,
                degraded: BTreeMap::new(),
                charts: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        self.state.update(f);
    }

    /// Starts acting on Applications.
    pub fn enable(&self) {
        self.update(|s| s.settings.enabled = true);
    }

    /// Stops acting (already written statuses stay).
    pub fn disable(&self) {
        self.update(|s| s.settings.enabled = false);
    }

    pub fn is_enabled(&self) -> bool {
        self.lock().settings.enabled
    }

    pub fn set_sync_delay(&self, delay: Duration) {
        self.update(|s| s.settings.sync_delay = delay);
    }

    pub fn set_finalizer_delay(&self, delay: Duration) {
        self.update(|s| s.settings.finalizer_delay = delay);
    }

    /// Makes the app of this name report Degraded with `message` (now, if
    /// it exists, and whenever it changes).
    pub fn degrade(&self, app: &str, message: &str) {
        self.update(|s| {
            s.degraded.insert(app.to_string(), message.to_string());
        });
    }

    /// Makes the app of this name healthy again.
    pub fn heal(&self, app: &str) {
        self.update(|s| {
            s.degraded.remove(app);
        });
    }

    pub fn settings(&self) -> ArgoCdSettings {
        self.lock().settings.clone()
    }

    /// What a sync of any app with chart `chart` applies, as if Argo CD had
    /// rendered it: CRDs a chart installs, for objects of its kinds that
    /// the stack applies after the app is healthy.
    pub fn provide_chart(&self, chart: &str, objects: Vec<Value>) {
        self.update(|s| {
            s.charts.insert(chart.to_string(), objects);
        });
    }
}

/// The Application CRD as Argo CD installs it (schema left open).
pub fn application_crd() -> Value {
    crd("Application", "applications", &["app", "apps"])
}

/// The AppProject CRD as Argo CD installs it (schema left open).
pub fn appproject_crd() -> Value {
    crd("AppProject", "appprojects", &["appproj", "appprojs"])
}

/// The ApplicationSet CRD as Argo CD installs it (schema left open).
pub fn applicationset_crd() -> Value {
    crd("ApplicationSet", "applicationsets", &["appset", "appsets"])
}

/// Every CRD of Argo CD the doubles serve.
pub fn crds() -> [Value; 3] {
    [application_crd(), appproject_crd(), applicationset_crd()]
}

fn crd(kind: &str, plural: &str, short: &[&str]) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{GROUP}"),
            "labels": { "app.kubernetes.io/name": format!("{plural}.{GROUP}"), "app.kubernetes.io/part-of": "argocd" }
        },
        "spec": {
            "group": GROUP,
            "names": { "kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_lowercase(), "shortNames": short },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
            }]
        }
    })
}

/// What an app should report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Outcome {
    Healthy,
    Degraded(String),
}

/// The status Argo CD writes after syncing an app.
fn app_status(app: &Value, outcome: &Outcome, now: &str) -> Value {
    let source = app
        .pointer("/spec/source")
        .or_else(|| app.pointer("/spec/sources/0"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let revision = source
        .get("targetRevision")
        .and_then(Value::as_str)
        .unwrap_or("HEAD")
        .to_string();
    let destination = app
        .pointer("/spec/destination")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut status = json!({
        "sync": { "status": "Synced", "revision": revision, "comparedTo": { "source": source, "destination": destination } },
        "health": { "status": "Healthy", "lastTransitionTime": now },
        "operationState": {
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": now,
            "finishedAt": now,
            "operation": { "sync": { "revision": revision }, "initiatedBy": { "automated": true } },
            "syncResult": { "revision": revision, "source": source }
        },
        "reconciledAt": now,
        "sourceType": if source.get("chart").is_some() { "Helm" } else { "Directory" },
    });
    if let Outcome::Degraded(message) = outcome {
        status["health"] =
            json!({ "status": "Degraded", "message": message, "lastTransitionTime": now });
        status["operationState"]["phase"] = json!("Failed");
        status["operationState"]["message"] = json!(message);
        status["conditions"] =
            json!([{ "type": "SyncError", "message": message, "lastTransitionTime": now }]);
    }
    status
}

/// The Applications the controller has seen, and what it has done to them.
#[derive(Default)]
struct Tracker {
    /// namespace/name → the latest Application.
    apps: BTreeMap<String, Value>,
    /// uid → the (spec, annotations, outcome) tag whose status was written.
    done: HashMap<String, String>,
    pending: HashSet<String>,
    finalizing: HashSet<String>,
}

fn key(app: &Value) -> (String, String) {
    let field = |f: &str| {
        app.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (field("namespace"), field("name"))
}

fn uid(app: &Value) -> String {
    app.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn applications() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{GROUP}/v1alpha1"),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// Acts on the given apps (`None`: on every app seen).
fn reconcile(
    client: &kube::Client,
    knobs: &ArgoCdKnobs,
    tracker: &Arc<Mutex<Tracker>>,
    only: Option<&Value>,
) {
    let (settings, degraded, charts) = {
        let s = knobs.lock();
        (s.settings.clone(), s.degraded.clone(), s.charts.clone())
    };
    if !settings.enabled {
        return;
    }
    let apps = match only {
        Some(app) => vec![app.clone()],
        None => lock(tracker).apps.values().cloned().collect(),
    };
    for app in apps {
        let (namespace, name) = key(&app);
        let uid = uid(&app);
        let mut t = lock(tracker);
        if app.pointer("/metadata/deletionTimestamp").is_some() {
            if has_resources_finalizer(&app) && t.finalizing.insert(uid.clone()) {
                let client = client.clone();
                let delay = settings.finalizer_delay;
                tokio::spawn(async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    release_finalizer(&client, &namespace, &name).await;
                });
            }
            continue;
        }
        let outcome = match degraded.get(&name) {
            Some(m) => Outcome::Degraded(m.clone()),
            None => Outcome::Healthy,
        };
        let spec = app.get("spec").map(Value::to_string).unwrap_or_default();
        // A refresh request (Argo CD's refresh annotation) syncs again too.
        let refresh = app
            .pointer("/metadata/annotations")
            .map(Value::to_string)
            .unwrap_or_default();
        let tag = format!("{spec}|{refresh}|{outcome:?}");
        if t.done.get(&uid) == Some(&tag) || !t.pending.insert(format!("{uid}|{tag}")) {
            continue;
        }
        drop(t);
        let (client, tracker) = (client.clone(), tracker.clone());
        let delay = settings.sync_delay;
        let chart = app
            .pointer("/spec/source/chart")
            .and_then(Value::as_str)
            .and_then(|c| charts.get(c).cloned())
            .unwrap_or_default();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            {
                let mut t = lock(&tracker);
                t.pending.remove(&format!("{uid}|{tag}"));
                t.done.insert(uid.clone(), tag);
            }
            let destination = app
                .pointer("/spec/destination/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            let mut manifests = match directory_manifests(&app) {
                Ok(m) => m,
                Err(message) => {
                    write_app_status(&client, &namespace, &name, &Outcome::Degraded(message)).await;
                    return;
                }
            };
            manifests.extend(chart);
            let synced = match permitted(&client, &app, &manifests).await {
                Ok(()) => apply_all(&client, manifests, &destination).await,
                Err(refused) => Err(refused),
            };
            let outcome = match synced {
                Ok(()) => outcome,
                Err(message) => Outcome::Degraded(message),
            };
            write_app_status(&client, &namespace, &name, &outcome).await;
        });
    }
}

fn lock(tracker: &Mutex<Tracker>) -> MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(|e| e.into_inner())
}

fn has_resources_finalizer(app: &Value) -> bool {
    app.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .any(|f| f.starts_with(RESOURCES_FINALIZER))
        })
}

/// Removes the resources finalizer, as Argo CD does once it has pruned the
/// app's resources; retried on conflicts with other writers.
async fn release_finalizer(client: &kube::Client, namespace: &str, name: &str) {
    let api = crate::client::api(client, &applications(), Some(namespace));
    for _ in 0..20 {
        let Ok(Some(current)) = api.get_opt(name).await else {
            return;
        };
        let current = crate::client::to_value(&current);
        let kept: Vec<Value> = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|f| {
                f.iter()
                    .filter(|x| {
                        !x.as_str()
                            .is_some_and(|x| x.starts_with(RESOURCES_FINALIZER))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let patch = json!({ "metadata": {
            "finalizers": kept,
            "resourceVersion": current.pointer("/metadata/resourceVersion"),
        } });
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        match api.patch(name, &params, &Patch::Merge(&patch)).await {
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            _ => return,
        }
    }
}

/// Writes the status Argo CD reports after a sync onto the current app.
async fn write_app_status(client: &kube::Client, namespace: &str, name: &str, outcome: &Outcome) {
    let api = crate::client::api(client, &applications(), Some(namespace));
    let Ok(Some(current)) = api.get_opt(name).await else {
        return;
    };
    let status = app_status(&crate::client::to_value(&current), outcome, &now_rfc3339());
    let _ = crate::client::write_status(
        client,
        &applications(),
        Some(namespace),
        name,
        status,
        MANAGER,
    )
    .await;
}

/// What an app whose source is a directory of a repository on this machine
/// (`repoURL` a local path) holds: every manifest below `path`, except the
/// excluded file name, as Argo CD would sync it. Other sources (charts)
/// hold nothing here.
fn directory_manifests(app: &Value) -> Result<Vec<Value>, String> {
    let Some(source) = app.pointer("/spec/source") else {
        return Ok(Vec::new());
    };
    let Some(directory) = source.get("directory") else {
        return Ok(Vec::new());
    };
    let Some(repo) = source.get("repoURL").and_then(Value::as_str) else {
        return Ok(Vec::new());
    };
    let root =
        std::path::Path::new(repo).join(source.get("path").and_then(Value::as_str).unwrap_or(""));
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let exclude = directory
        .get("exclude")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut files = Vec::new();
    collect_yaml(&root, &mut files);
    files.sort();
    let mut manifests: Vec<Value> = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.file_name().and_then(|n| n.to_str()) != Some(exclude))
    {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            if !value.is_null() {
                manifests.push(value);
            }
        }
    }
    Ok(manifests)
}

/// What the app's AppProject refuses of its sync, as Argo CD words it: a
/// destination outside the project's, a cluster-scoped kind the project
/// does not allow, a namespaced kind it denies. The `default` project
/// allows everything.
async fn permitted(client: &kube::Client, app: &Value, manifests: &[Value]) -> Result<(), String> {
    let field = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let project = field(app, "/spec/project");
    if project.is_empty() || project == "default" {
        return Ok(());
    }
    let (namespace, _) = key(app);
    let projects = ApiResource {
        kind: "AppProject".into(),
        plural: "appprojects".into(),
        ..applications()
    };
    let Ok(found) = crate::client::api(client, &projects, Some(&namespace))
        .get(&project)
        .await
    else {
        return Err(format!(
            "Application referencing project {project} which does not exist"
        ));
    };
    let spec = crate::client::to_value(&found)
        .get("spec")
        .cloned()
        .unwrap_or(Value::Null);
    let list = |key: &str| {
        spec.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let matches = |pattern: &str, value: &str| crate::applicationset::wildcard(pattern, value);
    let destination_ok = |server: &str, ns: &str| {
        list("destinations").iter().any(|d| {
            let server_ok = matches(
                d.get("server").and_then(Value::as_str).unwrap_or("*"),
                server,
            );
            server_ok
                && matches(
                    d.get("namespace").and_then(Value::as_str).unwrap_or("*"),
                    ns,
                )
        })
    };
    let server = field(app, "/spec/destination/server");
    let server = if server.is_empty() {
        "https://kubernetes.default.svc".to_string()
    } else {
        server
    };
    let target = field(app, "/spec/destination/namespace");
    if !destination_ok(&server, &target) {
        return Err(format!(
            "application destination {{{server} {target}}} is not permitted in project '{project}'"
        ));
    }
    let listed = |key: &str, group: &str, kind: &str| {
        list(key).iter().any(|entry| {
            matches(
                entry.get("group").and_then(Value::as_str).unwrap_or(""),
                group,
            ) && matches(
                entry.get("kind").and_then(Value::as_str).unwrap_or(""),
                kind,
            )
        })
    };
    for manifest in manifests {
        let kind = field(manifest, "/kind");
        let api_version = field(manifest, "/apiVersion");
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_string();
        let name = field(manifest, "/metadata/name");
        let (_, namespaced) = crate::client::resource_of(client, manifest)
            .await
            .map_err(|e| e.message)?;
        if !namespaced && !listed("clusterResourceWhitelist", &group, &kind) {
            return Err(format!(
                "resource {group}:{kind} is not permitted in project {project} ({name})"
            ));
        }
        if namespaced {
            if listed("namespaceResourceBlacklist", &group, &kind) {
                return Err(format!(
                    "resource {group}:{kind} is not permitted in project {project} ({name})"
                ));
            }
            let ns = field(manifest, "/metadata/namespace");
            if !ns.is_empty() && !destination_ok(&server, &ns) {
                return Err(format!(
                    "namespace {ns} is not permitted in project '{project}' ({kind} {name})"
                ));
            }
        }
    }
    Ok(())
}

/// Applies manifests as a sync does: CRDs and namespaces first, and the
/// rest once the CRDs are established.
async fn apply_all(
    client: &kube::Client,
    mut manifests: Vec<Value>,
    default_namespace: &str,
) -> Result<(), String> {
    let kind = |m: &Value| {
        m.get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    manifests
        .sort_by_key(|m| !matches!(kind(m).as_str(), "CustomResourceDefinition" | "Namespace"));
    let mut crds: Vec<String> = Vec::new();
    for manifest in manifests {
        if kind(&manifest) != "CustomResourceDefinition" && !crds.is_empty() {
            for crd in std::mem::take(&mut crds) {
                crate::client::await_established(client, &crd).await?;
            }
        }
        crate::client::apply_manifest(client, &manifest, MANAGER, default_namespace)
            .await
            .map_err(|e| e.message)?;
        if kind(&manifest) == "CustomResourceDefinition" {
            crds.push(
                manifest
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    for crd in crds {
        crate::client::await_established(client, &crd).await?;
    }
    Ok(())
}

fn collect_yaml(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Runs the controller against the server `client` reaches until
/// shutdown: watches Applications in every namespace (waiting for their
/// CRD), acting on each change, and on every app again when a test changes
/// the knobs.
pub(crate) async fn run(
    client: kube::Client,
    knobs: Arc<ArgoCdKnobs>,
    mut shutdown: watch::Receiver<bool>,
) {
    // ApplicationSets make the Applications this loop syncs.
    tokio::spawn(crate::applicationset::run(
        client.clone(),
        knobs.clone(),
        shutdown.clone(),
    ));
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let api = crate::client::api(&client, &applications(), None);
    let mut events = crate::client::watch_all(api);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app))) => {
                    let app = crate::client::to_value(&app);
                    let (ns, name) = key(&app);
                    lock(&tracker).apps.insert(format!("{ns}/{name}"), app.clone());
                    reconcile(&client, &knobs, &tracker, Some(&app));
                }
                Some(Ok(watcher::Event::Delete(app))) => {
                    let app = crate::client::to_value(&app);
                    let (ns, name) = key(&app);
                    let mut t = lock(&tracker);
                    t.apps.remove(&format!("{ns}/{name}"));
                    let uid = uid(&app);
                    t.done.remove(&uid);
                    t.finalizing.remove(&uid);
                }
                Some(Ok(_)) => {}
                // The CRD is not there yet, or the server went away for a
                // moment: the watcher lists again on the next poll.
                Some(Err(_)) => tokio::time::sleep(crate::client::RETRY).await,
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
    fn healthy_and_degraded_statuses() {
        let app = json!({ "spec": { "source": { "repoURL": "r", "targetRevision": "v1", "chart": "c" }, "destination": { "namespace": "x" } } });
        let ok = app_status(&app, &Outcome::Healthy, "t");
        assert_eq!(ok["sync"]["status"], "Synced");
        assert_eq!(ok["sync"]["revision"], "v1");
        assert_eq!(ok["health"]["status"], "Healthy");
        assert_eq!(ok["operationState"]["phase"], "Succeeded");
        assert_eq!(ok["sourceType"], "Helm");
        assert!(ok.get("conditions").is_none());
        let bad = app_status(&app, &Outcome::Degraded("pods crash".into()), "t");
        assert_eq!(bad["health"]["status"], "Degraded");
        assert_eq!(bad["health"]["message"], "pods crash");
        assert_eq!(bad["conditions"][0]["message"], "pods crash");
        assert_eq!(bad["operationState"]["phase"], "Failed");
    }

    #[test]
    fn crds_name_their_plural_and_group() {
        assert_eq!(
            application_crd()["metadata"]["name"],
            "applications.argoproj.io"
        );
        assert_eq!(appproject_crd()["spec"]["names"]["kind"], "AppProject");
        let knobs = ArgoCdKnobs::new(ArgoCdSettings::default());
        assert!(!knobs.is_enabled());
        knobs.enable();
        knobs.degrade("a", "m");
        assert!(knobs.is_enabled());
        assert_eq!(
            knobs.lock().degraded.get("a").map(String::as_str),
            Some("m")
        );
        knobs.heal("a");
        assert!(knobs.lock().degraded.is_empty());
    }
}
