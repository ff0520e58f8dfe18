//! The hostile-input corpus (`tests/fixtures/hostile/`): scripts, command
//! lines, state files and lock files a careless or malicious user could
//! give `stack`, and a few inputs made here because they cannot live in a
//! repository (a named pipe, a device, files past the size and line
//! limits). Every case must end with its expected exit code, without a
//! panic, within a bound of time the harness enforces by killing the
//! process (a hang, not a slow case), with the diagnostic on the expected
//! line, without the secret in any output, and without touching the state
//! or lock file it was given.
//!
//! A script case starts with `// exit: N, line: L`: `L` is the line the
//! first diagnostic points at.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Run, TestContext};

const SECRET_VAR: &str = "STACK_TEST_SECRET";
const SECRET: &str = "hunter2-very-secret";
/// Past this a case is taken to hang: several times the evaluation limits.
const HANG: Duration = Duration::from_secs(90);

fn corpus() -> PathBuf {
    common::repo_root().join("tests/fixtures/hostile")
}

/// One finished case: how it ended and how long it took.
struct Outcome {
    run: Run,
    took: Duration,
}

/// Runs `stack args` in `dir`, killing it after [`HANG`].
fn run_bounded(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    run_fed(dir, args, env, None)
}

/// [`run_bounded`], with standard input read from `stdin`.
fn run_fed(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&Path>) -> Outcome {
    let out = tempfile::tempdir().expect("a scratch directory");
    let (stdout_path, stderr_path) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut command = Command::new(common::stack_bin());
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env(SECRET_VAR, SECRET)
        .stdin(match stdin {
            Some(path) => Stdio::from(std::fs::File::open(path).expect("open the input")),
            None => Stdio::null(),
        })
        .stdout(std::fs::File::create(&stdout_path).expect("create stdout"))
        .stderr(std::fs::File::create(&stderr_path).expect("create stderr"));
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("start the stack binary");
    let pid = child.id().to_string();
    // A thread waits for the exit; this one waits for that, or the bound.
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let status = match exit.recv_timeout(HANG) {
        Ok(status) => status.expect("wait for stack"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("`stack {}` hung: killed after {HANG:?}", args.join(" "));
        }
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome {
        run: Run {
            code: status.code().unwrap_or(-1),
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
        },
        took: started.elapsed(),
    }
}

/// What every case must hold whatever its input: the broken rule, if any.
fn unsound(case: &str, outcome: &Outcome) -> Option<String> {
    let run = &outcome.run;
    let all = format!("{}{}", run.stdout, run.stderr);
    let broken = if all.contains("panicked") || all.contains("RUST_BACKTRACE") {
        "stack panicked"
    } else if all.contains(SECRET) {
        "the secret was printed"
    } else if all.contains('\u{F0000}') || all.contains('\u{F0001}') {
        "an internal placeholder was printed"
    } else {
        return None;
    };
    Some(format!("{case}: {broken}\n{}", run.transcript()))
}

/// [`unsound`], failing the test at once.
fn assert_sound(case: &str, outcome: &Outcome) {
    if let Some(broken) = unsound(case, outcome) {
        panic!("{broken}");
    }
}

/// The line the first diagnostic points at: `,-[file:LINE:COL]`.
fn pointed_line(stderr: &str) -> Option<usize> {
    let start = stderr.find(",-[")? + 3;
    let inside = &stderr[start..start + stderr[start..].find(']')?];
    let mut parts = inside.rsplitn(3, ':');
    let _column = parts.next()?;
    parts.next()?.parse().ok()
}

/// `// exit: N, line: L` of a script case.
fn expectation(script: &str) -> (i32, Option<usize>) {
    let header = script.lines().next().unwrap_or_default();
    let field = |name: &str| {
        header
            .split([',', '/'])
            .filter_map(|part| part.trim().strip_prefix(name))
            .filter_map(|v| v.trim().parse::<usize>().ok())
            .next()
    };
    (
        field("exit:")
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(2),
        field("line:"),
    )
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Counts the cases run and keeps the slowest, for the closing line.
#[derive(Default)]
struct Tally {
    cases: usize,
    slowest: (Duration, String),
}

impl Tally {
    fn add(&mut self, case: &str, outcome: &Outcome) {
        self.cases += 1;
        if outcome.took > self.slowest.0 {
            self.slowest = (outcome.took, case.to_string());
        }
    }

    fn report(&self, what: &str) {
        eprintln!(
            "hostile {what}: {} cases, slowest {} in {:.1?}",
            self.cases, self.slowest.1, self.slowest.0
        );
    }
}

#[test]
fn every_hostile_script_ends_with_a_diagnostic_on_its_line() {
    let ctx = TestContext::new();
    common::copy_dir(&corpus().join("scripts"), ctx.path());
    let cases = files(ctx.path(), "rhai");
    assert!(
        cases.len() >= 120,
        "found only {} script cases",
        cases.len()
    );
    let mut tally = Tally::default();
    let mut wrong = Vec::new();
    for path in &cases {
        let case = stem(path);
        let text = std::fs::read_to_string(path).expect("read a case");
        let (exit, line) = expectation(&text);
        let file = format!("{case}.rhai");
        let outcome = run_bounded(ctx.path(), &["check", &file], &[]);
        tally.add(&case, &outcome);
        let run = &outcome.run;
        if let Some(broken) = unsound(&case, &outcome) {
            wrong.push(broken);
        } else if run.code != exit {
            wrong.push(format!(
                "{case}: exit {} instead of {exit}\n{}",
                run.code,
                run.transcript()
            ));
        } else if exit == 2 && !run.stderr.contains("stack::") {
            wrong.push(format!(
                "{case}: the diagnostic has no code\n{}",
                run.transcript()
            ));
        } else if exit != 0 && line.is_some() && pointed_line(&run.stderr) != line {
            wrong.push(format!(
                "{case}: points at line {:?} instead of {line:?}\n{}",
                pointed_line(&run.stderr),
                run.transcript()
            ));
        }
    }
    tally.report("scripts");
    assert!(
        wrong.is_empty(),
        "{} cases went wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_hostile_command_line_gets_its_exit_code() {
    let ctx = TestContext::new();
    std::fs::copy(corpus().join("ok.rhai"), ctx.path().join("ok.rhai")).expect("copy ok.rhai");
    let list = std::fs::read_to_string(corpus().join("commands.txt")).expect("read commands.txt");
    let mut tally = Tally::default();
    for line in list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (exit, args) = line.split_once('|').expect("`<exit> | <args>`");
        let exit: i32 = exit.trim().parse().expect("an exit code");
        let args: Vec<&str> = args.split_whitespace().collect();
        let outcome = run_bounded(ctx.path(), &args, &[]);
        assert_sound(line, &outcome);
        tally.add(line, &outcome);
        assert_eq!(
            outcome.run.code,
            exit,
            "{line}\n{}",
            outcome.run.transcript()
        );
        assert!(!ctx.path().join(".stack").exists(), "{line}: wrote a state");
    }
    tally.report("command lines");
    assert!(
        tally.cases >= 20,
        "found only {} command-line cases",
        tally.cases
    );
}

/// A scratch stack `hostile` whose `.stack/` holds `file` as `name`.
fn stack_with(file: &Path, name: &str) -> (TestContext, PathBuf) {
    let ctx = TestContext::new();
    std::fs::copy(corpus().join("ok.rhai"), ctx.path().join("hostile.rhai"))
        .expect("copy the stack");
    std::fs::create_dir_all(ctx.path().join(".stack")).expect("create .stack");
    let target = ctx.path().join(".stack").join(name);
    std::fs::copy(file, &target).expect("copy the case");
    (ctx, target)
}

/// A stored file `.stack/<name>` that every command must refuse: exit 1,
/// a diagnostic holding `mentions`, and the file left as it was.
struct Refused<'a> {
    dir: &'a str,
    name: &'a str,
    commands: [&'a [&'a str]; 2],
    mentions: &'a str,
    at_least: usize,
}

