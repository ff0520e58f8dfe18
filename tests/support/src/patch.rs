//! The non-apply patch types: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and an approximation of strategic merge patch (merge patch
//! plus merging lists of named items by `name`, which is what kubectl's
//! patches of containers, env and volumes rely on).

use serde_json::{Map, Value};

/// RFC 7386: objects merge recursively, `null` deletes, everything else
/// replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn named(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").and_then(Value::as_str).is_some())
}

/// Strategic merge patch, approximated: like a merge patch, except that a
/// list of named objects merges into a list of named objects item by item
/// (`$patch: delete` removes an item) and `$`-directives are dropped.
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if k.starts_with('$') {
                        continue;
                    }
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        strategic_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        Value::Array(items) if named(items) => {
            let Value::Array(existing) = target else {
                *target = Value::Array(items.iter().filter(|i| !deletes(i)).map(strip).collect());
                return;
            };
            if !named(existing) && !existing.is_empty() {
                *target = Value::Array(items.iter().filter(|i| !deletes(i)).map(strip).collect());
                return;
            }
            for item in items {
                let name = item.get("name").cloned();
                let pos = existing.iter().position(|e| e.get("name") == name.as_ref());
                match (pos, deletes(item)) {
                    (Some(i), true) => {
                        existing.remove(i);
                    }
                    (Some(i), false) => strategic_merge_patch(&mut existing[i], item),
                    (None, true) => {}
                    (None, false) => existing.push(strip(item)),
                }
            }
        }
        other => *target = strip(other),
    }
}

fn deletes(item: &Value) -> bool {
    item.get("$patch").and_then(Value::as_str) == Some("delete")
}

/// A copy without `$`-directives or `null` members.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Splits a JSON pointer into unescaped tokens.
fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer {path:?}"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("missing path element {t:?}"))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("invalid index {t:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range"))?
            }
            _ => return Err(format!("cannot traverse into {t:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i > a.len() {
                return Err(format!("index {i} out of range"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("cannot add at {path:?}")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("unable to remove nonexistent key {last:?}")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("index {i} out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove at {path:?}")),
    }
}

fn get(doc: &Value, path: &str) -> Result<Value, String> {
    let p = pointer_tokens(path)?;
    let mut cur = doc;
    for t in &p {
        cur = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path {path:?} does not exist"))?;
    }
    Ok(cur.clone())
}

/// RFC 6902, applied to a copy: the document is left untouched on failure.
pub(crate) fn json_patch(doc: &Value, ops: &Value) -> Result<Value, String> {
    let Value::Array(ops) = ops else {
        return Err("a JSON patch must be an array of operations".into());
    };
    let mut out = doc.clone();
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without path")?;
        let value = || op.get("value").cloned().ok_or("operation without value");
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or("operation without from")
        };
        match name {
            "add" => add(&mut out, path, value()?)?,
            "remove" => {
                remove(&mut out, path)?;
            }
            "replace" => {
                remove(&mut out, path)?;
                add(&mut out, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut out, from()?)?;
                add(&mut out, path, v)?;
            }
            "copy" => {
                let v = get(&out, from()?)?;
                add(&mut out, path, v)?;
            }
            "test" => {
                if get(&out, path)? != value()? {
                    return Err(format!("test failed at {path:?}"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!([1, 2]), json!({"a":"b"}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }

    #[test]
    fn strategic_merge_merges_named_lists() {
        let mut t =
            json!({"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}});
        strategic_merge_patch(
            &mut t,
            &json!({"spec":{"containers":[{"name":"b","image":"z"},{"name":"c","image":"w"},{"name":"a","$patch":"delete"}]}}),
        );
        assert_eq!(
            t,
            json!({"spec":{"containers":[{"name":"b","image":"z"},{"name":"c","image":"w"}]}})
        );
        let mut t = json!({"metadata":{"labels":{"a":"1"}}});
        strategic_merge_patch(
            &mut t,
            &json!({"metadata":{"labels":{"a":null,"b":"2"},"$setElementOrder/x":[]}}),
        );
        assert_eq!(t, json!({"metadata":{"labels":{"b":"2"}}}));
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"a":{"b":[1,2]},"c":"x"});
        let out = json_patch(
            &doc,
            &json!([
                {"op":"add","path":"/a/b/-","value":3},
                {"op":"add","path":"/a/b/0","value":0},
                {"op":"replace","path":"/c","value":"y"},
                {"op":"copy","from":"/c","path":"/d"},
                {"op":"move","from":"/d","path":"/e~1f"},
                {"op":"test","path":"/e~1f","value":"y"},
                {"op":"remove","path":"/a/b/1"}
            ]),
        )
        .expect("patch applies");
        assert_eq!(out, json!({"a":{"b":[0,2,3]},"c":"y","e/f":"y"}));
        assert!(json_patch(&doc, &json!([{"op":"test","path":"/c","value":"z"}])).is_err());
        assert!(json_patch(&doc, &json!([{"op":"remove","path":"/nope"}])).is_err());
        assert!(json_patch(&doc, &json!({"op":"add"})).is_err());
    }
}
