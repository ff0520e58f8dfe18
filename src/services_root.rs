//! The services-root repository `std/services` watches: one directory per
//! environment, one `<env>/<service>.json` per service, and `teams.json`
//! listing the teams. `stack service` reads and writes it with the git
//! machinery of GitOps delivery: a local working copy in place, or a clone
//! under the cache; each change is one commit, pushed (rebased onto what
//! others pushed meanwhile).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use stack_engine::provider::ProviderError;
use stack_providers::git;

/// What a service's file says: which repository and revision its chart is
/// taken from, and which image tag it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceFile {
    pub service: String,
    pub team: String,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub image_tag: String,
    /// Helm values of this environment, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Value>,
}

/// Why the services-root cannot be used as asked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServicesRootError {
    #[error("{} is not a service file: {message}", path.display())]
    #[diagnostic(
        code(stack::service::file),
        help("a service file is `{{ \"service\", \"team\", \"repoURL\", \"targetRevision\", \"imageTag\" }}`, with optional `values`")
    )]
    File {
        path: PathBuf,
        message: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("the services-root has no environment `{env}`")]
    #[diagnostic(code(stack::service::environment))]
    UnknownEnvironment {
        env: String,
        #[help]
        help: String,
    },

    #[error("team `{team}` is not a team of the services-root")]
    #[diagnostic(code(stack::service::team))]
    UnknownTeam {
        team: String,
        #[help]
        help: String,
    },

    #[error("{what}")]
    #[diagnostic(code(stack::service::missing))]
    Missing {
        what: String,
        #[help]
        help: String,
    },

    #[error("cannot read or write {}: {message}", path.display())]
    #[diagnostic(code(stack::service::io))]
    Io { path: PathBuf, message: String },

    #[error("the working copy {} is on branch `{current}`, not `{branch}`", dir.display())]
    #[diagnostic(
        code(stack::service::branch),
        help("check out `{branch}` there, or pass `--branch {current}`")
    )]
    Branch {
        dir: PathBuf,
        current: String,
        branch: String,
    },
}

/// A checked-out services-root.
pub struct ServicesRoot {
    dir: PathBuf,
    branch: String,
    /// Whether commits are pushed (a clone, or a working copy with `origin`).
    pushes: bool,
}

#[allow(
    clippy::result_large_err,
    reason = "a diagnostic carries its source text; it is built once, when a command fails"
)]
impl ServicesRoot {
    /// The working copy at `root`, or a clone of it (a URL or a bare
    /// repository) under the cache, brought up to date with `branch`.
    pub async fn open(root: &str, branch: &str) -> Result<ServicesRoot, ProviderError> {
        let path = Path::new(root);
        if !git::is_remote(root) && path.join(".git").exists() {
            let current = git::git(path, &["symbolic-ref", "--short", "HEAD"]).await?;
            if current.trim() != branch {
                return Err(ServicesRootError::Branch {
                    dir: path.to_path_buf(),
                    current: current.trim().to_string(),
                    branch: branch.to_string(),
                }
                .into());
            }
            let pushes = git::git(path, &["remote", "get-url", "origin"])
                .await
                .is_ok();
            if pushes {
                // Start from what the others pushed.
                git::git(path, &["pull", "-q", "--rebase", "origin", branch]).await?;
            }
            return Ok(ServicesRoot {
                dir: path.to_path_buf(),
                branch: branch.to_string(),
                pushes,
            });
        }
        let location = git::location(Path::new("."), root);
        let dir = stack_engine::cache::dir()
            .join("services-root")
            .join(stack_engine::cache::file_name(&location));
        git::sync_clone(location, &dir, branch).await?;
        Ok(ServicesRoot {
            dir,
            branch: branch.to_string(),
            pushes: true,
        })
    }

    /// The environments: the top-level directories.
    pub fn environments(&self) -> Vec<String> {
        let mut envs: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        envs.sort();
        envs
    }

