//! Writing generated files (a starter stack, definition files, command
//! pages) below a directory: one way, with one error naming the file.

use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// A generated file that could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write {}: {message}", path.display())]
#[diagnostic(code(stack::write))]
pub struct WriteFailed {
    path: PathBuf,
    message: String,
}

/// Writes each `(relative path, text)` below `dir`, making directories as
/// needed; returns the paths written.
pub fn write_files<N: AsRef<Path>, T: AsRef<str>>(
    dir: &Path,
    files: &[(N, T)],
) -> Result<Vec<PathBuf>, Failure> {
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let done = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text.as_ref()));
        done.map_err(|e| {
            Failure::runtime(WriteFailed {
                path: path.clone(),
                message: e.to_string(),
            })
        })?;
        written.push(path);
    }
    Ok(written)
}
