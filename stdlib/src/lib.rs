//! The language of `stack`: a Rhai engine with the standard library bound.
//!
//! [`engine`] is the one constructor the CLI, the REPL and the tests share;
//! [`Evaluator`] runs a stack (or REPL inputs) with it and collects the
//! declarations for the engine crate.
//!
//! - `session.rs` — state shared by the bindings during one evaluation
//! - `functions/` — one file per standard-library function, with its schema
//! - `declare.rs` — the common path of every declaration
//! - `schema.rs` — option schemas, type checks, did-you-mean
//! - `handle.rs` — handles and their properties
//! - `token.rs` — outputs and secrets carried inside strings
//! - `convert.rs` — Rhai values to engine values
//! - `resolver.rs`, `modules.rs` — `import` of std and relative modules
//! - `locate.rs` — finds an option key inside a call, for precise labels
//! - `fault.rs`, `error.rs` — errors raised by bindings, and diagnostics
//! - `reference.rs` — the generated stdlib reference

pub mod convert;
pub mod declare;
pub mod error;
pub mod fault;
pub mod functions;
pub mod handle;
pub mod locate;
pub mod modules;
pub mod reference;
pub mod resolver;
pub mod schema;
pub mod session;
pub mod token;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared, AST};
use stack_engine::{suggest, Declarations};

pub use error::ScriptError;
pub use session::Session;

/// Limits that keep a runaway script from hanging or exhausting memory.
pub mod limits {
    /// Operations per evaluation: ample for 10,000 resources.
    pub const MAX_OPERATIONS: u64 = 50_000_000;
    pub const MAX_CALL_LEVELS: usize = 64;
    pub const MAX_STRING_SIZE: usize = 4 << 20;
    pub const MAX_ARRAY_SIZE: usize = 200_000;
    pub const MAX_MAP_SIZE: usize = 200_000;
    pub const MAX_MODULES: usize = 256;
    /// Nesting of expressions at top level and inside functions: the same in
    /// debug and release builds (Rhai lowers its defaults in debug builds).
    pub const MAX_EXPR_DEPTH: usize = 64;
    pub const MAX_FUNCTION_EXPR_DEPTH: usize = 64;
}

/// Builds the Rhai engine with the standard library bound to `session`.
pub fn engine(session: &Session) -> Engine {
    engine_with_resolver(
        session,
        Rc::new(resolver::StackResolver::new(session.clone())),
    )
}

fn engine_with_resolver(session: &Session, resolver: Rc<resolver::StackResolver>) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits::MAX_OPERATIONS)
        .set_max_call_levels(limits::MAX_CALL_LEVELS)
        .set_max_string_size(limits::MAX_STRING_SIZE)
        .set_max_array_size(limits::MAX_ARRAY_SIZE)
        .set_max_map_size(limits::MAX_MAP_SIZE)
        .set_max_modules(limits::MAX_MODULES)
        .set_max_expr_depths(limits::MAX_EXPR_DEPTH, limits::MAX_FUNCTION_EXPR_DEPTH)
        .set_strict_variables(true)
        .set_fast_operators(false)
        .set_module_resolver(SharedResolver(resolver));
    engine.disable_symbol("eval");
    handle::register(&mut engine);
    functions::register_all(&mut engine, session);
    let s = session.clone();
    engine.on_print(move |text| eprintln!("{}", convert::readable(text, &s)));
    let s = session.clone();
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(src), Some(line)) => format!("{src}:{line}: "),
            _ => String::new(),
        };
        // `debug` shows strings escaped: turn escaped token delimiters back
        // into tokens so outputs and secrets read as in `print`.
        let text = [token::OPEN, token::CLOSE]
            .iter()
            .fold(text.to_string(), |t, c| {
                t.replace(&c.escape_debug().to_string(), &c.to_string())
            });
        eprintln!("{at}{}", convert::readable(&text, &s));
    });
    engine
}

/// Lets the evaluator keep a handle on the resolver it gives the engine.
struct SharedResolver(Rc<resolver::StackResolver>);

impl ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        self.0.resolve(engine, source, path, pos)
    }
}

/// What went wrong before or during evaluation.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EvalError {
    #[error("cannot read the stack {}", path.display())]
    #[diagnostic(code(stack::script::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(Box<ScriptError>),
    #[error("`--set {name}` is not read by the script")]
    #[diagnostic(code(stack::cli::unused_param))]
    UnusedParam {
        name: String,
        #[help]
        help: Option<String>,
    },
}

/// Evaluates stacks and REPL inputs, one scope for all of them.
pub struct Evaluator {
    session: Session,
    engine: Engine,
    resolver: Rc<resolver::StackResolver>,
    scope: Scope<'static>,
    /// Functions defined by earlier inputs (REPL).
    functions: AST,
    known_functions: Vec<String>,
}

