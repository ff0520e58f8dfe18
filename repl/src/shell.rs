//! One shell session: the evaluator every input shares, and what one input
//! does to it. Nothing here reads the terminal or prints, so a whole session
//! can be driven input by input.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use stack_engine::plan::Style;
use stack_engine::Graph;
use stack_stdlib::Evaluator;

use crate::commands::{self, Command};
use crate::echo::echo;
use crate::input;
use crate::vocabulary::Vocabulary;

/// What one input produced: text for stdout, diagnostics and notes for
/// stderr, and whether the session ends.
#[derive(Debug, Default)]
pub struct Reply {
    pub output: String,
    pub errors: Vec<miette::Report>,
    pub notes: Vec<String>,
    pub quit: bool,
    /// The output is a command's listing, which a terminal may page.
    pub page: bool,
}

impl Reply {
    fn error(&mut self, error: impl miette::Diagnostic + Send + Sync + 'static) {
        self.errors.push(miette::Report::new(error));
    }
}

pub struct Shell {
    evaluator: Evaluator,
    /// Modules imported so far: alias → path as written.
    imports: BTreeMap<String, String>,
    /// Functions the user's inputs defined, for completion.
    defined: BTreeSet<String>,
    /// Inputs evaluated so far; each is named `<repl:N>` in diagnostics.
    inputs: usize,
    vocabulary: Rc<RefCell<Vocabulary>>,
    style: Style,
}

impl Shell {
    /// A session for the stack `stack`, resolving relative paths from `dir`.
    pub fn new(stack: &str, dir: &Path, params: BTreeMap<String, String>, style: Style) -> Shell {
        let evaluator = Evaluator::new(stack, dir, params);
        let mut shell = Shell {
            evaluator,
            imports: BTreeMap::new(),
            defined: BTreeSet::new(),
            inputs: 0,
            vocabulary: Rc::default(),
            style,
        };
        shell.refresh();
        shell
    }

    /// The names the editor completes; refreshed after every input.
    pub fn vocabulary(&self) -> Rc<RefCell<Vocabulary>> {
        self.vocabulary.clone()
    }

    /// Handles one input: a `:` command or a piece of script.
    pub fn handle(&mut self, text: &str) -> Reply {
        let mut reply = Reply::default();
        if text.trim().is_empty() {
            return reply;
        }
        if input::is_command(text) {
            match commands::parse(text) {
                Ok(command) => self.command(command, &mut reply),
                Err(e) => reply.error(e),
            }
        } else {
            self.inputs += 1;
            let name = format!("<repl:{}>", self.inputs);
            if let Some(value) = self.evaluate(&name, None, text, &mut reply) {
                if let Some(shown) = echo(&value, self.evaluator.session()) {
                    reply.output = format!("{shown}\n");
                }
            }
        }
        self.refresh();
        reply
    }

    /// Evaluates a script file into the session (`stack repl FILE`, `:load`).
    pub fn load(&mut self, file: &Path) -> Reply {
        let mut reply = Reply::default();
        self.load_into(file, &mut reply);
        self.refresh();
        reply
    }

    fn load_into(&mut self, file: &Path, reply: &mut Reply) {
        let text = match stack_stdlib::evaluator::read_script(file) {
            Ok(text) => text,
            Err(e) => return reply.error(e),
        };
        let before = self.declared();
        let failed_before = reply.errors.len();
        let name = self.source_name(&file.to_string_lossy(), &text);
        self.evaluate(&name, Some(file), &text, reply);
        if reply.errors.len() == failed_before {
            let declared = self.declared().saturating_sub(before);
            reply.output = format!(
                "Loaded {name}: {declared} resource{} declared.\n",
                if declared == 1 { "" } else { "s" }
            );
        }
    }

    /// A source name for a file's text: its path, unless an earlier `:load`
    /// of the same path had other text (the file was edited), whose
    /// diagnostics must keep showing that text.
    fn source_name(&self, name: &str, text: &str) -> String {
        let session = self.evaluator.session().borrow();
        let sources = &session.declarations.sources;
        let mut candidate = name.to_string();
        let mut n = 1;
        while let Some(id) = sources.find(&candidate) {
            if *sources.get(id).text == *text {
                break;
            }
            n += 1;
            candidate = format!("{name} (load {n})");
        }
        candidate
    }

