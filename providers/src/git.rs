//! The git machinery of the repositories `stack` writes to (a GitOps
//! repository, a services-root): run git, keep a clone up to date with its
//! remote, commit with the user's identity (or a neutral one), and push,
//! rebasing onto what others pushed meanwhile. Git's own messages are kept
//! in the errors.

use std::path::Path;

use stack_engine::provider::ProviderError;

use crate::notes::with_notes;

/// How git fails.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GitError {
    /// `git` is missing or failed.
    #[error("{message}")]
    #[diagnostic(code(stack::git::failed))]
    Failed {
        message: String,
        #[help]
        help: Option<String>,
    },
}

/// Runs git in `dir`; the error carries git's own message.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, ProviderError> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| GitError::Failed {
            message: format!("cannot run git: {e}"),
            help: Some("`stack` needs `git` on PATH for the repositories it writes".to_string()),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            message: format!("`git {}` failed in {}", args.join(" "), dir.display()),
            help: with_notes(
                [String::from_utf8_lossy(&output.stderr).trim().to_string()],
                None,
            ),
        }
        .into())
    }
}

/// Whether `dir` is a bare repository.
pub fn is_bare(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && !dir.join(".git").exists()
}

/// A repository location that is a URL to git (`file://` included).
pub fn is_remote(repo: &str) -> bool {
    repo.contains("://") || repo.starts_with("git@")
}

/// A repository location git understands: URLs as they are, paths made
/// absolute against `base`.
pub fn location(base: &Path, repo: &str) -> String {
    if is_remote(repo) {
        repo.to_string()
    } else {
        let path = base.join(repo);
        path.canonicalize()
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

/// Clones `url` into `dir`, or brings an existing clone up to date with the
/// remote branch (discarding nothing the remote does not have).
pub async fn sync_clone(url: String, dir: &Path, branch: &str) -> Result<(), ProviderError> {
    if !dir.join(".git").exists() {
        if let Some(parent) = dir.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| GitError::Failed {
                    message: format!("cannot create {}: {e}", parent.display()),
                    help: None,
                })?;
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
    } else if git(dir, &["checkout", "-q", "--orphan", branch])
        .await
        .is_err()
    {
        // An empty remote: start the branch here.
        git(dir, &["checkout", "-q", branch]).await?;
    }
    Ok(())
}

/// Commits what is staged in `dir` with the user's identity when git has
/// one, else a neutral one; the short hash of the commit.
pub async fn commit(dir: &Path, message: &str) -> Result<String, ProviderError> {
    if git(dir, &["config", "user.email"]).await.is_ok() {
        git(dir, &["commit", "-q", "-m", message]).await?;
    } else {
        git(
            dir,
            &[
                "-c",
                "user.name=stack",
                "-c",
                "user.email=stack@localhost",
                "commit",
                "-q",
                "-m",
                message,
            ],
        )
        .await?;
    }
    Ok(git(dir, &["rev-parse", "--short", "HEAD"])
        .await?
        .trim()
        .to_string())
}

/// Pushes `branch` to `origin`; when someone pushed first, rebases onto
/// what they pushed and tries again (a few times).
pub async fn push(dir: &Path, branch: &str) -> Result<(), ProviderError> {
    let refspec = format!("HEAD:{branch}");
    let mut tries = 0;
    loop {
        match git(dir, &["push", "-q", "origin", &refspec]).await {
            Ok(_) => return Ok(()),
            Err(e) if tries < 3 => {
                tries += 1;
                git(dir, &["fetch", "-q", "origin"]).await?;
                let onto = format!("origin/{branch}");
                if git(dir, &["rebase", "-q", &onto]).await.is_err() {
                    let _ = git(dir, &["rebase", "--abort"]).await;
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}