impl Evaluator {
    /// An evaluator for the stack `stack` whose script lives in `stack_dir`.
    pub fn new(stack: &str, stack_dir: &Path, params: BTreeMap<String, String>) -> Evaluator {
        let session = Session::new(stack, stack_dir, params);
        let resolver = Rc::new(resolver::StackResolver::new(session.clone()));
        let engine = engine_with_resolver(&session, resolver.clone());
        let mut known_functions: Vec<String> = engine
            .gen_fn_signatures(false)
            .into_iter()
            .filter_map(|s| s.split('(').next().map(|n| n.trim().to_string()))
            .chain(functions::names().map(str::to_string))
            .filter(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect();
        known_functions.sort();
        known_functions.dedup();
        Evaluator {
            session,
            engine,
            resolver,
            scope: Scope::new(),
            functions: AST::empty(),
            known_functions,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn scope(&self) -> &Scope<'static> {
        &self.scope
    }

    /// Names of every function a script can call.
    pub fn known_functions(&self) -> &[String] {
        &self.known_functions
    }

    /// Evaluates a stack file; `name` is how diagnostics name it.
    pub fn eval_file(&mut self, path: &Path, name: &str) -> Result<Dynamic, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.eval_text(name, Some(path), &text)
    }

    /// Evaluates a piece of script as source `name` in the shared scope.
    pub fn eval_text(
        &mut self,
        name: &str,
        path: Option<&Path>,
        text: &str,
    ) -> Result<Dynamic, EvalError> {
        let id = self.session.add_source(name, path, text);
        if self.session.borrow().main_source.is_none() {
            self.session.borrow_mut().main_source = Some(id);
        }
        let fail = |err: &EvalAltResult, this: &Evaluator| {
            EvalError::Script(Box::new(error::from_rhai(
                err,
                &this.session,
                name,
                &this.known_functions,
            )))
        };
        let mut ast = match self.engine.compile_with_scope(&self.scope, text) {
            Ok(ast) => ast,
            Err(e) => return Err(fail(&EvalAltResult::from(e), self)),
        };
        ast.set_source(name);
        let program = self.functions.merge(&ast);
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &program);
        let mut defined = ast;
        defined.clear_statements();
        self.functions = self.functions.merge(&defined);
        result.map_err(|e| fail(&e, self))
    }

    /// Imports a module under `alias` for every later input (REPL `import`).
    pub fn import(&mut self, alias: &str, path: &str) -> Result<(), EvalError> {
        let main = self.session.borrow().main_source;
        let source = main.map(|id| {
            self.session
                .borrow()
                .declarations
                .sources
                .get(id)
                .name
                .clone()
        });
        self.import_at(alias, path, source.as_deref(), Position::NONE)
    }

    /// Like [`Evaluator::import`], for an `import` statement at `pos` in the
    /// source `importer` (already added to the session): a relative path is
    /// resolved from the importer's directory, and diagnostics point at the
    /// statement.
    pub fn import_at(
        &mut self,
        alias: &str,
        path: &str,
        importer: Option<&str>,
        pos: Position,
    ) -> Result<(), EvalError> {
        match self.resolver.resolve(&self.engine, importer, path, pos) {
            Ok(module) => {
                self.engine.register_static_module(alias, module);
                Ok(())
            }
            Err(e) => Err(EvalError::Script(Box::new(error::from_rhai(
                &e,
                &self.session,
                importer.unwrap_or(""),
                &self.known_functions,
            )))),
        }
    }

    /// Fails when a `--set` parameter was never read: most likely a typo.
    pub fn check_params(&self) -> Result<(), EvalError> {
        let state = self.session.borrow();
        if state.all_params_read {
            return Ok(());
        }
        let unread = state
            .params
            .keys()
            .find(|k| !state.params_read.contains(*k));
        match unread {
            Some(name) => Err(EvalError::UnusedParam {
                name: name.clone(),
                help: suggest::did_you_mean(name, state.params_read.iter().map(String::as_str))
                    .or_else(|| {
                        Some("the script reads parameters with param(\"name\", default)".into())
                    }),
            }),
            None => Ok(()),
        }
    }

    /// A copy of everything declared so far.
    pub fn declarations(&self) -> Declarations {
        self.session.declarations()
    }

    /// Forgets declarations, variables and functions (REPL `:reset`).
    pub fn reset(&mut self) {
        self.session.clear_resources();
        self.scope.clear();
        self.functions = AST::empty();
    }
}

/// Evaluates a stack file and returns its declarations.
pub fn evaluate(path: &Path, params: BTreeMap<String, String>) -> Result<Declarations, EvalError> {
    let stack = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stack")
        .to_string();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut evaluator = Evaluator::new(&stack, dir, params);
    let name = path.to_string_lossy().into_owned();
    let _ = evaluator.eval_file(path, &name)?;
    evaluator.check_params()?;
    Ok(evaluator.declarations())
}
