//! Server-side apply and managed fields.
//!
//! Ownership is tracked per field manager as a set of leaf paths (an
//! approximation of FieldsV1 without schemas): maps recurse, a list whose
//! items all carry a unique `name` is an associative list keyed by name
//! (its items are owned individually), every other list is atomic.
//! Applying a path another manager owns with a different value is a
//! conflict unless forced; paths a manager stops applying are removed when
//! nobody else owns them; plain updates take over the paths they change.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::status::ApiError;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Seg {
    /// A map key.
    Field(String),
    /// The item of an associative list whose `name` is this.
    Key(String),
}

/// A path from the object root to an owned field.
pub(crate) type FieldPath = Vec<Seg>;

/// A path as kube-apiserver prints it: `.spec.containers[name="app"].image`.
pub(crate) fn path_string(p: &[Seg]) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Seg::Key(n) => {
                let _ = write!(s, "[name=\"{n}\"]");
            }
        }
    }
    s
}

/// How a manager last wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ManagerEntry {
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    pub(crate) api_version: String,
    pub(crate) time: String,
    pub(crate) subresource: String,
    pub(crate) fields: BTreeSet<FieldPath>,
}

/// All managers of one object, in the order they first wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ManagedFields {
    pub(crate) entries: Vec<ManagerEntry>,
}

/// The identity of a write for ownership purposes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub(crate) manager: &'a str,
    pub(crate) api_version: &'a str,
    /// `""` for the main resource, `"status"` for the status subresource.
    pub(crate) subresource: &'a str,
    pub(crate) now: &'a str,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The main resource; `.status` is excluded when the kind has a status
    /// subresource.
    Main { status_separate: bool },
    /// The status subresource: only `.status`.
    Status,
}

