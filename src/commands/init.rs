//! `stack init [DIR]`: a starter stack to grow from — a stack script that
//! plans and runs with no cloud account and no cluster (delivered through
//! GitOps to a local repository), a module it imports, and the module's
//! tests. Nothing that exists is overwritten.

use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// The files written, relative to DIR, with their content.
const FILES: &[(&str, &str)] = &[
    ("platform.rhai", include_str!("init/platform.rhai")),
    ("modules/team.rhai", include_str!("init/team.rhai")),
    (
        "modules/team_test.rhai",
        include_str!("init/team_test.rhai"),
    ),
];

/// Why a starter stack was not written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InitError {
    #[error("{} already holds {}: nothing was written", dir.display(), existing.join(", "))]
    #[diagnostic(
        code(stack::init::exists),
        help("choose an empty directory (`stack init DIR`), or move these files away")
    )]
    Exists { dir: PathBuf, existing: Vec<String> },
}

pub fn run(dir: &Path) -> Result<String, Failure> {
    let existing: Vec<String> = FILES
        .iter()
        .filter(|(file, _)| dir.join(file).exists())
        .map(|(file, _)| file.to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Failure::usage(InitError::Exists {
            dir: dir.to_path_buf(),
            existing,
        }));
    }
    crate::write_files::write_files(dir, FILES)?;
    let shown = |file: &str| dir.join(file).display().to_string();
    let script = shown("platform.rhai");
    let mut report = format!("Wrote a starter stack into {}:\n", dir.display());
    for (file, _) in FILES {
        report.push_str(&format!("  {}\n", shown(file)));
    }
    report.push_str(&format!(
        "\nNext:\n  stack check {script}\n  stack test {}\n  stack plan {script}\n  stack run {script}\n",
        shown("modules")
    ));
    Ok(report)
}
