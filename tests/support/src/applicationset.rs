//! An Argo CD applicationset-controller double, run beside the application
//! controller double (`argocd.rs`) against any API server. It stands in
//! for Argo CD's applicationset controller only, for what the tests use:
//! the `list` generator, the `git` generator's `files` and `directories`
//! over a repository on this machine (`repoURL` a local path, read as it
//! is on disk), the `clusters` generator for the in-cluster API server
//! alone, and a `matrix` of two; `{{param}}` and Go-template `{{ .param }}`
//! substitution of plain parameters (no template functions).
//!
//! Every poll it makes the Applications each ApplicationSet's generators
//! produce — applied as manager `argocd-applicationset-controller`, owned
//! by the set — and deletes those it made that are no longer produced;
//! then it writes the set's status as Argo CD does: `ResourcesUpToDate`
//! (or `ErrorOccurred` with the reason) and `resources`, each generated
//! Application with its sync and health status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube::api::ListParams;
use kube::core::ApiResource;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::argocd::{ArgoCdKnobs, GROUP};

const MANAGER: &str = "argocd-applicationset-controller";
const POLL: Duration = Duration::from_millis(100);

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{GROUP}/v1alpha1"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub(crate) async fn run(
    client: kube::Client,
    knobs: Arc<ArgoCdKnobs>,
    mut shutdown: watch::Receiver<bool>,
) {
    let sets = resource("ApplicationSet", "applicationsets");
    let apps = resource("Application", "applications");
    // What each set's status was last written as, to write only changes.
    let mut written: BTreeMap<String, Value> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        if !knobs.is_enabled() {
            continue;
        }
        // The CRD may not be there yet: the next poll lists again.
        let Ok(list) = crate::client::api(&client, &sets, None)
            .list(&ListParams::default())
            .await
        else {
            continue;
        };
        for set in list.items.iter().map(crate::client::to_value) {
            if set.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let status = reconcile(&client, &apps, &set).await;
            let key = format!(
                "{}/{}",
                text(&set, "/metadata/namespace"),
                text(&set, "/metadata/name")
            );
            if written.get(&key) != Some(&status) {
                let _ = crate::client::write_status(
                    &client,
                    &sets,
                    Some(text(&set, "/metadata/namespace")),
                    text(&set, "/metadata/name"),
                    status.clone(),
                    MANAGER,
                )
                .await;
                written.insert(key, status);
            }
        }
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Makes the set's Applications and returns the status to write.
async fn reconcile(client: &kube::Client, apps: &ApiResource, set: &Value) -> Value {
    let namespace = text(set, "/metadata/namespace").to_string();
    let uid = text(set, "/metadata/uid").to_string();
    let generators = set
        .pointer("/spec/generators")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut params = Vec::new();
    for generator in &generators {
        match generate(generator) {
            Ok(found) => params.extend(found),
            Err(message) => return error_status(&message),
        }
    }
    let template = set
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let go = set.pointer("/spec/goTemplate") == Some(&Value::Bool(true));
    let mut made = BTreeSet::new();
    for p in &params {
        let mut app = substitute(&template, p, go);
        let name = text(&app, "/metadata/name").to_string();
        if name.is_empty() || name.contains("{{") {
            return error_status(&format!("a generated Application has no name: {name:?}"));
        }
        app["apiVersion"] = json!(format!("{GROUP}/v1alpha1"));
        app["kind"] = json!("Application");
        app["metadata"]["namespace"] = json!(namespace);
        app["metadata"]["ownerReferences"] = json!([{
            "apiVersion": format!("{GROUP}/v1alpha1"), "kind": "ApplicationSet",
            "name": text(set, "/metadata/name"), "uid": uid, "controller": true,
        }]);
        if let Err(e) = crate::client::apply_manifest(client, &app, MANAGER, &namespace).await {
            return error_status(&format!("cannot apply Application {name}: {e}"));
        }
        made.insert(name);
    }
    // Those it made before and no longer produces go.
    let api = crate::client::api(client, apps, Some(&namespace));
    let Ok(live) = api.list(&ListParams::default()).await else {
        return error_status("cannot list Applications");
    };
    let mut resources = Vec::new();
    for app in live.items.iter().map(crate::client::to_value) {
        let owned = app
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| refs.iter().any(|r| text(r, "/uid") == uid));
        if !owned {
            continue;
        }
        let name = text(&app, "/metadata/name").to_string();
        if !made.contains(&name) {
            let _ = crate::client::delete(client, apps, Some(&namespace), &name).await;
            continue;
        }
        resources.push(json!({
            "group": GROUP, "version": "v1alpha1", "kind": "Application",
            "name": name, "namespace": namespace,
            "status": app.pointer("/status/sync/status").cloned().unwrap_or(json!("OutOfSync")),
            "health": { "status": app.pointer("/status/health/status").cloned().unwrap_or(json!("Missing")) },
        }));
    }
    json!({
        "conditions": [
            { "type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate", "message": "Successfully generated parameters for all Applications" },
            { "type": "ParametersGenerated", "status": "True", "reason": "ParametersGenerated", "message": "Successfully generated parameters for all Applications" },
            { "type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate", "message": "ApplicationSet up to date" },
        ],
        "resources": resources,
    })
}

fn error_status(message: &str) -> Value {
    json!({
        "conditions": [
            { "type": "ErrorOccurred", "status": "True", "reason": "ApplicationGenerationFromParamsError", "message": message },
            { "type": "ResourcesUpToDate", "status": "False", "reason": "ApplicationGenerationFromParamsError", "message": message },
        ],
    })
}

