//! The executor against a recording provider: order, parallelism, failures,
//! skips, deletes, targets, cancellation and state written as it goes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use stack_engine::execute::{ExecuteOptions, Executor, Outcome, Quiet};
use stack_engine::plan::{plan, Action};
use stack_engine::provider::{
    Applied, ApplyRequest, DeleteRequest, Provider, ProviderError, RouteKey, Router,
};
use stack_engine::resource::Dependency;
use stack_engine::state::backend::BoxFuture;
use stack_engine::state::{LocalBackend, StateBackend};
use stack_engine::{Declarations, Graph, Kind, Resource, ResourceId, SourceId, Span, State, Value};

/// What the test providers fail with.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
#[diagnostic(code(test::failed))]
struct Failed(String);

#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<String>>,
    running: AtomicUsize,
    most: AtomicUsize,
    fail: Vec<String>,
    /// Names whose delete fails.
    fail_delete: Vec<String>,
    delay: Duration,
}

impl Provider for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn apply<'a>(&'a self, r: &'a ApplyRequest) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.log.lock().unwrap().push(format!("apply {}", r.id));
            if self.fail.contains(&r.name) {
                return Err(Failed(format!("{} is Degraded", r.name)).into());
            }
            let mut outputs = BTreeMap::new();
            outputs.insert("endpoint".into(), json!(format!("https://{}", r.name)));
            Ok(Applied {
                outputs,
                objects: Vec::new(),
            })
        })
    }

    fn delete<'a>(&'a self, r: &'a DeleteRequest) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(format!("delete {}", r.id));
            if self.fail_delete.iter().any(|n| n == r.id.name()) {
                return Err(Failed(format!("{} is stuck terminating", r.id)).into());
            }
            Ok(())
        })
    }
}

struct One(Arc<Recorder>);

impl Router for One {
    fn route(&self, _: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(self.0.clone())
    }
    fn all(&self) -> Vec<Arc<dyn Provider>> {
        vec![self.0.clone()]
    }
}

fn span() -> Span {
    Span::new(SourceId(0), 0, 0)
}

/// A cluster `c` and namespaces, each needing the listed others.
fn graph(namespaces: &[(&str, &[&str])]) -> Graph {
    let mut d = Declarations::new("test", ".");
    d.sources.add("test.rhai", None, "");
    let cluster = ResourceId::new("cluster/c");
    d.resources.push(Resource {
        id: cluster.clone(),
        kind: Kind::Cluster,
        name: "c".into(),
        cluster: None,
        inputs: BTreeMap::from([("provider".into(), Value::str("existing"))]),
        depends_on: Vec::new(),
        known_outputs: BTreeMap::new(),
        span: span(),
    });
    for (name, needs) in namespaces {
        d.resources.push(Resource {
            id: ResourceId::new(format!("c/namespace/{name}")),
            kind: Kind::Namespace,
            name: name.to_string(),
            cluster: Some(cluster.clone()),
            inputs: BTreeMap::new(),
            depends_on: needs
                .iter()
                .map(|n| Dependency {
                    id: ResourceId::new(format!("c/namespace/{n}")),
                    span: span(),
                })
                .collect(),
            known_outputs: BTreeMap::new(),
            span: span(),
        });
    }
    Graph::build(d).unwrap()
}

struct Setup {
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
    backend: LocalBackend,
}

fn setup(recorder: Recorder) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(dir.path().join("test.state.json"), "test");
    Setup {
        recorder: Arc::new(recorder),
        _dir: dir,
        backend,
    }
}

async fn run(
    s: &Setup,
    g: &Graph,
    options: ExecuteOptions,
) -> (stack_engine::execute::Report, State) {
    let state = s.backend.load().await.unwrap();
    let p = plan(g, &state);
    let router = One(s.recorder.clone());
    let executor = Executor {
        graph: g,
        router: &router,
        observer: &Quiet,
        backend: &s.backend,
        options,
    };
    executor.run(&p, state).await
}

fn outcome(report: &stack_engine::execute::Report, id: &str) -> Outcome {
    report
        .resources
        .iter()
        .find(|r| r.id.as_str() == id)
        .map(|r| r.outcome.clone())
        .unwrap()
}

