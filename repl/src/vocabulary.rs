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
    ":help", ":plan", ":graph", ":show", ":load", ":forget", ":reset", ":quit",
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
    /// The option keys each function takes in its `#{ }` (standard-library
    /// functions, and `alias::install` of imported standard modules).
    pub options: BTreeMap<String, Vec<String>>,
    /// What may follow `import "`: the standard modules and the `.rhai`
    /// files near the session's directory, without the extension.
    pub module_paths: Vec<String>,
}

impl Vocabulary {
    /// Reads the names out of a session. `imports` are the modules imported
    /// so far and `defined` the functions the user's inputs defined.
    pub fn of(
        evaluator: &Evaluator,
        imports: &BTreeMap<String, String>,
        defined: &[String],
    ) -> Vocabulary {
        let aliases: Vec<String> = imports.keys().cloned().collect();
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
        let session = evaluator.session().borrow();
        let mut options: BTreeMap<String, Vec<String>> = stack_stdlib::functions::DOCS
            .iter()
            .filter_map(|doc| Some((doc.name.to_string(), schema_keys(doc.schema?))))
            .collect();
        for interface in &session.interfaces {
            for (alias, path) in imports {
                if interface.module == *path {
                    let keys = interface.options.iter().map(|o| o.name.clone()).collect();
                    options.insert(format!("{alias}::install"), keys);
                }
            }
        }
        let module_paths = module_paths(&session.stack_dir);
        drop(session);
        Vocabulary {
            functions,
            modules,
            variables,
            resources,
            options,
            module_paths,
        }
    }
}

/// Every option a schema knows, of every variant.
fn schema_keys(schema: &stack_stdlib::schema::Schema) -> Vec<String> {
    let variants = schema
        .variants
        .iter()
        .flat_map(|(_, variants)| variants.iter())
        .flat_map(|(_, options)| options.iter());
    let mut keys: Vec<String> = schema
        .common
        .iter()
        .chain(variants)
        .map(|o| o.name.to_string())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `std/<name>` for each standard module, and the module files in `dir`
/// and one level below it (tests left out), as an import names them.
fn module_paths(dir: &std::path::Path) -> Vec<String> {
    let mut paths: Vec<String> = stack_stdlib::modules::STD_MODULES
        .iter()
        .map(|(name, _)| format!("std/{name}"))
        .collect();
    let mut visit =
        |dir: &std::path::Path, prefix: &str, deeper: &mut Vec<(std::path::PathBuf, String)>| {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name == "target" {
                    continue;
                }
                if path.is_dir() {
                    deeper.push((path, format!("{prefix}{name}/")));
                } else if let Some(stem) = name.strip_suffix(".rhai") {
                    if !stem.ends_with("_test") {
                        paths.push(format!("{prefix}{stem}"));
                    }
                }
            }
        };
    let mut below = Vec::new();
    visit(dir, "", &mut below);
    for (sub, prefix) in below {
        visit(&sub, &prefix, &mut Vec::new());
    }
    paths.sort();
    paths.dedup();
    paths
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}
