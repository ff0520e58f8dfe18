//! GitOps delivery: a cluster with `delivery: "gitops"` gets its objects as
//! files in a git repository (the layout `stack render` writes), and one
//! commit per run lists what changed. Argo CD, watching the repository, does
//! the applying; sync waves carry the graph's order to it.
//!
//! The repository is `gitops.repo`: a local working copy (created when the
//! path does not exist), or a URL or bare repository, which is cloned into
//! `.stack/gitops/<cluster>` next to the stack and pushed after the commit;
//! a working copy with an `origin` remote is pushed there. The root
//! Application points Argo CD at what it can clone: `gitops.url`, the
//! repository's URL, or the working copy's `origin` (a path on this machine
//! only with a warning). `plan --refresh` compares the files with what a
//! run would write: a missing repository or a hand-edited file is drift,
//! which `run --refresh` writes back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use stack_engine::objects::object_ref;
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Drift, FinishNote, Provider,
    ProviderError, RunChanges,
};
use stack_engine::render::{
    annotate, argocd_can_clone, object_file, root_application_for, to_yaml,
};
use stack_engine::state::backend::BoxFuture;
use stack_engine::state::ObjectRef;
use stack_engine::Kind;

use crate::git::{self, git, is_bare, is_remote};
use crate::kubernetes::drift::diff;
use crate::kubernetes::KubernetesProvider;

/// Where a cluster's files go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Checkout {
    /// The working copy.
    dir: PathBuf,
    /// Whether it is a clone (under `.stack/gitops`) of the declared repository.
    cloned: bool,
    /// The remote commits are pushed to (`origin`): always for a clone,
    /// and for a working copy that has one.
    pushes_to: Option<String>,
    branch: String,
    /// `<path>/<cluster>` inside the repository.
    cluster_dir: PathBuf,
    /// The repository for messages: the working copy's path from here, or
    /// the URL of a clone.
    repo: String,
    /// What the root Application clones: `gitops.url`, the repository's
    /// URL, or the working copy's `origin`; a path on this machine when
    /// there is none of these.
    argocd_url: String,
    path: String,
    cluster: String,
    argocd_namespace: String,
}

impl Checkout {
    /// Whether Argo CD is pointed at a path on this machine, which an
    /// Argo CD elsewhere cannot clone.
    fn local_only(&self) -> bool {
        !argocd_can_clone(&self.argocd_url)
    }

    fn root_application(&self, stack: &str) -> Json {
        root_application_for(
            stack,
            &self.cluster,
            &self.argocd_namespace,
            &self.argocd_url,
            &self.path,
            &self.branch,
        )
    }
}

/// The GitOps settings of a cluster, as declared.
struct Declared<'a> {
    repo: &'a str,
    url: Option<&'a str>,
    branch: String,
    path: String,
}

impl<'a> Declared<'a> {
    fn of(cluster: &'a ClusterTarget) -> Result<Declared<'a>, ProviderError> {
        let gitops = cluster.inputs.get("gitops");
        let setting = |key: &str| gitops.and_then(|g| g.get(key)).and_then(Json::as_str);
        let repo = setting("repo").ok_or_else(|| GitOpsError::Repository {
            message: format!(
                "cluster `{}` delivers through GitOps but names no repository",
                cluster.name
            ),
            help: Some("set `gitops: #{ repo: \"...\" }` on the cluster".to_string()),
        })?;
        Ok(Declared {
            repo,
            url: setting("url").filter(|u| !u.is_empty()),
            branch: setting("branch").unwrap_or("main").to_string(),
            path: setting("path").unwrap_or("").trim_matches('/').to_string(),
        })
    }

    /// Whether the repository is cloned (a URL or a bare repository)
    /// rather than a working copy written in place.
    fn cloned(&self, stack_dir: &Path) -> bool {
        is_remote(self.repo) || is_bare(&stack_dir.join(self.repo))
    }

    fn cluster_dir(&self, cluster: &str) -> PathBuf {
        if self.path.is_empty() {
            PathBuf::from(cluster)
        } else {
            Path::new(&self.path).join(cluster)
        }
    }
}

pub struct GitOpsProvider {
    stack: String,
    /// The stack script's directory: relative repository paths start here.
    stack_dir: PathBuf,
    /// Checkouts written to by this run.
    touched: Mutex<BTreeSet<Checkout>>,
    /// Prepared checkouts by cluster: each is set up once per run, by the
    /// first resource that needs it, while the others wait.
    prepared: tokio::sync::Mutex<BTreeMap<String, Checkout>>,
    /// Clusters written to this run, with the Applications written, to hand
    /// the root Application and wait on after the commit.
    written: Mutex<BTreeMap<String, (ClusterTarget, Vec<Json>)>>,
    /// Reaches clusters that can be reached, to hand them the root
    /// Application and wait for Argo CD.
    kubernetes: Option<Arc<KubernetesProvider>>,
}

impl GitOpsProvider {
    pub fn new(stack: impl Into<String>, stack_dir: impl Into<PathBuf>) -> Self {
        GitOpsProvider {
            stack: stack.into(),
            stack_dir: stack_dir.into(),
            touched: Mutex::new(BTreeSet::new()),
            prepared: tokio::sync::Mutex::new(BTreeMap::new()),
            written: Mutex::new(BTreeMap::new()),
            kubernetes: None,
        }
    }

