//! Drift for `plan --refresh`: each desired object is applied as a dry run
//! (`dryRun=All`), which yields the live object as `stack` would leave it;
//! every field where the live object differs from that is drift. Fields the
//! server keeps for itself (managed fields, resource version, uid,
//! generation, timestamps, status) are not compared.

use serde_json::Value as Json;
use stack_engine::objects;
use stack_engine::provider::{Drift, ProviderError};

use super::apply::{apply_object, ApplyMode};
use super::client::Cluster;
use super::error::object_error;
use super::object::Desired;
use super::wait::read;

/// Metadata the server maintains, never drift.
const NOISE: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
];

/// The drift of each desired object on `cluster`. The dry run forces: it
/// asks what `stack` would set, whoever owns the field now.
pub async fn drift(cluster: &Cluster, desired: &[Desired]) -> Result<Vec<Drift>, ProviderError> {
    let mut out = Vec::new();
    for d in desired {
        let secret = objects::is_secret(&d.manifest);
        let missing = |out: &mut Vec<Drift>, path: String| {
            let mut desired = d.manifest.clone();
            objects::redact_secrets(&mut desired);
            out.push(Drift {
                object: path,
                path: String::new(),
                desired: Some(desired),
                live: None,
                sensitive: false,
            })
        };
        let kind = match cluster.kind(&d.id).await {
            Ok(Some(kind)) => kind,
            Ok(None) => {
                missing(&mut out, d.id.path());
                continue;
            }
            Err(e) => return Err(object_error(cluster, "look up the kind of", &d.id, &e)),
        };
        let (api, id) = cluster.api(&d.id, &kind);
        let Some(live) = read(cluster, &api, &id.name)
            .await
            .map_err(|e| object_error(cluster, "read", &id, &e))?
        else {
            missing(&mut out, id.path());
            continue;
        };
        let would = apply_object(
            cluster,
            d,
            ApplyMode {
                force: true,
                dry_run: true,
                manager: super::apply::FIELD_MANAGER,
            },
        )
        .await?;
        for (path, desired, live) in diff(&would.live, &live) {
            // The values of a Secret never leave the cluster: only that
            // they differ.
            let sensitive = secret
                && objects::SECRET_DATA.iter().any(|key| {
                    path == *key
                        || path.starts_with(&format!("{key}."))
                        || path.starts_with(&format!("{key}["))
                });
            let hide = |v: Option<Json>| if sensitive { v.map(|_| Json::Null) } else { v };
            out.push(Drift {
                object: id.path(),
                path,
                desired: hide(desired),
                live: hide(live),
                sensitive,
            });
        }
    }
    Ok(out)
}

/// Where `desired` and `live` differ: `(dotted path, desired, live)`.
pub fn diff(desired: &Json, live: &Json) -> Vec<(String, Option<Json>, Option<Json>)> {
    let mut out = Vec::new();
    walk(&mut Vec::new(), Some(desired), Some(live), &mut out);
    out
}

fn ignored(path: &[String]) -> bool {
    match path {
        [top] => top == "status",
        [meta, field] => meta == "metadata" && NOISE.contains(&field.as_str()),
        _ => false,
    }
}

fn walk(
    path: &mut Vec<String>,
    desired: Option<&Json>,
    live: Option<&Json>,
    out: &mut Vec<(String, Option<Json>, Option<Json>)>,
) {
    if ignored(path) || desired == live {
        return;
    }
    match (desired, live) {
        (Some(Json::Object(d)), Some(Json::Object(l))) => {
            let keys = d.keys().chain(l.keys().filter(|k| !d.contains_key(*k)));
            for key in keys {
                path.push(key.clone());
                walk(path, d.get(key), l.get(key), out);
                path.pop();
            }
        }
        (Some(Json::Array(d)), Some(Json::Array(l))) if d.len() == l.len() => {
            for (i, (d, l)) in d.iter().zip(l).enumerate() {
                path.push(format!("[{i}]"));
                walk(path, Some(d), Some(l), out);
                path.pop();
            }
        }
        _ => out.push((dotted(path), desired.cloned(), live.cloned())),
    }
}

/// `spec.template.spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`.
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.starts_with('[') {
            out.push_str(part);
        } else if part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        } else {
            out.push_str(&format!("[{}]", Json::String(part.clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_changed_added_and_removed_fields() {
        let desired = json!({
            "metadata": { "name": "api", "labels": { "app.kubernetes.io/name": "api" }, "resourceVersion": "9", "uid": "a" },
            "spec": { "replicas": 3, "template": { "spec": { "containers": [{ "name": "api", "image": "api:2" }] } } },
            "status": { "availableReplicas": 3 },
        });
        let live = json!({
            "metadata": { "name": "api", "labels": { "app.kubernetes.io/name": "web" }, "resourceVersion": "7", "uid": "b",
                          "annotations": { "note": "x" } },
            "spec": { "replicas": 5, "template": { "spec": { "containers": [{ "name": "api", "image": "api:1" }] } } },
            "status": { "availableReplicas": 1 },
        });
        let found: Vec<(String, Option<Json>, Option<Json>)> = diff(&desired, &live);
        assert_eq!(
            found,
            vec![
                (
                    "metadata.labels[\"app.kubernetes.io/name\"]".to_string(),
                    Some(json!("api")),
                    Some(json!("web"))
                ),
                (
                    "metadata.annotations".to_string(),
                    None,
                    Some(json!({ "note": "x" }))
                ),
                ("spec.replicas".to_string(), Some(json!(3)), Some(json!(5))),
                (
                    "spec.template.spec.containers[0].image".to_string(),
                    Some(json!("api:2")),
                    Some(json!("api:1"))
                ),
            ]
        );
    }

    #[test]
    fn equal_objects_have_no_drift_and_lists_of_other_lengths_differ_whole() {
        let a = json!({ "spec": { "ports": [1, 2] } });
        assert!(diff(&a, &a).is_empty());
        let b = json!({ "spec": { "ports": [1] } });
        assert_eq!(
            diff(&a, &b),
            vec![(
                "spec.ports".to_string(),
                Some(json!([1, 2])),
                Some(json!([1]))
            )]
        );
    }
}
