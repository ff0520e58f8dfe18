//! Rendering a chart with the real `helm template`: values passed through a
//! file, CRDs included, the output parsed into objects. Namespaced objects
//! that name no namespace are placed in the release's.

use std::path::Path;

use super::error::HelmError;
use crate::notes::with_notes;
use serde_json::Value as Json;
use stack_engine::provider::ProviderError;

/// What to render.
pub struct Release<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    /// Helm values, already merged.
    pub values: &'a Json,
    /// How the chart is named in messages (`argo-like 1.0.0 from http://…`).
    pub describe: &'a str,
}

/// Runs `helm template` on the chart at `chart` and returns its objects in
/// the order helm printed them.
pub async fn template(chart: &Path, release: &Release<'_>) -> Result<Vec<Json>, ProviderError> {
    let helm = super::binary::helm()?;
    let values = tempfile::Builder::new()
        .prefix("stack-values-")
        .suffix(".yaml")
        .tempfile()
        .map_err(|e| HelmError::Tool {
            message: "cannot create a values file for helm".to_string(),
            help: with_notes([e.to_string()], None),
        })?;
    let text = serde_yaml::to_string(release.values).map_err(|e| HelmError::Tool {
        message: "cannot write the Helm values".to_string(),
        help: with_notes([e.to_string()], None),
    })?;
    std::fs::write(values.path(), text).map_err(|e| HelmError::Tool {
        message: "cannot write the Helm values file".to_string(),
        help: with_notes([e.to_string()], None),
    })?;
    let output = tokio::process::Command::new(&helm)
        .arg("template")
        .arg(release.name)
        .arg(chart)
        .arg("--namespace")
        .arg(release.namespace)
        .arg("--values")
        .arg(values.path())
        .arg("--include-crds")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| HelmError::Tool {
            message: format!("cannot run `{}`", helm.display()),
            help: with_notes([e.to_string()], None),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // helm's advice to rerun it with `--debug` does not apply here.
        let said = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("--debug"))
            .map(str::to_string);
        return Err(HelmError::Render {
            message: format!("helm could not render chart {}", release.describe),
            help: with_notes(
                said,
                Some("fix the chart or its values; `helm template` shows the same error".into()),
            ),
        }
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut objects = parse(&stdout).map_err(|e| HelmError::Render {
        message: format!(
            "helm rendered chart {} into YAML that cannot be read",
            release.describe
        ),
        help: with_notes([e.to_string()], None),
    })?;
    for object in &mut objects {
        place(object, release.namespace);
    }
    Ok(objects)
}

/// The objects of a multi-document YAML stream; empty documents and `List`
/// wrappers are flattened away.
pub fn parse(text: &str) -> Result<Vec<Json>, String> {
    use serde::Deserialize;
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Json::deserialize(document).map_err(|e| e.to_string())?;
        match value {
            Json::Null => {}
            Json::Object(ref map) if map.get("kind").and_then(Json::as_str) == Some("List") => {
                if let Some(items) = map.get("items").and_then(Json::as_array) {
                    objects.extend(items.iter().cloned());
                }
            }
            Json::Object(_) => objects.push(value),
            other => return Err(format!("a document is not an object: {other}")),
        }
    }
    Ok(objects)
}

/// Gives `object` the release namespace when it names none. Cluster-scoped
/// objects lose it again when applied (discovery knows their scope).
fn place(object: &mut Json, namespace: &str) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) {
        let named = metadata
            .get("namespace")
            .and_then(Json::as_str)
            .is_some_and(|ns| !ns.is_empty());
        if !named {
            metadata.insert("namespace".into(), Json::String(namespace.to_string()));
        }
    }
}

/// Deep-merges Helm values given as a map or a list of maps, later maps
/// winning; `null` is no values.
pub fn merge_values(values: Option<&Json>) -> Json {
    fn merge(into: &mut Json, from: &Json) {
        match (into, from) {
            (Json::Object(a), Json::Object(b)) => {
                for (k, v) in b {
                    match a.get_mut(k) {
                        Some(existing) if existing.is_object() && v.is_object() => {
                            merge(existing, v)
                        }
                        _ => {
                            a.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (into, from) => *into = from.clone(),
        }
    }
    let mut out = Json::Object(serde_json::Map::new());
    match values {
        Some(Json::Array(items)) => items.iter().for_each(|v| merge(&mut out, v)),
        Some(v @ Json::Object(_)) => merge(&mut out, v),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_documents_skipping_empty_ones_and_flattening_lists() {
        let text = "---\n# Source: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n";
        let objects = parse(text).expect("parses");
        let names: Vec<_> = objects
            .iter()
            .map(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_scalar_document_is_an_error() {
        assert!(parse("just text\n").is_err());
    }

    #[test]
    fn values_from_a_list_deep_merge_in_order() {
        let merged = merge_values(Some(&json!([
            { "server": { "replicas": 1, "image": "a" } },
            { "server": { "replicas": 2 } },
        ])));
        assert_eq!(merged, json!({ "server": { "replicas": 2, "image": "a" } }));
        assert_eq!(merge_values(None), json!({}));
    }

    #[test]
    fn objects_without_a_namespace_get_the_release_namespace() {
        let mut object = json!({ "metadata": { "name": "a" } });
        place(&mut object, "argocd");
        assert_eq!(object["metadata"]["namespace"], "argocd");
        let mut other = json!({ "metadata": { "name": "a", "namespace": "kube-system" } });
        place(&mut other, "argocd");
        assert_eq!(other["metadata"]["namespace"], "kube-system");
    }
}