    fn command(&mut self, command: Command, reply: &mut Reply) {
        reply.page = matches!(
            command,
            Command::Help | Command::Plan | Command::Graph | Command::Show(_)
        );
        match command {
            Command::Help => reply.output = commands::help(),
            Command::Plan => {
                if let Some(graph) = self.graph(reply) {
                    reply.output = commands::plan(&graph, self.style);
                }
            }
            Command::Graph => {
                if let Some(graph) = self.graph(reply) {
                    reply.output = commands::graph(&graph);
                }
            }
            Command::Show(id) => {
                if let Some(graph) = self.graph(reply) {
                    match commands::show(&graph, &id) {
                        Ok(text) => reply.output = text,
                        Err(e) => reply.error(e),
                    }
                }
            }
            Command::Load(file) => self.load_into(Path::new(&file), reply),
            Command::Forget(id) => self.forget(&id, reply),
            Command::Reset => {
                self.evaluator.reset();
                self.defined.clear();
                reply.output = if self.imports.is_empty() {
                    "Forgot every declaration, variable and function.\n".into()
                } else {
                    format!(
                        "Forgot every declaration, variable and function; modules stay imported as {}.\n",
                        self.imports.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
            }
            Command::Quit => reply.quit = true,
        }
    }

    /// Evaluates `text` as source `name`. Top-level imports become session
    /// imports first. When the declarations no longer form a valid graph,
    /// what this input declared is dropped again so the session stays usable.
    fn evaluate(
        &mut self,
        name: &str,
        path: Option<&Path>,
        text: &str,
        reply: &mut Reply,
    ) -> Option<rhai::Dynamic> {
        let imports = input::imports(text);
        // The source keeps the text as written, imports included, so that
        // diagnostics show it whole; the imports are blanked out of what is
        // evaluated without moving any line or column.
        self.evaluator.session().add_source(name, path, text);
        for import in &imports {
            let pos = position(text, import.range.start);
            if let Err(e) = self
                .evaluator
                .import_at(&import.alias, &import.path, Some(name), pos)
            {
                reply.error(e);
                return None;
            }
            self.imports
                .insert(import.alias.clone(), import.path.clone());
        }
        let rest = input::blank_out(text, &imports);
        if rest.trim().is_empty() {
            return None;
        }
        let before = self.declared();
        let kept = self.evaluator.declarations().resources;
        let value = match self.evaluator.eval_text(name, path, &rest) {
            Ok(value) => {
                self.defined.extend(input::defined_functions(&rest));
                Some(value)
            }
            Err(e) => {
                reply.error(e);
                None
            }
        };
        // Declaring an id again replaces the earlier declaration: the way
        // to fix one while prototyping.
        let replaced = self.evaluator.session().replace_redeclared(before);
        if let Err(e) = Graph::build(self.evaluator.declarations()) {
            reply.error(e);
            self.evaluator.session().restore_resources(kept);
            reply
                .notes
                .push(format!("nothing {name} declared was kept"));
            return None;
        }
        for id in replaced {
            reply
                .notes
                .push(format!("replaced the earlier declaration of {id}"));
        }
        value
    }

    /// `:forget ID`: drops one declaration, unless others still need it.
    fn forget(&mut self, id: &str, reply: &mut Reply) {
        let id = stack_engine::ResourceId::new(id);
        let kept = self.evaluator.declarations().resources;
        if !self.evaluator.session().forget(&id) {
            let ids: Vec<String> = kept.iter().map(|r| r.id.to_string()).collect();
            reply.error(commands::CommandError::unknown_id(id.as_str(), &ids));
            return;
        }
        if let Err(e) = Graph::build(self.evaluator.declarations()) {
            reply.error(e);
            self.evaluator.session().restore_resources(kept);
            reply.notes.push(format!(
                "{id} is still declared: forget what needs it first"
            ));
            return;
        }
        reply.output = format!("Forgot {id}.\n");
    }

    /// How many resources the session holds.
    fn declared(&self) -> usize {
        self.evaluator
            .session()
            .borrow()
            .declarations
            .resources
            .len()
    }

    /// The session's graph, or `None` with the diagnostic in `reply`.
    fn graph(&self, reply: &mut Reply) -> Option<Graph> {
        match Graph::build(self.evaluator.declarations()) {
            Ok(graph) => Some(graph),
            Err(e) => {
                reply.error(e);
                None
            }
        }
    }

    fn refresh(&mut self) {
        let defined: Vec<String> = self.defined.iter().cloned().collect();
        *self.vocabulary.borrow_mut() = Vocabulary::of(&self.evaluator, &self.imports, &defined);
    }
}

/// The Rhai position (1-based line and character column) of a byte offset.
fn position(text: &str, offset: usize) -> rhai::Position {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    rhai::Position::new(clamp(line), clamp(column))
}

/// `path` made absolute against the current directory, canonical if it exists.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    joined.canonicalize().unwrap_or(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(dir: &Path) -> Shell {
        Shell::new("t", dir, BTreeMap::new(), Style::PLAIN)
    }

    fn errors(reply: &Reply) -> String {
        reply
            .errors
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn keeps_one_scope_across_inputs() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(dir.path());
        let r = s.handle("let c = cluster(\"dev\", #{ provider: \"kind\" });");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(r.output, "");
        let r = s.handle("namespace(c, \"apps\", #{})");
        assert_eq!(r.output, "namespace(dev/namespace/apps)\n");
        let r = s.handle(":graph");
        assert_eq!(r.output, "cluster/dev\ndev/namespace/apps  ← cluster/dev\n");
        assert_eq!(
            s.vocabulary().borrow().variables.keys().collect::<Vec<_>>(),
            ["c"]
        );
    }

