//! The commands as a user runs them: exit codes, `check`,
//! `plan` against recorded state, `render`, `graph`, command-line mistakes
//! and colour.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use stack_engine::state::{ResourceState, State};
use stack_engine::{plan, Kind, ResourceId};

use crate::common::{self, Run, TestContext};

/// A small platform: a cluster delivered by GitOps, namespaces, a chart
/// that reads a cluster output, and a raw object.
const DEV: &str = r#"
let c = cluster("dev", #{
    provider: "kind",
    version: "1.30",
    base_domain: "dev.example.com",
    delivery: "gitops",
    gitops: #{ repo: "https://git.example.com/platform.git", path: "clusters" },
});
let monitoring = namespace(c, "monitoring", #{ labels: #{ team: "platform" } });
helm_app(c, "grafana", #{
    repo: "https://grafana.github.io/helm-charts",
    chart: "grafana",
    version: "8.0.0",
    namespace: "monitoring",
    values: #{ ingress: #{ enabled: true, hosts: [`grafana.${c.base_domain}`] } },
    depends_on: [monitoring],
});
for team in param("teams", "payments,search").split(",") {
    namespace(c, `team-${team}`, #{ labels: #{ team: team } });
}
manifest(c, #{
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: #{ name: "settings", namespace: "monitoring" },
    data: #{ level: "info" },
}, #{ depends_on: [monitoring] });
"#;

fn dev() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("dev.rhai", DEV);
    ctx
}

fn snapshot(ctx: &TestContext, name: &str, run: &Run) {
    common::settings(Some(ctx.path())).bind(|| {
        insta::assert_snapshot!(format!("cli__{name}"), run.transcript());
    });
}

fn parse_json(run: &Run) -> Json {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", run.transcript()))
}

/// The state `stack run` would record after applying `file` as it is,
/// rebuilt from `stack plan --output json` on an empty state: every field
/// of a create is one leaf of the resource's canonical inputs.
fn applied_state(ctx: &TestContext, file: &str) -> State {
    let run = ctx.stack(&["plan", file, "--output", "json", "--state", "none.json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let plan = parse_json(&run);
    let mut state = State::empty(plan["stack"].as_str().expect("the stack's name"));
    state.salt = "0123456789abcdef0123456789abcdef".into();
    state.serial = 1;
    for change in plan["changes"].as_array().expect("changes") {
        assert_eq!(change["action"], json!("create"), "{change:#}");
        let mut inputs = json!({});
        for field in change["fields"].as_array().expect("fields") {
            let path = field["path"].as_str().expect("a field path");
            set_path(&mut inputs, &path_steps(path), field["after"].clone());
        }
        state.resources.insert(
            ResourceId::new(change["id"].as_str().expect("an id")),
            ResourceState {
                kind: serde_json::from_value(change["kind"].clone()).expect("a kind"),
                inputs_hash: plan::hash(&inputs),
                inputs,
                outputs: BTreeMap::new(),
                objects: Vec::new(),
                depends_on: Vec::new(),
                cluster: None,
                direct: false,
                deleting: false,
                intent: None,
                moved_from: None,
            },
        );
    }
    state
}

/// One step of a field path: `values.hosts[0]["app.kubernetes.io/name"]`.
enum Step {
    Key(String),
    Index(usize),
}

fn path_steps(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut key = String::new();
    let mut chars = path.chars().peekable();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut key, &mut steps),
            '[' => {
                flush(&mut key, &mut steps);
                let mut inner = String::new();
                if chars.peek() == Some(&'"') {
                    chars.next();
                    while let Some(d) = chars.next() {
                        match d {
                            '\\' => inner.extend(chars.next()),
                            '"' => break,
                            d => inner.push(d),
                        }
                    }
                    chars.next();
                    steps.push(Step::Key(inner));
                } else {
                    for d in chars.by_ref() {
                        if d == ']' {
                            break;
                        }
                        inner.push(d);
                    }
                    steps.push(Step::Index(inner.parse().expect("a list index")));
                }
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut steps);
    steps
}

fn set_path(root: &mut Json, steps: &[Step], value: Json) {
    let Some((first, rest)) = steps.split_first() else {
        *root = value;
        return;
    };
    let slot = match first {
        Step::Key(key) => {
            if !root.is_object() {
                *root = json!({});
            }
            root.as_object_mut()
                .expect("an object")
                .entry(key.clone())
                .or_insert(Json::Null)
        }
        Step::Index(i) => {
            if !root.is_array() {
                *root = json!([]);
            }
            let items = root.as_array_mut().expect("an array");
            if items.len() <= *i {
                items.resize(i + 1, Json::Null);
            }
            &mut items[*i]
        }
    };
    set_path(slot, rest, value);
}

fn write_state(path: &Path, state: &State) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the state directory");
    }
    let text = serde_json::to_string_pretty(state).expect("serialize the state");
    std::fs::write(path, text).expect("write the state");
}