#[tokio::test]
async fn applies_in_dependency_order_and_a_second_run_does_nothing() {
    let s = setup(Recorder::default());
    let g = graph(&[("b", &["a"]), ("a", &[]), ("c", &["b"])]);
    let (report, state) = run(&s, &g, ExecuteOptions::default()).await;
    assert!(!report.failed(), "{report:?}");
    let log = s.recorder.log.lock().unwrap().clone();
    let pos = |x: &str| log.iter().position(|l| l == x).unwrap();
    assert!(pos("apply cluster/c") < pos("apply c/namespace/a"));
    assert!(pos("apply c/namespace/a") < pos("apply c/namespace/b"));
    assert!(pos("apply c/namespace/b") < pos("apply c/namespace/c"));
    assert_eq!(state.resources.len(), 4);
    assert_eq!(
        state.resources[&ResourceId::new("cluster/c")].outputs["endpoint"],
        json!("https://c")
    );
    // The saved state is what was returned, and planning again changes nothing.
    let saved = s.backend.load().await.unwrap();
    assert_eq!(saved, state);
    assert!(!plan(&g, &saved).has_changes());
    let (again, _) = run(&s, &g, ExecuteOptions::default()).await;
    assert!(again
        .resources
        .iter()
        .all(|r| r.outcome == Outcome::Unchanged));
    assert_eq!(
        s.recorder.log.lock().unwrap().len(),
        4,
        "the second run applied something"
    );
}

#[tokio::test]
async fn a_failure_skips_dependents_and_independents_still_run() {
    let s = setup(Recorder {
        fail: vec!["b".into()],
        ..Recorder::default()
    });
    let g = graph(&[
        ("a", &[]),
        ("b", &["a"]),
        ("c", &["b"]),
        ("d", &["c"]),
        ("e", &[]),
    ]);
    let (report, state) = run(&s, &g, ExecuteOptions::default()).await;
    assert!(report.failed());
    assert!(matches!(
        outcome(&report, "c/namespace/b"),
        Outcome::Failed(_)
    ));
    assert_eq!(
        outcome(&report, "c/namespace/c"),
        Outcome::Skipped {
            because: ResourceId::new("c/namespace/b")
        }
    );
    assert_eq!(
        outcome(&report, "c/namespace/d"),
        Outcome::Skipped {
            because: ResourceId::new("c/namespace/b")
        }
    );
    assert_eq!(outcome(&report, "c/namespace/e"), Outcome::Created);
    assert!(state
        .resources
        .contains_key(&ResourceId::new("c/namespace/a")));
    // What failed is known only as what a run meant to make.
    assert!(state.resources[&ResourceId::new("c/namespace/b")]
        .confirmed()
        .is_none());
    assert!(!state
        .resources
        .contains_key(&ResourceId::new("c/namespace/c")));
    assert_eq!(report.resources.len(), 6);
}

#[tokio::test]
async fn parallelism_bounds_concurrent_work() {
    let s = setup(Recorder {
        delay: Duration::from_millis(20),
        ..Recorder::default()
    });
    let names: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
    let spec: Vec<(&str, &[&str])> = names.iter().map(|n| (n.as_str(), &[][..])).collect();
    let g = graph(&spec);
    let options = ExecuteOptions {
        parallelism: 3,
        ..ExecuteOptions::default()
    };
    let (report, _) = run(&s, &g, options).await;
    assert!(!report.failed());
    assert_eq!(s.recorder.most.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first() {
    let s = setup(Recorder::default());
    let full = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("keep", &[])]);
    run(&s, &full, ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    let smaller = graph(&[("keep", &[])]);
    let (report, state) = run(&s, &smaller, ExecuteOptions::default()).await;
    assert!(!report.failed(), "{report:?}");
    let log = s.recorder.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "delete c/namespace/c",
            "delete c/namespace/b",
            "delete c/namespace/a"
        ]
    );
    assert_eq!(state.resources.len(), 2);
    // Destroy: nothing declared, everything goes, the cluster last.
    s.recorder.log.lock().unwrap().clear();
    let empty = Graph::build(Declarations::new("test", ".")).unwrap();
    let (report, state) = run(&s, &empty, ExecuteOptions::default()).await;
    assert!(!report.failed());
    assert!(state.resources.is_empty());
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["delete c/namespace/keep", "delete cluster/c"]
    );
}

