//! What one evaluation of a stack declared.

use std::path::PathBuf;

use std::collections::BTreeMap;

use crate::resource::{Kind, Resource, ResourceId};
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

/// A value the stack gives back (`output(name, value)`): recorded after a
/// whole run, read with `stack output`.
#[derive(Debug, Clone, PartialEq)]
pub struct StackOutput {
    pub value: Value,
    pub description: Option<String>,
    /// Never shown nor recorded, only that it is there.
    pub sensitive: bool,
    pub span: Span,
}

/// What a resource needs that the script must declare, found by what it
/// is rather than by its id (a realm needs the Keycloak app in its
/// namespace, wherever the script declares it). The standard library
/// states it; the graph orders the resource after what meets it, and
/// refuses a script where nothing does.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Who needs it.
    pub resource: ResourceId,
    /// Met by a resource of this kind on this cluster...
    pub kind: Kind,
    pub cluster: ResourceId,
    /// ...whose inputs hold these texts.
    pub inputs: Vec<(String, String)>,
    /// Said when the script declares nothing that meets it.
    pub missing: String,
    pub help: String,
}

impl Requirement {
    /// Whether `candidate`, one of `resources`, meets it. An input given as
    /// another resource's output known at evaluation (`namespace: ns.name`)
    /// counts as that output's text.
    pub fn met_by(&self, candidate: &Resource, resources: &[Resource]) -> bool {
        let text = |value: &Value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Output(output) => resources
                .iter()
                .find(|r| r.id == output.resource)?
                .known_outputs
                .get(&output.output)?
                .as_str()
                .map(str::to_string),
            _ => None,
        };
        candidate.kind == self.kind
            && candidate.cluster.as_ref() == Some(&self.cluster)
            && self.inputs.iter().all(|(key, wanted)| {
                candidate.input(key).and_then(text).as_deref() == Some(wanted.as_str())
            })
    }

    /// What meets it among `resources`.
    pub fn met_in<'a>(&self, resources: &'a [Resource]) -> Option<&'a Resource> {
        resources.iter().find(|r| self.met_by(r, resources))
    }
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
    /// What resources need that is found by what it is.
    pub requirements: Vec<Requirement>,
    /// The parameters the script was evaluated with (`--values`, `--set`).
    pub params: BTreeMap<String, String>,
    /// The stack's outputs by name.
    pub outputs: BTreeMap<String, StackOutput>,
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
