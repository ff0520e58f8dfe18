//! Every name the shell can complete, taken from the session after each
//! input. The editor's helper reads this snapshot while the user types, so
//! completion never needs the evaluator itself.

use std::collections::BTreeMap;

use rhai::{Dynamic, Map};
use stack_stdlib::handle::Handle;
use stack_stdlib::Evaluator;

/// Keywords worth completing in a prototyping session.
pub const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "return", "import", "as",
    "true", "false", "switch", "break", "continue",
];

/// The `:` commands, for completion and `:help`.
pub const COMMANDS: &[&str] = &[
    ":help", ":plan", ":graph", ":show", ":load", ":reset", ":quit",
];

/// What a variable holds, as far as `.` completion cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A handle: its properties (`id` and the outputs of its kind).
    Handle(Vec<&'static str>),
    /// A map (a module's `install` returns one): its keys.
    Map(BTreeMap<String, Shape>),
    Other,
}

impl Shape {
    pub fn of(value: &Dynamic) -> Shape {
        if let Some(handle) = value.read_lock::<Handle>() {
            return Shape::Handle(handle.properties());
        }
        if let Some(map) = value.read_lock::<Map>() {
            return Shape::Map(
                map.iter()
                    .map(|(k, v)| (k.to_string(), Shape::of(v)))
                    .collect(),
            );
        }
        Shape::Other
    }

    /// The names that may follow `.` after a value of this shape.
    pub fn members(&self) -> Vec<String> {
        match self {
            Shape::Handle(properties) => properties.iter().map(|p| p.to_string()).collect(),
            Shape::Map(keys) => keys.keys().cloned().collect(),
            Shape::Other => Vec::new(),
        }
    }

    /// The shape of `self.member`.
    pub fn member(&self, name: &str) -> Option<&Shape> {
        match self {
            Shape::Map(keys) => keys.get(name),
            _ => None,
        }
    }
}

/// A snapshot of the names a session knows.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Global functions: the standard library and functions defined in the
    /// session.
    pub functions: Vec<String>,
    /// Imported modules: alias → the functions it exports.
    pub modules: BTreeMap<String, Vec<String>>,
    pub variables: BTreeMap<String, Shape>,
    /// Ids of the declared resources, for `:show`.
    pub resources: Vec<String>,
}

impl Vocabulary {
    /// Reads the names out of a session. `aliases` are the modules imported
    /// so far and `defined` the functions the user's inputs defined.
    pub fn of(evaluator: &Evaluator, aliases: &[String], defined: &[String]) -> Vocabulary {
        let mut functions: Vec<String> = stack_stdlib::functions::names()
            .map(str::to_string)
            .chain(evaluator.known_functions().iter().cloned())
            .chain(defined.iter().cloned())
            .collect();
        functions.sort();
        functions.dedup();

        let mut modules: BTreeMap<String, Vec<String>> = aliases
            .iter()
            .map(|alias| (alias.clone(), Vec::new()))
            .collect();
        for signature in evaluator.engine().gen_fn_signatures(false) {
            let Some((alias, rest)) = signature.split_once("::") else {
                continue;
            };
            let name = rest.split('(').next().unwrap_or_default().trim();
            if let Some(names) = modules.get_mut(alias) {
                if is_identifier(name) {
                    names.push(name.to_string());
                }
            }
        }
        for names in modules.values_mut() {
            names.sort();
            names.dedup();
        }

        let variables = evaluator
            .scope()
            .iter_raw()
            .map(|(name, _, value)| (name.to_string(), Shape::of(value)))
            .collect();
        let resources = evaluator
            .session()
            .borrow()
            .declarations
            .resources
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        Vocabulary {
            functions,
            modules,
            variables,
            resources,
        }
    }
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}