    /// Waits for Argo CD on clusters that can be reached, through `kubernetes`.
    pub fn with_kubernetes(mut self, kubernetes: Arc<KubernetesProvider>) -> Self {
        self.kubernetes = Some(kubernetes);
        self
    }

    /// The working copy for a cluster, prepared once per run.
    async fn checkout(&self, cluster: &ClusterTarget) -> Result<Checkout, ProviderError> {
        let mut prepared = self.prepared.lock().await;
        if let Some(checkout) = prepared.get(&cluster.name) {
            return Ok(checkout.clone());
        }
        let checkout = self.prepare(cluster).await?;
        prepared.insert(cluster.name.clone(), checkout.clone());
        Ok(checkout)
    }

    /// The working copy for a cluster that is about to be written to: it
    /// gets its root Application and a commit when the run ends.
    async fn checkout_to_write(&self, cluster: &ClusterTarget) -> Result<Checkout, ProviderError> {
        let checkout = self.checkout(cluster).await?;
        if let Ok(mut touched) = self.touched.lock() {
            touched.insert(checkout.clone());
        }
        Ok(checkout)
    }

    /// Finds or creates the working copy for a cluster.
    async fn prepare(&self, cluster: &ClusterTarget) -> Result<Checkout, ProviderError> {
        let declared = Declared::of(cluster)?;
        let Declared {
            repo, url, branch, ..
        } = &declared;
        let cloned = declared.cloned(&self.stack_dir);
        let (dir, origin) = if cloned {
            let dir = self
                .stack_dir
                .join(".stack")
                .join("gitops")
                .join(&cluster.name);
            let location = git::location(&self.stack_dir, repo);
            git::sync_clone(location.clone(), &dir, branch).await?;
            (dir, Some(location))
        } else {
            let dir = self.stack_dir.join(repo);
            if !dir.join(".git").exists() {
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| io_error(&dir, e))?;
                git(&dir, &["init", "-q", "-b", branch]).await?;
            }
            let current = git(&dir, &["symbolic-ref", "--short", "HEAD"]).await?;
            if current.trim() != branch {
                return Err(GitOpsError::Repository { message: format!(
                    "the GitOps working copy {} is on branch `{}`, but `gitops.branch` is `{branch}`",
                    dir.display(),
                    current.trim()
                ), help: Some(format!("check out `{branch}` there, or set `gitops.branch`")) }.into());
            }
            let origin = git(&dir, &["remote", "get-url", "origin"])
                .await
                .ok()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty());
            (dir, origin)
        };
        let local_path = || {
            dir.canonicalize()
                .unwrap_or_else(|_| dir.clone())
                .to_string_lossy()
                .into_owned()
        };
        let argocd_url = url
            .map(str::to_string)
            .or_else(|| origin.clone())
            .unwrap_or_else(local_path);
        Ok(Checkout {
            cloned,
            cluster_dir: declared.cluster_dir(&cluster.name),
            pushes_to: origin,
            branch: branch.clone(),
            repo: if cloned {
                repo.to_string()
            } else {
                tidy(&dir).display().to_string()
            },
            argocd_url,
            path: declared.path.clone(),
            cluster: cluster.name.clone(),
            argocd_namespace: cluster
                .input_str("argocd_namespace")
                .unwrap_or("argocd")
                .to_string(),
            dir,
        })
    }

    /// Where the files of `cluster` are now, to compare with what a run
    /// would write: `None` when its working copy does not exist (so every
    /// file is missing). A clone is brought up to date with its remote
    /// first; a working copy is not created.
    async fn files_of(&self, cluster: &ClusterTarget) -> Result<Option<PathBuf>, ProviderError> {
        let declared = Declared::of(cluster)?;
        if !declared.cloned(&self.stack_dir)
            && !self.stack_dir.join(declared.repo).join(".git").exists()
        {
            return Ok(None);
        }
        let checkout = self.checkout(cluster).await?;
        Ok(Some(checkout.dir.join(&checkout.cluster_dir)))
    }

    /// What differs between the files `request` would write and the files
    /// in the repository: missing files, and fields edited by hand.
    async fn drift(&self, request: &ApplyRequest) -> Result<Vec<Drift>, ProviderError> {
        let cluster = self.target(request.cluster.as_ref(), request.id.as_str())?;
        let base = self.files_of(cluster).await?;
        let mut drifts = Vec::new();
        for object in &request.objects {
            let identity = identity_of(request, object)?;
            let mut desired = object.clone();
            annotate(&mut desired, request.wave);
            let described = describe(&identity);
            let file = base
                .as_ref()
                .map(|base| base.join(object_file(request.kind, &identity)));
            let text = match &file {
                Some(file) => match tokio::fs::read_to_string(file).await {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(GitOpsError::Write {
                            message: format!("cannot read {}: {e}", file.display()),
                            help: None,
                        }
                        .into())
                    }
                },
                None => None,
            };
            let Some(text) = text else {
                drifts.push(Drift {
                    object: described,
                    path: String::new(),
                    desired: Some(desired),
                    live: None,
                    sensitive: false,
                });
                continue;
            };
            match serde_yaml::from_str::<Json>(&text) {
                Ok(live) => {
                    drifts.extend(diff(&desired, &live).into_iter().map(|(path, d, l)| Drift {
                        object: described.clone(),
                        path,
                        desired: d,
                        live: l,
                        sensitive: false,
                    }))
                }
                Err(e) => drifts.push(Drift {
                    object: described,
                    path: String::new(),
                    desired: Some(desired),
                    live: Some(Json::String(format!("not YAML: {e}"))),
                    sensitive: false,
                }),
            }
        }
        Ok(drifts)
    }

    fn target<'a>(
        &self,
        cluster: Option<&'a ClusterTarget>,
        what: &str,
    ) -> Result<&'a ClusterTarget, ProviderError> {
        Ok(cluster.ok_or_else(|| GitOpsError::Invalid {
            message: format!("`{what}` has no cluster to deliver to"),
            help: None,
        })?)
    }

    async fn write_objects(&self, request: &ApplyRequest) -> Result<Applied, ProviderError> {
        let cluster = self.target(request.cluster.as_ref(), request.id.as_str())?;
        let checkout = self.checkout_to_write(cluster).await?;
        let base = checkout.dir.join(&checkout.cluster_dir);
        let mut applied = Applied::default();
        let mut written = BTreeSet::new();
        for object in &request.objects {
            let identity = identity_of(request, object)?;
            let mut object = object.clone();
            annotate(&mut object, request.wave);
            let file = base.join(object_file(request.kind, &identity));
            write_if_changed(&file, &to_yaml(&object)).await?;
            written.insert(file);
            if let Ok(mut written) = self.written.lock() {
                // The cluster gets the root Application even when this run
                // wrote only plain objects: Argo CD delivers those too.
                let (_, apps) = written
                    .entry(cluster.name.clone())
                    .or_insert_with(|| (cluster.clone(), Vec::new()));
                if identity.kind == "Application" {
                    apps.push(object.clone());
                }
            }
            applied.objects.push(identity);
        }
        // Files of objects this resource no longer has (or a run that did
        // not finish meant it to have).
        let recorded = request.previous.iter().flat_map(|p| &p.objects);
        for old in recorded.chain(&request.unconfirmed) {
            let file = base.join(object_file(request.kind, old));
            if !written.contains(&file) {
                remove_file(&file).await?;
            }
        }
        if request.kind == Kind::HelmApp {
            applied
                .outputs
                .insert("health".into(), Json::String("Unknown".into()));
            applied
                .outputs
                .insert("revision".into(), Json::String(String::new()));
        }
        Ok(applied)
    }

    async fn remove_objects(&self, request: &DeleteRequest) -> Result<(), ProviderError> {
        let cluster = self.target(request.cluster.as_ref(), request.id.as_str())?;
        let checkout = self.checkout_to_write(cluster).await?;
        let base = checkout.dir.join(&checkout.cluster_dir);
        let recorded = &request.recorded;
        for object in recorded
            .objects
            .iter()
            .chain(recorded.unconfirmed_objects())
        {
            remove_file(&base.join(object_file(request.kind, object))).await?;
        }
        Ok(())
    }

    /// Writes each touched cluster's root Application and commits (and
    /// pushes) what changed, once per repository; says which commit it
    /// made where, and what Argo CD still needs.
    async fn commit(&self, changes: &RunChanges) -> Result<Vec<FinishNote>, ProviderError> {
        let touched: Vec<Checkout> = self
            .touched
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        let mut by_repo: BTreeMap<PathBuf, Vec<Checkout>> = BTreeMap::new();
        for checkout in touched {
            by_repo
                .entry(checkout.dir.clone())
                .or_default()
                .push(checkout);
        }
        let mut notes = Vec::new();
        for (dir, checkouts) in by_repo {
            for c in &checkouts {
                let root = c.root_application(&self.stack);
                write_if_changed(&dir.join(&c.cluster_dir).join("root.yaml"), &to_yaml(&root))
                    .await?;
            }
            let mut add = vec!["add", "-A", "--"];
            let dirs: Vec<String> = checkouts
                .iter()
                .map(|c| c.cluster_dir.to_string_lossy().into_owned())
                .collect();
            add.extend(dirs.iter().map(String::as_str));
            git(&dir, &add).await?;
            if git(&dir, &["diff", "--cached", "--quiet"]).await.is_ok() {
                continue; // nothing changed: no commit
            }
            let message = commit_message(&self.stack, &checkouts, changes);
            let short = git::commit(&dir, &message).await?;
            let first = &checkouts[0];
            let mut done = format!(
                "committed {} to {} (branch {})",
                short, first.repo, first.branch
            );
            if let Some(remote) = &first.pushes_to {
                git::push(&dir, &first.branch).await?;
                if !first.cloned {
                    done.push_str(&format!(", pushed to {remote}"));
                }
            }
            done.push_str(&format!(": {}", message.lines().next().unwrap_or_default()));
            notes.push(FinishNote::Done(done));
            for c in &checkouts {
                if c.local_only() {
                    notes.push(FinishNote::Warning(format!(
                        "the root Application of cluster `{}` clones {}, a path on this machine: \
                         an Argo CD elsewhere cannot reach it; push the repository where Argo CD \
                         can clone it and make that its `origin` remote, or set `gitops.url`",
                        c.cluster, c.argocd_url
                    )));
                }
                if !self.await_argocd(c).await? {
                    notes.push(FinishNote::Note(format!(
                        "cluster `{}` cannot be reached from here, so its Argo CD was not handed \
                         the root Application: apply it once (`kubectl apply -f {}`), and Argo CD \
                         syncs the repository from then on",
                        c.cluster,
                        tidy(&dir.join(&c.cluster_dir).join("root.yaml")).display()
                    )));
                }
            }
        }
        Ok(notes)
    }

    /// On a cluster that can be reached: hands Argo CD the root Application
    /// (it syncs the repository from then on) and waits until every
    /// Application written this run is Synced and Healthy. Argo CD orders
    /// them by their sync waves; a Degraded one fails the run. `false` when
    /// the cluster cannot be reached.
    async fn await_argocd(&self, c: &Checkout) -> Result<bool, ProviderError> {
        let entry = self
            .written
            .lock()
            .ok()
            .and_then(|w| w.get(&c.cluster).cloned());
        let (Some(kubernetes), Some((target, apps))) = (&self.kubernetes, entry) else {
            return Ok(false);
        };
        if !crate::existing::reachable(&target) {
            return Ok(false);
        }
        let mut root = c.root_application(&self.stack);
        // Ask Argo CD to look at the new commit now rather than at its next poll.
        let revision = git(&c.dir, &["rev-parse", "HEAD"]).await?;
        root["metadata"]["annotations"] = serde_json::json!({
            "argocd.argoproj.io/refresh": "normal",
            "stack.dev/revision": revision.trim(),
        });
        let timeout = std::time::Duration::from_secs(600);
        kubernetes.apply_and_wait(&target, &[root], timeout).await?;
        kubernetes.wait_applied(&target, &apps, timeout).await?;
        Ok(true)
    }
}

