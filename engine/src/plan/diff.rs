//! Field-level differences between two canonical values.

use serde_json::Value as Json;

/// One changed leaf: `values.server.replicas: 1 → 2`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Dotted path, with `[i]` for list items.
    pub path: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
    /// A secret value, or the data of a Secret: `before` and `after` say
    /// only whether there is a value, never what it is.
    pub sensitive: bool,
}

impl FieldChange {
    /// A live field and what the stack would make of it, as one change.
    pub fn from_drift(drift: &crate::provider::Drift) -> FieldChange {
        let change = FieldChange {
            path: format!("live {} {}", drift.object, drift.path)
                .trim_end()
                .to_string(),
            before: drift.live.clone(),
            after: drift.desired.clone(),
            sensitive: false,
        };
        if drift.sensitive {
            change.concealed()
        } else {
            change
        }
    }

    /// The change with its values hidden: what remains says that a value
    /// is there, is added, changed or removed (or known only after apply).
    pub fn concealed(self) -> FieldChange {
        let hide = |v: Option<Json>| {
            v.map(|v| match v {
                Json::String(s) if s == crate::value::UNKNOWN => Json::String(s),
                _ => Json::String(crate::value::SENSITIVE.into()),
            })
        };
        FieldChange {
            before: hide(self.before),
            after: hide(self.after),
            sensitive: true,
            ..self
        }
    }
}

/// Leaves that differ between `before` and `after`, in path order.
pub fn diff(before: &Json, after: &Json) -> Vec<FieldChange> {
    // Most inputs are flat: a leaf per top-level key is a good first guess.
    let keys = |v: &Json| v.as_object().map_or(0, |m| m.len());
    let mut out = Vec::with_capacity(keys(before).max(keys(after)));
    walk("", before, after, &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (prefix.is_empty(), plain) {
        (true, true) => key.to_string(),
        (true, false) => format!("[{key:?}]"),
        (false, true) => format!("{prefix}.{key}"),
        (false, false) => format!("{prefix}[{key:?}]"),
    }
}

fn walk(path: &str, before: &Json, after: &Json, out: &mut Vec<FieldChange>) {
    match (before, after) {
        // A creation or a deletion: one side's leaves, with no lookups.
        (Json::Object(a), Json::Object(b)) if a.is_empty() || b.is_empty() => {
            let (present, is_before) = if a.is_empty() { (b, false) } else { (a, true) };
            let mut entries: Vec<(&String, &Json)> = present.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            for (key, value) in entries {
                let p = join(path, key);
                if is_before {
                    walk(&p, value, &Json::Null, out);
                } else {
                    walk(&p, &Json::Null, value, out);
                }
            }
        }
        (Json::Object(a), Json::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let p = join(path, key);
                walk(
                    &p,
                    a.get(key).unwrap_or(&Json::Null),
                    b.get(key).unwrap_or(&Json::Null),
                    out,
                );
            }
        }
        (Json::Array(a), Json::Array(b)) if !a.is_empty() || !b.is_empty() => {
            for i in 0..a.len().max(b.len()) {
                let p = format!("{path}[{i}]");
                walk(
                    &p,
                    a.get(i).unwrap_or(&Json::Null),
                    b.get(i).unwrap_or(&Json::Null),
                    out,
                );
            }
        }
        (Json::Object(a), Json::Null) if !a.is_empty() => {
            walk(path, before, &Json::Object(Default::default()), out)
        }
        (Json::Null, Json::Object(b)) if !b.is_empty() => {
            walk(path, &Json::Object(Default::default()), after, out)
        }
        (Json::Array(a), Json::Null) if !a.is_empty() => {
            walk(path, before, &Json::Array(Vec::new()), out)
        }
        (Json::Null, Json::Array(b)) if !b.is_empty() => {
            walk(path, &Json::Array(Vec::new()), after, out)
        }
        // An empty map or list is a value of its own, except as the whole input.
        (Json::Null, Json::Object(_) | Json::Array(_))
        | (Json::Object(_) | Json::Array(_), Json::Null)
            if path.is_empty() => {}
        (a, b) if a == b => {}
        (a, b) => {
            let change = FieldChange {
                path: path.to_string(),
                before: (!a.is_null()).then(|| a.clone()),
                after: (!b.is_null()).then(|| b.clone()),
                sensitive: false,
            };
            out.push(
                if crate::value::hides_secret(a) || crate::value::hides_secret(b) {
                    change.concealed()
                } else {
                    change
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_changes_have_dotted_paths() {
        let a = json!({"values": {"replicas": 1, "image": "x"}, "ports": [80]});
        let b = json!({"values": {"replicas": 2, "image": "x", "new": true}, "ports": [80, 443]});
        let paths: Vec<String> = diff(&a, &b).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["ports[1]", "values.new", "values.replicas"]);
    }

    #[test]
    fn empty_maps_are_values_but_not_at_the_root() {
        let changes = diff(&Json::Null, &json!({"spec": {"selfSigned": {}}}));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "spec.selfSigned");
        assert!(diff(&Json::Null, &json!({})).is_empty());
    }

    #[test]
    fn creation_lists_every_leaf() {
        let changes = diff(&Json::Null, &json!({"a": {"b": 1}, "c": "x"}));
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.before.is_none()));
    }

    #[test]
    fn odd_keys_are_quoted() {
        let changes = diff(
            &json!({}),
            &json!({"labels": {"app.kubernetes.io/name": "x"}}),
        );
        assert_eq!(changes[0].path, "labels[\"app.kubernetes.io/name\"]");
    }
}
