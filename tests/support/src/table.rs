//! Server-side printing: `kubectl get` asks for `meta.k8s.io/v1` Tables
//! and prints their cells. Every kind gets NAME and AGE columns.

use serde_json::{json, Value};

use crate::time::{human_age, parse_rfc3339, unix_now};

/// Whether the `Accept` header asks for a Table.
pub(crate) fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub(crate) fn parse(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

fn row(obj: &Value, include: Include) -> Value {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let age = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map(|t| human_age(unix_now().saturating_sub(t)))
        .unwrap_or_else(|| "<unknown>".into());
    let mut r = json!({ "cells": [name, age] });
    match include {
        Include::None => {}
        Include::Metadata => {
            let mut md = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            if let Value::Object(m) = &mut md {
                m.remove("managedFields");
            }
            r["object"] = json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md });
        }
        Include::Object => r["object"] = obj.clone(),
    }
    r
}

/// A Table of these objects.
pub(crate) fn table(items: &[Value], rv: Option<u64>, include: Include) -> Value {
    let mut metadata = json!({});
    if let Some(rv) = rv {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            { "name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0 },
            { "name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0 }
        ],
        "rows": items.iter().map(|o| row(o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::now_rfc3339;

    #[test]
    fn rows_have_name_and_age() {
        let obj = json!({ "metadata": { "name": "a", "creationTimestamp": now_rfc3339(), "managedFields": [] } });
        let t = table(&[obj], Some(4), Include::Metadata);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["metadata"]["resourceVersion"], "4");
        assert_eq!(t["rows"][0]["cells"][0], "a");
        assert!(t["rows"][0]["cells"][1]
            .as_str()
            .is_some_and(|a| a.ends_with('s')));
        assert!(t["rows"][0]["object"]["metadata"]
            .get("managedFields")
            .is_none());
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert_eq!(Include::parse(Some("Object")), Include::Object);
        assert!(table(&[json!({})], None, Include::None)["rows"][0]
            .get("object")
            .is_none());
    }
}