#[tokio::test]
async fn a_target_runs_only_what_it_needs() {
    let s = setup(Recorder::default());
    let g = graph(&[("a", &[]), ("b", &["a"]), ("other", &[])]);
    let targets = [ResourceId::new("c/namespace/b")];
    let selection = stack_engine::plan::selection(&g, &State::empty("test"), &targets);
    let options = ExecuteOptions {
        selection: Some(selection.expect("declared")),
        ..ExecuteOptions::default()
    };
    let (report, state) = run(&s, &g, options).await;
    assert!(!report.failed());
    assert_eq!(state.resources.len(), 3);
    assert!(!state
        .resources
        .contains_key(&ResourceId::new("c/namespace/other")));
}

#[tokio::test]
async fn a_target_no_longer_declared_deletes_it_and_what_needs_it_only() {
    let s = setup(Recorder::default());
    let g = graph(&[("a", &[]), ("b", &["a"]), ("other", &[])]);
    let (report, _) = run(&s, &g, ExecuteOptions::default()).await;
    assert!(!report.failed());
    s.recorder.log.lock().unwrap().clear();
    let empty = Graph::build(Declarations::new("test", ".")).unwrap();
    let state = s.backend.load().await.unwrap();
    let targets = [ResourceId::new("c/namespace/a")];
    let selection = stack_engine::plan::selection(&empty, &state, &targets).expect("recorded");
    let (report, state) = run(
        &s,
        &empty,
        ExecuteOptions {
            selection: Some(selection),
            ..ExecuteOptions::default()
        },
    )
    .await;
    assert!(!report.failed());
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["delete c/namespace/b", "delete c/namespace/a"]
    );
    let left: Vec<&str> = state.resources.keys().map(ResourceId::as_str).collect();
    assert_eq!(left, ["c/namespace/other", "cluster/c"]);
}

#[tokio::test]
async fn cancelling_starts_nothing_new_and_keeps_what_finished() {
    let s = setup(Recorder {
        delay: Duration::from_millis(5),
        ..Recorder::default()
    });
    let g = graph(&[("a", &[]), ("b", &["a"])]);
    let options = ExecuteOptions::default();
    options.cancel.cancel();
    let (report, state) = run(&s, &g, options).await;
    assert!(report.cancelled);
    assert!(state.resources.is_empty());
    assert!(report
        .resources
        .iter()
        .all(|r| r.outcome == Outcome::Cancelled));
    assert!(report.resources.iter().all(|r| r.action == Action::Create));
}

/// Runs each graph in turn, each from the state the one before left.
async fn run_each(
    s: &Setup,
    router: &dyn Router,
    observer: &dyn stack_engine::execute::Observer,
    graphs: &[Graph],
) {
    let mut state = s.backend.load().await.unwrap();
    for g in graphs {
        let p = plan(g, &state);
        let executor = Executor {
            graph: g,
            router,
            observer,
            backend: &s.backend,
            options: ExecuteOptions::default(),
        };
        let (report, next) = executor.run(&p, state).await;
        assert!(!report.failed(), "{report:?}");
        state = next;
    }
}

/// Routes by the `provider` input: `old` and `new` record separately.
struct ByProvider {
    old: Arc<Recorder>,
    new: Arc<Recorder>,
}

impl Router for ByProvider {
    fn route(&self, key: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
        match key.inputs.get("provider").and_then(|p| p.as_str()) {
            Some("old") => Ok(self.old.clone()),
            _ => Ok(self.new.clone()),
        }
    }
    fn all(&self) -> Vec<Arc<dyn Provider>> {
        vec![self.old.clone(), self.new.clone()]
    }
}

fn oidc_with_provider(provider: &str) -> Graph {
    let mut d = Declarations::new("test", ".");
    d.sources.add("test.rhai", None, "");
    d.resources.push(Resource {
        id: ResourceId::new("oidc/sso"),
        kind: Kind::Oidc,
        name: "sso".into(),
        cluster: None,
        inputs: BTreeMap::from([("provider".into(), Value::str(provider))]),
        depends_on: Vec::new(),
        known_outputs: BTreeMap::new(),
        span: span(),
    });
    Graph::build(d).unwrap()
}

