//! One file per command.

pub mod check;
pub mod definitions;
pub mod destroy;
pub mod diff;
pub mod docs;
pub mod graph;
pub mod init;
pub mod modules;
pub mod output;
pub mod plan;
pub mod reference;
pub mod render;
pub mod repl;
pub mod run;
pub mod service;
pub mod state;
pub mod test;
