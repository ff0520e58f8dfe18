//! The Rhai engine of `stack`: limits, the module resolver and every
//! binding, built the same way for the CLI, the REPL and the tests.

use std::rc::Rc;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Shared};

use crate::session::Session;
use crate::{convert, functions, handle, resolver, switch};

/// Limits that keep a runaway script from hanging or exhausting memory.
pub mod limits {
    /// Operations per evaluation: ample for 10,000 resources.
    pub const MAX_OPERATIONS: u64 = 50_000_000;
    pub const MAX_CALL_LEVELS: usize = 64;
    pub const MAX_STRING_SIZE: usize = 4 << 20;
    /// Items of one list or map. Rhai measures a container whole each time
    /// it grows, so filling one to the limit costs the square of it.
    pub const MAX_ARRAY_SIZE: usize = 100_000;
    pub const MAX_MAP_SIZE: usize = 100_000;
    pub const MAX_MODULES: usize = 256;
    /// Nesting of expressions at top level and inside functions: the same in
    /// debug and release builds (Rhai lowers its defaults in debug builds).
    pub const MAX_EXPR_DEPTH: usize = 64;
    pub const MAX_FUNCTION_EXPR_DEPTH: usize = 64;
    /// Lines of one script or module: positions past it could not be told
    /// apart, so a longer file is refused before it is evaluated.
    pub const MAX_LINES: usize = u16::MAX as usize;
    /// Wall-clock time of one evaluation: a last resort behind the
    /// operation limit, for time spent inside single operations.
    pub const MAX_EVAL_TIME: std::time::Duration = std::time::Duration::from_secs(20);
    /// Memory of the whole process while a script runs: a last resort for
    /// growth no single value limit sees (a map filled key by key). Checked
    /// every few thousand operations, it keeps the peak under 512 MiB.
    pub const MAX_MEMORY_BYTES: u64 = 480 << 20;

    /// A fault when `text` has more lines than [`MAX_LINES`].
    #[allow(clippy::result_large_err)] // an error path: once per refused file
    pub fn check_lines(text: &str) -> Result<(), crate::fault::Fault> {
        let lines = text.lines().count();
        if lines <= MAX_LINES {
            return Ok(());
        }
        Err(crate::fault::Fault::new(
            "stack::script::too_many_lines",
            format!(
                "the file has {lines} lines, more than the {MAX_LINES} a script or module may have"
            ),
        )
        .label("this file")
        .help("split it into modules and import them"))
    }
}

/// Builds the Rhai engine with the standard library bound to `session`.
pub fn engine(session: &Session) -> Engine {
    engine_with_resolver(
        session,
        Rc::new(resolver::StackResolver::new(session.clone())),
    )
}

pub(crate) fn engine_with_resolver(
    session: &Session,
    resolver: Rc<resolver::StackResolver>,
) -> Engine {
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
    // Operations restart from one for each evaluation and each module.
    let started = std::cell::Cell::new(std::time::Instant::now());
    engine.on_progress(move |operations| {
        if operations == 1 {
            started.set(std::time::Instant::now());
        } else if operations % 4096 == 0 {
            if started.get().elapsed() > limits::MAX_EVAL_TIME {
                return Some(rhai::Dynamic::from(Stopped::TimedOut));
            }
            if resident_bytes().is_some_and(|b| b > limits::MAX_MEMORY_BYTES) {
                return Some(rhai::Dynamic::from(Stopped::OutOfMemory));
            }
        }
        None
    });
    handle::register(&mut engine);
    functions::register_all(&mut engine, session);
    switch::register(&mut engine, session);
    let s = session.clone();
    engine.on_print(move |text| eprintln!("{}", convert::readable(text, &s)));
    let s = session.clone();
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(src), Some(line)) => format!("{src}:{line}: "),
            _ => String::new(),
        };
        eprintln!("{at}{}", convert::readable(text, &s));
    });
    engine
}

/// Why an evaluation was stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stopped {
    /// It ran past [`limits::MAX_EVAL_TIME`].
    TimedOut,
    /// The process grew past [`limits::MAX_MEMORY_BYTES`].
    OutOfMemory,
}

/// Memory the process holds now, where the system tells it (Linux, pages
/// of 4 KiB; with larger pages this undercounts and the guard comes late).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Lets the evaluator keep a handle on the resolver it gives the engine.
pub(crate) struct SharedResolver(Rc<resolver::StackResolver>);

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
