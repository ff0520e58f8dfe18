//! `stack repl`: the real binary driven through a pseudo-terminal, keys typed
//! and the screen read back; and once with piped stdin, as a script would.

use std::io::Write;
use std::process::{Command, Stdio};

use rexpect::process::WaitStatus;
use rexpect::session::{spawn_command, PtySession};

use crate::common::{stack_bin, TestContext};

const PROMPT: &str = "stack> ";
const TIMEOUT_MS: u64 = 10_000;
const CLUSTER: &str = r#"let c = cluster("dev", #{ provider: "kind", argocd_installed: true });"#;

/// A `stack repl` on a terminal in the context's directory, with its history
/// in `history` there.
fn repl(ctx: &TestContext, args: &[&str]) -> PtySession {
    let mut command = Command::new(stack_bin());
    command
        .arg("repl")
        .arg("--history")
        .arg(ctx.path().join("history"))
        .args(args)
        .current_dir(ctx.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("COLUMNS", "100")
        .env("HOME", ctx.path())
        // Long listings go through the pager on a terminal: one that
        // marks each line it shows, and never waits for a key.
        .env("PAGER", "sed 's/^/paged| /'");
    let mut session =
        spawn_command(command, Some(TIMEOUT_MS)).expect("start `stack repl` on a pty");
    expect(&mut session, PROMPT);
    session
}

/// What the terminal shows of raw pty output: the bytes (which the pty
/// reader hands over one `char` each) decoded as UTF-8, without escape
/// sequences and carriage returns.
fn screen(raw: &str) -> String {
    let bytes: Vec<u8> = raw.chars().map(|c| c as u32 as u8).collect();
    let text = String::from_utf8_lossy(&bytes);
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next() == Some('[') {
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
            }
            '\r' | '\x07' => {}
            c => out.push(c),
        }
    }
    out
}

/// Waits for `needle` (ASCII) and returns the screen up to it.
fn expect(session: &mut PtySession, needle: &str) -> String {
    let before = session
        .exp_string(needle)
        .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"));
    screen(&before)
}

/// Types a one-line input and waits for the next prompt; returns what was
/// shown in between (the input, its output and diagnostics). The editor
/// redraws the prompt only after completion or a line break inside an
/// input, so for a plain line the next prompt is the fresh one.
fn input(session: &mut PtySession, line: &str) -> String {
    session.send_line(line).expect("type a line");
    expect(session, PROMPT)
}

/// Types keys (Tab included) without pressing Enter.
fn keys(session: &mut PtySession, keys: &str) {
    session.send(keys).expect("type keys");
    session.flush().expect("flush the keys");
}

/// Fails when a diagnostic (they all carry a `stack::` code) was printed.
fn assert_clean(printed: &str) {
    assert!(!printed.contains("stack::"), "{printed}");
}

/// Leaves with `:quit` and checks the shell ends cleanly.
fn quit(mut session: PtySession) {
    session.send_line(":quit").expect("type :quit");
    session.exp_eof().expect("the shell ends");
    assert!(matches!(
        session.process().wait(),
        Ok(WaitStatus::Exited(_, 0))
    ));
}

#[test]
fn declarations_accumulate_over_inputs() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    let shown = input(&mut s, r#"namespace(c, "apps", #{})"#);
    assert!(shown.contains("namespace(dev/namespace/apps)"), "{shown}");
    let graph = input(&mut s, ":graph");
    assert!(graph.contains("\ncluster/dev\n"), "{graph}");
    assert!(
        graph.contains("dev/namespace/apps  ← cluster/dev"),
        "{graph}"
    );
    // Ctrl-D leaves as :quit does.
    s.send_control('d').expect("type Ctrl-D");
    s.exp_eof().expect("the shell ends");
    assert!(matches!(s.process().wait(), Ok(WaitStatus::Exited(_, 0))));
}

#[test]
fn an_open_bracket_continues_the_input() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    for line in [
        r#"helm_app(c, "podinfo", #{"#,
        r#"  repo: "https://stefanprodan.github.io/podinfo","#,
        r#"  chart: "podinfo","#,
        r#"  version: "6.5.0","#,
        r#"})"#,
    ] {
        s.send_line(line).expect("type a line");
    }
    // The whole input is evaluated once, when the last bracket closes.
    let printed = expect(&mut s, "helm_app(dev/helm_app/podinfo)");
    assert_clean(&printed);
    expect(&mut s, PROMPT);
    let graph = input(&mut s, ":graph");
    assert!(
        graph.contains("dev/helm_app/podinfo  ← cluster/dev"),
        "{graph}"
    );
    quit(s);
}