/// Changes one recorded input of `id` and recomputes its hash, as if the
/// script had said something else when it was applied.
fn record_input(state: &mut State, id: &str, pointer: &str, value: Json) {
    let resource = state
        .resources
        .get_mut(&ResourceId::new(id))
        .unwrap_or_else(|| panic!("{id} is in the state"));
    *resource
        .inputs
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{id} has input {pointer}")) = value;
    resource.inputs_hash = plan::hash(&resource.inputs);
}

#[test]
fn check_prints_a_summary() {
    let ctx = dev();
    let run = ctx.stack(&["check", "dev.rhai"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("stack `dev` declares 6 resources on 1 cluster"),
        "{}",
        run.transcript()
    );
    snapshot(&ctx, "check_summary", &run);
}

#[test]
fn check_reads_set_parameters() {
    let ctx = dev();
    let run = ctx.stack(&["check", "dev.rhai", "--set", "teams=web,data,ml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for team in ["web", "data", "ml"] {
        run.assert_stdout(&format!("dev/namespace/team-{team}"));
    }
    assert!(
        !run.stdout.contains("team-payments"),
        "{}",
        run.transcript()
    );
}

#[test]
fn values_files_merge_in_order_and_set_wins() {
    let ctx = dev();
    ctx.write("teams.yaml", "teams: [web, data]\n");
    ctx.write("more.json", r#"{"teams": ["web", "data", "ml"]}"#);
    let ids = |run: &Run| -> Vec<String> {
        assert_eq!(run.code, 0, "{}", run.transcript());
        run.stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("dev/namespace/team-"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        ids(&ctx.stack(&["check", "dev.rhai", "--values", "teams.yaml"])),
        ["web", "data"]
    );
    assert_eq!(
        ids(&ctx.stack(&["check", "dev.rhai", "-f", "teams.yaml", "-f", "more.json"])),
        ["web", "data", "ml"]
    );
    assert_eq!(
        ids(&ctx.stack(&["check", "dev.rhai", "-f", "more.json", "--set", "teams=api"])),
        ["api"]
    );
    ctx.write("broken.yaml", "teams: [web,\n");
    let broken = ctx.stack(&["check", "dev.rhai", "-f", "broken.yaml"]);
    assert_eq!(broken.code, 2, "{}", broken.transcript());
    broken.assert_stderr("stack::cli::values_invalid");
    broken.assert_stderr("broken.yaml");
    let missing = ctx.stack(&["plan", "dev.rhai", "-f", "nowhere.yaml"]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
    missing.assert_stderr("cannot read the values file nowhere.yaml");
}

#[test]
fn a_missing_script_is_a_command_line_error() {
    let ctx = TestContext::new();
    let run = ctx.stack(&["check", "missing.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("cannot read the stack missing.rhai");
}

#[test]
fn plan_on_an_empty_state_creates_everything() {
    let ctx = dev();
    let run = ctx.stack(&["plan", "dev.rhai"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("Plan: 6 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged."),
        "{}",
        run.transcript()
    );
    assert!(
        !ctx.path().join(".stack").exists(),
        "plan must not write state"
    );
    snapshot(&ctx, "plan_empty_state", &run);
}

#[test]
fn plan_as_json_for_pipelines() {
    let ctx = dev();
    let run = ctx.stack(&["plan", "dev.rhai", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let plan = parse_json(&run);
    assert_eq!(plan["format_version"], json!(1));
    assert_eq!(plan["stack"], json!("dev"));
    assert_eq!(
        plan["summary"],
        json!({ "create": 6, "adopt": 0, "update": 0, "replace": 0, "delete": 0, "unchanged": 0 })
    );
    let changes = plan["changes"].as_array().expect("changes is a list");
    let ids: Vec<&str> = changes.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "cluster/dev",
            "dev/namespace/monitoring",
            "dev/helm_app/grafana",
            "dev/namespace/team-payments",
            "dev/namespace/team-search",
            "dev/manifest/ConfigMap/monitoring/settings",
        ]
    );
    assert!(changes.iter().all(|c| c["action"] == json!("create")));
    let grafana = &changes[2];
    assert!(
        grafana["fields"].as_array().is_some_and(|fields| fields
            .iter()
            .any(|f| f["path"] == json!("values.ingress.hosts[0]")
                && f["after"] == json!("grafana.dev.example.com"))),
        "{grafana:#}"
    );
    assert_eq!(grafana["unknown_outputs"], json!(["health", "revision"]));
}

#[test]
fn detailed_exitcode_is_3_with_changes_and_0_without() {
    let ctx = dev();
    let run = ctx.stack(&["plan", "dev.rhai", "--detailed-exitcode"]);
    assert_eq!(run.code, 3, "{}", run.transcript());

    let state = applied_state(&ctx, "dev.rhai");
    write_state(&ctx.path().join(".stack/dev.state.json"), &state);
    let run = ctx.stack(&["plan", "dev.rhai", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("No changes: the state matches the script."),
        "{}",
        run.transcript()
    );
    run.assert_stdout("6 unchanged.");

    let run = ctx.stack(&[
        "plan",
        "dev.rhai",
        "--detailed-exitcode",
        "--set",
        "teams=payments",
    ]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    run.assert_stdout("- dev/namespace/team-search  (delete)");
}

#[test]
fn plan_against_recorded_state_shows_every_action() {
    let ctx = dev();
    let mut state = applied_state(&ctx, "dev.rhai");
    // Update: the namespace was applied with another label.
    record_input(
        &mut state,
        "dev/namespace/monitoring",
        "/labels/team",
        json!("observability"),
    );
    // Replace: the app was installed into another namespace.
    record_input(
        &mut state,
        "dev/helm_app/grafana",
        "/namespace",
        json!("observability"),
    );
    // Delete: a namespace the script no longer declares.
    let legacy_inputs = json!({ "labels": { "team": "legacy" } });
    state.resources.insert(
        ResourceId::new("dev/namespace/legacy"),
        ResourceState {
            kind: Kind::Namespace,
            inputs_hash: plan::hash(&legacy_inputs),
            inputs: legacy_inputs,
            outputs: BTreeMap::from([("name".to_string(), json!("legacy"))]),
            objects: Vec::new(),
            depends_on: vec![ResourceId::new("cluster/dev")],
            cluster: Some(ResourceId::new("cluster/dev")),
            direct: false,
            deleting: false,
            intent: None,
            moved_from: None,
        },
    );
    write_state(&ctx.path().join("recorded.json"), &state);

    let run = ctx.stack(&["plan", "dev.rhai", "--state", "recorded.json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    snapshot(&ctx, "plan_every_action", &run);

    let run = ctx.stack(&[
        "plan",
        "dev.rhai",
        "--state",
        "recorded.json",
        "--output",
        "json",
    ]);
    let plan = parse_json(&run);
    assert_eq!(
        plan["summary"],
        json!({ "create": 0, "adopt": 0, "update": 1, "replace": 1, "delete": 1, "unchanged": 4 })
    );
    let action = |id: &str| {
        plan["changes"]
            .as_array()
            .and_then(|changes| changes.iter().find(|c| c["id"] == json!(id)))
            .map(|c| c["action"].clone())
            .unwrap_or(Json::Null)
    };
    assert_eq!(action("dev/helm_app/grafana"), json!("replace"));
    assert_eq!(action("dev/namespace/monitoring"), json!("update"));
    assert_eq!(action("dev/namespace/legacy"), json!("delete"));
    assert_eq!(action("cluster/dev"), json!("no-op"));

    let run = ctx.stack(&[
        "plan",
        "dev.rhai",
        "--state",
        "recorded.json",
        "--detailed-exitcode",
    ]);
    assert_eq!(run.code, 3, "{}", run.transcript());
}

#[test]
fn replacing_a_cluster_replaces_everything_on_it() {
    let ctx = dev();
    let mut state = applied_state(&ctx, "dev.rhai");
    record_input(&mut state, "cluster/dev", "/provider", json!("existing"));
    write_state(&ctx.path().join("recorded.json"), &state);
    let run = ctx.stack(&[
        "plan",
        "dev.rhai",
        "--state",
        "recorded.json",
        "--output",
        "json",
    ]);
    let plan = parse_json(&run);
    let changes = plan["changes"].as_array().expect("changes");
    assert!(
        changes.iter().all(|c| c["action"] == json!("replace")),
        "{plan:#}"
    );
    let on_cluster = changes
        .iter()
        .find(|c| c["id"] == json!("dev/namespace/monitoring"))
        .expect("the namespace");
    assert_eq!(
        on_cluster["reason"],
        json!("its cluster `cluster/dev` is replaced")
    );
}

#[test]
fn a_state_of_another_stack_is_refused() {
    let ctx = dev();
    let mut state = applied_state(&ctx, "dev.rhai");
    state.stack = "prod".into();
    write_state(&ctx.path().join("prod.json"), &state);
    let run = ctx.stack(&["plan", "dev.rhai", "--state", "prod.json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("belongs to stack `prod`, not `dev`");
}

#[test]
fn a_corrupt_state_file_is_a_runtime_failure() {
    let ctx = dev();
    ctx.write(
        ".stack/dev.state.json",
        "{ \"version\": 1, \"stack\": \"dev\", ",
    );
    let run = ctx.stack(&["plan", "dev.rhai"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.is_empty(), "{}", run.transcript());
    run.assert_stderr("is not valid");
    snapshot(&ctx, "corrupt_state", &run);

    ctx.write(".stack/dev.state.json", r#"{ "version": 7 }"#);
    let run = ctx.stack(&["plan", "dev.rhai"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("has format version 7");

    // A field this release does not know would be lost by the next save.
    let written = r#"{ "version": 1, "stack": "dev", "serial": 3, "salt": "s", "identity": "i",
        "resources": {}, "retention": "forever" }"#;
    ctx.write(".stack/dev.state.json", written);
    let run = ctx.stack(&["plan", "dev.rhai"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("unknown field `retention`");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join(".stack/dev.state.json")).expect("state"),
        written,
        "the state is left as it was"
    );
}

#[test]
fn command_line_mistakes_exit_2() {
    let ctx = dev();
    let cases: &[(&str, &[&str])] = &[
        ("unknown_flag", &["plan", "dev.rhai", "--frobnicate"]),
        (
            "set_without_equals",
            &["plan", "dev.rhai", "--set", "teams"],
        ),
        ("unknown_command", &["chekc", "dev.rhai"]),
        ("missing_file_argument", &["check"]),
        (
            "bad_output_format",
            &["plan", "dev.rhai", "--output", "yaml"],
        ),
        (
            "set_twice",
            &["plan", "dev.rhai", "--set", "teams=a", "--set", "teams=b"],
        ),
    ];
    for (name, args) in cases {
        let run = ctx.stack(args);
        assert_eq!(run.code, 2, "{name}: {}", run.transcript());
        assert!(run.stdout.is_empty(), "{name}: {}", run.transcript());
        snapshot(&ctx, &format!("usage_{name}"), &run);
    }
}

/// Every file below `dir` with its bytes, by path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("below the root")
                    .to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read a file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn render_is_deterministic_and_prunes_what_it_wrote_before() {
    let ctx = dev();
    let out = ctx.path().join("out");
    let first = ctx.stack(&["render", "dev.rhai", "--out", "out"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    snapshot(&ctx, "render_report", &first);
    let files = tree(&out);
    let names: Vec<String> = files
        .keys()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(
        names,
        [
            "dev/grafana.yaml",
            "dev/manifests/configmap-monitoring-settings.yaml",
            "dev/namespaces/monitoring.yaml",
            "dev/namespaces/team-payments.yaml",
            "dev/namespaces/team-search.yaml",
            "dev/root.yaml",
        ]
    );

    let again = ctx.stack(&["render", "dev.rhai", "--out", "out"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(tree(&out), files, "a second render changed the files");

    // A file the user keeps in the same tree is not render's to remove.
    ctx.write("out/dev/README.md", "hand-written\n");
    ctx.write("out/dev/extra.yaml", "kind: ConfigMap\n");
    let fewer = ctx.stack(&[
        "render",
        "dev.rhai",
        "--out",
        "out",
        "--set",
        "teams=payments",
    ]);
    assert_eq!(fewer.code, 0, "{}", fewer.transcript());
    let after = tree(&out);
    assert!(
        !after.contains_key(Path::new("dev/namespaces/team-search.yaml")),
        "the stale file was kept: {:?}",
        after.keys().collect::<Vec<_>>()
    );
    assert!(after.contains_key(Path::new("dev/README.md")));
    assert!(after.contains_key(Path::new("dev/extra.yaml")));
    for (path, bytes) in &files {
        if path != Path::new("dev/namespaces/team-search.yaml") {
            assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
        }
    }
}

/// A cluster without a GitOps repository, or with one that is a path on
/// this machine, still renders: its objects and Applications, and a note
/// instead of a root Application no Argo CD could clone.
#[test]
fn render_works_without_a_repository_url() {
    let ctx = TestContext::new();
    ctx.write(
        "direct.rhai",
        r#"
let c = cluster("dev", #{ provider: "kind" });
let local = cluster("lab", #{ provider: "kind", delivery: "gitops", gitops: #{ repo: "../lab-repo" } });
namespace(c, "team-web");
namespace(local, "team-lab");
"#,
    );
    let run = ctx.stack(&["render", "direct.rhai", "--out", "out"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let files: Vec<String> = tree(&ctx.path().join("out"))
        .keys()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(
        files,
        [
            "dev/namespaces/team-web.yaml",
            "lab/namespaces/team-lab.yaml"
        ]
    );
    run.assert_stdout("dev/root.yaml not written");
    run.assert_stdout("lab/root.yaml not written");
    run.assert_stdout("--repo-url");

    let with_url = ctx.stack(&[
        "render",
        "direct.rhai",
        "--out",
        "out",
        "--repo-url",
        "https://git.example.com/platform.git",
    ]);
    assert_eq!(with_url.code, 0, "{}", with_url.transcript());
    assert!(ctx.path().join("out/dev/root.yaml").exists());
    assert!(ctx.path().join("out/lab/root.yaml").exists());
}

#[test]
fn render_refuses_an_output_known_only_after_apply() {
    let ctx = TestContext::new();
    ctx.write(
        "dev.rhai",
        r#"
let c = cluster("dev", #{
    provider: "kind",
    delivery: "gitops",
    gitops: #{ repo: "https://git.example.com/platform.git" },
});
manifest(c, #{
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: #{ name: "cluster-info", namespace: "default" },
    data: #{ endpoint: c.endpoint },
});
"#,
    );
    let run = ctx.stack(&["render", "dev.rhai", "--out", "out"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        !ctx.path().join("out").exists(),
        "a failed render wrote files"
    );
    snapshot(&ctx, "render_unknown_output", &run);
}

#[test]
fn graph_in_every_format() {
    let ctx = dev();
    for format in ["text", "dot", "mermaid"] {
        let run = ctx.stack(&["graph", "dev.rhai", "-o", format]);
        assert_eq!(run.code, 0, "{format}: {}", run.transcript());
        snapshot(&ctx, &format!("graph_{format}"), &run);
    }
    let default = ctx.stack(&["graph", "dev.rhai"]);
    let text = ctx.stack(&["graph", "dev.rhai", "--format", "text"]);
    assert_eq!(default.stdout, text.stdout, "`--format` is still read");
}

#[test]
fn check_and_graph_as_json_list_every_resource_with_its_needs() {
    let ctx = dev();
    let check = ctx.stack(&["check", "dev.rhai", "-o", "json"]);
    let graph = ctx.stack(&["graph", "dev.rhai", "--output", "json"]);
    assert_eq!(check.code, 0, "{}", check.transcript());
    assert_eq!(check.stdout, graph.stdout, "one document for both");
    let document = parse_json(&check);
    assert_eq!(document["stack"], json!("dev"));
    let resources = document["resources"].as_array().expect("a list");
    assert_eq!(resources.len(), 6);
    let grafana = resources
        .iter()
        .find(|r| r["id"] == json!("dev/helm_app/grafana"))
        .expect("grafana");
    assert_eq!(grafana["kind"], json!("helm_app"));
    assert_eq!(grafana["cluster"], json!("cluster/dev"));
    assert_eq!(
        grafana["needs"],
        json!(["cluster/dev", "dev/namespace/monitoring"])
    );
}

#[test]
fn terraform_and_helm_words_are_aliases() {
    let ctx = dev();
    let validate = ctx.stack(&["validate", "dev.rhai"]);
    assert_eq!(validate.code, 0, "{}", validate.transcript());
    assert_eq!(validate.stdout, ctx.stack(&["check", "dev.rhai"]).stdout);
    let template = ctx.stack(&["template", "dev.rhai", "--out", "-"]);
    assert_eq!(template.code, 0, "{}", template.transcript());
    let apply = ctx.stack(&["apply", "dev.rhai"]);
    assert_eq!(
        apply.code,
        2,
        "no terminal, no --yes: {}",
        apply.transcript()
    );
    apply.assert_stderr("pass `--yes`");
}

#[test]
fn render_to_stdout_is_the_files_as_one_stream() {
    let ctx = dev();
    let run = ctx.stack(&["render", "dev.rhai", "--out", "-"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let written = ctx.stack(&["render", "dev.rhai", "--out", "out"]);
    assert_eq!(written.code, 0, "{}", written.transcript());
    let files = tree(&ctx.path().join("out"));
    let sources: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# Source: "))
        .collect();
    assert!(!sources.is_empty(), "{}", run.stdout);
    for source in &sources {
        assert!(
            files.contains_key(Path::new(source)),
            "{source} is not a rendered file"
        );
    }
    // Every document of every file, in the same order, as YAML.
    let streamed: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&run.stdout)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect();
    let from_files: Vec<serde_yaml::Value> = files
        .values()
        .flat_map(|bytes| {
            let text = String::from_utf8(bytes.clone()).expect("utf-8");
            serde_yaml::Deserializer::from_str(&text)
                .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
                .collect::<Vec<serde_yaml::Value>>()
        })
        .filter(|d: &serde_yaml::Value| !d.is_null())
        .collect();
    assert_eq!(streamed, from_files);
    assert!(!ctx.path().join("-").exists(), "`-` is not a directory");
}

#[test]
fn completions_load_in_bash() {
    let ctx = TestContext::new();
    let run = ctx.stack(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    ctx.write("completions.bash", &run.stdout);
    // Loaded, the function completes the commands after `stack`.
    let script = "source ./completions.bash; COMP_WORDS=(stack pl); COMP_CWORD=1; \
                  _stack stack pl stack; printf '%s\\n' \"${COMPREPLY[@]}\"";
    let out = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(ctx.path())
        .output()
        .expect("bash runs");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(words.trim(), "plan", "{words}");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let run = ctx.stack(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.transcript());
        assert!(run.stdout.contains("stack"), "{shell}");
    }
}

/// Runs `stack` on a pseudo-terminal (stdout and stderr both), where colour
/// is allowed unless `NO_COLOR` is set. Returns everything it printed.
fn on_terminal(dir: &Path, args: &[&str], no_color: bool) -> String {
    let mut command = std::process::Command::new(common::stack_bin());
    command.args(args).current_dir(dir).env("COLUMNS", "100");
    if no_color {
        command.env("NO_COLOR", "1");
    } else {
        command.env_remove("NO_COLOR");
    }
    let mut session =
        rexpect::session::spawn_command(command, Some(30_000)).expect("start on a terminal");
    session.exp_eof().expect("read until the end")
}

#[test]
fn no_color_means_no_escape_codes() {
    let ctx = dev();
    ctx.write(
        "broken.rhai",
        "let c = cluster(\"dev\", #{ provider: \"kindd\" });\n",
    );
    let coloured = on_terminal(ctx.path(), &["plan", "dev.rhai"], false);
    assert!(
        coloured.contains("\x1b["),
        "a terminal without NO_COLOR gets colour:\n{coloured}"
    );
    for args in [
        &["plan", "dev.rhai"][..],
        &["check", "dev.rhai"],
        &["graph", "dev.rhai"],
        &["check", "broken.rhai"],
    ] {
        let plain = on_terminal(ctx.path(), args, true);
        assert!(
            !plain.contains('\x1b'),
            "{args:?} printed escape codes with NO_COLOR:\n{plain:?}"
        );
        assert!(!plain.trim().is_empty(), "{args:?} printed nothing");
    }
    let diagnostic = on_terminal(ctx.path(), &["check", "broken.rhai"], true);
    assert!(diagnostic.contains("did you mean `kind`?"), "{diagnostic}");
    for flag in [&["--no-color"][..], &["--color", "never"]] {
        let args = [&["plan", "dev.rhai"][..], flag].concat();
        let plain = on_terminal(ctx.path(), &args, false);
        assert!(!plain.contains('\x1b'), "{flag:?}: {plain:?}");
    }
    // Forced colour reaches a pipe too.
    let forced = ctx.stack(&["plan", "dev.rhai", "--color", "always"]);
    assert!(forced.stdout.contains("\x1b["), "{}", forced.transcript());
}

/// `check` lints without secrets: one it cannot read is an unknown
/// sensitive value it names, while `plan` still requires it; and it reports
/// every refused option across declarations in one invocation.
#[test]
fn check_lints_without_secrets_and_reports_every_refused_option() {
    let ctx = TestContext::new();
    let stack = r#"
let c = cluster("dev", #{ provider: "kind", version: "1.30" });
let ns = namespace(c, "web", #{ labels: #{ team: "web" } });
manifest(c, #{ apiVersion: "v1", kind: "Secret", metadata: #{ name: "db", namespace: ns.name },
               stringData: #{ password: secret("env:STACK_TEST_UNSET_PASSWORD") } });
"#;
    ctx.write("lint.rhai", stack);
    let check = ctx.stack(&["check", "lint.rhai"]);
    assert_eq!(check.code, 0, "{}", check.transcript());
    check.assert_stderr("env:STACK_TEST_UNSET_PASSWORD");
    let plan = ctx.stack(&["plan", "lint.rhai"]);
    assert_eq!(plan.code, 2, "{}", plan.transcript());
    plan.assert_stderr("STACK_TEST_UNSET_PASSWORD");

    ctx.write(
        "lint.rhai",
        &stack
            .replace("version:", "versoin:")
            .replace("labels:", "lables:"),
    );
    let many = ctx.stack(&["check", "lint.rhai"]);
    assert_eq!(many.code, 2, "{}", many.transcript());
    many.assert_stderr("`versoin`");
    many.assert_stderr("`lables`");
    // `plan` stops at the first.
    let plan = ctx.stack(&["plan", "lint.rhai"]);
    assert_eq!(plan.code, 2, "{}", plan.transcript());
    assert!(!plan.stderr.contains("`lables`"), "{}", plan.transcript());

    // Problems of the graph are reported together too.
    ctx.write(
        "apps.rhai",
        r#"
let c = cluster("dev", #{ provider: "kind" });
helm_app(c, "grafana", #{ repo: "https://grafana.github.io/helm-charts", chart: "grafana", version: "8.0.0" });
helm_app(c, "loki", #{ repo: "https://grafana.github.io/helm-charts", chart: "loki", version: "6.0.0" });
"#,
    );
    let apps = ctx.stack(&["check", "apps.rhai"]);
    assert_eq!(apps.code, 2, "{}", apps.transcript());
    apps.assert_stderr("dev/helm_app/grafana");
    apps.assert_stderr("dev/helm_app/loki");
}

/// A plan folds the fields of large creates unless `--verbose`, and
/// `--compact` shows one line per resource with its number of fields.
#[test]
fn plan_folds_large_creates_and_compacts() {
    let ctx = TestContext::new();
    ctx.write(
        "big.rhai",
        r#"
let c = cluster("dev", #{ provider: "kind" });
let data = #{};
for i in 0..12 { data[`key${i}`] = `value${i}`; }
manifest(c, #{ apiVersion: "v1", kind: "ConfigMap", metadata: #{ name: "big", namespace: "default" }, data: data });
manifest(c, #{ apiVersion: "v1", kind: "ConfigMap", metadata: #{ name: "small", namespace: "default" }, data: #{ a: "b" } });
"#,
    );
    let folded = ctx.stack(&["plan", "big.rhai"]);
    assert_eq!(folded.code, 0, "{}", folded.transcript());
    assert!(
        !folded.stdout.contains("object.data.key11"),
        "{}",
        folded.stdout
    );
    folded.assert_stdout("object.data.a = \"b\"");
    let verbose = ctx.stack(&["plan", "big.rhai", "--verbose"]);
    verbose.assert_stdout("object.data.key11 = \"value11\"");
    let compact = ctx.stack(&["plan", "big.rhai", "--compact"]);
    assert_eq!(compact.code, 0, "{}", compact.transcript());
    let lines: Vec<&str> = compact
        .stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", compact.stdout);
    assert!(
        lines.iter().all(|l| l.contains("(create, ")),
        "{}",
        compact.stdout
    );
    let both = ctx.stack(&["plan", "big.rhai", "--compact", "--verbose"]);
    assert_eq!(both.code, 2, "{}", both.transcript());
}

/// `stack init` writes a starter stack that checks, tests and plans as it
/// is; a second init into the same place writes nothing.
#[test]
fn init_writes_a_starter_stack_that_checks_tests_and_plans() {
    let ctx = TestContext::new();
    let init = ctx.stack(&["init", "starter"]);
    assert_eq!(init.code, 0, "{}", init.transcript());
    let files: Vec<String> = tree(&ctx.path().join("starter"))
        .keys()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(
        files,
        [
            "modules/team.rhai",
            "modules/team_test.rhai",
            "platform.rhai"
        ]
    );
    for args in [
        &["check", "starter/platform.rhai"][..],
        &["test", "starter/modules"],
        &["plan", "starter/platform.rhai"],
    ] {
        let run = ctx.stack(args);
        assert_eq!(run.code, 0, "{args:?}\n{}", run.transcript());
    }
    ctx.write("starter/platform.rhai", "// mine\n");
    let again = ctx.stack(&["init", "starter"]);
    assert_eq!(again.code, 2, "{}", again.transcript());
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("starter/platform.rhai")).expect("kept"),
        "// mine\n"
    );
}

/// `stack definitions --out DIR` writes a definition file for the standard
/// library (every function, with its options) and one per standard module.
#[test]
fn definitions_are_written_for_editors() {
    let ctx = TestContext::new();
    let run = ctx.stack(&["definitions", "--out", "defs"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let files = tree(&ctx.path().join("defs"));
    let text = |name: &str| {
        String::from_utf8(files.get(Path::new(name)).cloned().unwrap_or_default()).expect("UTF-8")
    };
    let stack = text("stack.d.rhai");
    for function in [
        "cluster",
        "namespace",
        "helm_app",
        "manifest",
        "secret",
        "output",
    ] {
        assert!(stack.contains(&format!("fn {function}(")), "{function}");
    }
    assert!(stack.contains("/// - `base_domain` (string)"), "{stack}");
    let traefik = text("std/traefik.d.rhai");
    assert!(
        traefik.contains("fn install(cluster: ?, opts: Map) -> Map;"),
        "{traefik}"
    );
}

/// `docs/commands/` is what the binary says of its commands.
#[test]
fn the_command_pages_match_the_binary() {
    let ctx = TestContext::new();
    let run = ctx.stack(&["reference", "--commands", "pages"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let generated = tree(&ctx.path().join("pages"));
    let committed = tree(&common::repo_root().join("docs/commands"));
    assert!(
        generated == committed,
        "docs/commands is out of date: regenerate it with `cargo run -q -- reference --commands docs/commands` (differing: {:?})",
        generated
            .keys()
            .chain(committed.keys())
            .filter(|k| generated.get(*k) != committed.get(*k))
            .collect::<std::collections::BTreeSet<_>>()
    );
}

/// `stack diff` of a cluster not created yet compares nothing there and
/// says so, instead of failing on a cluster it cannot reach.
#[test]
fn diff_names_a_cluster_it_cannot_reach() {
    let ctx = TestContext::new();
    ctx.write(
        "new.rhai",
        r#"
let c = cluster("dev", #{ provider: "kind" });
namespace(c, "team-web");
"#,
    );
    let diff = ctx.stack(&["diff", "new.rhai", "--detailed-exitcode"]);
    assert_eq!(diff.code, 0, "{}", diff.transcript());
    diff.assert_stderr("cluster/dev cannot be reached");
}
