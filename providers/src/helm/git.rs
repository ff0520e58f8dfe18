//! Charts inside git repositories: a shallow fetch of one ref (tag, branch
//! or commit) with the real `git`, into a temporary directory.

use std::path::Path;

use stack_engine::provider::ProviderError;

/// A checkout of `repo` at `reference`; removed when dropped.
pub async fn checkout(repo: &str, reference: &str) -> Result<tempfile::TempDir, ProviderError> {
    let dir = tempfile::Builder::new()
        .prefix("stack-chart-")
        .tempdir()
        .map_err(|e| {
            ProviderError::new("cannot create a directory to check out a chart into")
                .detail(e.to_string())
        })?;
    git(dir.path(), &["init", "--quiet"]).await?;
    git(
        dir.path(),
        &["fetch", "--quiet", "--depth", "1", repo, reference],
    )
    .await
    .map_err(|e| ProviderError {
        message: format!("cannot fetch `{reference}` of the chart repository {repo}"),
        help: Some(
            "check `repo` and `version` (a tag, branch or commit of that repository)".into(),
        ),
        ..e
    })?;
    git(dir.path(), &["checkout", "--quiet", "FETCH_HEAD"]).await?;
    Ok(dir)
}

async fn git(dir: &Path, args: &[&str]) -> Result<(), ProviderError> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            ProviderError::new("cannot run `git`, which fetches charts kept in git")
                .detail(e.to_string())
                .help("install git and put it on PATH")
        })?;
    if output.status.success() {
        return Ok(());
    }
    let mut error = ProviderError::new(format!("`git {}` failed", args.join(" ")));
    for line in String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        error = error.detail(line.to_string());
    }
    Err(error)
}