/// A replacement that changes provider is deleted by the provider that
/// made it, and created by the new one with nothing to converge from.
#[tokio::test]
async fn a_replaced_resource_is_deleted_by_the_provider_that_made_it() {
    let s = setup(Recorder::default());
    let router = ByProvider {
        old: Arc::new(Recorder::default()),
        new: Arc::new(Recorder::default()),
    };
    let graphs = [oidc_with_provider("old"), oidc_with_provider("new")];
    run_each(&s, &router, &Quiet, &graphs).await;
    assert_eq!(
        *router.old.log.lock().unwrap(),
        ["apply oidc/sso", "delete oidc/sso"]
    );
    assert_eq!(*router.new.log.lock().unwrap(), ["apply oidc/sso"]);
}

/// Says how it is going before it finishes.
struct Chatty;

impl Provider for Chatty {
    fn name(&self) -> &'static str {
        "chatty"
    }

    fn apply<'a>(&'a self, r: &'a ApplyRequest) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(async move {
            r.progress.report("CREATING");
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Applied::default())
        })
    }

    fn delete<'a>(&'a self, r: &'a DeleteRequest) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            r.progress.report("DELETING");
            Ok(())
        })
    }
}

#[derive(Default)]
struct Listening(Mutex<Vec<String>>);

impl stack_engine::execute::Observer for Listening {
    fn started(&self, _: &ResourceId, _: Action) {}
    fn finished(&self, _: &stack_engine::execute::ResourceReport) {}
    fn progress(&self, id: &ResourceId, text: &str) {
        self.0.lock().unwrap().push(format!("{id}: {text}"));
    }
}

/// What a provider reports while it works reaches the observer, for
/// applies and deletes alike.
#[tokio::test]
async fn providers_report_progress_to_the_observer() {
    struct Only(Arc<Chatty>);
    impl Router for Only {
        fn route(&self, _: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
            Ok(self.0.clone())
        }
        fn all(&self) -> Vec<Arc<dyn Provider>> {
            vec![self.0.clone()]
        }
    }
    let s = setup(Recorder::default());
    let router = Only(Arc::new(Chatty));
    let observer = Listening::default();
    run_each(&s, &router, &observer, &[graph(&[("a", &[])]), graph(&[])]).await;
    let heard = observer.0.lock().unwrap().clone();
    assert!(
        heard.contains(&"c/namespace/a: CREATING".to_string()),
        "{heard:?}"
    );
    assert!(
        heard.contains(&"c/namespace/a: DELETING".to_string()),
        "{heard:?}"
    );
}

/// Reads the saved state when asked to apply: what a run killed now
/// would leave behind.
struct Peeker {
    state_file: std::path::PathBuf,
    seen: Mutex<Vec<(String, serde_json::Value)>>,
    fail: bool,
}

impl Provider for Peeker {
    fn name(&self) -> &'static str {
        "peeker"
    }

    fn apply<'a>(&'a self, r: &'a ApplyRequest) -> BoxFuture<'a, Result<Applied, ProviderError>> {
        Box::pin(async move {
            let saved = stack_engine::state::load(&self.state_file, "test").unwrap();
            let record = serde_json::to_value(&saved.resources[&r.id]).unwrap();
            self.seen.lock().unwrap().push((r.id.to_string(), record));
            if self.fail && r.kind == Kind::Namespace {
                return Err(Failed("the API went away".into()).into());
            }
            Ok(Applied::default())
        })
    }

    fn delete<'a>(&'a self, _: &'a DeleteRequest) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}

struct Only(Arc<Peeker>);

impl Router for Only {
    fn route(&self, _: RouteKey<'_>) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(self.0.clone())
    }
    fn all(&self) -> Vec<Arc<dyn Provider>> {
        vec![self.0.clone()]
    }
}

