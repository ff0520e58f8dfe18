//! Evaluating stacks and REPL inputs: one scope for all of them, the
//! declarations collected for the engine crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, ModuleResolver, Position, Scope, AST};
use stack_engine::{suggest, Declarations};

use crate::engine::engine_with_resolver;
use crate::error::ScriptError;
use crate::module_docs::ModuleDoc;
use crate::session::Session;
use crate::{error, functions, resolver};

/// What went wrong before or during evaluation.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EvalError {
    #[error("cannot read the stack {}", path.display())]
    #[diagnostic(code(stack::script::read))]
    Read {
        path: PathBuf,
        #[source]
        source: stack_engine::input::InputError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(Box<ScriptError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lockfile::LockError),
    /// Every independent error a lint found, in the order met.
    #[error("{} errors in the stack", errors.len())]
    #[diagnostic(
        code(stack::script::errors),
        help("each is shown below; fix them and check again")
    )]
    Many {
        #[related]
        errors: Vec<ScriptError>,
    },
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

    /// The functions the inputs so far defined: name and parameter count.
    pub fn functions(&self) -> impl Iterator<Item = (&str, usize)> {
        self.functions
            .iter_functions()
            .map(|f| (f.name, f.params.len()))
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
        let text = read_script(path)?;
        self.eval_text(name, Some(path), &text)
    }

    /// Evaluates a piece of script as source `name` in the shared scope.
    pub fn eval_text(
        &mut self,
        name: &str,
        path: Option<&Path>,
        text: &str,
    ) -> Result<Dynamic, EvalError> {
        let (id, refused) = self.session.add_script(name, path, text);
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
        if let Some(fault) = refused {
            return Err(fail(&fault.raise(Position::NONE), self));
        }
        if let Err(e) = crate::comments::check_closed(text) {
            return Err(fail(&EvalAltResult::from(e), self));
        }
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

    /// The reference of every module loaded so far.
    pub fn module_docs(&self) -> Vec<ModuleDoc> {
        self.resolver
            .loaded()
            .into_iter()
            .map(|(name, module)| ModuleDoc::new(&name, &self.source_text(&name), &module))
            .collect()
    }

    /// Loads one module (`std/service`, `./lib/team`, a git URL) as an
    /// `import` in the stack's directory would, and returns its reference.
    pub fn module_doc(&mut self, path: &str) -> Result<ModuleDoc, EvalError> {
        // An import statement gives a failure its place and its diagnostic.
        let _ = self.eval_text(
            "reference",
            None,
            &format!("import {path:?} as referenced;"),
        )?;
        let module = self
            .resolver
            .resolve(&self.engine, Some("reference"), path, Position::NONE)
            .map_err(|e| {
                EvalError::Script(Box::new(error::from_rhai(
                    &e,
                    &self.session,
                    "reference",
                    &self.known_functions,
                )))
            })?;
        let name = self
            .resolver
            .loaded()
            .into_iter()
            .find(|(_, loaded)| std::rc::Rc::ptr_eq(loaded, &module))
            .map_or_else(|| path.to_string(), |(name, _)| name);
        Ok(ModuleDoc::new(&name, &self.source_text(&name), &module))
    }

    fn source_text(&self, name: &str) -> String {
        let state = self.session.borrow();
        let sources = &state.declarations.sources;
        sources
            .find(name)
            .map(|id| sources.get(id).text.to_string())
            .unwrap_or_default()
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

    /// Everything declared, without a copy: for a one-shot evaluation,
    /// whose declarations are as large as the script makes them.
    pub fn into_declarations(self) -> Declarations {
        std::mem::take(&mut self.session.borrow_mut().declarations)
    }

    /// Forgets declarations, variables and functions (REPL `:reset`).
    pub fn reset(&mut self) {
        self.session.clear_resources();
        self.scope.clear();
        self.functions = AST::empty();
    }
}

/// Reads a script: a regular file no larger than scripts may be.
pub fn read_script(path: &Path) -> Result<String, EvalError> {
    stack_engine::input::read_text(path, stack_engine::input::MAX_SCRIPT_BYTES).map_err(|source| {
        EvalError::Read {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Evaluates a stack file and returns its declarations.
pub fn evaluate(
    path: &Path,
    params: BTreeMap<String, String>,
    lock_policy: crate::lockfile::LockPolicy,
) -> Result<Declarations, EvalError> {
    Ok(evaluated(path, params, lock_policy, false)?.into_declarations())
}

/// Like [`evaluate`], with the reference of every module the stack imports
/// (`stack docs`).
pub fn evaluate_documented(
    path: &Path,
    params: BTreeMap<String, String>,
    lock_policy: crate::lockfile::LockPolicy,
) -> Result<(Declarations, Vec<ModuleDoc>), EvalError> {
    let evaluator = evaluated(path, params, lock_policy, false)?;
    let modules = evaluator.module_docs();
    Ok((evaluator.into_declarations(), modules))
}

/// What a lint of a stack found: its declarations, made with unknown
/// values for the secrets it could not read (never to be applied).
pub struct Linted {
    pub declarations: Declarations,
    /// Sources of the secrets that could not be read (`env:DB_PASSWORD`).
    pub unread_secrets: Vec<String>,
}

/// Evaluates a stack file as `stack check` does: a secret that cannot be
/// read is an unknown sensitive value, and every independent error (each
/// refused option of every declaration) is reported, not only the first.
pub fn lint(
    path: &Path,
    params: BTreeMap<String, String>,
    lock_policy: crate::lockfile::LockPolicy,
) -> Result<Linted, EvalError> {
    let evaluator = evaluated(path, params, lock_policy, true)?;
    let unread_secrets = evaluator
        .session
        .borrow()
        .unread_secrets
        .iter()
        .cloned()
        .collect();
    Ok(Linted {
        declarations: evaluator.into_declarations(),
        unread_secrets,
    })
}

fn evaluated(
    path: &Path,
    params: BTreeMap<String, String>,
    lock_policy: crate::lockfile::LockPolicy,
    linting: bool,
) -> Result<Evaluator, EvalError> {
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
    evaluator.session.borrow_mut().lock_policy = lock_policy;
    evaluator.session.borrow_mut().linting = linting;
    let name = path.to_string_lossy().into_owned();
    let evaluated = evaluator.eval_file(path, &name);
    let deferred = std::mem::take(&mut evaluator.session.borrow_mut().deferred);
    if !deferred.is_empty() {
        let mut errors: Vec<ScriptError> = deferred
            .iter()
            .map(|e| error::from_rhai(e, &evaluator.session, &name, &evaluator.known_functions))
            .collect();
        if let Err(EvalError::Script(last)) = evaluated {
            errors.push(*last);
        }
        return Err(if errors.len() == 1 {
            EvalError::Script(Box::new(errors.remove(0)))
        } else {
            EvalError::Many { errors }
        });
    }
    let _ = evaluated?;
    evaluator.check_params()?;
    evaluator.resolver.prune_lock()?;
    Ok(evaluator)
}