#[test]
fn a_script_error_is_a_diagnostic_and_the_session_goes_on() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    let error = input(&mut s, r#"let c = clustr("dev", #{ provider: "kind" });"#);
    assert!(error.contains("<repl:1>"), "{error}");
    assert!(error.contains("cluster"), "{error}");
    let still = input(&mut s, r#""still" + " here""#);
    assert!(still.contains("still here"), "{still}");
    let dup = input(&mut s, CLUSTER);
    assert!(!dup.contains("<repl:"), "{dup}");
    let twice = input(&mut s, r#"cluster("dev", #{ provider: "kind" })"#);
    assert!(
        twice.contains("replaced the earlier declaration of cluster/dev"),
        "{twice}"
    );
    let graph = input(&mut s, ":graph");
    assert!(graph.contains("\ncluster/dev\n"), "{graph}");
    quit(s);
}

#[test]
fn tab_completes_functions_and_handle_properties() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(
        &mut s,
        r#"let c = cluster("kestrel", #{ provider: "kind" });"#,
    );
    // A unique prefix of a standard-library function completes in place.
    keys(&mut s, "namesp\t");
    expect(&mut s, "namespace");
    s.send_line(r#"(c, "web", #{})"#).expect("finish the line");
    expect(&mut s, "namespace(kestrel/namespace/web)");
    expect(&mut s, PROMPT);
    // So does a unique prefix of a handle property.
    keys(&mut s, "c.na\t");
    expect(&mut s, "c.name");
    keys(&mut s, "\r");
    expect(&mut s, "kestrel");
    expect(&mut s, PROMPT);
    // After `.` alone, a second Tab lists every property.
    keys(&mut s, "c.\t\t");
    let mut listed = expect(&mut s, "argocd_namespace");
    listed += &expect(&mut s, PROMPT);
    for property in [
        "id",
        "name",
        "endpoint",
        "ca_data",
        "base_domain",
        "version",
    ] {
        assert!(listed.contains(property), "{property} in {listed}");
    }
    s.send_line("id").expect("finish the line");
    expect(&mut s, "cluster/kestrel");
    expect(&mut s, PROMPT);
    quit(s);
}

#[test]
fn an_imported_module_stays_for_later_inputs() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    let imported = input(&mut s, r#"import "std/traefik" as t;"#);
    assert_clean(&imported);
    input(&mut s, CLUSTER);
    // Module functions complete after `alias::`.
    keys(&mut s, "t::ins\t");
    expect(&mut s, "t::install");
    s.send_line("(c, #{})").expect("finish the line");
    let printed = expect(&mut s, "app: helm_app(dev/helm_app/traefik)");
    assert_clean(&printed);
    expect(&mut s, PROMPT);
    let graph = input(&mut s, ":graph");
    assert!(graph.contains("dev/helm_app/traefik"), "{graph}");
    quit(s);
}

#[test]
fn a_relative_module_is_imported_from_the_working_directory() {
    let ctx = TestContext::new();
    ctx.write(
        "lib/team.rhai",
        "fn install(c, name) { namespace(c, `team-${name}`, #{}) }\n",
    );
    let mut s = repl(&ctx, &[]);
    input(&mut s, r#"import "./lib/team" as team;"#);
    input(&mut s, CLUSTER);
    let shown = input(&mut s, r#"team::install(c, "web")"#);
    assert!(
        shown.contains("namespace(dev/namespace/team-web)"),
        "{shown}"
    );
    quit(s);
}

#[test]
fn show_prints_the_yaml_that_would_be_applied() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    input(
        &mut s,
        r#"namespace(c, "apps", #{ labels: #{ team: "web" } });"#,
    );
    let yaml = input(&mut s, ":show dev/namespace/apps");
    for line in [
        "apiVersion: v1",
        "kind: Namespace",
        "  name: apps",
        "    team: web",
    ] {
        assert!(yaml.contains(line), "{line:?} in {yaml}");
    }
    let typo = input(&mut s, ":show dev/namespace/aps");
    assert!(
        typo.contains("did you mean `dev/namespace/apps`?"),
        "{typo}"
    );
    let cluster = input(&mut s, ":show cluster/dev");
    assert!(cluster.contains("no Kubernetes objects"), "{cluster}");
    quit(s);
}

#[test]
fn reset_empties_the_session() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    input(&mut s, r#"namespace(c, "apps", #{});"#);
    let reset = input(&mut s, ":reset");
    assert!(reset.contains("Forgot every declaration"), "{reset}");
    let graph = input(&mut s, ":graph");
    assert!(graph.contains("Nothing is declared yet."), "{graph}");
    assert!(!graph.contains("cluster/dev"), "{graph}");
    let gone = input(&mut s, "c");
    assert!(gone.contains("<repl:3>"), "{gone}");
    quit(s);
}

#[test]
fn the_history_file_is_written_on_quit() {
    let ctx = TestContext::new();
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    input(&mut s, ":graph");
    quit(s);
    let history = std::fs::read_to_string(ctx.path().join("history")).expect("a history file");
    assert!(history.contains(CLUSTER), "{history}");
    assert!(history.contains(":graph"), "{history}");
    assert!(history.contains(":quit"), "{history}");
}

#[test]
fn load_evaluates_a_file_into_the_session() {
    let ctx = TestContext::new();
    ctx.write(
        "stack.rhai",
        &format!("{CLUSTER}\nlet ns = namespace(c, \"apps\", #{{}});\n"),
    );
    let mut s = repl(&ctx, &[]);
    let loaded = input(&mut s, ":load stack.rhai");
    assert!(
        loaded.contains("Loaded stack.rhai: 2 resources declared."),
        "{loaded}"
    );
    let name = input(&mut s, "ns.name");
    assert!(name.contains("\napps\n"), "{name}");
    let missing = input(&mut s, ":load nowhere.rhai");
    assert!(missing.contains("nowhere.rhai"), "{missing}");
    let graph = input(&mut s, ":graph");
    assert!(
        graph.contains("dev/namespace/apps  ← cluster/dev"),
        "{graph}"
    );
    quit(s);
}

/// Runs `stack repl ARGS` with `stdin` piped in; returns stdout and stderr.
fn piped(ctx: &TestContext, args: &[&str], stdin: &str) -> (String, String) {
    let mut child = Command::new(stack_bin())
        .arg("repl")
        .args(args)
        .current_dir(ctx.path())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("HOME", ctx.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start `stack repl`");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(stdin.as_bytes())
        .expect("write the inputs");
    let output = child.wait_with_output().expect("wait for `stack repl`");
    assert!(output.status.success(), "{output:?}");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn piped_inputs_are_read_line_by_line() {
    let ctx = TestContext::new();
    let script = format!(
        "{CLUSTER}\n\
         let n = namespace(c, \"apps\", #{{\n\
         \x20 labels: #{{ team: \"web\" }},\n\
         }});\n\
         n.name\n\
         :graph\n\
         clustr(\"x\")\n\
         `https://${{c.endpoint}}`\n"
    );
    let (stdout, stderr) = piped(&ctx, &[], &script);
    assert_eq!(
        stdout,
        "apps\n\
         cluster/dev\n\
         dev/namespace/apps  ← cluster/dev\n\
         https://(known after apply)\n"
    );
    assert!(stderr.contains("<repl:4>"), "{stderr}");
    assert!(!stderr.contains("<repl:5>"), "{stderr}");
}

#[test]
fn a_stack_given_on_the_command_line_is_loaded_first() {
    let ctx = TestContext::new();
    ctx.write(
        "dev.rhai",
        &format!("{CLUSTER}\nnamespace(c, param(\"ns\", \"apps\"), #{{}});\n"),
    );
    let (stdout, stderr) = piped(&ctx, &["dev.rhai", "--set", "ns=web"], ":graph\n:plan\n");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        stdout.starts_with("Loaded dev.rhai: 2 resources declared.\ncluster/dev\ndev/namespace/web  ← cluster/dev\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Plan for stack `dev`"), "{stdout}");
    assert!(stdout.contains("Plan: 2 to create"), "{stdout}");
}

/// Entering a declaration again replaces it, `:forget` drops one, long
/// listings are paged, and Tab completes option keys inside the `#{ }` of
/// a call and module paths after `import "`.
#[test]
fn fixing_a_declaration_forgetting_one_paging_and_completing_options() {
    let ctx = TestContext::new();
    ctx.write("lib/team.rhai", "fn install(c) { c }\n");
    let mut s = repl(&ctx, &[]);
    input(&mut s, CLUSTER);
    input(
        &mut s,
        r#"namespace(c, "apps", #{ labels: #{ team: "web" } });"#,
    );
    let fixed = input(
        &mut s,
        r#"namespace(c, "apps", #{ labels: #{ team: "api" } });"#,
    );
    assert!(
        fixed.contains("replaced the earlier declaration of dev/namespace/apps"),
        "{fixed}"
    );
    assert_clean(&fixed);
    let yaml = input(&mut s, ":show dev/namespace/apps");
    assert!(yaml.contains("team: api"), "{yaml}");

    let forgot = input(&mut s, ":forget dev/namespace/apps");
    assert!(forgot.contains("Forgot dev/namespace/apps"), "{forgot}");
    let graph = input(&mut s, ":graph");
    assert!(!graph.contains("dev/namespace/apps"), "{graph}");

    // `:help` is longer than a screenful: it goes through $PAGER.
    let help = input(&mut s, ":help");
    assert!(help.contains("paged|   :forget ID"), "{help}");

    keys(&mut s, "namespace(c, \"web\", #{ lab\t");
    expect(&mut s, "labels: ");
    s.send_line("#{ team: \"web\" } })")
        .expect("finish the line");
    expect(&mut s, "namespace(dev/namespace/web)");
    expect(&mut s, PROMPT);

    keys(&mut s, "import \"lib/te\t");
    expect(&mut s, "lib/team");
    s.send_line("\" as team;").expect("finish the line");
    let imported = expect(&mut s, PROMPT);
    assert_clean(&imported);
    quit(s);
}