fn commit_message(stack: &str, checkouts: &[Checkout], changes: &RunChanges) -> String {
    let clusters: BTreeSet<&str> = checkouts.iter().map(|c| c.cluster.as_str()).collect();
    let lines: Vec<String> = changes
        .changes
        .iter()
        .filter(|(_, id)| {
            clusters.iter().any(|c| {
                id.as_str().starts_with(&format!("{c}/")) || id.as_str() == format!("cluster/{c}")
            })
        })
        .map(|(action, id)| format!("{action} {id}"))
        .collect();
    let count = lines.len();
    let mut message = format!(
        "stack {stack}: {count} change{} on {}",
        if count == 1 { "" } else { "s" },
        clusters.into_iter().collect::<Vec<_>>().join(", ")
    );
    if !lines.is_empty() {
        message.push_str("\n\n");
        message.push_str(&lines.join("\n"));
    }
    message
}

impl Provider for GitOpsProvider {
    fn name(&self) -> &'static str {
        "gitops"
    }

    fn apply<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(self.write_objects(request))
    }

    fn delete<'a>(
        &'a self,
        request: &'a DeleteRequest,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.remove_objects(request))
    }

    fn refresh<'a>(
        &'a self,
        request: &'a ApplyRequest,
    ) -> BoxFuture<'a, Result<Vec<Drift>, ProviderError>> {
        Box::pin(self.drift(request))
    }

    fn finish<'a>(
        &'a self,
        changes: &'a RunChanges,
    ) -> BoxFuture<'a, Result<Vec<FinishNote>, ProviderError>> {
        Box::pin(self.commit(changes))
    }
}

