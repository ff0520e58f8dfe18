//! `stack repl [FILE]`: the interactive shell.

use std::path::PathBuf;

use crate::failure::Failure;

pub fn run(
    file: Option<PathBuf>,
    set: &[(String, String)],
    history: Option<PathBuf>,
) -> Result<(), Failure> {
    let history = history
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".stack_history")));
    stack_repl::run(stack_repl::Options {
        file,
        params: crate::params::params(&[], set)?,
        history,
    })
    .map_err(|e| match e {
        stack_repl::ReplError::Input(_) => Failure::usage(e),
        stack_repl::ReplError::Start(_) => Failure::runtime(e),
    })
}
