//! Where the `helm` binary is: `STACK_HELM`, or `helm` on `PATH`.

use std::path::{Path, PathBuf};

use super::error::HelmError;
use stack_engine::provider::ProviderError;

/// The environment variable that names the `helm` binary to run.
pub const HELM_ENV: &str = "STACK_HELM";

/// The `helm` binary to run, failing with what to do when there is none.
pub fn helm() -> Result<PathBuf, ProviderError> {
    if let Some(path) = std::env::var_os(HELM_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HelmError::Tool {
                message: format!(
                    "`{HELM_ENV}` names `{}`, which is not a file",
                    path.display()
                ),
                help: Some(format!(
                    "point `{HELM_ENV}` at a helm binary, or unset it to use `helm` on PATH"
                )),
            }
            .into())
        };
    }
    Ok(on_path("helm").ok_or_else(|| {
        HelmError::Tool { message: "`helm` is not installed: charts are rendered with `helm template`".to_string(), help: Some(format!(
                "install helm (https://helm.sh/docs/intro/install/) and put it on PATH, or set `{HELM_ENV}` to its path"
            )) }
    })?)
}

/// The first `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}
