//! The interactive shell of `stack`: one scope across inputs,
//! declarations accumulating in one graph, `:` commands to look at it.
//!
//! - `session.rs` — the read–handle–print loop
//! - `shell.rs` — the session's evaluator and what one input does to it
//! - `commands.rs` — the `:` commands and the text they print
//! - `reader.rs` — the line editor on a terminal, plain lines from a pipe
//! - `helper.rs` — the editor's completion, hints and multi-line validation
//! - `complete.rs` — what Tab offers at the cursor
//! - `vocabulary.rs` — the names a session knows, for completion
//! - `input.rs` — open brackets and top-level imports of an input
//! - `echo.rs` — how the value of an expression is shown

mod commands;
mod complete;
mod echo;
mod helper;
mod input;
mod reader;
mod session;
mod shell;
mod vocabulary;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the shell starts.
pub struct Options {
    /// A stack to evaluate before the first input.
    pub file: Option<PathBuf>,
    /// `--set name=value` parameters.
    pub params: BTreeMap<String, String>,
    /// The history file; created when missing.
    pub history: Option<PathBuf>,
}

/// Why the shell could not run, or stopped.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReplError {
    #[error("the REPL cannot start: {0}")]
    #[diagnostic(code(stack::repl::start))]
    Start(String),
    #[error("the REPL stopped: {0}")]
    #[diagnostic(
        code(stack::repl::input),
        help("split the input into smaller ones, or load a stack file with `stack repl FILE`")
    )]
    Input(String),
}

/// Runs the shell until `:quit`, Ctrl-D or the end of piped input.
pub fn run(options: Options) -> Result<(), ReplError> {
    session::run(options)
}