#[tokio::test]
async fn what_is_created_is_recorded_as_an_intent_before_the_provider_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("test.state.json");
    let backend = LocalBackend::new(state_file.clone(), "test");
    let peeker = Arc::new(Peeker {
        state_file,
        seen: Mutex::new(Vec::new()),
        fail: true,
    });
    let g = graph(&[("a", &[])]);
    let state = backend.load().await.unwrap();
    let p = plan(&g, &state);
    let router = Only(peeker.clone());
    let executor = Executor {
        graph: &g,
        router: &router,
        observer: &Quiet,
        backend: &backend,
        options: ExecuteOptions::default(),
    };
    let (report, state) = executor.run(&p, state).await;
    assert!(report.failed());
    for (id, record) in peeker.seen.lock().unwrap().iter() {
        assert_eq!(
            record["intent"]["first"],
            json!(true),
            "{id} had no intent: {record}"
        );
    }
    // The namespace failed: its record stays an intent, which the next
    // plan creates and a script without it deletes.
    let saved = backend.load().await.unwrap();
    assert_eq!(saved, state);
    let ns = ResourceId::new("c/namespace/a");
    assert!(saved.resources[&ns].confirmed().is_none());
    assert!(saved.resources[&ResourceId::new("cluster/c")]
        .intent
        .is_none());
    let again = plan(&g, &saved);
    assert_eq!(
        again.changes.iter().find(|c| c.id == ns).unwrap().action,
        Action::Create
    );
    let without = plan(&graph(&[]), &saved);
    assert_eq!(
        without.changes.iter().find(|c| c.id == ns).unwrap().action,
        Action::Delete
    );
}

/// A backend whose saves start failing after `allowed` of them.
struct FailingSaves {
    inner: LocalBackend,
    allowed: AtomicUsize,
}

impl StateBackend for FailingSaves {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn load(&self) -> BoxFuture<'_, Result<State, stack_engine::state::StateError>> {
        self.inner.load()
    }
    fn save(&self, state: &State) -> BoxFuture<'_, Result<(), stack_engine::state::StateError>> {
        let left = self.allowed.load(Ordering::SeqCst);
        if left == 0 {
            return Box::pin(async {
                Err(stack_engine::state::StateError::Backend {
                    message: "the disk is full".into(),
                    help: None,
                })
            });
        }
        self.allowed.store(left - 1, Ordering::SeqCst);
        self.inner.save(state)
    }
    fn lock<'a>(
        &'a self,
        holder: &'a stack_engine::state::LockInfo,
        force: bool,
    ) -> BoxFuture<'a, Result<(), stack_engine::state::StateError>> {
        self.inner.lock(holder, force)
    }
    fn unlock<'a>(
        &'a self,
        holder: &'a stack_engine::state::LockInfo,
    ) -> BoxFuture<'a, Result<(), stack_engine::state::StateError>> {
        self.inner.unlock(holder)
    }
}

async fn run_with(
    s: &Setup,
    backend: &dyn StateBackend,
    observer: &dyn stack_engine::execute::Observer,
    g: &Graph,
    options: ExecuteOptions,
) -> (stack_engine::execute::Report, State) {
    let state = backend.load().await.unwrap();
    let p = plan(g, &state);
    let router = One(s.recorder.clone());
    let executor = Executor {
        graph: g,
        router: &router,
        observer,
        backend,
        options,
    };
    executor.run(&p, state).await
}

/// A save that fails stops the run: what the failed save held is reported
/// failed (applied, not recorded), nothing waiting on it starts, the saved
/// state is the last good one, and the next run converges.
#[tokio::test]
async fn a_save_that_fails_stops_the_run_and_the_next_run_converges() {
    let s = setup(Recorder::default());
    let g = graph(&[("a", &[]), ("b", &["a"])]);
    // The identity, then the cluster's intent; the cluster's record fails.
    let failing = FailingSaves {
        inner: LocalBackend::new(s._dir.path().join("test.state.json"), "test"),
        allowed: AtomicUsize::new(2),
    };
    let (report, _) = run_with(&s, &failing, &Quiet, &g, ExecuteOptions::default()).await;
    assert!(report.failed());
    assert!(report.state_error.is_some());
    assert!(matches!(outcome(&report, "cluster/c"), Outcome::Failed(_)));
    assert_eq!(outcome(&report, "c/namespace/a"), Outcome::Cancelled);
    assert_eq!(outcome(&report, "c/namespace/b"), Outcome::Cancelled);
    assert_eq!(report.resources.len(), 3);
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["apply cluster/c"],
        "something started after the save failed"
    );
    // What is saved says the cluster was being made, nothing more.
    let saved = s.backend.load().await.unwrap();
    let cluster = &saved.resources[&ResourceId::new("cluster/c")];
    assert!(cluster.confirmed().is_none());
    assert_eq!(saved.resources.len(), 1);
    // A run that can save applies the cluster again and the rest.
    let (report, state) = run(&s, &g, ExecuteOptions::default()).await;
    assert!(!report.failed(), "{report:?}");
    assert_eq!(state.resources.len(), 3);
    assert!(!plan(&g, &state).has_changes());
}

