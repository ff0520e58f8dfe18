//! End-to-end tests of the `stack` binary: one test binary, one
//! [`common::TestContext`] per test, insta snapshots with path filters.

/// Runs each named scenario `fn name(e: Env)` twice: against the
/// Kubernetes API test server (`test_server::name`, from the module's
/// `env()`) and against a real kube-apiserver of its own
/// (`kube_apiserver::name`, from `real_env()`).
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod test_server {
            $( #[test] fn $name() { super::$name(super::env()) } )*
        }
        mod kube_apiserver {
            $( #[test] fn $name() { super::$name(super::real_env()) } )*
        }
    };
}

mod common;

mod cli;
mod eks;
mod errors;
mod examples;
mod helm;
mod hostile;
mod modules;
mod oidc;
mod ownership;
mod platform;
mod repl;
mod run;
mod service;
mod std_modules;
