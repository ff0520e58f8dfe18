//! The test kit: a temporary directory to write stacks into, and a way to
//! run the real `stack` binary in it with stable, colourless output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `stack` binary under test.
pub fn stack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stack"))
}

/// A scratch directory plus helpers to run `stack` in it.
pub struct TestContext {
    pub dir: tempfile::TempDir,
}

/// The outcome of one `stack` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    pub fn new() -> TestContext {
        TestContext {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file below the scratch directory, creating directories.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(&path, content).expect("write a file");
        path
    }

    /// Runs `stack` with `args` in the scratch directory.
    pub fn stack(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args, &[])
    }

    /// Runs `stack` with extra environment variables.
    pub fn stack_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in(self.dir.path(), args, env)
    }
}

/// Runs `stack` in `dir` without colour, at a fixed width, with no
/// terminal on any stream.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(stack_bin());
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    Run::from(command.output().expect("run the stack binary"))
}

/// Insta settings that hide what differs between machines.
pub fn settings(dir: Option<&Path>) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    if let Some(dir) = dir {
        let shown = regex_escape(&dir.to_string_lossy());
        settings.add_filter(&shown, "[TMP]");
        if let Ok(canonical) = dir.canonicalize() {
            settings.add_filter(&regex_escape(&canonical.to_string_lossy()), "[TMP]");
        }
    }
    settings.add_filter(&regex_escape(&repo_root().to_string_lossy()), "[REPO]");
    settings
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