    #[test]
    fn errors_keep_the_session() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(dir.path());
        let r = s.handle("let c = clustr(\"dev\", #{});");
        let text = errors(&r);
        assert!(text.contains("<repl:1>"), "{text}");
        assert!(text.contains("cluster"), "{text}");
        let r = s.handle("1 + 1");
        assert_eq!(r.output, "2\n");
        let r = s.handle(":nope");
        assert_eq!(r.errors.len(), 1);
        assert!(!r.quit);
    }

    #[test]
    fn drops_an_input_that_breaks_the_graph() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(dir.path());
        s.handle("let c = cluster(\"dev\", #{ provider: \"kind\" }); namespace(c, \"a\", #{});");
        let r = s.handle("namespace(c, \"b\", #{}); namespace(c, \"b\", #{});");
        assert!(errors(&r).contains("declared twice"), "{}", errors(&r));
        assert_eq!(r.notes, ["nothing <repl:2> declared was kept"]);
        let r = s.handle(":graph");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(r.output, "cluster/dev\ndev/namespace/a  ← cluster/dev\n");
    }

    #[test]
    fn declaring_again_replaces_and_forget_drops_one() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(dir.path());
        s.handle("let c = cluster(\"dev\", #{ provider: \"kind\" }); namespace(c, \"a\", #{ labels: #{ v: \"1\" } });");
        let r = s.handle("namespace(c, \"a\", #{ labels: #{ v: \"2\" } });");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(
            r.notes,
            ["replaced the earlier declaration of dev/namespace/a"]
        );
        let declarations = s.evaluator.declarations();
        assert_eq!(declarations.resources.len(), 2);
        let a = &declarations.resources[1];
        assert_eq!(
            a.input("labels")
                .and_then(|l| l.get("v"))
                .and_then(|v| v.as_str()),
            Some("2")
        );

        // What others need stays until they go.
        let r = s.handle(":forget cluster/dev");
        assert_eq!(r.errors.len(), 1, "{}", errors(&r));
        assert_eq!(s.evaluator.declarations().resources.len(), 2);
        let r = s.handle(":forget dev/namespace/a");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(s.evaluator.declarations().resources.len(), 1);
        let r = s.handle(":forget dev/namespace/b");
        assert_eq!(r.errors.len(), 1);
    }

    #[test]
    fn imports_persist_and_reset_forgets_declarations() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(
            dir.path().join("team.rhai"),
            "fn install(c, name) { namespace(c, `team-${name}`, #{}) }",
        )
        .expect("write a module");
        let mut s = shell(dir.path());
        let r = s.handle(
            "import \"./team\" as team;\nlet c = cluster(\"dev\", #{ provider: \"kind\" });",
        );
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(s.vocabulary().borrow().modules["team"], ["install"]);
        let r = s.handle("team::install(c, \"web\")");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert_eq!(r.output, "namespace(dev/namespace/team-web)\n");
        let r = s.handle(":reset");
        assert!(r.output.contains("team"), "{}", r.output);
        assert_eq!(s.handle(":graph").output, "Nothing is declared yet.\n");
        assert!(s.vocabulary().borrow().variables.is_empty());
    }

    #[test]
    fn loads_files_with_their_imports() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("lib")).expect("create a directory");
        std::fs::write(
            dir.path().join("lib/team.rhai"),
            "fn install(c, name) { namespace(c, name, #{}) }",
        )
        .expect("write a module");
        let stack = dir.path().join("stack.rhai");
        std::fs::write(
            &stack,
            "import \"./lib/team\" as team;\nlet c = cluster(\"dev\", #{ provider: \"kind\" });\nteam::install(c, \"a\");\n",
        )
        .expect("write a stack");
        let elsewhere = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(elsewhere.path());
        let r = s.load(&stack);
        assert!(r.errors.is_empty(), "{}", errors(&r));
        assert!(r.output.contains("2 resources declared"), "{}", r.output);
        let r = s.handle("team::install(c, \"b\")");
        assert!(r.errors.is_empty(), "{}", errors(&r));
        let r = s.handle(":load nowhere.rhai");
        assert!(errors(&r).contains("nowhere.rhai"), "{}", errors(&r));
    }

    #[test]
    fn a_failed_import_points_at_its_statement() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = shell(dir.path());
        let r = s.handle("let x = 1;\nimport \"std/traefk\" as t;\nx");
        let text = errors(&r);
        assert!(text.contains("[<repl:1>:2:1]"), "{text}");
        assert!(text.contains("import \"std/traefk\" as t;"), "{text}");
        assert!(text.contains("std/traefik"), "{text}");
        assert_eq!(r.output, "");
        assert!(s.vocabulary().borrow().modules.is_empty());
    }

    #[test]
    fn a_reloaded_file_shows_its_new_text_in_diagnostics() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("s.rhai");
        std::fs::write(&file, "let a = 1;\n").expect("write a stack");
        let mut s = shell(dir.path());
        assert!(s.load(&file).errors.is_empty());
        std::fs::write(&file, "let a = 1;\nlet b = nope;\n").expect("edit the stack");
        let text = errors(&s.load(&file));
        assert!(text.contains("let b = nope;"), "{text}");
        assert!(text.contains("s.rhai (load 2)"), "{text}");
    }
}
