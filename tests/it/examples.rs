//! Every example stack (`stacks/`) and fixture stack (`tests/fixtures/stacks/`)
//! checks, plans, graphs and renders; the output of each is snapshotted.
//! Stacks are found by listing the directories, so a new one is covered
//! without touching this file.

use std::path::{Path, PathBuf};

use crate::common::{repo_root, run_in, settings, TestContext};

fn stacks() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in ["stacks", "tests/fixtures/stacks"] {
        let Ok(entries) = std::fs::read_dir(repo_root().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rhai") {
                found.push(Path::new(dir).join(entry.file_name()));
            }
        }
    }
    found.sort();
    found
}

fn snapshot_name(stack: &Path, what: &str) -> String {
    let flat = stack
        .with_extension("")
        .to_string_lossy()
        .replace(['/', '\\'], "__");
    format!("{what}__{flat}")
}

/// All rendered files under `dir`, as one text: `=== path` then the content.
fn tree(dir: &Path) -> String {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|(p, c)| format!("=== {p}\n{c}"))
        .collect()
}

#[test]
fn there_are_example_stacks() {
    let names: Vec<String> = stacks()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for required in ["stacks/demo.rhai", "stacks/dev.rhai", "stacks/prod.rhai"] {
        assert!(
            names.iter().any(|n| n == required),
            "{required} is missing: {names:?}"
        );
    }
}

#[test]
fn every_stack_checks_plans_graphs_and_renders() {
    let root = repo_root();
    let scratch = TestContext::new();
    let state = scratch.path().join("empty.state.json");
    let state = state.to_string_lossy().into_owned();
    let settings = settings(Some(scratch.path()));
    for stack in stacks() {
        let file = stack.to_string_lossy().into_owned();
        let check = run_in(&root, &["check", &file, "--state", &state], &[]);
        assert_eq!(check.code, 0, "check {file}:\n{}", check.transcript());
        let plan = run_in(&root, &["plan", &file, "--state", &state], &[]);
        assert_eq!(plan.code, 0, "plan {file}:\n{}", plan.transcript());
        let json = run_in(
            &root,
            &["plan", &file, "--state", &state, "--output", "json"],
            &[],
        );
        let parsed: serde_json::Value = serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("plan --output json of {file} is not JSON: {e}"));
        assert_eq!(parsed["summary"]["delete"], 0, "{file}");
        let graph = run_in(&root, &["graph", &file], &[]);
        assert_eq!(graph.code, 0, "graph {file}:\n{}", graph.transcript());
        let out = scratch.path().join(snapshot_name(&stack, "render"));
        let out_arg = out.to_string_lossy().into_owned();
        let render = run_in(
            &root,
            &["render", &file, "--state", &state, "--out", &out_arg],
            &[],
        );
        settings.bind(|| {
            insta::assert_snapshot!(snapshot_name(&stack, "check"), check.stdout);
            insta::assert_snapshot!(snapshot_name(&stack, "plan"), plan.stdout);
            insta::assert_snapshot!(snapshot_name(&stack, "graph"), graph.stdout);
            if render.code == 0 {
                insta::assert_snapshot!(snapshot_name(&stack, "render"), tree(&out));
            } else {
                insta::assert_snapshot!(snapshot_name(&stack, "render"), render.transcript());
            }
        });
    }
}

#[test]
fn rendering_is_byte_identical_across_runs() {
    let root = repo_root();
    let scratch = TestContext::new();
    let state = scratch
        .path()
        .join("none.json")
        .to_string_lossy()
        .into_owned();
    for stack in stacks() {
        let file = stack.to_string_lossy().into_owned();
        let a = scratch.path().join("a");
        let b = scratch.path().join("b");
        let first = run_in(
            &root,
            &[
                "render",
                &file,
                "--state",
                &state,
                "--out",
                &a.to_string_lossy(),
            ],
            &[],
        );
        if first.code != 0 {
            continue;
        }
        let second = run_in(
            &root,
            &[
                "render",
                &file,
                "--state",
                &state,
                "--out",
                &b.to_string_lossy(),
            ],
            &[],
        );
        assert_eq!(second.code, 0, "{file}");
        assert_eq!(tree(&a), tree(&b), "render of {file} differs between runs");
        std::fs::remove_dir_all(&a).ok();
        std::fs::remove_dir_all(&b).ok();
    }
}
