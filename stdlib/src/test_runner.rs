//! `stack test`: every top-level `fn test_<name>()` of a `*_test.rhai` file
//! is one test, run in an evaluation of its own (the file's top level, then
//! the function), so that declarations of one test never reach another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::evaluator::{EvalError, Evaluator};

/// The test files at `path`: the file itself, or every `*_test.rhai` below
/// the directory (hidden directories, `target` and `vendor` are skipped).
pub fn discover(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "vendor" {
                    dirs.push(p);
                }
            } else if name.ends_with("_test.rhai") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// An evaluator that has run the file's top level, followed by `then`
/// (a test's call): one script, so that the file's imports are in reach
/// of its functions and every position is a line of the file.
fn loaded(file: &Path, then: &str) -> Result<Evaluator, EvalError> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stack = file.file_stem().and_then(|s| s.to_str()).unwrap_or("test");
    let mut evaluator = Evaluator::new(stack, dir, BTreeMap::new());
    let mut text = crate::evaluator::read_script(file)?;
    text.push_str(then);
    let _ = evaluator.eval_text(&file.to_string_lossy(), Some(file), &text)?;
    Ok(evaluator)
}

/// The tests of a file by name; an error when the file does not evaluate.
pub fn tests_in(file: &Path) -> Result<Vec<String>, EvalError> {
    let mut tests: Vec<String> = loaded(file, "")?
        .functions()
        .filter(|(name, params)| name.starts_with("test_") && *params == 0)
        .map(|(name, _)| name.to_string())
        .collect();
    tests.sort();
    Ok(tests)
}

/// Runs one test: `Ok` when it returns, its diagnostic when it fails.
pub fn run(file: &Path, test: &str) -> Result<(), EvalError> {
    loaded(file, &format!("\n;{test}();\n")).map(drop)
}
