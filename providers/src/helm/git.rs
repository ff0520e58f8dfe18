//! Charts inside git repositories: a shallow fetch of one ref (tag, branch
//! or commit) with the real `git`, into a temporary directory.

use std::path::Path;

use miette::Diagnostic;
use stack_engine::provider::ProviderError;

use super::error::HelmError;
use crate::notes::with_notes;

/// A checkout of `repo` at `reference`; removed when dropped.
pub async fn checkout(repo: &str, reference: &str) -> Result<tempfile::TempDir, ProviderError> {
    let dir = tempfile::Builder::new()
        .prefix("stack-chart-")
        .tempdir()
        .map_err(|e| HelmError::Tool {
            message: "cannot create a directory to check out a chart into".to_string(),
            help: with_notes([e.to_string()], None),
        })?;
    git(dir.path(), &["init", "--quiet"]).await?;
    git(
        dir.path(),
        &["fetch", "--quiet", "--depth", "1", repo, reference],
    )
    .await
    .map_err(|e| HelmError::Tool {
        message: format!("cannot fetch `{reference}` of the chart repository {repo}"),
        help: with_notes(
            e.help().map(|h| h.to_string()),
            Some("check `repo` and `version` (a tag, branch or commit of that repository)".into()),
        ),
    })?;
    git(dir.path(), &["checkout", "--quiet", "FETCH_HEAD"]).await?;
    Ok(dir)
}

async fn git(dir: &Path, args: &[&str]) -> Result<(), HelmError> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| HelmError::Tool {
            message: "cannot run `git`, which fetches charts kept in git".to_string(),
            help: with_notes(
                [e.to_string()],
                Some("install git and put it on PATH".to_string()),
            ),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = HelmError::Tool {
        message: format!("`git {}` failed", args.join(" ")),
        help: with_notes(
            stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string),
            None,
        ),
    };
    Err(error)
}