    /// Refuses an environment that has no directory.
    pub fn check_environment(&self, env: &str) -> Result<(), ServicesRootError> {
        let envs = self.environments();
        if envs.iter().any(|e| e == env) {
            return Ok(());
        }
        Err(ServicesRootError::UnknownEnvironment {
            env: env.to_string(),
            help: stack_engine::suggest::did_you_mean(env, envs.iter().map(String::as_str))
                .unwrap_or_else(|| {
                    format!(
                        "the environments are the repository's top-level directories: {}",
                        if envs.is_empty() {
                            "none yet".to_string()
                        } else {
                            envs.join(", ")
                        }
                    )
                }),
        })
    }

    /// Refuses a team `teams.json` does not list.
    pub fn check_team(&self, team: &str) -> Result<(), ServicesRootError> {
        let path = self.dir.join("teams.json");
        let teams: Vec<String> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if teams.iter().any(|t| t == team) {
            return Ok(());
        }
        Err(ServicesRootError::UnknownTeam {
            team: team.to_string(),
            help: stack_engine::suggest::did_you_mean(team, teams.iter().map(String::as_str))
                .unwrap_or_else(|| {
                    "the teams are listed in `teams.json` at the top of the services-root (`[\"payments\", \"search\"]`), as `std/services` is given them".to_string()
                }),
        })
    }

    fn path(&self, env: &str, service: &str) -> PathBuf {
        self.dir.join(env).join(format!("{service}.json"))
    }

    /// The service's file in `env`, if there is one.
    pub fn read(&self, env: &str, service: &str) -> Result<Option<ServiceFile>, ServicesRootError> {
        read_file(&self.path(env, service))
    }

    /// Every environment's services, by environment.
    pub fn all(&self) -> Result<BTreeMap<String, Vec<ServiceFile>>, ServicesRootError> {
        let mut out = BTreeMap::new();
        for env in self.environments() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join(&env))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            let mut services = Vec::new();
            for file in files {
                services.extend(read_file(&file)?);
            }
            out.insert(env, services);
        }
        Ok(out)
    }

    /// The last commit that touched the service's file: `hash subject`.
    pub async fn last_commit(&self, env: &str, service: &str) -> Option<String> {
        let file = format!("{env}/{service}.json");
        git::git(&self.dir, &["log", "-1", "--format=%h %s", "--", &file])
            .await
            .ok()
            .map(|line| line.trim().to_string())
            .filter(|line| !line.is_empty())
    }

    /// Writes (or, with `None`, removes) the service's file in `env`.
    pub fn write(
        &self,
        env: &str,
        service: &str,
        file: Option<&ServiceFile>,
    ) -> Result<(), ServicesRootError> {
        let path = self.path(env, service);
        let io = |e: std::io::Error| ServicesRootError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        match file {
            Some(file) => {
                let text = serde_json::to_string_pretty(file).unwrap_or_default() + "\n";
                std::fs::write(&path, text).map_err(io)
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            },
        }
    }

    /// Commits the change of the service's file in `env` (and nothing
    /// else a working copy holds) and pushes it; the short hash, or `None`
    /// when nothing changed.
    pub async fn commit(
        &self,
        env: &str,
        service: &str,
        message: &str,
    ) -> Result<Option<String>, ProviderError> {
        let file = format!("{env}/{service}.json");
        git::git(&self.dir, &["add", "-A", "--", &file]).await?;
        if git::git(&self.dir, &["diff", "--cached", "--quiet"])
            .await
            .is_ok()
        {
            return Ok(None);
        }
        let short = git::commit(&self.dir, message).await?;
        if self.pushes {
            git::push(&self.dir, &self.branch).await?;
        }
        Ok(Some(short))
    }
}

#[allow(
    clippy::result_large_err,
    reason = "a diagnostic carries its source text; it is built once, when a command fails"
)]
fn read_file(path: &Path) -> Result<Option<ServiceFile>, ServicesRootError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ServicesRootError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        let offset = stack_engine::source::offset_of(&text, e.line().max(1), e.column().max(1));
        let offset = offset.min(text.len().saturating_sub(1));
        ServicesRootError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
            src: NamedSource::new(path.display().to_string(), Arc::from(text.as_str())),
            span: SourceSpan::new(offset.into(), 1),
        }
    })
}
