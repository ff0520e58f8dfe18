//! The language of `stack`: a Rhai engine with the standard library bound.
//!
//! [`engine`] is the one constructor the CLI, the REPL and the tests share;
//! [`Evaluator`] runs a stack (or REPL inputs) with it and collects the
//! declarations for the engine crate.
//!
//! - `engine.rs` — the engine factory and its limits
//! - `evaluator.rs` — evaluating stacks and REPL inputs
//! - `definitions.rs` — Rhai definition files (`.d.rhai`) for editors
//! - `session.rs` — state shared by the bindings during one evaluation
//! - `functions/` — one file per standard-library function, with its schema
//! - `declare.rs` — the common path of every declaration
//! - `schema.rs` — option schemas, type checks, did-you-mean
//! - `interface.rs` — module interfaces: options a module takes, what it returns
//! - `handle.rs` — handles and their properties
//! - `token.rs` — outputs and secrets carried inside strings
//! - `convert.rs` — Rhai values to engine values
//! - `resolver.rs`, `modules.rs` — `import` of std, relative and git modules
//! - `git_import.rs`, `lockfile.rs` — modules kept in git, and `stack.lock`
//! - `outdated.rs` — newer tags than the lock pins
//! - `vendor.rs` — locked modules copied beside the stack
//! - `test_runner.rs` — `stack test`: discovering and running `fn test_*()`
//! - `scan.rs` — a script's shape without parsing: tokens, what stays open
//! - `comments.rs` — block comments and interpolations that never close
//! - `locate.rs` — finds an option key inside a call, for precise labels
//! - `fault.rs`, `error.rs` — errors raised by bindings, and diagnostics
//! - `reference.rs` — the generated stdlib reference
//! - `module_docs.rs` — a module's reference, from its header and interfaces

pub mod comments;
pub mod convert;
pub mod declare;
pub mod definitions;
pub mod engine;
pub mod error;
pub mod evaluator;
pub mod fault;
pub mod functions;
pub mod git_import;
pub mod handle;
pub mod interface;
mod labels;
pub mod locate;
pub mod lockfile;
pub mod module_docs;
pub mod modules;
pub mod outdated;
pub mod reference;
pub mod resolver;
pub mod scan;
pub mod schema;
pub mod session;
mod switch;
pub mod test_runner;
pub mod token;
pub mod vendor;

pub use engine::{engine, limits};
pub use error::ScriptError;
pub use evaluator::{evaluate, evaluate_documented, lint, EvalError, Evaluator, Linted};
pub use session::Session;
