//! The object store: every object of every kind, a global resourceVersion
//! counter, and the write rules kube-apiserver enforces — optimistic
//! concurrency, namespaces that must exist, finalizers and
//! `deletionTimestamp`, status subresources, generations, managed fields,
//! dry runs — plus the side effects of Namespaces and CRDs.
//!
//! All state sits behind one mutex; events are emitted while it is held,
//! so their order matches resourceVersion order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::apply::{self, tracked_view, ManagedFields, Scope, Writer};
use crate::patch;
use crate::registry::{crd_types, Registry, ResourceType};
use crate::rng::Rng;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::time::now_rfc3339;
use crate::watch::{Event, EventKind};

/// Events kept for watches that resume from a resourceVersion.
const HISTORY: usize = 5_000;
/// Events buffered per open watch before it is cut off as too slow.
const BROADCAST: usize = 16_384;

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_PLURAL: &str = "customresourcedefinitions";

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) group: String,
    pub(crate) resource: String,
    /// Empty for cluster-scoped objects.
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl Key {
    pub(crate) fn new(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Key {
        Key {
            group: rt.group.clone(),
            resource: rt.plural.clone(),
            namespace: if rt.namespaced {
                namespace.unwrap_or("").to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }

    fn namespace_key(name: &str) -> Key {
        Key {
            group: String::new(),
            resource: "namespaces".into(),
            namespace: String::new(),
            name: name.into(),
        }
    }

    fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.resource == "namespaces"
    }

    fn is_crd(&self) -> bool {
        self.group == CRD_GROUP && self.resource == CRD_PLURAL
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The object without `managedFields`, as last written.
    object: Value,
    managed: ManagedFields,
}

/// Which part of an object a request writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subresource {
    Main,
    Status,
    /// `/scale`: writes only `.spec.replicas`.
    Scale,
}

/// How a request writes.
#[derive(Debug, Clone)]
pub(crate) struct WriteOptions {
    pub(crate) manager: String,
    pub(crate) dry_run: bool,
    pub(crate) subresource: Subresource,
    pub(crate) force: bool,
}

impl WriteOptions {
    pub(crate) fn new(manager: &str) -> WriteOptions {
        WriteOptions {
            manager: manager.to_string(),
            dry_run: false,
            subresource: Subresource::Main,
            force: false,
        }
    }

    fn scope(&self, rt: &ResourceType) -> Scope {
        match self.subresource {
            Subresource::Main | Subresource::Scale => Scope::Main {
                status_separate: rt.status,
            },
            Subresource::Status => Scope::Status,
        }
    }
}

/// The patch formats PATCH accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

/// Preconditions a DELETE may carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preconditions {
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
}

/// The outcome of a DELETE.
#[derive(Debug, Clone)]
pub(crate) enum Deleted {
    /// Removed now; the object as it was.
    Gone(Value),
    /// Marked for deletion, waiting for finalizers (or namespace contents).
    Pending(Value),
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WatchFrom {
    /// From now on, optionally preceded by ADDED events for what exists.
    Now { initial: bool },
    /// Everything after this resourceVersion.
    After(u64),
}

/// A watch, begun: the events before now that it should see, a receiver
/// for everything after, and the current resourceVersion.
pub(crate) struct WatchStart {
    pub(crate) initial: Vec<Arc<Event>>,
    pub(crate) events: broadcast::Receiver<Arc<Event>>,
    pub(crate) rv: u64,
}

/// The result of a successful write.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) object: Value,
    pub(crate) created: bool,
}

struct Inner {
    rv: u64,
    rng: Rng,
    registry: Registry,
    objects: BTreeMap<Key, Entry>,
    history: VecDeque<Arc<Event>>,
    /// resourceVersion of the newest event dropped from the history.
    history_floor: u64,
    events: broadcast::Sender<Arc<Event>>,
    crd_delay: Duration,
}

/// The shared object store.
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get("metadata").and_then(|m| m.get(field))
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj, field).and_then(Value::as_str)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let md = &mut obj["metadata"];
    if !md.is_object() {
        *md = json!({});
    }
    match md {
        Value::Object(m) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj, "finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(obj: &Value) -> bool {
    meta(obj, "deletionTimestamp").is_some_and(|v| !v.is_null())
}

fn rv_of(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// What a spec change is measured on: everything but metadata and status
/// — and, for Deployments, their annotations too, which kube-apiserver
/// counts because they are copied to the ReplicaSets.
fn generation_view(obj: &Value) -> Value {
    let mut v = obj.clone();
    let deployment = obj.get("kind").and_then(Value::as_str) == Some("Deployment")
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("apps/"));
    let annotations = deployment
        .then(|| obj.pointer("/metadata/annotations").cloned())
        .flatten();
    if let Value::Object(m) = &mut v {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
        if let Some(a) = annotations {
            m.insert("annotations".into(), a);
        }
    }
    v
}

/// DNS-1123 subdomain (or label, for namespaces).
fn valid_name(name: &str, label: bool) -> bool {
    let max = if label { 63 } else { 253 };
    let ok_char =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.');
    !name.is_empty()
        && name.len() <= max
        && name.chars().all(ok_char)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Orders keys the way kube-apiserver prints them: apiVersion, kind,
/// metadata (name first), the rest, status last.
fn canonical(obj: Value) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.into(), v);
        }
    }
    if let Some(Value::Object(mut md)) = m.remove("metadata") {
        let mut ordered = Map::new();
        for k in [
            "name",
            "generateName",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "labels",
            "annotations",
            "ownerReferences",
            "finalizers",
        ] {
            if let Some(v) = md.remove(k) {
                ordered.insert(k.into(), v);
            }
        }
        ordered.extend(md);
        out.insert("metadata".into(), Value::Object(ordered));
    }
    let status = m.remove("status");
    out.extend(m);
    if let Some(s) = status {
        out.insert("status".into(), s);
    }
    Value::Object(out)
}