type Params = BTreeMap<String, String>;

/// The parameters of every element a generator produces.
fn generate(generator: &Value) -> Result<Vec<Params>, String> {
    if let Some(list) = generator
        .pointer("/list/elements")
        .and_then(Value::as_array)
    {
        return Ok(list.iter().map(flatten).collect());
    }
    if let Some(git) = generator.get("git") {
        return git_params(git);
    }
    if generator.get("clusters").is_some() {
        let selector = generator.pointer("/clusters/selector/matchLabels");
        if selector
            .and_then(Value::as_object)
            .is_some_and(|s| !s.is_empty())
        {
            return Ok(Vec::new()); // the in-cluster server carries no labels
        }
        let mut p = Params::new();
        p.insert("name".into(), "in-cluster".into());
        p.insert("server".into(), "https://kubernetes.default.svc".into());
        return Ok(vec![p]);
    }
    if let Some(inner) = generator
        .pointer("/matrix/generators")
        .and_then(Value::as_array)
    {
        let [a, b] = inner.as_slice() else {
            return Err("a matrix takes two generators".into());
        };
        let (a, b) = (generate(a)?, generate(b)?);
        let mut out = Vec::new();
        for x in &a {
            for y in &b {
                let mut p = x.clone();
                p.extend(y.clone());
                out.push(p);
            }
        }
        return Ok(out);
    }
    Err(format!("this double does not generate from {generator}"))
}

fn git_params(git: &Value) -> Result<Vec<Params>, String> {
    let repo = Path::new(text(git, "/repoURL"));
    if !repo.is_dir() {
        return Err(format!(
            "repository {} is not on this machine",
            repo.display()
        ));
    }
    let patterns = |key: &str, exclude: bool| -> Vec<String> {
        git.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| (p.get("exclude") == Some(&Value::Bool(true))) == exclude)
            .map(|p| text(p, "/path").to_string())
            .collect()
    };
    let mut out = Vec::new();
    for pattern in patterns("files", false) {
        for file in matching(repo, &pattern, false) {
            let body =
                std::fs::read_to_string(repo.join(&file)).map_err(|e| format!("{file}: {e}"))?;
            let value: Value = serde_yaml::from_str(&body).map_err(|e| format!("{file}: {e}"))?;
            let mut p = flatten(&value);
            path_params(&mut p, file.rsplit_once('/').map_or("", |(dir, _)| dir));
            p.insert(
                "path.filename".into(),
                file.rsplit('/').next().unwrap_or(&file).into(),
            );
            out.push(p);
        }
    }
    let excluded: BTreeSet<String> = patterns("directories", true)
        .iter()
        .flat_map(|pattern| matching(repo, pattern, true))
        .collect();
    for pattern in patterns("directories", false) {
        for dir in matching(repo, &pattern, true) {
            if !excluded.contains(&dir) {
                let mut p = Params::new();
                path_params(&mut p, &dir);
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn path_params(p: &mut Params, dir: &str) {
    p.insert("path".into(), dir.into());
    p.insert(
        "path.basename".into(),
        dir.rsplit('/').next().unwrap_or(dir).into(),
    );
}

/// Paths below `repo` matching `pattern` (`*` within one segment), sorted.
fn matching(repo: &Path, pattern: &str, directories: bool) -> Vec<String> {
    let mut found = vec![String::new()];
    for segment in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            let Ok(entries) = std::fs::read_dir(repo.join(base)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && wildcard(segment, &name) {
                    next.push(if base.is_empty() {
                        name
                    } else {
                        format!("{base}/{name}")
                    });
                }
            }
        }
        found = next;
    }
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|p| repo.join(p).is_dir() == directories)
        .collect();
    out.sort();
    out
}

/// `pattern` with `*` standing for any text matches `name`.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => name.strip_prefix(head).is_some_and(|rest| {
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| wildcard(tail, &rest[i..]))
        }),
    }
}

/// Scalar leaves by dotted key: `{"a": {"b": 1}}` gives `a.b = "1"`.
fn flatten(value: &Value) -> Params {
    fn walk(prefix: &str, value: &Value, out: &mut Params) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = Params::new();
    walk("", value, &mut out);
    out
}

/// The template with every `{{param}}` (or `{{ .param }}`) replaced.
fn substitute(template: &Value, params: &Params, go: bool) -> Value {
    match template {
        Value::String(s) => Value::String(replace(s, params, go)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, params, go)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, params, go)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

fn replace(text: &str, params: &Params, go: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = rest[start + 2..start + end].trim();
        let key = if go {
            inner.trim_start_matches('.')
        } else {
            inner
        };
        match params.get(key) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_substituted_and_globs_match() {
        let mut p = Params::new();
        p.insert("service".into(), "web".into());
        p.insert("path.basename".into(), "staging".into());
        assert_eq!(
            replace("{{service}}-{{path.basename}}", &p, false),
            "web-staging"
        );
        assert_eq!(replace("{{ .service }}", &p, true), "web");
        assert_eq!(replace("{{missing}}", &p, false), "{{missing}}");
        assert!(wildcard("*.json", "web.json"));
        assert!(wildcard("*", "anything"));
        assert!(!wildcard("*.json", "web.yaml"));
        assert!(wildcard("web", "web"));
        let flat = flatten(&json!({ "service": "web", "values": { "replicas": 2 } }));
        assert_eq!(flat.get("values.replicas").map(String::as_str), Some("2"));
    }
}
