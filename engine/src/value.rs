//! Input values of declarations.
//!
//! A value is plain data, except for three things only the engine can settle:
//! an [`OutputRef`] (known after apply), a [`Secret`] (never shown), and a
//! [`Value::Concat`] of both with text (string interpolation). Every output
//! reference inside a value is a dependency edge.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::resource::ResourceId;

/// A reference to an output of another resource, known only after it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputRef {
    pub resource: ResourceId,
    pub output: String,
    /// Whether the output is sensitive (an OIDC client secret, an admin password).
    pub secret: bool,
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource, self.output)
    }
}

/// A secret value: its source is shown, its value never is.
#[derive(Clone, PartialEq)]
pub struct Secret {
    /// Where it came from, such as `env:DB_PASSWORD`.
    pub source: String,
    value: String,
}

impl Secret {
    pub fn new(source: impl Into<String>, value: impl Into<String>) -> Self {
        Secret {
            source: source.into(),
            value: value.into(),
        }
    }

    /// The clear value: only for writing into a Kubernetes Secret.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// A salted hash of the value, recorded in state to detect a change.
    pub fn salted_hash(&self, salt: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update([0]);
        hasher.update(self.value.as_bytes());
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, <redacted>)", self.source)
    }
}

/// An input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Another resource's output, known after apply. Boxed, like the
    /// secret, so that a value is as small as a string: a stack holds
    /// maps of them for every declaration.
    Output(Box<OutputRef>),
    /// A secret literal.
    Secret(Box<Secret>),
    /// Text joined with outputs or secrets: an interpolated string.
    Concat(Vec<Value>),
    /// A whole resource handle passed as a value (`cluster: c`, `depends_on: [h]`).
    Resource(ResourceId),
}

/// How a value turns into JSON: what to do with outputs and secrets.
pub trait Resolve {
    /// The value of an output, or `None` when it is not known yet.
    fn output(&self, output: &OutputRef) -> Option<Json>;
}

/// Resolves nothing: every output is unknown.
pub struct NothingKnown;

impl Resolve for NothingKnown {
    fn output(&self, _: &OutputRef) -> Option<Json> {
        None
    }
}

/// Marker strings used in canonical JSON for values that cannot be shown.
pub const UNKNOWN: &str = "(known after apply)";
/// What is shown of a secret: in plans, outputs and objects.
pub const SENSITIVE: &str = "(sensitive)";

/// How a secret stands in canonical JSON and in the state: its salted hash
/// or the output it comes from, marked so. The one place that writes the
/// marker; [`is_hidden`] is the one place that reads it.
pub fn hidden(of: impl fmt::Display) -> Json {
    Json::String(format!("(sensitive {of})"))
}

/// Whether a canonical string stands for a secret.
pub fn is_hidden(text: &str) -> bool {
    text == SENSITIVE || text.starts_with("(sensitive ")
}

/// A sensitive output as the state records it: a salted hash that shows
/// when it changes and tells nothing of its value.
pub fn redacted_output(value: &Json, salt: &str) -> Json {
    hidden(Secret::new("output", value.to_string()).salted_hash(salt))
}

/// Whether a canonical value is a secret's salted hash (or holds one).
pub fn hides_secret(value: &Json) -> bool {
    match value {
        Json::String(s) => is_hidden(s),
        Json::Array(items) => items.iter().any(hides_secret),
        Json::Object(map) => map.values().any(hides_secret),
        _ => false,
    }
}