/// Metadata the server owns; never part of any manager's fields.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// The part of `obj` a write in `scope` may own.
pub(crate) fn tracked_view(obj: &Value, scope: Scope) -> Value {
    let mut out = Map::new();
    let Value::Object(m) = obj else {
        return Value::Object(out);
    };
    for (k, v) in m {
        match (k.as_str(), scope) {
            ("apiVersion" | "kind", _) => {}
            ("status", Scope::Status) => {
                out.insert(k.clone(), v.clone());
            }
            (_, Scope::Status) => {}
            ("status", Scope::Main { status_separate }) if status_separate => {}
            ("metadata", _) => {
                if let Value::Object(meta) = v {
                    let kept: Map<String, Value> = meta
                        .iter()
                        .filter(|(k, _)| !SYSTEM_METADATA.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if !kept.is_empty() {
                        out.insert(k.clone(), Value::Object(kept));
                    }
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn item_name(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// The names of an associative list, or `None` for an atomic one.
fn associative_names(items: &[Value]) -> Option<Vec<&str>> {
    if items.is_empty() {
        return None;
    }
    let names: Vec<&str> = items.iter().map(item_name).collect::<Option<_>>()?;
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    (unique.len() == names.len()).then_some(names)
}

/// Every owned path of a value: leaves, plus one path per associative item.
pub(crate) fn leaves(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    collect(v, &mut Vec::new(), &mut out);
    out
}

fn collect(v: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                prefix.push(Seg::Field(k.clone()));
                collect(c, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => match associative_names(items) {
            Some(names) => {
                for (item, name) in items.iter().zip(names) {
                    prefix.push(Seg::Key(name.to_string()));
                    out.insert(prefix.clone());
                    if let Value::Object(m) = item {
                        for (k, c) in m.iter().filter(|(k, _)| k.as_str() != "name") {
                            prefix.push(Seg::Field(k.clone()));
                            collect(c, prefix, out);
                            prefix.pop();
                        }
                    }
                    prefix.pop();
                }
            }
            None if !prefix.is_empty() => {
                out.insert(prefix.clone());
            }
            None => {}
        },
        _ if !prefix.is_empty() => {
            out.insert(prefix.clone());
        }
        _ => {}
    }
}

/// The value at a path.
pub(crate) fn get_path<'a>(v: &'a Value, p: &[Seg]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in p {
        cur = match (seg, cur) {
            (Seg::Field(f), Value::Object(m)) => m.get(f)?,
            (Seg::Key(n), Value::Array(a)) => a.iter().find(|i| item_name(i) == Some(n))?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_path_mut<'a>(v: &'a mut Value, p: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in p {
        cur = match (seg, cur) {
            (Seg::Field(f), Value::Object(m)) => m.get_mut(f)?,
            (Seg::Key(n), Value::Array(a)) => a.iter_mut().find(|i| item_name(i) == Some(n))?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Whether two objects agree at a path. Associative items and non-empty
/// maps compare by presence (their children are paths of their own).
fn same_at(a: &Value, b: &Value, p: &[Seg]) -> bool {
    match (get_path(a, p), get_path(b, p)) {
        (Some(_), Some(_)) if matches!(p.last(), Some(Seg::Key(_))) => true,
        (Some(Value::Object(x)), Some(Value::Object(y))) if x.is_empty() || y.is_empty() => true,
        (x, y) => x == y,
    }
}

/// Removes the field at a path, then any map or list the removal emptied.
fn remove_path(v: &mut Value, p: &[Seg]) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    match (last, get_path_mut(v, parents)) {
        (Seg::Field(f), Some(Value::Object(m))) => {
            m.remove(f);
        }
        (Seg::Key(n), Some(Value::Array(a))) => a.retain(|i| item_name(i) != Some(n)),
        _ => return,
    }
    for depth in (1..p.len()).rev() {
        let prefix = &p[..depth];
        if matches!(prefix.last(), Some(Seg::Key(_))) {
            break;
        }
        let emptied = match get_path(v, prefix) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if !emptied {
            break;
        }
        remove_path_once(v, prefix);
    }
}

fn remove_path_once(v: &mut Value, p: &[Seg]) {
    if let Some((Seg::Field(f), parents)) = p.split_last() {
        if let Some(Value::Object(m)) = get_path_mut(v, parents) {
            m.remove(f);
        }
    }
}

/// Merges an applied configuration into a live object: maps recurse,
/// associative lists merge item by item, everything else is replaced.
pub(crate) fn merge_applied(live: &mut Value, applied: &Value) {
    if let (Value::Object(l), Value::Object(a)) = (&mut *live, applied) {
        for (k, av) in a {
            match l.get_mut(k) {
                Some(lv) => merge_applied(lv, av),
                None => {
                    l.insert(k.clone(), av.clone());
                }
            }
        }
        return;
    }
    if let (Value::Array(l), Value::Array(a)) = (&mut *live, applied) {
        let live_ok = l.is_empty() || associative_names(l).is_some();
        if associative_names(a).is_some() && live_ok {
            for item in a {
                match l.iter_mut().find(|i| item_name(i) == item_name(item)) {
                    Some(li) => merge_applied(li, item),
                    None => l.push(item.clone()),
                }
            }
            return;
        }
    }
    *live = applied.clone();
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conflict {
    /// The manager as the apiserver prints it: `"kubectl"` for an applier,
    /// `"kubectl-edit" using apps/v1` for an updater.
    pub(crate) manager: String,
    pub(crate) path: FieldPath,
}

fn describe(e: &ManagerEntry) -> String {
    match e.operation {
        Operation::Apply => format!("{:?}", e.manager),
        Operation::Update => format!("{:?} using {}", e.manager, e.api_version),
    }
}

impl ManagedFields {
    fn is_me(e: &ManagerEntry, w: &Writer, op: Operation) -> bool {
        e.manager == w.manager && e.operation == op && e.subresource == w.subresource
    }

    fn entry_mut(&mut self, w: &Writer, op: Operation) -> &mut ManagerEntry {
        let pos = match self.entries.iter().position(|e| Self::is_me(e, w, op)) {
            Some(pos) => pos,
            None => {
                self.entries.push(ManagerEntry {
                    manager: w.manager.to_string(),
                    operation: op,
                    api_version: w.api_version.to_string(),
                    time: w.now.to_string(),
                    subresource: w.subresource.to_string(),
                    fields: BTreeSet::new(),
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[pos];
        e.api_version = w.api_version.to_string();
        e.time = w.now.to_string();
        e
    }

    /// Records a plain write (create, update, patch): the writer takes over
    /// every path whose value it changed.
    pub(crate) fn record_update(&mut self, old_view: &Value, new_view: &Value, w: &Writer) {
        let changed: BTreeSet<FieldPath> = leaves(new_view)
            .into_iter()
            .filter(|p| !same_at(old_view, new_view, p))
            .collect();
        if changed.is_empty() {
            return;
        }
        for e in self
            .entries
            .iter_mut()
            .filter(|e| !Self::is_me(e, w, Operation::Update))
        {
            e.fields.retain(|p| !changed.contains(p));
        }
        self.entry_mut(w, Operation::Update).fields.extend(changed);
    }

    /// Drops owned paths that no longer exist, and updaters left with none.
    pub(crate) fn prune(&mut self, object: &Value) {
        for e in &mut self.entries {
            e.fields.retain(|p| get_path(object, p).is_some());
        }
        self.entries
            .retain(|e| e.operation == Operation::Apply || !e.fields.is_empty());
    }

    /// The `metadata.managedFields` list.
    pub(crate) fn to_json(&self) -> Value {
        Value::Array(
            self.entries
                .iter()
                .map(|e| {
                    let mut m = json!({
                        "manager": e.manager,
                        "operation": match e.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                        "apiVersion": e.api_version,
                        "time": e.time,
                        "fieldsType": "FieldsV1",
                        "fieldsV1": fields_v1(&e.fields),
                    });
                    if !e.subresource.is_empty() {
                        m["subresource"] = json!(e.subresource);
                    }
                    m
                })
                .collect(),
        )
    }

    /// The names of the managers, in order (for assertions).
    pub(crate) fn managers(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.manager.clone()).collect()
    }
}

/// Renders a path set as FieldsV1 (`f:` fields, `k:` keyed items, `.` for
/// the item itself).
fn fields_v1(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in fields {
        insert_fields_v1(&mut root, p);
    }
    Value::Object(root)
}

fn insert_fields_v1(map: &mut Map<String, Value>, path: &[Seg]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let key = match first {
        Seg::Field(f) => format!("f:{f}"),
        Seg::Key(n) => format!("k:{}", json!({ "name": n })),
    };
    if let Value::Object(child) = map.entry(key).or_insert_with(|| Value::Object(Map::new())) {
        if !rest.is_empty() {
            insert_fields_v1(child, rest);
        } else if let Seg::Key(_) = first {
            child.insert(".".into(), json!({}));
            child.insert("f:name".into(), json!({}));
        }
    }
}

/// Server-side apply of `applied` (already reduced to what the scope may
/// own) onto `live`. Returns the merged object and the new ownership, or
/// the conflicts when not forced.
pub(crate) fn apply(
    live: &Value,
    managed: &ManagedFields,
    applied: &Value,
    w: &Writer,
    force: bool,
) -> Result<(Value, ManagedFields), Vec<Conflict>> {
    let new_fields = leaves(applied);
    let is_me = |e: &ManagerEntry| ManagedFields::is_me(e, w, Operation::Apply);
    let mut conflicts = Vec::new();
    for e in managed.entries.iter().filter(|e| !is_me(e)) {
        for p in new_fields.intersection(&e.fields) {
            if !same_at(live, applied, p) {
                conflicts.push(Conflict {
                    manager: describe(e),
                    path: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let mut managed = managed.clone();
    for e in managed.entries.iter_mut().filter(|e| !is_me(e)) {
        e.fields
            .retain(|p| !new_fields.contains(p) || same_at(live, applied, p));
    }
    let old_fields = managed
        .entries
        .iter()
        .find(|e| is_me(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut merged = live.clone();
    merge_applied(&mut merged, applied);
    let mut dropped: Vec<&FieldPath> = old_fields.difference(&new_fields).collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        let still_applied = new_fields.iter().any(|q| q.starts_with(p));
        let owned_elsewhere = managed
            .entries
            .iter()
            .filter(|e| !is_me(e))
            .any(|e| e.fields.iter().any(|q| q.starts_with(p)));
        if !still_applied && !owned_elsewhere {
            remove_path(&mut merged, p);
        }
    }
    managed.entry_mut(w, Operation::Apply).fields = new_fields;
    Ok((merged, managed))
}

/// The 409 an apply conflict answers with, worded like kube-apiserver.
pub(crate) fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "type": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager),
                "field": path_string(&c.path),
            })
        })
        .collect();
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager,
            path_string(&one.path)
        ),
        many => {
            let managers: BTreeSet<&str> = many.iter().map(|c| c.manager.as_str()).collect();
            let mut lines = Vec::new();
            for m in managers {
                lines.push(format!("conflicts with {m}:"));
                for c in many.iter().filter(|c| c.manager == m) {
                    lines.push(format!("- {}", path_string(&c.path)));
                }
            }
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                lines.join("\n")
            )
        }
    };
    let mut e = ApiError::new(409, "Conflict", message);
    e = e.with_details(json!({ "causes": causes }));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: Scope = Scope::Main {
        status_separate: true,
    };

    fn w(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "apps/v1",
            subresource: "",
            now: "2024-01-01T00:00:00Z",
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web", "namespace": "default", "labels": { "app": "web" } },
            "spec": {
                "replicas": replicas,
                "template": { "spec": { "containers": [ { "name": "app", "image": image } ] } }
            }
        })
    }

    fn applied(v: &Value) -> Value {
        tracked_view(v, MAIN)
    }

    fn owned(m: &ManagedFields, manager: &str) -> Vec<String> {
        m.entries
            .iter()
            .filter(|e| e.manager == manager)
            .flat_map(|e| e.fields.iter().map(|p| path_string(p)))
            .collect()
    }

    #[test]
    fn tracked_view_drops_server_fields() {
        let obj = json!({
            "apiVersion": "v1", "kind": "X",
            "metadata": { "name": "a", "uid": "u", "resourceVersion": "3", "labels": { "k": "v" } },
            "spec": { "a": 1 }, "status": { "ok": true }
        });
        assert_eq!(
            tracked_view(&obj, MAIN),
            json!({ "metadata": { "labels": { "k": "v" } }, "spec": { "a": 1 } })
        );
        assert_eq!(
            tracked_view(&obj, Scope::Status),
            json!({ "status": { "ok": true } })
        );
        assert_eq!(
            tracked_view(
                &obj,
                Scope::Main {
                    status_separate: false
                }
            )["status"],
            json!({ "ok": true })
        );
    }

    #[test]
    fn leaves_key_named_lists_by_name() {
        let paths: Vec<String> = leaves(&applied(&deployment(2, "nginx")))
            .iter()
            .map(|p| path_string(p))
            .collect();
        assert_eq!(
            paths,
            vec![
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"app\"]",
                ".spec.template.spec.containers[name=\"app\"].image",
            ]
        );
        let atomic = leaves(&json!({ "args": ["a", "b"], "ports": [{ "port": 80 }] }));
        assert_eq!(atomic.len(), 2);
    }

    #[test]
    fn first_apply_owns_everything_it_sent() {
        let d = deployment(2, "nginx");
        let (merged, m) = apply(
            &json!({}),
            &ManagedFields::default(),
            &applied(&d),
            &w("kubectl"),
            false,
        )
        .expect("no conflicts");
        assert_eq!(merged["spec"]["replicas"], 2);
        assert_eq!(owned(&m, "kubectl").len(), 4);
        assert_eq!(m.entries[0].operation, Operation::Apply);
    }

    #[test]
    fn conflicting_value_from_another_manager_is_refused_then_forced() {
        let d = deployment(2, "nginx");
        let (live, m) = apply(
            &d,
            &ManagedFields::default(),
            &applied(&d),
            &w("kubectl"),
            false,
        )
        .expect("first apply");
        let mine = applied(&json!({ "spec": { "replicas": 5 } }));
        let conflicts = apply(&live, &m, &mine, &w("other"), false).expect_err("conflict");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].manager, "\"kubectl\"");
        assert_eq!(path_string(&conflicts[0].path), ".spec.replicas");
        let err = conflict_error(&conflicts);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
        );
        assert_eq!(err.code, 409);
        assert_eq!(
            err.details
                .as_ref()
                .map(|d| d["causes"][0]["field"].clone()),
            Some(json!(".spec.replicas"))
        );

        let (forced, m2) = apply(&live, &m, &mine, &w("other"), true).expect("forced");
        assert_eq!(forced["spec"]["replicas"], 5);
        assert_eq!(owned(&m2, "other"), vec![".spec.replicas"]);
        assert!(!owned(&m2, "kubectl").contains(&".spec.replicas".to_string()));
    }

    #[test]
    fn same_value_is_shared_not_conflicting() {
        let d = deployment(2, "nginx");
        let (live, m) =
            apply(&d, &ManagedFields::default(), &applied(&d), &w("a"), false).expect("a");
        let (live, m) = apply(
            &live,
            &m,
            &applied(&json!({ "spec": { "replicas": 2 } })),
            &w("b"),
            false,
        )
        .expect("b shares");
        assert!(owned(&m, "a").contains(&".spec.replicas".to_string()));
        assert!(owned(&m, "b").contains(&".spec.replicas".to_string()));
        // a stops applying replicas: b still owns it, so it stays.
        let mut without = applied(&d);
        if let Some(spec) = without["spec"].as_object_mut() {
            spec.remove("replicas");
        }
        let (after, _) = apply(&live, &m, &without, &w("a"), false).expect("a again");
        assert_eq!(after["spec"]["replicas"], 2);
    }

    #[test]
    fn fields_no_longer_applied_are_removed() {
        let d = deployment(2, "nginx");
        let (live, m) =
            apply(&d, &ManagedFields::default(), &applied(&d), &w("a"), false).expect("a");
        let smaller = json!({ "spec": { "template": { "spec": { "containers": [ { "name": "app", "image": "nginx" } ] } } } });
        let (after, m) = apply(&live, &m, &smaller, &w("a"), false).expect("a again");
        assert!(after["spec"].get("replicas").is_none());
        assert!(after.pointer("/metadata/labels").is_none());
        assert_eq!(after["metadata"]["name"], "web");
        assert_eq!(owned(&m, "a").len(), 2);
    }

    #[test]
    fn associative_items_merge_and_are_removed_individually() {
        let live = json!({ "spec": { "containers": [ { "name": "app", "image": "x" } ] } });
        let (live, m) = apply(
            &live,
            &ManagedFields::default(),
            &live.clone(),
            &w("a"),
            false,
        )
        .expect("a");
        let sidecar =
            json!({ "spec": { "containers": [ { "name": "sidecar", "image": "envoy" } ] } });
        let (live, m) = apply(&live, &m, &sidecar, &w("b"), false).expect("b adds an item");
        assert_eq!(live["spec"]["containers"].as_array().map(Vec::len), Some(2));
        let (live, _) = apply(&live, &m, &json!({}), &w("b"), false).expect("b withdraws");
        assert_eq!(
            live["spec"]["containers"],
            json!([{ "name": "app", "image": "x" }])
        );
    }

    #[test]
    fn updates_take_over_changed_paths_without_conflict() {
        let d = deployment(2, "nginx");
        let (live, mut m) = apply(
            &d,
            &ManagedFields::default(),
            &applied(&d),
            &w("kubectl"),
            false,
        )
        .expect("apply");
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(3);
        m.record_update(&applied(&live), &applied(&edited), &w("kubectl-edit"));
        assert_eq!(owned(&m, "kubectl-edit"), vec![".spec.replicas"]);
        let conflicts =
            apply(&edited, &m, &applied(&d), &w("kubectl"), false).expect_err("now conflicts");
        assert_eq!(conflicts[0].manager, "\"kubectl-edit\" using apps/v1");
    }

    #[test]
    fn multiple_conflicts_are_grouped_by_manager() {
        let c = |m: &str, f: &str| Conflict {
            manager: format!("{m:?}"),
            path: vec![Seg::Field("data".into()), Seg::Field(f.into())],
        };
        let err = conflict_error(&[c("x", "a"), c("x", "b")]);
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"x\":\n- .data.a\n- .data.b"
        );
    }

    #[test]
    fn fields_v1_renders_like_the_apiserver() {
        let d = deployment(2, "nginx");
        let (_, m) = apply(
            &d,
            &ManagedFields::default(),
            &applied(&d),
            &w("kubectl"),
            false,
        )
        .expect("apply");
        let out = m.to_json();
        assert_eq!(out[0]["manager"], "kubectl");
        assert_eq!(out[0]["operation"], "Apply");
        assert_eq!(out[0]["fieldsType"], "FieldsV1");
        let f = &out[0]["fieldsV1"];
        assert_eq!(f["f:spec"]["f:replicas"], json!({}));
        let item = &f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert_eq!(item["."], json!({}));
        assert_eq!(item["f:image"], json!({}));
    }

    #[test]
    fn prune_forgets_vanished_paths() {
        let mut m = ManagedFields::default();
        m.record_update(&json!({}), &json!({ "data": { "a": "1" } }), &w("x"));
        m.prune(&json!({ "data": {} }));
        assert!(m.entries.is_empty());
        assert!(m.managers().is_empty());
    }
}