/// A save that fails during deletes: the delete it held is reported
/// failed, nothing more is deleted, and the next run finishes the job.
#[tokio::test]
async fn a_save_that_fails_during_deletes_stops_them() {
    let s = setup(Recorder::default());
    let full = graph(&[("a", &[]), ("b", &["a"])]);
    run(&s, &full, ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    // The mark that b is being deleted is saved; that it is gone is not.
    let failing = FailingSaves {
        inner: LocalBackend::new(s._dir.path().join("test.state.json"), "test"),
        allowed: AtomicUsize::new(1),
    };
    let keep = graph(&[]);
    let (report, _) = run_with(&s, &failing, &Quiet, &keep, ExecuteOptions::default()).await;
    assert!(report.state_error.is_some());
    assert!(matches!(
        outcome(&report, "c/namespace/b"),
        Outcome::Failed(_)
    ));
    assert_eq!(outcome(&report, "c/namespace/a"), Outcome::Cancelled);
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["delete c/namespace/b"]
    );
    let saved = s.backend.load().await.unwrap();
    assert!(saved.resources[&ResourceId::new("c/namespace/b")].deleting);
    assert!(!saved.resources[&ResourceId::new("c/namespace/a")].deleting);
    let (report, state) = run(&s, &keep, ExecuteOptions::default()).await;
    assert!(!report.failed(), "{report:?}");
    assert_eq!(state.resources.len(), 1, "{:?}", state.resources.keys());
}

/// A delete that fails keeps what it needed: deleting that would strand
/// it. What is independent of it still goes.
#[tokio::test]
async fn a_failed_delete_keeps_what_it_needed() {
    let s = setup(Recorder {
        fail_delete: vec!["c".into()],
        ..Recorder::default()
    });
    let full = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("x", &[])]);
    run(&s, &full, ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    let (report, state) = run(&s, &graph(&[]), ExecuteOptions::default()).await;
    assert!(report.failed());
    assert!(matches!(
        outcome(&report, "c/namespace/c"),
        Outcome::Failed(_)
    ));
    for kept in ["c/namespace/b", "c/namespace/a"] {
        assert_eq!(
            outcome(&report, kept),
            Outcome::Skipped {
                because: ResourceId::new("c/namespace/c")
            }
        );
        assert!(state.resources.contains_key(&ResourceId::new(kept)));
    }
    assert_eq!(outcome(&report, "c/namespace/x"), Outcome::Deleted);
    assert!(state.resources.contains_key(&ResourceId::new("cluster/c")));
    let log = s.recorder.log.lock().unwrap().clone();
    assert!(
        !log.contains(&"delete c/namespace/b".to_string()),
        "{log:?}"
    );
    assert!(!log.contains(&"delete cluster/c".to_string()), "{log:?}");
    assert_eq!(s.backend.load().await.unwrap(), state);
}

/// Cancels the run once the first resource is deleted (Ctrl-C).
struct CancelAfterFirstDelete(stack_engine::execute::Cancel);

impl stack_engine::execute::Observer for CancelAfterFirstDelete {
    fn started(&self, _: &ResourceId, _: Action) {}
    fn finished(&self, report: &stack_engine::execute::ResourceReport) {
        if report.outcome == Outcome::Deleted {
            self.0.cancel();
        }
    }
}