fn render(entry: &Entry, api_version: &str) -> Value {
    let mut obj = entry.object.clone();
    obj["apiVersion"] = json!(api_version);
    if !entry.managed.entries.is_empty() {
        meta_mut(&mut obj).insert("managedFields".into(), entry.managed.to_json());
    }
    obj
}

fn same_ownership(a: &ManagedFields, b: &ManagedFields) -> bool {
    a.entries.len() == b.entries.len()
        && a.entries.iter().zip(&b.entries).all(|(x, y)| {
            x.manager == y.manager
                && x.operation == y.operation
                && x.api_version == y.api_version
                && x.subresource == y.subresource
                && x.fields == y.fields
        })
}

/// An object as its `autoscaling/v1` Scale.
pub(crate) fn scale_view(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let md = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |k: &str| md.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": { "replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1)) },
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// The status kube-apiserver gives an established CRD.
pub(crate) fn established_status(crd: &Value, now: &str) -> Value {
    let names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none() {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or("");
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none() {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or("");
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "conditions": [
            { "type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now },
            { "type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now }
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    })
}

/// Whether a CRD carries Established=True.
pub(crate) fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Established")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

impl Inner {
    fn emit(&mut self, kind: EventKind, key: &Key, object: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            kind,
            group: key.group.clone(),
            resource: key.resource.clone(),
            namespace: key.namespace.clone(),
            rv: self.rv,
            object,
            old,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > HISTORY {
            if let Some(dropped) = self.history.pop_front() {
                self.history_floor = dropped.rv;
            }
        }
        let _ = self.events.send(ev);
    }

    fn api_version_of(&self, key: &Key) -> String {
        self.registry
            .find_any_version(&key.group, &key.resource)
            .map(ResourceType::api_version)
            .or_else(|| {
                self.objects
                    .get(key)
                    .and_then(|e| e.object.get("apiVersion"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    fn rendered(&self, key: &Key) -> Option<Value> {
        let api_version = self.api_version_of(key);
        self.objects.get(key).map(|e| render(e, &api_version))
    }

    /// Refuses new objects in a namespace that is missing or terminating.
    fn check_namespace(&self, ns: &str) -> Result<(), ApiError> {
        match self.objects.get(&Key::namespace_key(ns)) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(e) if is_deleting(&e.object) => {
                let mut err = ApiError::forbidden(format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ));
                err = err.with_details(json!({
                    "name": ns, "kind": "namespaces",
                    "causes": [{ "reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace" }]
                }));
                Err(err)
            }
            Some(_) => Ok(()),
        }
    }

    /// Finishes a write: server-owned metadata, kind rules, generation,
    /// resourceVersion, the event, and removal once finalizers are gone.
    fn commit(
        &mut self,
        rt: &ResourceType,
        key: Key,
        mut obj: Value,
        mut managed: ManagedFields,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::new(
                422,
                "Invalid",
                "the object must be a JSON object",
            ));
        }
        let old = self.objects.get(&key).cloned();
        if old.is_none() && rt.namespaced {
            self.check_namespace(&key.namespace)?;
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let now = now_rfc3339();
        {
            let md = meta_mut(&mut obj);
            md.remove("managedFields");
            md.remove("selfLink");
            md.insert("name".into(), json!(key.name));
            if rt.namespaced {
                md.insert("namespace".into(), json!(key.namespace));
            } else {
                md.remove("namespace");
            }
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                md.remove(k);
            }
            match &old {
                Some(o) => {
                    for k in [
                        "uid",
                        "creationTimestamp",
                        "deletionTimestamp",
                        "deletionGracePeriodSeconds",
                        "generation",
                        "resourceVersion",
                    ] {
                        if let Some(v) = meta(&o.object, k) {
                            md.insert(k.into(), v.clone());
                        }
                    }
                }
                None => {
                    md.insert("uid".into(), json!(self.rng.uuid()));
                    md.insert("creationTimestamp".into(), json!(now));
                    md.insert("generation".into(), json!(1));
                }
            }
        }
        self.kind_rules(rt, &key, &mut obj)?;
        if let Some(o) = &old {
            if generation_view(&o.object) != generation_view(&obj) {
                let g = meta(&o.object, "generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                meta_mut(&mut obj).insert("generation".into(), json!(g + 1));
            }
        }
        managed.prune(&obj);
        let mut obj = canonical(obj);
        if let Some(o) = &old {
            if o.object == obj && same_ownership(&o.managed, &managed) {
                return Ok(Written {
                    object: render(o, &rt.api_version()),
                    created: false,
                });
            }
        }
        if dry_run {
            let entry = Entry {
                object: obj,
                managed,
            };
            return Ok(Written {
                object: render(&entry, &rt.api_version()),
                created: old.is_none(),
            });
        }
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let entry = Entry {
            object: obj,
            managed,
        };
        let rendered = render(&entry, &rt.api_version());
        let created = old.is_none();
        let finished = old.as_ref().is_some_and(|o| is_deleting(&o.object))
            && finalizers(&entry.object).is_empty()
            && !(key.is_namespace() && self.has_contents(&key.name));
        self.objects.insert(key.clone(), entry);
        let old_rendered = old.map(|o| render(&o, &rt.api_version()));
        self.emit(
            if created {
                EventKind::Added
            } else {
                EventKind::Modified
            },
            &key,
            rendered.clone(),
            old_rendered,
        );
        if finished {
            let gone = self.remove(&key).unwrap_or(rendered);
            return Ok(Written {
                object: gone,
                created: false,
            });
        }
        if key.is_crd() && (self.crd_delay.is_zero() || is_established(&rendered)) {
            self.establish(&key.name);
            if let Some(now) = self.rendered(&key) {
                return Ok(Written {
                    object: now,
                    created,
                });
            }
        }
        Ok(Written {
            object: rendered,
            created,
        })
    }

    /// Rules particular to some kinds, applied on every write.
    fn kind_rules(
        &mut self,
        rt: &ResourceType,
        key: &Key,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if !valid_name(&key.name, key.is_namespace()) {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.kind,
                &key.name,
                "metadata.name",
                &format!("Invalid value: {:?}: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", key.name),
            ));
        }
        if key.is_namespace() {
            let md = meta_mut(obj);
            if !md.get("labels").is_some_and(Value::is_object) {
                md.insert("labels".into(), json!({}));
            }
            if let Some(Value::Object(labels)) = md.get_mut("labels") {
                labels.insert("kubernetes.io/metadata.name".into(), json!(key.name));
            }
            let deleting = is_deleting(obj);
            obj["spec"] = json!({ "finalizers": ["kubernetes"] });
            obj["status"] = json!({ "phase": if deleting { "Terminating" } else { "Active" } });
        }
        if rt.group.is_empty() && rt.plural == "secrets" {
            if let Some(Value::Object(string_data)) = obj.get("stringData").cloned() {
                if !obj.get("data").is_some_and(Value::is_object) {
                    obj["data"] = json!({});
                }
                for (k, v) in string_data {
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    obj["data"][k] = json!(base64(text.as_bytes()));
                }
            }
            if let Value::Object(m) = obj {
                m.remove("stringData");
            }
        }
        if key.is_crd() {
            crd_types(obj).map_err(|(field, problem)| {
                ApiError::invalid(&rt.group, &rt.kind, &key.name, &field, &problem)
            })?;
        }
        Ok(())
    }

    fn has_contents(&self, ns: &str) -> bool {
        self.objects.keys().any(|k| k.namespace == ns)
    }

    /// Removes an object now: DELETED event, then CRD and namespace
    /// cascades. Returns the object as it was removed.
    fn remove(&mut self, key: &Key) -> Option<Value> {
        let api_version = self.api_version_of(key);
        let entry = self.objects.remove(key)?;
        self.rv += 1;
        let mut obj = render(&entry, &api_version);
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.emit(EventKind::Deleted, key, obj.clone(), None);
        if key.is_crd() {
            if let Ok(types) = crd_types(&entry.object) {
                if let Some(t) = types.first() {
                    let (group, plural) = (t.group.clone(), t.plural.clone());
                    let doomed: Vec<Key> = self
                        .objects
                        .keys()
                        .filter(|k| k.group == group && k.resource == plural)
                        .cloned()
                        .collect();
                    for k in doomed {
                        self.remove(&k);
                    }
                    self.registry.remove_crd(&group, &plural);
                }
            }
        }
        if !key.namespace.is_empty() {
            self.maybe_finish_namespace(&key.namespace.clone());
        }
        Some(obj)
    }

    /// Removes a terminating namespace once it is empty and unfinalized.
    fn maybe_finish_namespace(&mut self, ns: &str) {
        let nk = Key::namespace_key(ns);
        let ready = self
            .objects
            .get(&nk)
            .is_some_and(|e| is_deleting(&e.object) && finalizers(&e.object).is_empty())
            && !self.has_contents(ns);
        if ready {
            self.remove(&nk);
        }
    }

    /// Sets `deletionTimestamp` (once) and announces it.
    fn mark_deleting(&mut self, key: &Key) -> Option<Value> {
        let api_version = self.api_version_of(key);
        let entry = self.objects.get(key)?.clone();
        if is_deleting(&entry.object) {
            return Some(render(&entry, &api_version));
        }
        let old = render(&entry, &api_version);
        let mut obj = entry.object.clone();
        let g = meta(&obj, "generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        self.rv += 1;
        {
            let md = meta_mut(&mut obj);
            md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            md.insert("deletionGracePeriodSeconds".into(), json!(0));
            md.insert("generation".into(), json!(g + 1));
            md.insert("resourceVersion".into(), json!(self.rv.to_string()));
        }
        if key.is_namespace() {
            obj["status"] = json!({ "phase": "Terminating" });
        }
        let obj = canonical(obj);
        let updated = Entry {
            object: obj,
            managed: entry.managed,
        };
        let rendered = render(&updated, &api_version);
        self.objects.insert(key.clone(), updated);
        self.emit(EventKind::Modified, key, rendered.clone(), Some(old));
        Some(rendered)
    }

    /// Deletes honouring finalizers; namespaces take their contents along.
    fn delete_key(&mut self, key: &Key) -> Option<Deleted> {
        let entry = self.objects.get(key)?;
        if key.is_namespace() {
            let marked = self.mark_deleting(key)?;
            let contents: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.namespace == key.name)
                .cloned()
                .collect();
            for k in contents {
                self.delete_key(&k);
            }
            self.maybe_finish_namespace(&key.name);
            return Some(match self.rendered(key) {
                Some(still) => Deleted::Pending(still),
                None => Deleted::Gone(marked),
            });
        }
        if finalizers(&entry.object).is_empty() {
            self.remove(key).map(Deleted::Gone)
        } else {
            self.mark_deleting(key).map(Deleted::Pending)
        }
    }

    /// Serves a CRD's kinds and records it as Established.
    fn establish(&mut self, name: &str) {
        let key = Key {
            group: CRD_GROUP.into(),
            resource: CRD_PLURAL.into(),
            namespace: String::new(),
            name: name.into(),
        };
        let Some(entry) = self.objects.get(&key).cloned() else {
            return;
        };
        let Ok(types) = crd_types(&entry.object) else {
            return;
        };
        self.registry.add_crd(types);
        if is_established(&entry.object) {
            return;
        }
        let now = now_rfc3339();
        let mut obj = entry.object.clone();
        obj["status"] = established_status(&obj, &now);
        let mut managed = entry.managed.clone();
        let w = Writer {
            manager: "kube-apiserver",
            api_version: "apiextensions.k8s.io/v1",
            subresource: "status",
            now: &now,
        };
        managed.record_update(
            &tracked_view(&entry.object, Scope::Status),
            &tracked_view(&obj, Scope::Status),
            &w,
        );
        if let Some(rt) = self.registry.find(CRD_GROUP, "v1", CRD_PLURAL).cloned() {
            let _ = self.commit(&rt, key, obj, managed, false);
        }
    }
}

impl Store {
    /// A store holding the namespaces every cluster starts with.
    pub(crate) fn new(seed: u64) -> Store {
        let (events, _) = broadcast::channel(BROADCAST);
        let store = Store {
            inner: Mutex::new(Inner {
                rv: 0,
                rng: Rng::new(seed ^ 0x5EED_0F0B_1EC7),
                registry: Registry::builtin(),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                history_floor: 0,
                events,
                crd_delay: Duration::ZERO,
            }),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = store.create_object(
                &json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } }),
                &WriteOptions::new("kube-apiserver"),
            );
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.lock().events.subscribe()
    }

    pub(crate) fn set_crd_delay(&self, delay: Duration) {
        self.lock().crd_delay = delay;
    }

    pub(crate) fn crd_delay(&self) -> Duration {
        self.lock().crd_delay
    }

    pub(crate) fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    pub(crate) fn resource_type(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<ResourceType> {
        self.lock().registry.find(group, version, plural).cloned()
    }

    pub(crate) fn type_for_kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        self.lock().registry.find_kind(api_version, kind).cloned()
    }

    pub(crate) fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub(crate) fn get(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let inner = self.lock();
        inner
            .objects
            .get(&Key::new(rt, ns, name))
            .map(|e| render(e, &rt.api_version()))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// Objects of a kind, in one namespace or all, that match the selectors.
    pub(crate) fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Value>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|(k, _)| k.group == rt.group && k.resource == rt.plural)
            .filter(|(k, _)| ns.is_none_or(|n| k.namespace == n))
            .map(|(_, e)| render(e, &rt.api_version()))
            .filter(|o| labels.matches(o) && fields.matches(o))
            .collect();
        (items, inner.rv)
    }

    fn check_kind(rt: &ResourceType, body: &Value, required: bool) -> Result<(), ApiError> {
        let api_version = body.get("apiVersion").and_then(Value::as_str);
        let kind = body.get("kind").and_then(Value::as_str);
        if required {
            if api_version.is_none_or(str::is_empty) {
                return Err(ApiError::bad_request("apiVersion must be set"));
            }
            if kind.is_none_or(str::is_empty) {
                return Err(ApiError::bad_request("kind must be set"));
            }
        }
        if let Some(k) = kind {
            if k != rt.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind of the object ({k}) does not match the kind of the request ({})",
                    rt.kind
                )));
            }
        }
        if let Some(av) = api_version {
            let group = av.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            if group != rt.group {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({})",
                    rt.api_version()
                )));
            }
        }
        Ok(())
    }

    fn check_namespace_matches(
        rt: &ResourceType,
        body: &Value,
        ns: Option<&str>,
    ) -> Result<(), ApiError> {
        if let (true, Some(url_ns), Some(body_ns)) =
            (rt.namespaced, ns, meta_str(body, "namespace"))
        {
            if !body_ns.is_empty() && body_ns != url_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        Ok(())
    }

    fn writer<'a>(rt_api_version: &'a str, opts: &'a WriteOptions, now: &'a str) -> Writer<'a> {
        Writer {
            manager: &opts.manager,
            api_version: rt_api_version,
            subresource: match opts.subresource {
                Subresource::Main => "",
                Subresource::Status => "status",
                Subresource::Scale => "scale",
            },
            now,
        }
    }

    /// POST: creates a new object (409 AlreadyExists if the name is taken).
    pub(crate) fn create(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the request body must be an object"));
        }
        Self::check_kind(rt, &body, false)?;
        Self::check_namespace_matches(rt, &body, ns)?;
        let mut inner = self.lock();
        let name = match (meta_str(&body, "name"), meta_str(&body, "generateName")) {
            (Some(n), _) if !n.is_empty() => n.to_string(),
            (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", inner.rng.suffix(5)),
            _ => {
                return Err(ApiError::invalid(
                    &rt.group,
                    &rt.kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ))
            }
        };
        let key = Key::new(rt, ns, &name);
        if inner.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        if rt.status {
            if let Value::Object(m) = &mut body {
                m.remove("status");
            }
        }
        let now = now_rfc3339();
        let api_version = rt.api_version();
        let mut managed = ManagedFields::default();
        managed.record_update(
            &json!({}),
            &tracked_view(&body, opts.scope(rt)),
            &Self::writer(&api_version, opts, &now),
        );
        inner
            .commit(rt, key, body, managed, opts.dry_run)
            .map(|w| w.object)
    }

    /// Creates an object given as a whole manifest, for tests and seeds.
    pub(crate) fn create_object(
        &self,
        obj: &Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let rt = self.type_for_object(obj)?;
        let ns = meta_str(obj, "namespace").map(str::to_string);
        let ns = if rt.namespaced {
            Some(ns.unwrap_or_else(|| "default".to_string()))
        } else {
            None
        };
        self.create(&rt, ns.as_deref(), obj.clone(), opts)
    }

    pub(crate) fn type_for_object(&self, obj: &Value) -> Result<ResourceType, ApiError> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        self.type_for_kind(api_version, kind).ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("no matches for kind \"{kind}\" in version \"{api_version}\""),
            )
        })
    }

    /// Builds the next object of a PUT or non-apply PATCH from the request's
    /// version, keeping what the subresource may not change.
    fn next_object(rt: &ResourceType, old: &Value, requested: Value, sub: Subresource) -> Value {
        match sub {
            Subresource::Main | Subresource::Scale => {
                let mut next = requested;
                if rt.status {
                    match old.get("status") {
                        Some(s) => next["status"] = s.clone(),
                        None => {
                            if let Value::Object(m) = &mut next {
                                m.remove("status");
                            }
                        }
                    }
                }
                next
            }
            Subresource::Status => {
                let mut next = old.clone();
                match requested.get("status") {
                    Some(s) => next["status"] = s.clone(),
                    None => {
                        if let Value::Object(m) = &mut next {
                            m.remove("status");
                        }
                    }
                }
                next
            }
        }
    }

    fn check_preconditions(
        rt: &ResourceType,
        name: &str,
        current: &Value,
        wanted: &Value,
    ) -> Result<(), ApiError> {
        if let Some(rv) = meta_str(wanted, "resourceVersion").filter(|s| !s.is_empty()) {
            if meta_str(current, "resourceVersion") != Some(rv) {
                return Err(ApiError::stale(&rt.group, &rt.plural, name));
            }
        }
        if let Some(uid) = meta_str(wanted, "uid").filter(|s| !s.is_empty()) {
            let have = meta_str(current, "uid").unwrap_or("");
            if have != uid {
                return Err(ApiError::precondition(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                ));
            }
        }
        Ok(())
    }

    fn update_from(
        inner: &mut Inner,
        rt: &ResourceType,
        key: Key,
        requested: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let Some(old) = inner.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, &key.name));
        };
        if !requested.is_object() {
            return Err(ApiError::new(
                422,
                "Invalid",
                "the result of the request must be an object",
            ));
        }
        Self::check_preconditions(rt, &key.name, &old.object, &requested)?;
        let next = Self::next_object(rt, &old.object, requested, opts.subresource);
        let now = now_rfc3339();
        let api_version = rt.api_version();
        let scope = opts.scope(rt);
        let mut managed = old.managed.clone();
        managed.record_update(
            &tracked_view(&old.object, scope),
            &tracked_view(&next, scope),
            &Self::writer(&api_version, opts, &now),
        );
        inner
            .commit(rt, key, next, managed, opts.dry_run)
            .map(|w| w.object)
    }

    /// PUT: replaces an object; a stale resourceVersion is a 409.
    pub(crate) fn replace(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the request body must be an object"));
        }
        Self::check_kind(rt, &body, false)?;
        Self::check_namespace_matches(rt, &body, ns)?;
        if let Some(body_name) = meta_str(&body, "name") {
            if body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let mut inner = self.lock();
        Self::update_from(&mut inner, rt, Key::new(rt, ns, name), body, opts)
    }

    /// Writes `.spec.replicas` through the scale subresource.
    pub(crate) fn set_replicas(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        replicas: i64,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = Key::new(rt, ns, name);
        let mut next = inner
            .objects
            .get(&key)
            .map(|e| e.object.clone())
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        if !next.get("spec").is_some_and(Value::is_object) {
            next["spec"] = json!({});
        }
        next["spec"]["replicas"] = json!(replicas);
        meta_mut(&mut next).remove("resourceVersion");
        Self::update_from(&mut inner, rt, key, next, opts)
    }

    /// PATCH in any of its formats; apply creates the object when missing.
    pub(crate) fn patch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let key = Key::new(rt, ns, name);
        if kind == PatchKind::Apply {
            return self.server_side_apply(rt, key, body, opts);
        }
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(&key)
            .map(|e| render(e, &rt.api_version()))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let patched = match kind {
            PatchKind::Merge => {
                let mut v = current.clone();
                patch::merge_patch(&mut v, body);
                v
            }
            PatchKind::Strategic => {
                let mut v = current.clone();
                patch::strategic_merge_patch(&mut v, body);
                v
            }
            PatchKind::Json => patch::json_patch(&current, body).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?,
            PatchKind::Apply => current.clone(),
        };
        if meta_str(&patched, "name") != Some(name) {
            return Err(ApiError::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        let mut requested = patched;
        // A resourceVersion the patch did not touch is not a precondition.
        if meta(&requested, "resourceVersion") == meta(&current, "resourceVersion") {
            meta_mut(&mut requested).remove("resourceVersion");
        }
        Self::update_from(&mut inner, rt, key, requested, opts).map(|object| Written {
            object,
            created: false,
        })
    }

    fn server_side_apply(
        &self,
        rt: &ResourceType,
        key: Key,
        applied: &Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the applied configuration must be an object",
            ));
        }
        Self::check_kind(rt, applied, true)?;
        if let Some(n) = meta_str(applied, "name") {
            if n != key.name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    key.name
                )));
            }
        }
        if let (true, Some(body_ns)) = (rt.namespaced, meta_str(applied, "namespace")) {
            if !body_ns.is_empty() && body_ns != key.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let mut inner = self.lock();
        let old = inner.objects.get(&key).cloned();
        let (live, managed) = match &old {
            Some(e) => {
                Self::check_preconditions(rt, &key.name, &e.object, applied)?;
                (e.object.clone(), e.managed.clone())
            }
            None => {
                if rt.namespaced {
                    inner.check_namespace(&key.namespace)?;
                }
                (
                    json!({ "apiVersion": rt.api_version(), "kind": rt.kind, "metadata": { "name": key.name } }),
                    ManagedFields::default(),
                )
            }
        };
        let now = now_rfc3339();
        let api_version = rt.api_version();
        let view = tracked_view(applied, opts.scope(rt));
        let w = Self::writer(&api_version, opts, &now);
        let (merged, managed) = apply::apply(&live, &managed, &view, &w, opts.force)
            .map_err(|c| apply::conflict_error(&c))?;
        inner.commit(rt, key, merged, managed, opts.dry_run)
    }

    /// DELETE: immediate, or pending while finalizers remain.
    pub(crate) fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<Deleted, ApiError> {
        let key = Key::new(rt, ns, name);
        let mut inner = self.lock();
        let Some(entry) = inner.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, name));
        };
        if let Some(uid) = &pre.uid {
            let have = meta_str(&entry.object, "uid").unwrap_or("");
            if have != uid {
                return Err(ApiError::precondition(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                ));
            }
        }
        if let Some(rv) = &pre.resource_version {
            if meta_str(&entry.object, "resourceVersion") != Some(rv.as_str()) {
                return Err(ApiError::precondition(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta_str(&entry.object, "resourceVersion").unwrap_or("")
                    ),
                ));
            }
        }
        if dry_run {
            let obj = render(&entry, &rt.api_version());
            return Ok(if finalizers(&obj).is_empty() && !key.is_namespace() {
                Deleted::Gone(obj)
            } else {
                Deleted::Pending(obj)
            });
        }
        inner
            .delete_key(&key)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// DELETE on a collection: deletes every selected object.
    pub(crate) fn delete_collection(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        dry_run: bool,
    ) -> Vec<Value> {
        let (items, _) = self.list(rt, ns, labels, fields);
        if dry_run {
            return items;
        }
        let mut inner = self.lock();
        let mut out = Vec::new();
        for item in items {
            let name = meta_str(&item, "name").unwrap_or("");
            let item_ns = meta_str(&item, "namespace");
            match inner.delete_key(&Key::new(rt, item_ns, name)) {
                Some(Deleted::Gone(o) | Deleted::Pending(o)) => out.push(o),
                None => {}
            }
        }
        out
    }

    /// Starts a watch atomically: the initial or replayed events, and a
    /// receiver for everything after them.
    pub(crate) fn watch_start(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        from: WatchFrom,
    ) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        let rx = inner.events.subscribe();
        let in_scope = |group: &str, resource: &str, namespace: &str| {
            group == rt.group && resource == rt.plural && ns.is_none_or(|n| n == namespace)
        };
        let events = match from {
            WatchFrom::Now { initial: false } => Vec::new(),
            WatchFrom::Now { initial: true } => inner
                .objects
                .iter()
                .filter(|(k, _)| in_scope(&k.group, &k.resource, &k.namespace))
                .map(|(k, e)| {
                    let object = render(e, &rt.api_version());
                    Arc::new(Event {
                        kind: EventKind::Added,
                        group: k.group.clone(),
                        resource: k.resource.clone(),
                        namespace: k.namespace.clone(),
                        rv: rv_of(&object),
                        object,
                        old: None,
                    })
                })
                .collect(),
            WatchFrom::After(rv) => {
                if rv < inner.history_floor {
                    return Err(ApiError::expired(format!(
                        "too old resource version: {rv} ({})",
                        inner.history_floor + 1
                    )));
                }
                inner
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && in_scope(&e.group, &e.resource, &e.namespace))
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchStart {
            initial: events,
            events: rx,
            rv: inner.rv,
        })
    }

    /// Serves and marks Established a CRD whose establishment was delayed.
    pub(crate) fn establish_crd(&self, name: &str, uid: &str) {
        let mut inner = self.lock();
        let key = Key {
            group: CRD_GROUP.into(),
            resource: CRD_PLURAL.into(),
            namespace: String::new(),
            name: name.into(),
        };
        let current_uid = inner
            .objects
            .get(&key)
            .and_then(|e| meta_str(&e.object, "uid").map(str::to_string));
        if current_uid.as_deref() == Some(uid) {
            inner.establish(name);
        }
    }

    /// Objects of one kind anywhere, rendered (for controller doubles).
    /// Server-side applies a whole manifest as `manager`, forcing
    /// conflicts: what a controller (the Argo CD double) or a test does.
    pub(crate) fn apply_manifest(
        &self,
        manifest: &Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let rt = self.type_for_object(manifest)?;
        let name = manifest
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ns = rt.namespaced.then(|| {
            manifest
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        });
        let mut opts = WriteOptions::new(manager);
        opts.force = true;
        self.patch(&rt, ns.as_deref(), &name, PatchKind::Apply, manifest, &opts)
            .map(|w| w.object)
    }

    /// Every object's key, for assertions and dumps.
    pub(crate) fn count(&self) -> usize {
        self.lock().objects.len()
    }

    /// The managers of one object, in order.
    pub(crate) fn managers(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Vec<String> {
        self.lock()
            .objects
            .get(&Key::new(rt, ns, name))
            .map(|e| e.managed.managers())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(1)
    }

    fn rt(s: &Store, group: &str, plural: &str) -> ResourceType {
        s.registry()
            .find_any_version(group, plural)
            .cloned()
            .unwrap_or_else(|| panic!("{group}/{plural} is served"))
    }

    fn cm(name: &str, ns: &str, data: Value) -> Value {
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name, "namespace": ns }, "data": data })
    }

    fn opts(m: &str) -> WriteOptions {
        WriteOptions::new(m)
    }

    #[test]
    fn starts_with_the_usual_namespaces() {
        let s = store();
        let ns = rt(&s, "", "namespaces");
        for n in ["default", "kube-system"] {
            let o = s.get(&ns, None, n).expect("namespace exists");
            assert_eq!(o["status"]["phase"], "Active");
            assert_eq!(o["metadata"]["labels"]["kubernetes.io/metadata.name"], n);
        }
    }

    #[test]
    fn create_sets_server_metadata_and_refuses_duplicates() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let o = s
            .create(
                &t,
                Some("default"),
                cm("a", "default", json!({"k": "v"})),
                &opts("test"),
            )
            .expect("created");
        assert!(o["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        assert_eq!(o["metadata"]["generation"], 1);
        assert!(o["metadata"]["creationTimestamp"].is_string());
        assert_eq!(o["metadata"]["managedFields"][0]["manager"], "test");
        assert_eq!(o["metadata"]["managedFields"][0]["operation"], "Update");
        let err = s
            .create(
                &t,
                Some("default"),
                cm("a", "default", json!({})),
                &opts("test"),
            )
            .expect_err("duplicate");
        assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    }

    #[test]
    fn namespaced_objects_need_their_namespace() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let err = s
            .create(&t, Some("nope"), cm("a", "nope", json!({})), &opts("t"))
            .expect_err("no namespace");
        assert_eq!(err.code, 404);
        assert_eq!(err.message, "namespaces \"nope\" not found");
        let err = s
            .patch(
                &t,
                Some("nope"),
                "a",
                PatchKind::Apply,
                &cm("a", "nope", json!({})),
                &opts("t"),
            )
            .expect_err("apply too");
        assert_eq!(err.code, 404);
    }

    #[test]
    fn names_are_validated_and_generated() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let err = s
            .create(
                &t,
                Some("default"),
                cm("Bad_Name", "default", json!({})),
                &opts("t"),
            )
            .expect_err("invalid");
        assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
        let o = s
            .create(
                &t,
                Some("default"),
                json!({ "metadata": { "generateName": "job-" } }),
                &opts("t"),
            )
            .expect("generated");
        assert!(o["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("job-") && n.len() == 9));
    }

    #[test]
    fn replace_checks_resource_version() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let o = s
            .create(
                &t,
                Some("default"),
                cm("a", "default", json!({"k": "1"})),
                &opts("t"),
            )
            .expect("created");
        let mut next = o.clone();
        next["data"]["k"] = json!("2");
        let updated = s
            .replace(&t, Some("default"), "a", next.clone(), &opts("t"))
            .expect("fresh");
        assert_ne!(
            updated["metadata"]["resourceVersion"],
            o["metadata"]["resourceVersion"]
        );
        let err = s
            .replace(&t, Some("default"), "a", next, &opts("t"))
            .expect_err("stale");
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert!(err.message.contains("the object has been modified"));
    }

    #[test]
    fn generation_follows_spec_not_metadata_or_status() {
        let s = store();
        let t = rt(&s, "apps", "deployments");
        let d = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "d" }, "spec": { "replicas": 1 }, "status": { "replicas": 9 } });
        let o = s
            .create(&t, Some("default"), d, &opts("t"))
            .expect("created");
        assert!(o.get("status").is_none(), "status is ignored on create");
        let o = s
            .patch(
                &t,
                Some("default"),
                "d",
                PatchKind::Merge,
                &json!({"metadata": {"labels": {"a": "b"}}}),
                &opts("t"),
            )
            .expect("label")
            .object;
        assert_eq!(o["metadata"]["generation"], 1);
        // A Deployment's annotations are copied to its ReplicaSets: a change
        // is a new generation, as in kube-apiserver.
        let o = s
            .patch(
                &t,
                Some("default"),
                "d",
                PatchKind::Merge,
                &json!({"metadata": {"annotations": {"note": "hi"}}}),
                &opts("t"),
            )
            .expect("annotate")
            .object;
        assert_eq!(o["metadata"]["generation"], 2);
        let o = s
            .patch(
                &t,
                Some("default"),
                "d",
                PatchKind::Merge,
                &json!({"spec": {"replicas": 3}, "status": {"replicas": 3}}),
                &opts("t"),
            )
            .expect("scale")
            .object;
        assert_eq!(o["metadata"]["generation"], 3);
        assert!(o.get("status").is_none(), "main writes ignore status");
        let mut status_opts = opts("ctrl");
        status_opts.subresource = Subresource::Status;
        let o = s
            .patch(
                &t,
                Some("default"),
                "d",
                PatchKind::Merge,
                &json!({"spec": {"replicas": 7}, "status": {"replicas": 3}}),
                &status_opts,
            )
            .expect("status")
            .object;
        assert_eq!(o["status"]["replicas"], 3);
        assert_eq!(o["spec"]["replicas"], 3, "status writes ignore spec");
        assert_eq!(o["metadata"]["generation"], 3);
    }

    #[test]
    fn unchanged_writes_do_not_bump_resource_version() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let a = s
            .patch(
                &t,
                Some("default"),
                "a",
                PatchKind::Apply,
                &cm("a", "default", json!({"k": "v"})),
                &opts("m"),
            )
            .expect("apply");
        assert!(a.created);
        let b = s
            .patch(
                &t,
                Some("default"),
                "a",
                PatchKind::Apply,
                &cm("a", "default", json!({"k": "v"})),
                &opts("m"),
            )
            .expect("again");
        assert!(!b.created);
        assert_eq!(
            a.object["metadata"]["resourceVersion"],
            b.object["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn dry_run_stores_nothing() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let mut o = opts("t");
        o.dry_run = true;
        let before = s.current_rv();
        let out = s
            .patch(
                &t,
                Some("default"),
                "a",
                PatchKind::Apply,
                &cm("a", "default", json!({"k": "v"})),
                &o,
            )
            .expect("dry run");
        assert_eq!(out.object["data"]["k"], "v");
        assert!(s.get(&t, Some("default"), "a").is_err());
        assert_eq!(s.current_rv(), before);
        s.create(
            &t,
            Some("default"),
            cm("b", "default", json!({})),
            &opts("t"),
        )
        .expect("b");
        assert!(matches!(
            s.delete(&t, Some("default"), "b", &Preconditions::default(), true),
            Ok(Deleted::Gone(_))
        ));
        assert!(s.get(&t, Some("default"), "b").is_ok());
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let mut obj = cm("a", "default", json!({}));
        obj["metadata"]["finalizers"] = json!(["example.com/hold"]);
        s.create(&t, Some("default"), obj, &opts("t"))
            .expect("created");
        let pending = s
            .delete(&t, Some("default"), "a", &Preconditions::default(), false)
            .expect("delete");
        let Deleted::Pending(o) = pending else {
            panic!("finalizer should hold the object");
        };
        assert!(o["metadata"]["deletionTimestamp"].is_string());
        assert!(s.get(&t, Some("default"), "a").is_ok());
        s.patch(
            &t,
            Some("default"),
            "a",
            PatchKind::Merge,
            &json!({"metadata": {"finalizers": null}}),
            &opts("t"),
        )
        .expect("finalizer removed");
        assert_eq!(
            s.get(&t, Some("default"), "a").map_err(|e| e.code),
            Err(404)
        );
    }

    #[test]
    fn deleting_a_namespace_deletes_its_contents() {
        let s = store();
        let ns = rt(&s, "", "namespaces");
        let t = rt(&s, "", "configmaps");
        s.create(
            &ns,
            None,
            json!({ "metadata": { "name": "team" } }),
            &opts("t"),
        )
        .expect("ns");
        s.create(&t, Some("team"), cm("a", "team", json!({})), &opts("t"))
            .expect("a");
        let mut held = cm("b", "team", json!({}));
        held["metadata"]["finalizers"] = json!(["x/y"]);
        s.create(&t, Some("team"), held, &opts("t")).expect("b");
        let out = s
            .delete(&ns, None, "team", &Preconditions::default(), false)
            .expect("delete ns");
        assert!(matches!(out, Deleted::Pending(_)));
        assert!(s.get(&t, Some("team"), "a").is_err());
        let terminating = s.get(&ns, None, "team").expect("still there");
        assert_eq!(terminating["status"]["phase"], "Terminating");
        let err = s
            .create(&t, Some("team"), cm("c", "team", json!({})), &opts("t"))
            .expect_err("terminating");
        assert_eq!(err.code, 403);
        s.patch(
            &t,
            Some("team"),
            "b",
            PatchKind::Json,
            &json!([{"op": "remove", "path": "/metadata/finalizers"}]),
            &opts("t"),
        )
        .expect("release");
        assert!(
            s.get(&ns, None, "team").is_err(),
            "namespace goes once empty"
        );
    }

    #[test]
    fn crds_serve_their_kinds_and_take_them_away() {
        let s = store();
        let crd_t = rt(&s, "apiextensions.k8s.io", "customresourcedefinitions");
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com" },
            "spec": { "group": "example.com", "scope": "Namespaced",
                "names": { "kind": "Widget", "plural": "widgets" },
                "versions": [ { "name": "v1", "served": true, "storage": true } ] }
        });
        assert!(s.resource_type("example.com", "v1", "widgets").is_none());
        let before = s.count();
        let o = s.create(&crd_t, None, crd, &opts("t")).expect("crd");
        assert_eq!(o["status"]["conditions"][1]["type"], "Established");
        let w = s
            .resource_type("example.com", "v1", "widgets")
            .expect("served");
        s.create(
            &w,
            Some("default"),
            json!({ "metadata": { "name": "w" }, "spec": {} }),
            &opts("t"),
        )
        .expect("widget");
        s.delete(
            &crd_t,
            None,
            "widgets.example.com",
            &Preconditions::default(),
            false,
        )
        .expect("delete crd");
        assert!(s.resource_type("example.com", "v1", "widgets").is_none());
        assert_eq!(s.count(), before);
    }

    #[test]
    fn scale_writes_only_replicas() {
        let s = store();
        let t = rt(&s, "apps", "deployments");
        let d = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "d" }, "spec": { "replicas": 1, "selector": { "matchLabels": { "app": "d" } } } });
        s.create(&t, Some("default"), d, &opts("t"))
            .expect("created");
        let mut o = opts("kubectl");
        o.subresource = Subresource::Scale;
        let out = s
            .set_replicas(&t, Some("default"), "d", 4, &o)
            .expect("scaled");
        assert_eq!(out["spec"]["replicas"], 4);
        assert_eq!(out["metadata"]["generation"], 2);
        let scale = scale_view(&out);
        assert_eq!(scale["spec"]["replicas"], 4);
        assert_eq!(scale["status"]["selector"], "app=d");
        let entry = out["metadata"]["managedFields"]
            .as_array()
            .and_then(|m| m.iter().find(|e| e["manager"] == "kubectl").cloned())
            .expect("scale writer recorded");
        assert_eq!(entry["subresource"], "scale");
    }

    #[test]
    fn secrets_fold_string_data() {
        let s = store();
        let t = rt(&s, "", "secrets");
        let o = s
            .create(
                &t,
                Some("default"),
                json!({ "metadata": { "name": "s" }, "stringData": { "password": "hunter2" } }),
                &opts("t"),
            )
            .expect("secret");
        assert_eq!(o["data"]["password"], "aHVudGVyMg==");
        assert!(o.get("stringData").is_none());
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn watch_replays_history_after_a_resource_version() {
        let s = store();
        let t = rt(&s, "", "configmaps");
        let start = s.current_rv();
        s.create(
            &t,
            Some("default"),
            cm("a", "default", json!({})),
            &opts("t"),
        )
        .expect("a");
        s.create(
            &t,
            Some("kube-system"),
            cm("b", "kube-system", json!({})),
            &opts("t"),
        )
        .expect("b");
        let events = s
            .watch_start(&t, Some("default"), WatchFrom::After(start))
            .expect("watch")
            .initial;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Added);
        let all = s
            .watch_start(&t, None, WatchFrom::Now { initial: true })
            .expect("watch")
            .initial;
        assert_eq!(all.len(), 2);
    }
}
