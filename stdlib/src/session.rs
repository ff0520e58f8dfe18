//! The state one evaluation shares between the bindings: what has been
//! declared, the sources read, `--set` parameters and secret values.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{NativeCallContext, Position};
use stack_engine::{Declarations, Resource, ResourceId, Secret, SourceId, Span};

/// Shared, single-threaded session state. Cloning shares it.
#[derive(Clone, Default)]
pub struct Session(Rc<RefCell<SessionState>>);

#[derive(Default)]
pub struct SessionState {
    pub declarations: Declarations,
    /// `--set name=value` parameters.
    pub params: BTreeMap<String, String>,
    /// Parameters the script read; `params()` reads them all.
    pub params_read: BTreeSet<String>,
    pub all_params_read: bool,
    /// Secret values, referred to from strings by index.
    pub secrets: Vec<Secret>,
    /// The canonical directory of the stack script: `file()` stays inside it.
    pub stack_dir: PathBuf,
    /// Display name of the stack script.
    pub main_source: Option<SourceId>,
    /// Where each id was last declared in `declarations.resources`, so a
    /// lookup does not walk every declaration (a loop declares thousands).
    pub declared_at: HashMap<ResourceId, usize>,
    /// What git imports may do with `stack.lock`.
    pub lock_policy: crate::lockfile::LockPolicy,
    /// Every module interface declared so far, to recognise a module's
    /// result passed where one of its fields is expected.
    pub interfaces: Vec<std::rc::Rc<crate::interface::Interface>>,
    /// Outputs a test gave values with `mock_output`.
    pub given_outputs: stack_engine::objects::GivenOutputs,
    /// Each source read by the scanner once, for the places diagnostics
    /// point at.
    pub scans: HashMap<SourceId, Rc<crate::scan::Scan>>,
    /// Linting (`stack check`): errors that leave the rest of the script
    /// meaningful are collected in `deferred` instead of stopping it, and
    /// secrets that cannot be read are unknown sensitive values.
    pub linting: bool,
    pub deferred: Vec<Box<rhai::EvalAltResult>>,
    /// Sources of the secrets a lint could not read (`env:DB_PASSWORD`).
    pub unread_secrets: BTreeSet<String>,
}

impl Session {
    /// Refuses what a binding found wrong: at once, or, when linting, after
    /// the script has run on (the declaration goes on as written).
    pub fn refuse(&self, error: Box<rhai::EvalAltResult>) -> Result<(), Box<rhai::EvalAltResult>> {
        let mut state = self.borrow_mut();
        if state.linting {
            state.deferred.push(error);
            Ok(())
        } else {
            Err(error)
        }
    }

    pub fn new(stack: &str, stack_dir: &Path, params: BTreeMap<String, String>) -> Session {
        let dir = stack_dir
            .canonicalize()
            .unwrap_or_else(|_| stack_dir.to_path_buf());
        Session(Rc::new(RefCell::new(SessionState {
            declarations: Declarations {
                params: params.clone(),
                ..Declarations::new(stack, &dir)
            },
            params,
            stack_dir: dir,
            ..SessionState::default()
        })))
    }