/// The identity of an object to write, or why it has none.
fn identity_of(request: &ApplyRequest, object: &Json) -> Result<ObjectRef, ProviderError> {
    object_ref(object).ok_or_else(|| {
        GitOpsError::Invalid {
            message: format!(
                "`{}` renders an object without apiVersion, kind or name",
                request.id
            ),
            help: None,
        }
        .into()
    })
}

/// `Kind/namespace/name`, as drift names objects.
fn describe(object: &ObjectRef) -> String {
    match &object.namespace {
        Some(namespace) => format!("{}/{namespace}/{}", object.kind, object.name),
        None => format!("{}/{}", object.kind, object.name),
    }
}

/// `path` without `.` and with each `dir/..` folded, for messages:
/// `stacks/../gitops-demo/root.yaml` reads as `gitops-demo/root.yaml`.
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

async fn write_if_changed(file: &Path, content: &str) -> Result<(), ProviderError> {
    if tokio::fs::read_to_string(file)
        .await
        .is_ok_and(|old| old == content)
    {
        return Ok(());
    }
    if let Some(parent) = file.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| io_error(parent, e))?;
    }
    tokio::fs::write(file, content)
        .await
        .map_err(|e| io_error(file, e))
}

async fn remove_file(file: &Path) -> Result<(), ProviderError> {
    match tokio::fs::remove_file(file).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(file, e)),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> ProviderError {
    GitOpsError::Write {
        message: format!("cannot write {}: {e}", path.display()),
        help: None,
    }
    .into()
}

