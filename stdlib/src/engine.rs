//! The Rhai engine of `stack`: limits, the module resolver and every
//! binding, built the same way for the CLI, the REPL and the tests.

use std::rc::Rc;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Shared};

use crate::session::Session;
use crate::{convert, functions, handle, resolver, token};

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
