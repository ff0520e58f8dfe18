//! Evaluate → graph → plan at 100, 1,000 and 10,000 resources, against an
//! empty state (everything to create) and against a state that matches
//! (nothing to do: the common case of a second run).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stack_engine::plan::{plan, Action};
use stack_engine::state::ResourceState;
use stack_engine::{Graph, State};

#[path = "support/dag.rs"]
mod dag;

fn evaluate(script: &str) -> Graph {
    let dir = std::env::temp_dir();
    let mut evaluator = stack_stdlib::Evaluator::new("bench", &dir, BTreeMap::new());
    let _ = evaluator
        .eval_text("bench.rhai", None, script)
        .expect("the benchmark stack evaluates");
    Graph::build(evaluator.declarations()).expect("the benchmark graph is valid")
}

/// A state that records every resource exactly as planned.
fn matching_state(graph: &Graph) -> State {
    let mut state = State::empty("bench");
    for change in plan(graph, &state).changes {
        if let (Some(inputs), Some(hash)) = (change.inputs, change.inputs_hash) {
            state.resources.insert(
                change.id,
                ResourceState {
                    kind: change.kind,
                    inputs_hash: hash,
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
    }
    state
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for n in [100usize, 1_000, 10_000] {
        let script = dag::stack_script(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("evaluate", n), &script, |b, s| {
            b.iter(|| black_box(evaluate(s)))
        });
        let graph = evaluate(&script);
        let empty = State::empty("bench");
        group.bench_with_input(BenchmarkId::new("plan_create", n), &graph, |b, g| {
            b.iter(|| black_box(plan(g, &empty)))
        });
        let state = matching_state(&graph);
        assert!(plan(&graph, &state)
            .changes
            .iter()
            .all(|c| c.action == Action::NoOp));
        group.bench_with_input(BenchmarkId::new("plan_noop", n), &graph, |b, g| {
            b.iter(|| black_box(plan(g, &state)))
        });
        group.bench_with_input(
            BenchmarkId::new("evaluate_graph_plan", n),
            &script,
            |b, s| b.iter(|| black_box(plan(&evaluate(s), &state))),
        );
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