fn every_stored_file_is_refused_and_kept(refused: &Refused) {
    let cases = files(&corpus().join(refused.dir), "json");
    assert!(
        cases.len() >= refused.at_least,
        "found only {} cases in {}",
        cases.len(),
        refused.dir
    );
    let mut tally = Tally::default();
    for path in &cases {
        let case = stem(path);
        let (ctx, stored) = stack_with(path, refused.name);
        let kubeconfig = ctx.write("kubeconfig", NOWHERE);
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let before = std::fs::read(&stored).expect("read the stored file");
        for command in refused.commands {
            let outcome = run_bounded(ctx.path(), command, &[("KUBECONFIG", &kubeconfig)]);
            assert_sound(&case, &outcome);
            tally.add(&case, &outcome);
            let transcript = outcome.run.transcript();
            assert_eq!(outcome.run.code, 1, "{case} {command:?}\n{transcript}");
            assert!(
                outcome.run.stderr.contains(refused.mentions),
                "{case} {command:?}: the diagnostic does not say `{}`\n{transcript}",
                refused.mentions
            );
            let after = std::fs::read(&stored).expect("read the stored file");
            assert_eq!(
                after, before,
                "{case} {command:?}: {} changed",
                refused.name
            );
            let state = ctx.path().join(".stack/hostile.state.json");
            assert!(
                refused.name == "hostile.state.json" || !state.exists(),
                "{case} {command:?}: a state was written"
            );
        }
    }
    tally.report(refused.dir);
}