    pub fn borrow(&self) -> std::cell::Ref<'_, SessionState> {
        self.0.borrow()
    }

    pub fn borrow_mut(&self) -> std::cell::RefMut<'_, SessionState> {
        self.0.borrow_mut()
    }

    /// Registers a source text and returns its id.
    pub fn add_source(&self, name: &str, path: Option<&Path>, text: &str) -> SourceId {
        self.borrow_mut().declarations.sources.add(name, path, text)
    }

    /// Adds a script or module about to be evaluated, and the reason it
    /// must not be: too many lines, or a character `stack` reserves for its
    /// placeholders (shown as U+FFFD, so no diagnostic prints it).
    pub fn add_script(
        &self,
        name: &str,
        path: Option<&Path>,
        text: &str,
    ) -> (SourceId, Option<crate::fault::Fault>) {
        let Some(offset) = crate::token::reserved_at(text) else {
            let id = self.add_source(name, path, text);
            return (id, crate::engine::limits::check_lines(text).err());
        };
        let shown = crate::token::shown(text);
        let id = self.add_source(name, path, &shown);
        let fault = crate::fault::Fault::new(
            "stack::script::reserved_character",
            "the script holds a character stack reserves for its own use",
        )
        .label(format!("this character ({})", crate::token::RESERVED))
        .help("remove it: stack uses these private-use characters to carry secrets and outputs through strings")
        .at(Span::new(id, offset, '\u{FFFD}'.len_utf8()));
        (id, Some(fault))
    }

    /// The span of the call `ctx` is evaluating: the called function's name
    /// in the caller's source.
    pub fn call_span(&self, ctx: &NativeCallContext) -> Span {
        self.span_at(ctx.call_source(), ctx.call_position())
    }

    /// The span of the identifier (or single character) at a position.
    pub fn span_at(&self, source: Option<&str>, pos: Position) -> Span {
        let state = self.borrow();
        let sources = &state.declarations.sources;
        let id = source
            .and_then(|name| sources.find(name))
            .or(state.main_source)
            .unwrap_or(SourceId(0));
        if sources.iter().count() == 0 {
            return Span::new(id, 0, 0);
        }
        let source = sources.get(id);
        let text = &source.text;
        let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
            return Span::new(id, 0, 0);
        };
        let offset = source.offset_of(line, col);
        let len = text[offset..]
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(text.len() - offset, |(i, _)| i)
            .max(text[offset..].chars().next().map_or(0, char::len_utf8));
        Span::new(id, offset, len)
    }

    /// The text of a source.
    pub fn source_text(&self, id: SourceId) -> std::sync::Arc<str> {
        self.borrow().declarations.sources.get(id).text.clone()
    }

    /// A source as the scanner reads it (once per source).
    pub fn source_scan(&self, id: SourceId) -> Rc<crate::scan::Scan> {
        if let Some(scan) = self.borrow().scans.get(&id) {
            return scan.clone();
        }
        let scan = Rc::new(crate::scan::scan(&self.source_text(id)));
        self.borrow_mut().scans.insert(id, scan.clone());
        scan
    }

    pub fn declare(&self, resource: Resource) {
        let mut state = self.borrow_mut();
        let at = state.declarations.resources.len();
        state.declared_at.insert(resource.id.clone(), at);
        state.declarations.resources.push(resource);
    }

    /// What `read` finds in the declared resource with this id, without
    /// copying the resource (every declaration on a cluster reads it).
    pub fn with_resource<T>(
        &self,
        id: &ResourceId,
        read: impl FnOnce(&Resource) -> T,
    ) -> Option<T> {
        let state = self.borrow();
        let at = *state.declared_at.get(id)?;
        state.declarations.resources.get(at).map(read)
    }

    /// The declared resource with this id, if any (the latest, for duplicates).
    pub fn resource(&self, id: &ResourceId) -> Option<Resource> {
        let state = self.borrow();
        let at = *state.declared_at.get(id)?;
        state.declarations.resources.get(at).cloned()
    }

    pub fn add_secret(&self, secret: Secret) -> usize {
        let mut state = self.borrow_mut();
        state.secrets.push(secret);
        state.secrets.len() - 1
    }

    pub fn secret(&self, index: usize) -> Option<Secret> {
        self.borrow().secrets.get(index).cloned()
    }

    /// Takes the declarations out, leaving the sources for later inputs (REPL).
    pub fn declarations(&self) -> Declarations {
        self.borrow().declarations.clone()
    }

    /// Drops the earlier declarations of the ids declared again from index
    /// `from` on (in the REPL, entering a declaration again replaces it);
    /// returns those ids.
    pub fn replace_redeclared(&self, from: usize) -> Vec<ResourceId> {
        let mut state = self.borrow_mut();
        let from = from.min(state.declarations.resources.len());
        let again: std::collections::HashSet<ResourceId> = state.declarations.resources[from..]
            .iter()
            .map(|r| r.id.clone())
            .collect();
        let mut replaced = Vec::new();
        let mut index = 0;
        state.declarations.resources.retain(|r| {
            let earlier = index < from && again.contains(&r.id);
            index += 1;
            if earlier {
                replaced.push(r.id.clone());
            }
            !earlier
        });
        reindex(&mut state);
        replaced
    }

    /// Drops the declaration with this id (REPL `:forget`); false when
    /// there is none.
    pub fn forget(&self, id: &ResourceId) -> bool {
        let mut state = self.borrow_mut();
        let before = state.declarations.resources.len();
        state.declarations.resources.retain(|r| &r.id != id);
        let forgot = state.declarations.resources.len() != before;
        reindex(&mut state);
        forgot
    }

    /// Puts back declarations taken out before (a REPL input whose result
    /// was no valid graph).
    pub fn restore_resources(&self, resources: Vec<Resource>) {
        let mut state = self.borrow_mut();
        state.declarations.resources = resources;
        reindex(&mut state);
    }

    /// Forgets every declaration (REPL `:reset`); sources stay for diagnostics.
    pub fn clear_resources(&self) {
        let mut state = self.borrow_mut();
        state.declarations.resources.clear();
        state.declarations.outputs.clear();
        state.declared_at.clear();
    }
}

/// Where each id is declared, after declarations were taken out.
fn reindex(state: &mut SessionState) {
    state.declared_at = state
        .declarations
        .resources
        .iter()
        .enumerate()
        .map(|(at, r)| (r.id.clone(), at))
        .collect();
}