/// How GitOps delivery fails.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GitOpsError {
    /// The cluster names no repository, or its working copy is on another branch.
    #[error("{message}")]
    #[diagnostic(code(stack::gitops::repository))]
    Repository {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// What is to be delivered cannot be written to git.
    #[error("{message}")]
    #[diagnostic(code(stack::gitops::invalid))]
    Invalid {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// A file of the working copy cannot be written.
    #[error("{message}")]
    #[diagnostic(code(stack::gitops::write))]
    Write {
        message: String,
        #[help]
        help: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_messages_fold_dot_and_dot_dot() {
        assert_eq!(
            tidy(Path::new("stacks/../gitops-demo/./clusters/demo/root.yaml")),
            PathBuf::from("gitops-demo/clusters/demo/root.yaml")
        );
        assert_eq!(tidy(Path::new("../repo")), PathBuf::from("../repo"));
        assert_eq!(tidy(Path::new("/a/b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn only_network_urls_are_what_an_argo_cd_elsewhere_can_clone() {
        assert!(argocd_can_clone("https://git.example.com/ops.git"));
        assert!(argocd_can_clone("git@git.example.com:ops.git"));
        assert!(!argocd_can_clone("file:///srv/ops.git"));
        assert!(!argocd_can_clone("/srv/ops.git"));
        assert!(is_remote("file:///srv/ops.git"));
        assert!(!is_remote("../gitops-demo"));
    }
}