/// Ctrl-C during deletes: what was deleted is recorded gone, nothing new
/// starts, what was not deleted stays recorded, and the next run deletes
/// the rest.
#[tokio::test]
async fn cancelling_during_deletes_keeps_the_rest_recorded() {
    let s = setup(Recorder::default());
    let full = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
    run(&s, &full, ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    let options = ExecuteOptions::default();
    let observer = CancelAfterFirstDelete(options.cancel.clone());
    let empty = Graph::build(Declarations::new("test", ".")).unwrap();
    let (report, state) = run_with(&s, &s.backend, &observer, &empty, options).await;
    assert!(report.cancelled);
    assert_eq!(outcome(&report, "c/namespace/c"), Outcome::Deleted);
    for rest in ["c/namespace/b", "c/namespace/a", "cluster/c"] {
        assert_eq!(outcome(&report, rest), Outcome::Cancelled, "{rest}");
        assert!(state.resources.contains_key(&ResourceId::new(rest)));
    }
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["delete c/namespace/c"]
    );
    assert_eq!(s.backend.load().await.unwrap(), state);
    let (report, state) = run(&s, &empty, ExecuteOptions::default()).await;
    assert!(!report.failed(), "{report:?}");
    assert!(state.resources.is_empty());
}

/// Cancels the run when the first delete is about to start.
struct CancelOnFirstDelete(stack_engine::execute::Cancel);

impl stack_engine::execute::Observer for CancelOnFirstDelete {
    fn started(&self, _: &ResourceId, action: Action) {
        if action == Action::Delete {
            self.0.cancel();
        }
    }
    fn finished(&self, _: &stack_engine::execute::ResourceReport) {}
}

/// Ctrl-C while a delete waits for its mark to be saved: the delete is
/// sent (the state says it began), and nothing else is marked, so that
/// declaring the rest again replaces nothing.
#[tokio::test]
async fn a_delete_marked_before_ctrl_c_is_carried_out_and_nothing_else_is_marked() {
    let s = setup(Recorder::default());
    let full = graph(&[("a", &[]), ("b", &["a"])]);
    run(&s, &full, ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    let options = ExecuteOptions::default();
    let observer = CancelOnFirstDelete(options.cancel.clone());
    let empty = Graph::build(Declarations::new("test", ".")).unwrap();
    let (report, state) = run_with(&s, &s.backend, &observer, &empty, options).await;
    assert!(report.cancelled);
    assert_eq!(outcome(&report, "c/namespace/b"), Outcome::Deleted);
    assert_eq!(outcome(&report, "c/namespace/a"), Outcome::Cancelled);
    assert_eq!(
        s.recorder.log.lock().unwrap().clone(),
        ["delete c/namespace/b"]
    );
    let saved = s.backend.load().await.unwrap();
    assert_eq!(saved, state);
    assert!(!saved
        .resources
        .contains_key(&ResourceId::new("c/namespace/b")));
    assert!(saved.resources.values().all(|r| !r.deleting));
    // Declared again, what stayed is left alone and b is created anew.
    let again = plan(&graph(&[("a", &[]), ("b", &["a"])]), &saved);
    let action = |id: &str| {
        again
            .changes
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap()
            .action
    };
    assert_eq!(action("c/namespace/a"), Action::NoOp);
    assert_eq!(action("c/namespace/b"), Action::Create);
}

/// A save that fails while a delete waits for its mark: the delete is not
/// sent, and its mark is taken back, so no later save says it began.
#[tokio::test]
async fn a_delete_whose_mark_was_not_saved_is_not_marked() {
    let s = setup(Recorder::default());
    run(&s, &graph(&[("a", &[])]), ExecuteOptions::default()).await;
    s.recorder.log.lock().unwrap().clear();
    let failing = FailingSaves {
        inner: LocalBackend::new(s._dir.path().join("test.state.json"), "test"),
        allowed: AtomicUsize::new(0),
    };
    let keep = graph(&[]);
    let (report, state) = run_with(&s, &failing, &Quiet, &keep, ExecuteOptions::default()).await;
    assert!(report.state_error.is_some());
    assert_eq!(outcome(&report, "c/namespace/a"), Outcome::Cancelled);
    assert!(s.recorder.log.lock().unwrap().is_empty());
    assert!(state.resources.values().all(|r| !r.deleting));
}
