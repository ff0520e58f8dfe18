//! One file per command.

pub mod check;
pub mod graph;
pub mod plan;
pub mod render;
pub mod repl;
