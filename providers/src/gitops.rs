//! GitOps delivery: a cluster with `delivery: "gitops"` gets its objects as
//! files in a git repository (the layout `stack render` writes), and one
//! commit per run lists what changed. Argo CD, watching the repository, does
//! the applying; sync waves carry the graph's order to it.
//!
//! The repository is `gitops.repo`: a local working copy (created when the
//! path does not exist), or a URL or bare repository, which is cloned into
//! `.stack/gitops/<cluster>` next to the stack and pushed after the commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use stack_engine::objects::object_ref;
use stack_engine::provider::{
    Applied, ApplyRequest, ClusterTarget, DeleteRequest, Provider, ProviderError, RunChanges,
};
use stack_engine::render::{annotate, object_file, root_application_for, to_yaml};
use stack_engine::state::backend::BoxFuture;
use stack_engine::Kind;

use crate::kubernetes::KubernetesProvider;
use crate::notes::with_notes;

/// Where a cluster's files go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Checkout {
    /// The working copy.
    dir: PathBuf,
    /// Whether it is a clone to push back.
    clone: bool,
    branch: String,
    /// `<path>/<cluster>` inside the repository.
    cluster_dir: PathBuf,
    /// For the root Application.
    repo: String,
    path: String,
    cluster: String,
    argocd_namespace: String,
}

pub struct GitOpsProvider {
    stack: String,
    /// The stack script's directory: relative repository paths start here.
    stack_dir: PathBuf,
    /// Checkouts touched by this run.
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

