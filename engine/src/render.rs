//! The GitOps layout `stack render` writes: per cluster, an app-of-apps root
//! Application and one file per Application, Namespace and raw object, with
//! Argo CD sync waves derived from the graph. Byte-identical across runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde_json::{json, Value as Json};

use crate::graph::Graph;
use crate::objects::{self, argocd_namespace, KnownOutputs, ObjectsError, STACK_LABEL};
use crate::resource::{Kind, Resource};
use crate::state::State;
use crate::value::Value;

/// First line of every rendered file: marks files `render` owns and may prune.
pub const HEADER: &str = "# Rendered by stack: edit the stack script, not this file.";

/// Sync-wave annotation Argo CD orders by.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// Why a stack cannot be rendered.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RenderError {
    #[error("`{id}` needs `{output}`, which is only known after apply")]
    #[diagnostic(
        code(stack::render::unknown_output),
        help("`stack render` writes only what is known now: run `stack run` first, or do not pass this output into a rendered object")
    )]
    Unknown {
        id: String,
        output: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("declared here")]
        span: SourceSpan,
    },
    #[error("cannot write {}", path.display())]
    #[diagnostic(code(stack::render::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Rendered files (relative path → content) and notes about what was left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rendered {
    pub files: BTreeMap<PathBuf, String>,
    pub notes: Vec<String>,
}

/// Renders every cluster of the graph. `repo_url` overrides the clusters'
/// `gitops.repo` for the root Applications.
#[allow(
    clippy::result_large_err,
    reason = "a diagnostic carries its source text; it is built once, when a command fails"
)]
pub fn render(
    graph: &Graph,
    state: Option<&State>,
    repo_url: Option<&str>,
) -> Result<Rendered, RenderError> {
    let resolve = KnownOutputs { graph, state };
    let depths = graph.depths();
    let mut rendered = Rendered::default();
    for (cluster_id, members) in objects::by_cluster(graph) {
        let Some(cluster) = graph.get(&cluster_id) else {
            continue;
        };
        let dir = PathBuf::from(&cluster.name);
        // Waves count from the cluster's own resources, so the first is 0.
        let base = depths.get(&cluster.id).copied().unwrap_or(0) + 1;
        for resource in members {
            let wave = depths
                .get(&resource.id)
                .copied()
                .unwrap_or(base)
                .saturating_sub(base);
            match resource.kind {
                Kind::Bootstrap => rendered.notes.push(format!(
                    "{}: installed directly by `stack run` before GitOps exists; not rendered",
                    resource.id
                )),
                Kind::HelmApp if !objects::delivered_by_argocd(resource) => rendered.notes.push(format!(
                    "{}: `via: \"helm\"` is applied directly by `stack run`; not rendered",
                    resource.id
                )),
                Kind::Oidc | Kind::Cluster => {}
                Kind::Manifest if graph.applied_directly(&resource.id) => {
                    rendered.notes.push(format!(
                        "{}: a Secret with sensitive values is applied directly by `stack run`, never written to git",
                        resource.id
                    ))
                }
                Kind::Namespace if graph.applied_directly(&resource.id) => {
                    rendered.notes.push(format!(
                        "{}: holds a Secret with sensitive values, so `stack run` applies it directly for the Secret to have its namespace; not rendered",
                        resource.id
                    ))
                }
                _ => {
                    let objects = objects::objects(graph, resource, &resolve).map_err(|e| unknown(graph, resource, e))?;
                    for mut object in objects {
                        annotate(&mut object, wave);
                        let path = dir.join(file_name(resource, &object));
                        rendered.files.insert(path, to_yaml(&object));
                    }
                }
            }
        }
        match root_application(graph, cluster, repo_url) {
            Ok(root) => {
                rendered.files.insert(dir.join("root.yaml"), to_yaml(&root));
            }
            Err(note) => rendered.notes.push(note),
        }
    }
    Ok(rendered)
}

fn unknown(graph: &Graph, resource: &Resource, error: ObjectsError) -> RenderError {
    let ObjectsError::Unknown(output) = error;
    RenderError::Unknown {
        id: resource.id.to_string(),
        output: output.to_string(),
        src: graph.sources().named(resource.span.source),
        span: resource.span.source_span(),
    }
}

/// Sets the Argo CD sync wave of an object.
pub fn annotate(object: &mut Json, wave: usize) {
    let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) else {
        return;
    };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(annotations) = annotations.as_object_mut() {
        // A wave the script set itself wins.
        annotations
            .entry(SYNC_WAVE)
            .or_insert_with(|| Json::String(wave.to_string()));
    }
}

/// `<app>.yaml` for Applications, `namespaces/<name>.yaml`, and
/// `manifests/<kind>-<namespace>-<name>.yaml` for raw objects.
fn file_name(resource: &Resource, object: &Json) -> PathBuf {
    match objects::object_ref(object) {
        Some(r) => object_file(resource.kind, &r),
        None => PathBuf::from(format!("{}.yaml", resource.name)),
    }
}

