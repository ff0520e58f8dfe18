//! End-to-end tests of the `stack` binary: one test binary, one
//! [`common::TestContext`] per test, insta snapshots with path filters.

mod common;

mod cli;
mod eks;
mod errors;
mod examples;
mod helm;
mod oidc;
mod platform;
mod repl;
mod run;
