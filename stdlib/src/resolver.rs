//! Module resolution: `std/<name>` from the embedded library, paths
//! relative to the importing file, and modules in git (`git+https://…`),
//! locked in `stack.lock`. A relative import inside a git module stays in
//! its repository at its commit. Each module is compiled once per
//! evaluation; import cycles and errors inside modules point into the
//! module's own source.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use stack_engine::suggest;

use crate::fault::Fault;
use crate::git_import::{Cache, GitImport, GitImportError};
use crate::lockfile::{content_hash, Lock, LockPolicy, Locked};
use crate::modules::{std_module, STD_MODULES};
use crate::session::Session;
use crate::vendor;

pub struct StackResolver {
    session: Session,
    cache: RefCell<HashMap<String, Shared<Module>>>,
    loading: RefCell<Vec<String>>,
    /// Git modules by display name, so that their relative imports stay
    /// in the same repository at the same commit.
    git: RefCell<HashMap<String, GitOrigin>>,
    /// `stack.lock`, read at the first git import.
    lock: RefCell<Option<Lock>>,
    /// The lock entries this evaluation used.
    used: RefCell<Vec<(String, String, String)>>,
}

/// Where a git module was read from.
#[derive(Clone)]
struct GitOrigin {
    import: GitImport,
    resolved: String,
    commit: String,
}

impl StackResolver {
    pub fn new(session: Session) -> Self {
        StackResolver {
            session,
            cache: RefCell::default(),
            loading: RefCell::default(),
            git: RefCell::default(),
            lock: RefCell::default(),
            used: RefCell::default(),
        }
    }

    /// Every module loaded so far, by the name its diagnostics use.
    pub fn loaded(&self) -> Vec<(String, Shared<Module>)> {
        let mut loaded: Vec<(String, Shared<Module>)> = self
            .cache
            .borrow()
            .iter()
            .map(|(name, module)| (name.clone(), module.clone()))
            .collect();
        loaded.sort_by(|a, b| a.0.cmp(&b.0));
        loaded
    }

    /// After a whole evaluation: drops from `stack.lock` the modules no
    /// import reached (as cargo does), unless the lock may not change.
    pub fn prune_lock(&self) -> Result<(), crate::lockfile::LockError> {
        let (policy, dir) = {
            let state = self.session.borrow();
            (state.lock_policy.clone(), state.stack_dir.clone())
        };
        if !policy.writes() {
            return Ok(());
        }
        let mut guard = self.lock.borrow_mut();
        if guard.is_none() {
            *guard = Some(Lock::load(&dir)?);
        }
        let lock = guard.get_or_insert_with(Lock::default);
        lock.retain(&self.used.borrow());
        lock.save()
    }

    /// The text of a git module, at the locked commit when `stack.lock`
    /// has one, else at what its ref names now (or at `pinned`, the commit
    /// of the git module importing it), recording it in the lock.
    fn locate_git(
        &self,
        import: GitImport,
        pinned: Option<(String, String)>,
    ) -> Result<(String, String), GitImportError> {
        let display = import.display();
        if self.lock.borrow().is_none() {
            let dir = self.session.borrow().stack_dir.clone();
            let lock = Lock::load(&dir).map_err(|e| GitImportError::Lock(e.to_string()))?;
            *self.lock.borrow_mut() = Some(lock);
        }
        let policy = self.session.borrow().lock_policy.clone();
        let locked = self
            .lock
            .borrow()
            .as_ref()
            .and_then(|l| l.get(&import.url, &import.path, &import.reference).cloned())
            .filter(|_| !policy.updates(&import.url));
        let stack_dir = self.session.borrow().stack_dir.clone();
        // A vendored copy of a locked module needs neither git nor the cache.
        if let Some(l) = &locked {
            if let Some(text) = vendor::read(&stack_dir, l) {
                let text = text?;
                self.used
                    .borrow_mut()
                    .push(crate::lockfile::key(&l.url, &l.path, &l.reference));
                let origin = GitOrigin {
                    import,
                    resolved: l.resolved.clone(),
                    commit: l.commit.clone(),
                };
                self.git.borrow_mut().insert(display.clone(), origin);
                return Ok((display, text));
            }
        }
        let cache = Cache::open(&stack_engine::cache::dir(), &import.url)?;
        let (resolved, commit) = match (&locked, pinned) {
            (Some(l), _) => (l.resolved.clone(), l.commit.clone()),
            (None, Some(pinned)) => pinned,
            (None, None) => cache
                .list(&import.url)?
                .resolve(&import.url, &import.reference)?,
        };
        if !cache.has(&commit) {
            cache.fetch(&import.url, &resolved, &commit)?;
        }
        let commit = cache.full_commit(&commit).unwrap_or(commit);
        let text = cache.read(&import, &commit, stack_engine::input::MAX_SCRIPT_BYTES)?;
        let sha256 = content_hash(&text);
        if let Some(l) = locked.as_ref().filter(|l| l.sha256 != sha256) {
            return Err(vendor::changed(l, "the cache"));
        }
        let mut guard = self.lock.borrow_mut();
        let lock = guard.get_or_insert_with(Lock::default);
        let entry = Locked {
            url: import.url.clone(),
            path: import.path.clone(),
            reference: import.reference.clone(),
            resolved: resolved.clone(),
            commit: commit.clone(),
            sha256,
        };
        if policy == LockPolicy::Locked
            && lock.get(&entry.url, &entry.path, &entry.reference) != Some(&entry)
        {
            return Err(GitImportError::WouldChange {
                import: display,
                lock: lock.path().display().to_string(),
            });
        }
        self.used.borrow_mut().push(crate::lockfile::key(
            &entry.url,
            &entry.path,
            &entry.reference,
        ));
        lock.insert(entry);
        if policy.writes() {
            lock.save()
                .map_err(|e| GitImportError::Lock(e.to_string()))?;
        }
        drop(guard);
        self.git.borrow_mut().insert(
            display.clone(),
            GitOrigin {
                import,
                resolved,
                commit,
            },
        );
        Ok((display, text))
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
        if GitImport::is_git(path) {
            let import = GitImport::parse(path).map_err(|e| e.fault().raise(pos))?;
            let (display, text) = self
                .locate_git(import, None)
                .map_err(|e| e.fault().raise(pos))?;
            return Ok((display, None, text));
        }
        if path.contains("://") {
            return Err(Fault::new(
                "stack::module::remote",
                format!("cannot import `{path}`: modules are read from git"),
            )
            .label("imported here")
            .help("write `git+https://host/org/repo.git//path/to/module?ref=v1.4.0`")
            .raise(pos));
        }
        let origin = source.and_then(|s| self.git.borrow().get(s).cloned());
        if let Some(origin) = origin {
            let import = origin.import.relative(path).ok_or_else(|| {
                Fault::new(
                    "stack::module::not_found",
                    format!("`{path}` leaves the repository of `{}`", origin.import.display()),
                )
                .label("imported here")
                .help("a git module imports others of its repository by paths inside it, and other repositories by `git+…`")
                .raise(pos)
            })?;
            let (display, text) = self
                .locate_git(import, Some((origin.resolved, origin.commit)))
                .map_err(|e| e.fault().raise(pos))?;
            return Ok((display, None, text));
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
