//! The broken-script corpus (`tests/fixtures/errors/`): every script there
//! has one problem, and `stack check` must report it as a diagnostic that
//! names the file, the place and what to do, with exit code 2. A first-line
//! comment `// args: ...` gives extra command-line arguments.
//!
//! The corpus is copied into a scratch directory and run from there with
//! relative paths, so diagnostics name files as a user would see them.

use std::path::{Path, PathBuf};

use crate::common::{self, run_in, Run, TestContext};

/// The secret every case can read with `secret("env:STACK_TEST_SECRET")`.
const SECRET_VAR: &str = "STACK_TEST_SECRET";
const SECRET: &str = "hunter2-very-secret";

fn corpus() -> PathBuf {
    common::repo_root().join("tests/fixtures/errors")
}

/// Every `.rhai` file directly in the corpus, by name without extension.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .expect("read tests/fixtures/errors")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "rhai"))
        .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// The arguments a case asks for in its first line: `// args: --set a=b`.
fn case_args(script: &str) -> Vec<String> {
    script
        .lines()
        .take(2)
        .find_map(|line| line.strip_prefix("// args:"))
        .map(|args| args.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The command a case fails: `check`, or what a `// command:` line in its
/// first two lines names (a missing secret fails `plan`, not `check`).
fn case_command(script: &str) -> String {
    script
        .lines()
        .take(2)
        .find_map(|line| line.strip_prefix("// command:"))
        .map_or_else(|| "check".to_string(), |c| c.trim().to_string())
}

/// A scratch copy of the corpus.
fn corpus_copy() -> TestContext {
    let ctx = TestContext::new();
    common::copy_dir(&corpus(), ctx.path());
    ctx
}

/// Runs `stack <command> <case>.rhai <case args>` in the corpus copy; the
/// command is the case's own unless given.
fn run_case(dir: &Path, command: &[&str], case: &str) -> Run {
    let file = format!("{case}.rhai");
    let script = std::fs::read_to_string(dir.join(&file)).expect("read a case");
    let extra = case_args(&script);
    let own = case_command(&script);
    let mut args: Vec<&str> = if command.is_empty() {
        vec![own.as_str()]
    } else {
        command.to_vec()
    };
    args.push(&file);
    args.extend(extra.iter().map(String::as_str));
    run_in(dir, &args, &[(SECRET_VAR, SECRET)])
}

#[test]
fn every_broken_script_gets_a_diagnostic() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "the corpus should hold at least 30 cases, found {}",
        cases.len()
    );
    let ctx = corpus_copy();
    let settings = common::settings(Some(ctx.path()));
    for case in &cases {
        let run = run_case(ctx.path(), &[], case);
        assert_eq!(
            run.code,
            2,
            "{case}: expected exit code 2\n{}",
            run.transcript()
        );
        assert!(
            run.stderr.contains("stack::"),
            "{case}: the diagnostic has no code\n{}",
            run.transcript()
        );
        assert!(
            !run.stdout.contains("is valid"),
            "{case}: a broken script passed the check\n{}",
            run.transcript()
        );
        assert!(
            !run.stderr.contains(SECRET) && !run.stdout.contains(SECRET),
            "{case}: the secret's value was printed\n{}",
            run.transcript()
        );
        assert!(
            !run.stderr.contains('\u{F0000}'),
            "{case}: an internal token was printed\n{}",
            run.transcript()
        );
        settings.bind(|| {
            insta::assert_snapshot!(format!("errors__{case}"), run.transcript());
        });
    }
}

/// A stack that reads the secret and uses it where it is allowed: in a
/// Kubernetes Secret and as an OIDC client secret, printed and debugged.
const SECRET_STACK: &str = r#"
let c = cluster("dev", #{
    provider: "kind",
    delivery: "gitops",
    gitops: #{ repo: "https://git.example.com/platform.git", path: "clusters" },
});
let password = secret("env:STACK_TEST_SECRET");
print(`the password is ${password}`);
debug(password);
manifest(c, #{
    apiVersion: "v1",
    kind: "Secret",
    metadata: #{ name: "db", namespace: "default" },
    stringData: #{ password: password, url: `postgres://app:${password}@db:5432/app` },
});
oidc("sso", #{
    provider: "external",
    issuer_url: "https://login.example.com",
    client_id: "platform",
    client_secret: password,
});
namespace(c, "web");
"#;

fn assert_no_secret(what: &str, run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "{what}: the secret's value was printed\n{}",
        run.transcript()
    );
}

#[test]
fn a_secret_value_is_never_printed_or_rendered() {
    let ctx = TestContext::new();
    ctx.write("dev.rhai", SECRET_STACK);
    let env = [(SECRET_VAR, SECRET)];
    let commands: &[&[&str]] = &[
        &["check", "dev.rhai"],
        &["plan", "dev.rhai"],
        &["plan", "dev.rhai", "--output", "json"],
        &["graph", "dev.rhai"],
        &["graph", "dev.rhai", "--format", "dot"],
        &["graph", "dev.rhai", "--format", "mermaid"],
        &["render", "dev.rhai", "--out", "out"],
    ];
    for args in commands {
        let run = ctx.stack_env(args, &env);
        assert_eq!(run.code, 0, "{args:?}\n{}", run.transcript());
        assert_no_secret(&args.join(" "), &run);
        assert!(
            run.stderr.contains("the password is (sensitive)"),
            "{args:?}: print() should show the secret redacted\n{}",
            run.transcript()
        );
    }
    let rendered = common::files_below(&ctx.path().join("out"));
    assert!(!rendered.is_empty(), "render wrote nothing");
    for path in rendered {
        let text = std::fs::read_to_string(&path).expect("read a rendered file");
        assert!(
            !text.contains(SECRET),
            "{} holds the secret's value",
            path.display()
        );
    }
    let plan = ctx.stack_env(&["plan", "dev.rhai"], &env);
    assert!(
        plan.stdout.contains("client_secret = (sensitive)"),
        "{}",
        plan.transcript()
    );
}

#[test]
fn a_secret_value_is_never_printed_when_the_script_fails() {
    let ctx = corpus_copy();
    let mut reading: Vec<String> = cases()
        .into_iter()
        .filter(|case| {
            std::fs::read_to_string(ctx.path().join(format!("{case}.rhai")))
                .is_ok_and(|text| text.contains(SECRET_VAR))
        })
        .collect();
    reading.sort();
    assert!(
        reading.len() >= 4,
        "expected several corpus cases that read the secret, found {reading:?}"
    );
    let commands: &[&[&str]] = &[
        &["check"],
        &["plan"],
        &["plan", "--output", "json"],
        &["graph"],
        &["render", "--out", "out"],
    ];
    for case in &reading {
        for command in commands {
            let run = run_case(ctx.path(), command, case);
            assert_eq!(run.code, 2, "{case} {command:?}\n{}", run.transcript());
            assert_no_secret(&format!("{case} {command:?}"), &run);
        }
    }
    assert!(
        !ctx.path().join("out").exists(),
        "a failed render wrote files"
    );
}
