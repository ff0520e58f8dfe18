//! Watch events: every committed change becomes one event, kept in a
//! bounded history (so a watch can resume from a resourceVersion) and
//! broadcast to open watches, which filter by kind, namespace and selectors
//! and stream them as JSON lines.

use serde_json::{json, Value};

use crate::selector::{FieldSelector, LabelSelector};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) kind: EventKind,
    pub(crate) group: String,
    pub(crate) resource: String,
    /// Empty for cluster-scoped objects.
    pub(crate) namespace: String,
    pub(crate) rv: u64,
    /// The object after the change (for DELETED: as it was removed).
    pub(crate) object: Value,
    /// The object before a MODIFIED change, to tell selector transitions.
    pub(crate) old: Option<Value>,
}

/// What one watch wants to see.
#[derive(Debug, Clone)]
pub(crate) struct WatchFilter {
    pub(crate) group: String,
    pub(crate) resource: String,
    pub(crate) namespace: Option<String>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    /// The apiVersion the watcher asked for; objects are shown at it.
    pub(crate) api_version: String,
}

impl WatchFilter {
    fn selects(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    /// The event as this watcher sees it, or `None` when it is not for it.
    /// A change that moves an object into the selection reads as ADDED, out
    /// of it as DELETED, as on kube-apiserver.
    pub(crate) fn render(&self, ev: &Event) -> Option<Value> {
        if ev.group != self.group || ev.resource != self.resource {
            return None;
        }
        if let Some(ns) = &self.namespace {
            if *ns != ev.namespace {
                return None;
            }
        }
        let now = self.selects(&ev.object);
        let kind = match (ev.kind, &ev.old) {
            (EventKind::Modified, Some(old)) => match (self.selects(old), now) {
                (true, true) => EventKind::Modified,
                (false, true) => EventKind::Added,
                (true, false) => EventKind::Deleted,
                (false, false) => return None,
            },
            (k, _) if now => k,
            _ => return None,
        };
        let mut object = ev.object.clone();
        object["apiVersion"] = json!(self.api_version);
        Some(json!({ "type": kind.as_str(), "object": object }))
    }
}

/// The BOOKMARK that ends the initial events of a `sendInitialEvents` watch.
pub(crate) fn initial_events_end(api_version: &str, kind: &str, rv: u64) -> Value {
    json!({
        "type": "BOOKMARK",
        "object": {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "resourceVersion": rv.to_string(),
                "annotations": { "k8s.io/initial-events-end": "true" }
            }
        }
    })
}

/// An ERROR event carrying a `Status`.
pub(crate) fn error_event(status: Value) -> Value {
    json!({ "type": "ERROR", "object": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(labels: &str) -> WatchFilter {
        WatchFilter {
            group: String::new(),
            resource: "configmaps".into(),
            namespace: Some("a".into()),
            labels: LabelSelector::parse(labels).expect("selector"),
            fields: FieldSelector::default(),
            api_version: "v1".into(),
        }
    }

    fn ev(kind: EventKind, ns: &str, app: &str, old_app: Option<&str>) -> Event {
        let obj = |app: &str| json!({ "apiVersion": "v1", "metadata": { "name": "x", "labels": { "app": app } } });
        Event {
            kind,
            group: String::new(),
            resource: "configmaps".into(),
            namespace: ns.into(),
            rv: 1,
            object: obj(app),
            old: old_app.map(obj),
        }
    }

    #[test]
    fn filters_by_namespace_and_labels() {
        let f = filter("app=web");
        let added = f
            .render(&ev(EventKind::Added, "a", "web", None))
            .expect("selected");
        assert_eq!(added["type"], "ADDED");
        assert!(f.render(&ev(EventKind::Added, "b", "web", None)).is_none());
        assert!(f.render(&ev(EventKind::Added, "a", "db", None)).is_none());
        let mut other = ev(EventKind::Added, "a", "web", None);
        other.resource = "secrets".into();
        assert!(f.render(&other).is_none());
    }

    #[test]
    fn selector_transitions_read_as_added_and_deleted() {
        let f = filter("app=web");
        let into = f
            .render(&ev(EventKind::Modified, "a", "web", Some("db")))
            .expect("moves in");
        assert_eq!(into["type"], "ADDED");
        let out = f
            .render(&ev(EventKind::Modified, "a", "db", Some("web")))
            .expect("moves out");
        assert_eq!(out["type"], "DELETED");
        assert!(f
            .render(&ev(EventKind::Modified, "a", "db", Some("db")))
            .is_none());
        let stay = f
            .render(&ev(EventKind::Modified, "a", "web", Some("web")))
            .expect("stays");
        assert_eq!(stay["type"], "MODIFIED");
    }

    #[test]
    fn bookmark_marks_initial_events_end() {
        let b = initial_events_end("v1", "ConfigMap", 7);
        assert_eq!(b["type"], "BOOKMARK");
        assert_eq!(
            b["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
        assert_eq!(error_event(json!({"code": 410}))["type"], "ERROR");
    }
}