/// The canonical form of a resource's inputs, as the state records them
/// and the plan compares them.
pub fn canonical_inputs(
    inputs: &BTreeMap<String, Value>,
    resolve: &dyn Resolve,
    salt: &str,
) -> Json {
    Json::Object(
        inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.canonical(resolve, salt)))
            .collect(),
    )
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Every output reference and resource handle inside, depth first.
    pub fn visit_refs(&self, f: &mut dyn FnMut(&ResourceId, Option<&OutputRef>)) {
        match self {
            Value::Output(r) => f(&r.resource, Some(r)),
            Value::Resource(id) => f(id, None),
            Value::List(items) | Value::Concat(items) => {
                items.iter().for_each(|v| v.visit_refs(f));
            }
            Value::Map(map) => map.values().for_each(|v| v.visit_refs(f)),
            _ => {}
        }
    }

    /// Whether anything inside is secret (a literal or a sensitive output).
    pub fn is_sensitive(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::Output(r) => r.secret,
            Value::List(items) | Value::Concat(items) => items.iter().any(Value::is_sensitive),
            Value::Map(map) => map.values().any(Value::is_sensitive),
            _ => false,
        }
    }

    /// The canonical form used for hashing, state and diffs: outputs resolved
    /// where known (else the unknown marker), secrets replaced by a salted hash.
    pub fn canonical(&self, resolve: &dyn Resolve, salt: &str) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::List(items) => {
                Json::Array(items.iter().map(|v| v.canonical(resolve, salt)).collect())
            }
            Value::Map(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.canonical(resolve, salt)))
                    .collect(),
            ),
            // A sensitive output's value is never recorded, so its canonical
            // form names it: it changes when its producer is recreated.
            Value::Output(r) => match resolve.output(r) {
                Some(_) if r.secret => hidden(r),
                Some(v) => v,
                None => Json::String(UNKNOWN.into()),
            },
            Value::Secret(s) => hidden(s.salted_hash(salt)),
            Value::Concat(parts) => {
                let mut out = String::new();
                let mut sensitive = false;
                for part in parts {
                    match part.canonical(resolve, salt) {
                        Json::String(s) if s == UNKNOWN => return Json::String(UNKNOWN.into()),
                        Json::String(s) => {
                            sensitive |= part.is_sensitive();
                            out.push_str(&s)
                        }
                        other => out.push_str(&other.to_string()),
                    }
                }
                if sensitive {
                    let secret = Secret::new("interpolation", out);
                    hidden(secret.salted_hash(salt))
                } else {
                    Json::String(out)
                }
            }
            Value::Resource(id) => Json::String(id.to_string()),
        }
    }

    /// The value as it is written into a Kubernetes object: secrets in clear.
    /// Fails with the first output that is not known yet.
    pub fn materialize(&self, resolve: &dyn Resolve) -> Result<Json, OutputRef> {
        Ok(match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(
                items
                    .iter()
                    .map(|v| v.materialize(resolve))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.materialize(resolve)?)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Output(r) => resolve.output(r).ok_or_else(|| (**r).clone())?,
            Value::Secret(s) => Json::String(s.expose().to_string()),
            Value::Concat(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part.materialize(resolve)? {
                        Json::String(s) => out.push_str(&s),
                        other => out.push_str(&other.to_string()),
                    }
                }
                Json::String(out)
            }
            Value::Resource(id) => Json::String(id.to_string()),
        })
    }

    /// Converts plain JSON (from `yaml()`, `json()` or state) into a value.
    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Deep-merges `overlay` into `base`: maps merge key by key, anything else is replaced.
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Map(base), Value::Map(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn secrets_never_appear_in_canonical_form() {
        let v = map(&[(
            "password",
            Value::Secret(Box::new(Secret::new("env:X", "hunter2"))),
        )]);
        let json = v.canonical(&NothingKnown, "salt").to_string();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("(sensitive sha256:"), "{json}");
        assert!(format!("{v:?}").contains("<redacted>"));
    }

    #[test]
    fn salted_hash_changes_with_value_and_salt() {
        let a = Secret::new("env:X", "a");
        let b = Secret::new("env:X", "b");
        assert_ne!(a.salted_hash("s"), b.salted_hash("s"));
        assert_ne!(a.salted_hash("s"), a.salted_hash("t"));
        assert_eq!(a.salted_hash("s"), a.salted_hash("s"));
    }

    #[test]
    fn unknown_outputs_make_an_interpolation_unknown() {
        let r = OutputRef {
            resource: ResourceId::from("cluster/prod"),
            output: "endpoint".into(),
            secret: false,
        };
        let v = Value::Concat(vec![
            Value::str("https://"),
            Value::Output(Box::new(r.clone())),
        ]);
        assert_eq!(v.canonical(&NothingKnown, ""), Json::String(UNKNOWN.into()));
        assert_eq!(v.materialize(&NothingKnown), Err(r));
    }

    #[test]
    fn deep_merge_merges_maps_and_replaces_leaves() {
        let mut base = map(&[
            ("a", map(&[("x", Value::Int(1)), ("y", Value::Int(2))])),
            ("b", Value::List(vec![Value::Int(1)])),
        ]);
        let overlay = map(&[
            ("a", map(&[("y", Value::Int(3))])),
            ("b", Value::List(vec![Value::Int(9)])),
        ]);
        deep_merge(&mut base, &overlay);
        assert_eq!(
            base,
            map(&[
                ("a", map(&[("x", Value::Int(1)), ("y", Value::Int(3))])),
                ("b", Value::List(vec![Value::Int(9)])),
            ])
        );
    }
}