/// A kubeconfig whose server refuses connections: a run that got past the
/// lock would fail on it at once instead of touching anything.
const NOWHERE: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: x\ncurrent-context: x\nusers:\n- name: x\n  user:\n    token: t\n";

#[test]
fn every_hostile_state_file_is_refused_and_kept() {
    every_stored_file_is_refused_and_kept(&Refused {
        dir: "states",
        name: "hostile.state.json",
        commands: [
            &["plan", "hostile.rhai"],
            &["destroy", "hostile.rhai", "--yes"],
        ],
        mentions: "hostile.state.json",
        at_least: 20,
    });
}

#[test]
fn every_hostile_lock_file_is_refused_and_kept() {
    every_stored_file_is_refused_and_kept(&Refused {
        dir: "locks",
        name: "hostile.state.json.lock",
        commands: [
            &["run", "hostile.rhai", "--yes"],
            &["destroy", "hostile.rhai", "--yes"],
        ],
        mentions: "stack::state::lock",
        at_least: 5,
    });
}

/// Inputs that cannot be kept in a repository, made in a scratch directory.
#[test]
fn inputs_made_here_are_refused_before_evaluation() {
    let ctx = TestContext::new();
    let dir = ctx.path();
    let status = Command::new("mkfifo")
        .arg(dir.join("pipe.rhai"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::fs::create_dir(dir.join("folder.rhai")).expect("a directory");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.rhai")).expect("a symlink");
    std::os::unix::fs::symlink("loop2.rhai", dir.join("loop1.rhai")).expect("a symlink");
    std::os::unix::fs::symlink("loop1.rhai", dir.join("loop2.rhai")).expect("a symlink");
    std::fs::File::create(dir.join("huge.rhai"))
        .and_then(|f| f.set_len(9 << 20))
        .expect("a large file");
    std::fs::File::create(dir.join("five.rhai"))
        .and_then(|f| f.set_len(5 << 20))
        .expect("a large script");
    ctx.write("long.rhai", &format!("{}let x = ;\n", "\n".repeat(70_000)));
    ctx.write(
        "wide.rhai",
        &format!("let x = \"{}\";\nlet y = ;\n", "x".repeat(3 << 20)),
    );
    std::fs::write(dir.join("binary.rhai"), [0xff, 0xfe, 0x00, 0x41]).expect("a binary file");
    ctx.write("module_pipe.rhai", "import \"pipe\" as m;\n");
    ctx.write("file_pipe.rhai", "let x = file(\"pipe.rhai\");\n");
    ctx.write("file_huge.rhai", "let x = file(\"huge.rhai\");\n");
    ctx.write("module_long.rhai", "import \"long\" as m;\n");
    ctx.write("secret_pipe.rhai", "let x = secret(\"file:pipe.rhai\");\n");
    let cases: &[(&str, &[&str], Option<usize>)] = &[
        ("a named pipe", &["check", "pipe.rhai"], None),
        ("a directory", &["check", "folder.rhai"], None),
        ("/dev/zero through a link", &["check", "zero.rhai"], None),
        ("/dev/zero", &["check", "/dev/zero"], None),
        ("/dev/stdin", &["check", "/dev/stdin"], None),
        ("a symlink loop", &["check", "loop1.rhai"], None),
        ("9 MiB", &["check", "huge.rhai"], None),
        ("a 5 MiB script", &["check", "five.rhai"], None),
        ("70,000 lines", &["check", "long.rhai"], None),
        ("a 3 MiB line", &["check", "wide.rhai"], Some(2)),
        ("not UTF-8", &["check", "binary.rhai"], None),
        (
            "a module that is a pipe",
            &["check", "module_pipe.rhai"],
            Some(1),
        ),
        ("file() of a pipe", &["check", "file_pipe.rhai"], Some(1)),
        ("file() of 9 MiB", &["check", "file_huge.rhai"], Some(1)),
        (
            "a module of 70,000 lines",
            &["check", "module_long.rhai"],
            Some(1),
        ),
        (
            "a secret file that is a pipe",
            &["check", "secret_pipe.rhai"],
            Some(1),
        ),
        ("a plan of a pipe", &["plan", "pipe.rhai"], None),
        (
            "a render of /dev/zero",
            &["render", "/dev/zero", "--out", "out"],
            None,
        ),
    ];
    let mut tally = Tally::default();
    for (case, args, line) in cases {
        let outcome = run_bounded(dir, args, &[]);
        assert_sound(case, &outcome);
        tally.add(case, &outcome);
        assert_eq!(outcome.run.code, 2, "{case}\n{}", outcome.run.transcript());
        assert!(
            outcome.run.stderr.contains("stack::"),
            "{case}\n{}",
            outcome.run.transcript()
        );
        if line.is_some() {
            assert_eq!(
                pointed_line(&outcome.run.stderr),
                *line,
                "{case}\n{}",
                outcome.run.transcript()
            );
        }
    }
    tally.report("made inputs");
}

/// Piped REPL input that never ends, never closes a bracket, or is not
/// text: the session stops with a diagnostic and exit 2, holding no more
/// than a script's worth of it.
#[test]
fn piped_repl_input_without_end_is_refused() {
    let ctx = TestContext::new();
    let open = ctx.write("open.txt", &"(()\n".repeat(70_000));
    let long_line = ctx.write("long.txt", &"x".repeat(5 << 20));
    let binary = ctx.path().join("binary.txt");
    std::fs::write(&binary, [0xff, 0xfe, b'\n']).expect("a binary input");
    let zero = PathBuf::from("/dev/zero");
    let mut tally = Tally::default();
    for (case, input) in [
        ("/dev/zero", &zero),
        ("70,000 lines never closed", &open),
        ("a 5 MiB line", &long_line),
        ("not UTF-8", &binary),
    ] {
        let outcome = run_fed(ctx.path(), &["repl"], &[], Some(input));
        assert_sound(case, &outcome);
        tally.add(case, &outcome);
        assert_eq!(outcome.run.code, 2, "{case}\n{}", outcome.run.transcript());
        assert!(
            outcome.run.stderr.contains("stack::repl::input"),
            "{case}\n{}",
            outcome.run.transcript()
        );
    }
    tally.report("piped REPL inputs");
}
