//! Module resolution: `std/<name>` from the embedded library, and paths
//! relative to the importing file. Each module is compiled once per
//! evaluation; import cycles and errors inside modules point into the
//! module's own source.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use stack_engine::suggest;

use crate::fault::Fault;
use crate::modules::{std_module, STD_MODULES};
use crate::session::Session;

pub struct StackResolver {
    session: Session,
    cache: RefCell<HashMap<String, Shared<Module>>>,
    loading: RefCell<Vec<String>>,
}

impl StackResolver {
    pub fn new(session: Session) -> Self {
        StackResolver {
            session,
            cache: RefCell::default(),
            loading: RefCell::default(),
        }
    }

    /// The display name, path on disk (for relative modules) and text of an import.
    fn locate(
        &self,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<(String, Option<PathBuf>, String), Box<EvalAltResult>> {
        if let Some(name) = path.strip_prefix("std/") {
            return match std_module(name) {
                Some(text) => Ok((format!("std/{name}"), None, text.to_string())),
                None => {
                    let names: Vec<&str> = STD_MODULES.iter().map(|(n, _)| *n).collect();
                    Err(Fault::new(
                        "stack::module::not_found",
                        format!("there is no standard module `{path}`"),
                    )
                    .label("imported here")
                    .help(match suggest::closest(name, names.iter().copied()) {
                        Some(close) => format!("did you mean `std/{close}`?"),
                        None => format!("standard modules: {}", names.join(", ")),
                    })
                    .raise(pos))
                }
            };
        }
        if path.starts_with("git+") || path.contains("://") {
            return Err(Fault::new(
                "stack::module::remote",
                format!(
                    "cannot import `{path}`: git module imports are not available in this release"
                ),
            )
            .label("imported here")
            .help("vendor the module into the stack's repository and import it by a relative path")
            .raise(pos));
        }
        let (base_display, base_dir) = {
            let state = self.session.borrow();
            let sources = &state.declarations.sources;
            let importer = source.and_then(|s| sources.find(s)).or(state.main_source);
            let importer = importer.map(|id| sources.get(id));
            let display_dir = importer
                .map(|s| parent(Path::new(&s.name)))
                .unwrap_or_default();
            let dir = importer
                .and_then(|s| s.path.as_ref().map(|p| parent(p)))
                .unwrap_or_else(|| state.stack_dir.clone());
            (display_dir, dir)
        };
        let with_ext = |p: &Path| {
            if p.extension().is_some() {
                p.to_path_buf()
            } else {
                p.with_extension("rhai")
            }
        };
        let disk = with_ext(&base_dir.join(path));
        let display = normalize(&with_ext(&base_display.join(path)));
        match stack_engine::input::read_text(&disk, stack_engine::input::MAX_SCRIPT_BYTES) {
            Ok(text) => Ok((display.to_string_lossy().into_owned(), Some(disk), text)),
            Err(e) if e.is_not_found() => Err(Fault::new(
                "stack::module::not_found",
                format!("module `{path}` not found"),
            )
            .label("imported here")
            .help(format!(
                "looked for `{}`: relative imports start from the importing file's directory",
                display.display()
            ))
            .raise(pos)),
            Err(e) => Err(Fault::new(
                "stack::module::read",
                format!("cannot import `{path}`: {e}"),
            )
            .label("imported here")
            .raise(pos)),
        }
    }
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Removes `.` and resolves `..` lexically, for readable display names.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl ModuleResolver for StackResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let settled = crate::functions::guards::settle(&self.session, path)
            .map_err(|f| f.label("imported here").raise(pos))?;
        let path = settled.as_str();
        let (display, disk, text) = self.locate(source, path, pos)?;
        if let Some(module) = self.cache.borrow().get(&display) {
            return Ok(module.clone());
        }
        if self.loading.borrow().contains(&display) {
            let mut chain = self.loading.borrow().clone();
            chain.push(display.clone());
            return Err(Fault::new("stack::module::cycle", format!("import cycle: {}", chain.join(" → ")))
                .label("imported here")
                .help("modules may not import each other in a circle: move what both need into a third module")
                .raise(pos));
        }
        let (_, refused) = self.session.add_script(&display, disk.as_deref(), &text);
        let in_module = |err: Box<EvalAltResult>| -> Box<EvalAltResult> {
            EvalAltResult::ErrorInModule(display.clone(), err, pos).into()
        };
        if let Some(fault) = refused {
            return Err(in_module(fault.raise(Position::NONE)));
        }
        crate::comments::check_closed(&text).map_err(|e| in_module(e.into()))?;
        let mut ast = engine.compile(&text).map_err(|e| in_module(e.into()))?;
        ast.set_source(display.as_str());
        self.loading.borrow_mut().push(display.clone());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.loading.borrow_mut().pop();
        let module: Shared<Module> = module.map_err(in_module)?.into();
        self.cache.borrow_mut().insert(display, module.clone());
        Ok(module)
    }
}
