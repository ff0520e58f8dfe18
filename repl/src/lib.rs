//! The interactive shell of `stack` (SPEC §6).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the shell starts.
pub struct Options {
    pub file: Option<PathBuf>,
    pub params: BTreeMap<String, String>,
    pub history: Option<PathBuf>,
}

/// Why the shell could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the REPL cannot start: {0}")]
pub struct ReplError(pub String);

pub fn run(_options: Options) -> Result<(), ReplError> {
    Err(ReplError("not built yet".into()))
}
