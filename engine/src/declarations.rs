//! What one evaluation of a stack declared.

use std::path::PathBuf;

use std::collections::BTreeMap;

use crate::resource::{Resource, ResourceId};
use crate::source::{Sources, Span};
use crate::value::Value;

/// Where the script asks its state to be kept (`state(#{ ... })`).
#[derive(Debug, Clone, PartialEq)]
pub enum StateConfig {
    /// A file; relative paths start at the stack's directory.
    Local { path: Option<String>, span: Span },
    /// A Secret in a namespace of a cluster, locked with a Lease.
    Kubernetes {
        cluster: ResourceId,
        /// How the cluster is reached, as declared: every command finds the
        /// state with it, `destroy` too (which keeps no declaration).
        cluster_inputs: BTreeMap<String, Value>,
        namespace: String,
        span: Span,
    },
}

/// A resource renamed in the script (`moved(#{ from, to })`): the state's
/// record of `from` is the record of `to`, and nothing is deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub from: ResourceId,
    pub to: ResourceId,
    pub span: Span,
}

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
    /// The state backend, when the script chose one.
    pub state: Option<StateConfig>,
    /// Renames declared with `moved(...)`, in declaration order.
    pub moves: Vec<Moved>,
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
