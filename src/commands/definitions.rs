//! `stack definitions --out DIR`: Rhai definition files (`.d.rhai`) for
//! editors and language servers: the standard library's functions with
//! their options, each standard module's entry points, and Rhai's own
//! built-ins.

use std::path::Path;

use crate::failure::Failure;

/// A definition file that cannot be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write {}: {message}", path.display())]
#[diagnostic(code(stack::definitions::write))]
pub struct WriteFailed {
    path: std::path::PathBuf,
    message: String,
}

pub fn run(out: &Path) -> Result<String, Failure> {
    let files = stack_stdlib::definitions::files();
    let mut report = format!(
        "Wrote {} definition files into {}:\n",
        files.len(),
        out.display()
    );
    for (name, text) in &files {
        let path = out.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        written.map_err(|e| {
            Failure::runtime(WriteFailed {
                path: path.clone(),
                message: e.to_string(),
            })
        })?;
        report.push_str(&format!("  {}\n", path.display()));
    }
    Ok(report)
}
