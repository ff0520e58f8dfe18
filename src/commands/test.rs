//! `stack test [PATH]`: runs every `fn test_<name>()` of the `*_test.rhai`
//! files at PATH, one line per test, failures with their diagnostic, and a
//! last line `N passed, M failed`. Exit 0 when all pass, 1 when any fails,
//! 2 when a test file does not evaluate or there is none.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stack_stdlib::test_runner;

use crate::failure::Failure;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("no test files (`*_test.rhai`) at `{}`", path.display())]
#[diagnostic(
    code(stack::test::none),
    help("a test file is named `<something>_test.rhai` and defines `fn test_<name>() {{ ... }}`")
)]
struct NoTests {
    path: PathBuf,
}

pub fn run(path: Option<&Path>) -> Result<ExitCode, Failure> {
    let path = path.unwrap_or(Path::new("."));
    let files = test_runner::discover(path);
    if files.is_empty() {
        return Err(Failure::usage(NoTests {
            path: path.to_path_buf(),
        }));
    }
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let shown = file.to_string_lossy();
        let tests = match test_runner::tests_in(file) {
            Ok(tests) => tests,
            Err(e) => {
                broken += 1;
                println!("{shown}: does not evaluate\n{:?}", miette::Report::new(e));
                continue;
            }
        };
        println!(
            "running {} test{} from {shown}",
            tests.len(),
            if tests.len() == 1 { "" } else { "s" }
        );
        for test in tests {
            match test_runner::run(file, &test) {
                Ok(()) => {
                    passed += 1;
                    println!("test {shown}::{test} ... ok");
                }
                Err(e) => {
                    failed += 1;
                    println!("test {shown}::{test} ... FAILED");
                    failures.push((format!("{shown}::{test}"), miette::Report::new(e)));
                }
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for (name, report) in &failures {
            println!("\n---- {name} ----\n{report:?}");
        }
    }
    let mut summary = format!("\n{passed} passed, {failed} failed");
    if broken > 0 {
        summary.push_str(&format!(
            ", {broken} file{} did not evaluate",
            if broken == 1 { "" } else { "s" }
        ));
    }
    println!("{summary}");
    Ok(ExitCode::from(if broken > 0 {
        2
    } else if failed > 0 {
        1
    } else {
        0
    }))
}
