//! What one evaluation of a stack declared.

use std::path::PathBuf;

use crate::resource::Resource;
use crate::source::Sources;

/// The output of evaluating a stack: its resources, in declaration order, and
/// every source they were declared in.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    /// The stack's name: the script's file stem (`prod` for `stacks/prod.rhai`).
    pub stack: String,
    /// The directory of the stack script; `file()` may not read outside it.
    pub dir: PathBuf,
    pub sources: Sources,
    pub resources: Vec<Resource>,
}

impl Declarations {
    pub fn new(stack: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        Declarations {
            stack: stack.into(),
            dir: dir.into(),
            ..Declarations::default()
        }
    }
}
