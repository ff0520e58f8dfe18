//! Rhai values to engine values and back. Strings are searched for tokens:
//! an output becomes [`Value::Output`], a secret [`Value::Secret`], and text
//! mixed with either a [`Value::Concat`].

use rhai::{Array, Dynamic, Map};
use serde_json::Value as Json;
use stack_engine::Value;

use crate::handle::Handle;
use crate::session::Session;
use crate::token::{self, Piece};

/// Converts a script value. `Err` names the path of the offending part.
pub fn to_value(value: &Dynamic, session: &Session) -> Result<Value, String> {
    convert(value, session, "")
}

fn convert(value: &Dynamic, session: &Session, path: &str) -> Result<Value, String> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = value.as_float() {
        return Ok(Value::Float(f));
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        if mangled(&s) {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            return Err(format!(
                "the value{at} was made from a secret or an output by a string function (like `to_upper` or `sub_string`) or by indexing; secrets and outputs known only after apply can be interpolated, not transformed"
            ));
        }
        return Ok(string_value(&s, session));
    }
    if let Some(h) = value.read_lock::<Handle>() {
        return Ok(Value::Resource(h.id.clone()));
    }
    if let Some(items) = value.read_lock::<Array>() {
        return items
            .iter()
            .enumerate()
            .map(|(i, v)| convert(v, session, &format!("{path}[{i}]")))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map
            .iter()
            .map(|(k, v)| {
                // A key built from an output must be known now: keys are names.
                let key = if token::has_tokens(k) {
                    crate::functions::guards::settle(session, k).map_err(|f| {
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" in `{path}`")
                        };
                        format!(
                            "a map key{at} must be known when the script runs: {}",
                            f.message
                        )
                    })?
                } else {
                    k.to_string()
                };
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                Ok((key, convert(v, session, &p)?))
            })
            .collect::<Result<_, _>>()
            .map(Value::Map);
    }
    if let Ok(c) = value.as_char() {
        if token::is_reserved(c) {
            return Err(format!(
                "the character{} was taken out of a secret or an output by indexing; pass the value on whole instead",
                if path.is_empty() { String::new() } else { format!(" at `{path}`") }
            ));
        }
        return Ok(Value::String(c.to_string()));
    }
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    Err(format!(
        "a value of type `{}`{at} cannot be stored in a declaration",
        value.type_name()
    ))
}

/// Whether a string holds pieces of a placeholder that a string function
/// took apart: what it stood for is lost.
fn mangled(s: &str) -> bool {
    token::has_tokens(s)
        && token::pieces(s)
            .iter()
            .any(|p| matches!(p, Piece::Text(t) if token::is_fragment(t)))
}

/// A string, with its tokens turned into outputs and secrets.
pub fn string_value(s: &str, session: &Session) -> Value {
    if !token::has_tokens(s) {
        return Value::String(s.to_string());
    }
    let mut parts: Vec<Value> = token::pieces(s)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => Value::String(t.to_string()),
            Piece::Output(r) => Value::Output(Box::new(sensitive_if_secret(r, session))),
            Piece::Secret(i) => session
                .secret(i)
                .map(|s| Value::Secret(Box::new(s)))
                .unwrap_or(Value::Null),
        })
        .collect();
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        Value::Concat(parts)
    }
}

/// An output known at evaluation whose value is a secret (an OIDC
/// `client_id` read with `secret(...)`) is as sensitive as the secret.
pub(crate) fn sensitive_if_secret(
    mut r: stack_engine::OutputRef,
    session: &Session,
) -> stack_engine::OutputRef {
    if !r.secret
        && session
            .with_resource(&r.resource, |res| {
                res.known_outputs
                    .get(&r.output)
                    .is_some_and(Value::is_sensitive)
            })
            .unwrap_or(false)
    {
        r.secret = true;
    }
    r
}

/// Plain data (parsed YAML or JSON) as a script value.
pub fn from_json(json: &Json) -> Dynamic {
    match json {
        Json::Null => Dynamic::UNIT,
        Json::Bool(b) => Dynamic::from(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Dynamic::from(s.clone()),
        Json::Array(items) => Dynamic::from_array(items.iter().map(from_json).collect()),
        Json::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), from_json(v)))
                .collect(),
        ),
    }
}

/// Replaces tokens with something a person can read: known outputs by their
/// value, unknown ones as `(known after apply)`, secrets as `(sensitive)`.
pub fn readable(s: &str, session: &Session) -> String {
    if !token::has_tokens(s) {
        return s.to_string();
    }
    token::pieces(s)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => token::shown(t),
            Piece::Output(r) if sensitive_if_secret(r.clone(), session).secret => {
                stack_engine::value::SENSITIVE.to_string()
            }
            Piece::Output(r) => known_output(&r, session)
                .unwrap_or_else(|| stack_engine::value::UNKNOWN.to_string()),
            Piece::Secret(_) => stack_engine::value::SENSITIVE.to_string(),
        })
        .collect()
}

/// The value of an output known at evaluation time, as text.
pub fn known_output(r: &stack_engine::OutputRef, session: &Session) -> Option<String> {
    let resource = session.resource(&r.resource)?;
    match resource.known_outputs.get(&r.output)? {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Concat(parts) => {
            let mut out = String::new();
            for p in parts {
                match p {
                    Value::String(s) => out.push_str(s),
                    Value::Output(inner) => out.push_str(&known_output(inner, session)?),
                    _ => return None,
                }
            }
            Some(out)
        }
        Value::Output(inner) => known_output(inner, session),
        _ => None,
    }
}