/// The file, relative to the cluster's directory, that holds an object of a
/// resource of `kind`: the layout `render` and GitOps delivery share.
pub fn object_file(kind: Kind, object: &crate::state::ObjectRef) -> PathBuf {
    let name = &object.name;
    match kind {
        Kind::HelmApp => PathBuf::from(format!("{name}.yaml")),
        Kind::Namespace => PathBuf::from("namespaces").join(format!("{name}.yaml")),
        _ => {
            let kind = object.kind.to_ascii_lowercase();
            let file = match &object.namespace {
                Some(ns) => format!("{kind}-{ns}-{name}.yaml"),
                None => format!("{kind}-{name}.yaml"),
            };
            PathBuf::from("manifests").join(file)
        }
    }
}

/// The root Application of a cluster, when a URL Argo CD can clone is
/// known (`--repo-url`, `gitops.url`, or a `gitops.repo` that is a URL);
/// otherwise a note saying why there is none.
fn root_application(
    graph: &Graph,
    cluster: &Resource,
    repo_url: Option<&str>,
) -> Result<Json, String> {
    let gitops = cluster.input("gitops").and_then(Value::as_map);
    let setting = |key: &str| gitops.and_then(|g| g.get(key)).and_then(Value::as_str);
    let declared = setting("url")
        .filter(|u| !u.is_empty())
        .or_else(|| setting("repo").filter(|r| argocd_can_clone(r)));
    let Some(repo) = repo_url.or(declared) else {
        let why = match setting("repo") {
            Some(path) => format!(
                "its `gitops.repo` is a path on this machine (`{path}`), which an Argo CD elsewhere cannot clone"
            ),
            None => "it names no GitOps repository".to_string(),
        };
        return Err(format!(
            "{}/root.yaml not written: {why}; pass `--repo-url URL` (where these files are pushed) or set `gitops.url` on cluster `{}`",
            cluster.name, cluster.name
        ));
    };
    let namespace = argocd_namespace(graph, cluster);
    Ok(root_application_for(
        &graph.declarations.stack,
        &cluster.name,
        &namespace,
        repo,
        setting("path").unwrap_or(""),
        setting("branch").unwrap_or("main"),
    ))
}

/// Whether Argo CD could clone `repo`: a network URL, not a path on this
/// machine (`file://` included).
pub fn argocd_can_clone(repo: &str) -> bool {
    (repo.contains("://") && !repo.starts_with("file://")) || repo.starts_with("git@")
}

/// The app-of-apps root Application of a cluster: it syncs the cluster's
/// directory of the GitOps repository, except itself.
pub fn root_application_for(
    stack: &str,
    cluster: &str,
    argocd_namespace: &str,
    repo: &str,
    path: &str,
    branch: &str,
) -> Json {
    let base = path.trim_matches('/');
    let path = if base.is_empty() {
        cluster.to_string()
    } else {
        format!("{base}/{cluster}")
    };
    json!({
        "apiVersion": objects::APPLICATION_API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": format!("{cluster}-root"),
            "namespace": argocd_namespace,
            "labels": { STACK_LABEL: stack },
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo,
                "path": path,
                "targetRevision": branch,
                "directory": { "recurse": true, "exclude": "root.yaml" },
            },
            "destination": {
                "server": "https://kubernetes.default.svc",
                "namespace": argocd_namespace,
            },
            "syncPolicy": {
                "automated": { "prune": true, "selfHeal": true },
            },
        },
    })
}

/// One object as a YAML document with the ownership header.
pub fn to_yaml(object: &Json) -> String {
    let body = serde_yaml::to_string(object).unwrap_or_default();
    format!("{HEADER}\n{body}")
}

/// Every rendered file as one YAML stream, as `helm template` prints it:
/// each document headed by the file it would be written to.
pub fn stream(rendered: &Rendered) -> String {
    let mut out = String::new();
    for (path, content) in &rendered.files {
        for document in content.split("\n---\n") {
            let document = document.trim_start_matches("---\n").trim_end();
            if document.is_empty() {
                continue;
            }
            out.push_str("---\n# Source: ");
            out.push_str(&path.to_string_lossy());
            out.push('\n');
            out.push_str(document);
            out.push('\n');
        }
    }
    out
}

/// Writes the rendered files under `out` and removes files an earlier render
/// wrote that this one no longer produces. Returns the paths written.
#[allow(
    clippy::result_large_err,
    reason = "a diagnostic carries its source text; it is built once, when a command fails"
)]
pub fn write(rendered: &Rendered, out: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Write { path, source }
    };
    // Only the directories of the clusters rendered now: another stack's
    // clusters may share the output directory.
    let mut stale = Vec::new();
    let clusters: std::collections::BTreeSet<&std::ffi::OsStr> = rendered
        .files
        .keys()
        .filter_map(|p| p.components().next())
        .map(|c| c.as_os_str())
        .collect();
    for cluster in clusters {
        collect_owned(&out.join(cluster), &mut stale);
    }
    for (rel, content) in &rendered.files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| &old == content);
        if !unchanged {
            std::fs::write(&path, content).map_err(io(&path))?;
        }
    }
    for path in stale {
        let rel = path.strip_prefix(out).unwrap_or(&path);
        if !rendered.files.contains_key(rel) {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(rendered.files.keys().cloned().collect())
}

/// Every `.yaml` file below `dir` that starts with [`HEADER`].
fn collect_owned(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != ".git") {
                collect_owned(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml")
            && std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with(HEADER))
        {
            out.push(path);
        }
    }
}