    /// Finds or creates the working copy for a cluster.
    async fn prepare(&self, cluster: &ClusterTarget) -> Result<Checkout, ProviderError> {
        let gitops = cluster.inputs.get("gitops");
        let setting = |key: &str| gitops.and_then(|g| g.get(key)).and_then(Json::as_str);
        let repo = setting("repo").ok_or_else(|| GitOpsError::Repository {
            message: format!(
                "cluster `{}` delivers through GitOps but names no repository",
                cluster.name
            ),
            help: Some("set `gitops: #{ repo: \"...\" }` on the cluster".to_string()),
        })?;
        let branch = setting("branch").unwrap_or("main").to_string();
        let path = setting("path").unwrap_or("").trim_matches('/').to_string();
        let remote =
            repo.contains("://") || repo.starts_with("git@") || is_bare(&self.stack_dir.join(repo));
        let dir = if remote {
            let dir = self
                .stack_dir
                .join(".stack")
                .join("gitops")
                .join(&cluster.name);
            sync_clone(repo_location(&self.stack_dir, repo), &dir, &branch).await?;
            dir
        } else {
            let dir = self.stack_dir.join(repo);
            if !dir.join(".git").exists() {
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| io_error(&dir, e))?;
                git(&dir, &["init", "-q", "-b", &branch]).await?;
            }
            let current = git(&dir, &["symbolic-ref", "--short", "HEAD"]).await?;
            if current.trim() != branch {
                return Err(GitOpsError::Repository { message: format!(
                    "the GitOps working copy {} is on branch `{}`, but `gitops.branch` is `{branch}`",
                    dir.display(),
                    current.trim()
                ), help: Some(format!("check out `{branch}` there, or set `gitops.branch`")) }.into());
            }
            dir
        };
        let cluster_dir = if path.is_empty() {
            PathBuf::from(&cluster.name)
        } else {
            Path::new(&path).join(&cluster.name)
        };
        let checkout = Checkout {
            dir,
            clone: remote,
            branch,
            cluster_dir,
            repo: repo.to_string(),
            path,
            cluster: cluster.name.clone(),
            argocd_namespace: cluster
                .input_str("argocd_namespace")
                .unwrap_or("argocd")
                .to_string(),
        };
        if let Ok(mut touched) = self.touched.lock() {
            touched.insert(checkout.clone());
        }
        Ok(checkout)
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
        let checkout = self.checkout(cluster).await?;
        let base = checkout.dir.join(&checkout.cluster_dir);
        let mut applied = Applied::default();
        let mut written = BTreeSet::new();
        for object in &request.objects {
            let Some(identity) = object_ref(object) else {
                return Err(GitOpsError::Invalid {
                    message: format!(
                        "`{}` renders an object without apiVersion, kind or name",
                        request.id
                    ),
                    help: None,
                }
                .into());
            };
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
        let checkout = self.checkout(cluster).await?;
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
    /// pushes) what changed, once per repository.
    async fn commit(&self, changes: &RunChanges) -> Result<(), ProviderError> {
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
        for (dir, checkouts) in by_repo {
            for c in &checkouts {
                let root = root_application_for(
                    &self.stack,
                    &c.cluster,
                    &c.argocd_namespace,
                    &c.repo,
                    &c.path,
                    &c.branch,
                );
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
            // The user's identity when git has one, else a neutral one.
            let identity = git(&dir, &["config", "user.email"]).await.is_ok();
            if identity {
                git(&dir, &["commit", "-q", "-m", &message]).await?;
            } else {
                git(
                    &dir,
                    &[
                        "-c",
                        "user.name=stack",
                        "-c",
                        "user.email=stack@localhost",
                        "commit",
                        "-q",
                        "-m",
                        &message,
                    ],
                )
                .await?;
            }
            if let Some(c) = checkouts.iter().find(|c| c.clone) {
                git(
                    &dir,
                    &["push", "-q", "origin", &format!("HEAD:{}", c.branch)],
                )
                .await?;
            }
            for c in &checkouts {
                self.await_argocd(c).await?;
            }
        }
        Ok(())
    }

    /// On a cluster that can be reached: hands Argo CD the root Application
    /// (it syncs the repository from then on) and waits until every
    /// Application written this run is Synced and Healthy. Argo CD orders
    /// them by their sync waves; a Degraded one fails the run.
    async fn await_argocd(&self, c: &Checkout) -> Result<(), ProviderError> {
        let Some(kubernetes) = &self.kubernetes else {
            return Ok(());
        };
        let entry = self
            .written
            .lock()
            .ok()
            .and_then(|w| w.get(&c.cluster).cloned());
        let Some((target, apps)) = entry else {
            return Ok(());
        };
        if !crate::existing::reachable(&target) {
            return Ok(());
        }
        let mut root = root_application_for(
            &self.stack,
            &c.cluster,
            &c.argocd_namespace,
            &c.repo,
            &c.path,
            &c.branch,
        );
        // Ask Argo CD to look at the new commit now rather than at its next poll.
        let revision = git(&c.dir, &["rev-parse", "HEAD"]).await?;
        root["metadata"]["annotations"] = serde_json::json!({
            "argocd.argoproj.io/refresh": "normal",
            "stack.dev/revision": revision.trim(),
        });
        let timeout = std::time::Duration::from_secs(600);
        kubernetes.apply_and_wait(&target, &[root], timeout).await?;
        kubernetes.wait_applied(&target, &apps, timeout).await
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

    fn finish<'a>(&'a self, changes: &'a RunChanges) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.commit(changes))
    }
}

fn is_bare(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && !dir.join(".git").exists()
}

/// A repository location git understands: URLs as they are, paths made absolute.
fn repo_location(stack_dir: &Path, repo: &str) -> String {
    if repo.contains("://") || repo.starts_with("git@") {
        repo.to_string()
    } else {
        let path = stack_dir.join(repo);
        path.canonicalize()
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

/// Clones `url` into `dir`, or brings an existing clone up to date with the
/// remote branch (discarding nothing the remote does not have).
async fn sync_clone(url: String, dir: &Path, branch: &str) -> Result<(), ProviderError> {
    if !dir.join(".git").exists() {
        if let Some(parent) = dir.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error(parent, e))?;
        }
        let target = dir.to_string_lossy().into_owned();
        let parent = dir.parent().unwrap_or(Path::new("."));
        git(parent, &["clone", "-q", &url, &target]).await?;
    } else {
        git(dir, &["fetch", "-q", "origin"]).await?;
    }
    let remote_branch = format!("origin/{branch}");
    if git(dir, &["rev-parse", "--verify", "-q", &remote_branch])
        .await
        .is_ok()
    {
        git(dir, &["checkout", "-q", "-B", branch, &remote_branch]).await?;
    } else {
        // An empty remote: start the branch here.
        if git(dir, &["checkout", "-q", "--orphan", branch])
            .await
            .is_err()
        {
            git(dir, &["checkout", "-q", branch]).await?;
        }
    }
    Ok(())
}

/// Runs git in `dir`; the error carries git's own message.
async fn git(dir: &Path, args: &[&str]) -> Result<String, ProviderError> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| GitOpsError::Git {
            message: format!("cannot run git: {e}"),
            help: Some("GitOps delivery needs `git` on PATH".to_string()),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitOpsError::Git {
            message: format!("`git {}` failed in {}", args.join(" "), dir.display()),
            help: with_notes(
                [String::from_utf8_lossy(&output.stderr).trim().to_string()],
                None,
            ),
        }
        .into())
    }
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

    /// `git` is missing or failed.
    #[error("{message}")]
    #[diagnostic(code(stack::gitops::git))]
    Git {
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
