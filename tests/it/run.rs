//! `stack run`, `plan --refresh` and `stack destroy` end to end: the real
//! binary against the Kubernetes API test server and against a real
//! kube-apiserver (each scenario runs on both: `test_server::<name>` and
//! `kube_apiserver::<name>`), with the test kit's Argo CD double.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use stack_testkit::{Cluster, Config, Fault, FaultRule, RealCluster, TestServer};

use crate::common::{stack_bin, Run, TestContext};

/// A platform on an existing cluster: team namespaces with settings, an
/// Argo CD app, something after the app, and a Secret from the environment.
const STACK: &str = r#"
let teams = param("teams", ["web", "api"]);
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true });
for t in teams {
    let ns = namespace(c, `team-${t}`, #{ labels: #{ team: t } });
    manifest(c, #{ apiVersion: "v1", kind: "ConfigMap",
                   metadata: #{ name: "settings", namespace: ns.name }, data: #{ team: t } });
}
let app = helm_app(c, "podinfo", #{
    repo: "https://stefanprodan.github.io/podinfo", chart: "podinfo", version: "6.5.0",
    namespace: "team-web", timeout: "20s",
});
namespace(c, "after-app", #{ depends_on: [app] });
manifest(c, #{ apiVersion: "v1", kind: "Secret", metadata: #{ name: "db", namespace: "team-web" },
               stringData: #{ password: secret("env:E2E_DB_PASSWORD") } });
"#;

pub(crate) const PASSWORD: &str = "e2e-very-secret-password";

pub(crate) struct Env {
    pub ctx: TestContext,
    pub server: Box<dyn Cluster>,
    pub kubeconfig: PathBuf,
}

/// The Kubernetes API test server, with its Argo CD double on.
pub(crate) fn env() -> Env {
    env_on(Box::new(TestServer::start_blocking(
        Config::default().with_argocd(),
    )))
}

/// A real kube-apiserver of its own, behind the fault-injecting proxy.
pub(crate) fn real_env() -> Env {
    env_on(Box::new(RealCluster::take_with_argocd()))
}

fn env_on(server: Box<dyn Cluster>) -> Env {
    let (ctx, kubeconfig) = TestContext::with_kubeconfig(server.as_ref());
    ctx.write("e2e.rhai", STACK);
    // Argo CD runs there already (`argocd_installed: true`).
    server
        .create(serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "argocd" } }))
        .expect("create the argocd namespace");
    Env {
        ctx,
        server,
        kubeconfig,
    }
}

impl Env {
    pub fn stack(&self, args: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig.to_string_lossy().into_owned();
        self.ctx.stack_env(
            args,
            &[("KUBECONFIG", &kubeconfig), ("E2E_DB_PASSWORD", PASSWORD)],
        )
    }

    fn state_path(&self) -> PathBuf {
        self.ctx.path().join(".stack").join("e2e.state.json")
    }

    fn state(&self) -> Json {
        let text = std::fs::read_to_string(self.state_path()).expect("a state file");
        serde_json::from_str(&text).expect("the state file is JSON")
    }

    pub fn names(&self, resource: &str, namespace: Option<&str>) -> Vec<String> {
        self.server.names(resource, namespace)
    }

    /// Starts `stack` in the background, its stderr piped.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(stack_bin())
            .args(args)
            .current_dir(self.ctx.path())
            .env("NO_COLOR", "1")
            .env("KUBECONFIG", &self.kubeconfig)
            .env("E2E_DB_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a run")
    }

    fn writes(&self) -> Vec<String> {
        self.server.writes()
    }
}

/// Checks `done` every few milliseconds until it holds or `timeout` passes,
/// leaving the processor to the run under test meanwhile.
pub(crate) fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::park_timeout(Duration::from_millis(5));
    }
    done()
}

pub(crate) fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.transcript());
}

fn run_applies_then_a_second_run_writes_nothing(e: Env) {
    let run = e.stack(&["run", "e2e.rhai", "--yes"]);
    ok(&run);
    run.assert_stderr("Done:");
    let team = e
        .server
        .object("v1/namespaces", None, "team-web")
        .expect("team-web exists");
    assert_eq!(
        team.pointer("/metadata/labels/team"),
        Some(&Json::from("web"))
    );
    let settings = e
        .server
        .object("v1/configmaps", Some("team-api"), "settings")
        .expect("settings exist");
    assert_eq!(settings.pointer("/data/team"), Some(&Json::from("api")));
    assert_eq!(
        e.server
            .managers("v1/configmaps", Some("team-api"), "settings"),
        ["stack"]
    );
    let app = e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "podinfo",
        )
        .expect("the Application");
    assert_eq!(
        app.pointer("/status/health/status"),
        Some(&Json::from("Healthy"))
    );
    assert!(e
        .server
        .object("v1/namespaces", None, "after-app")
        .is_some());

    e.server.clear_requests();
    let again = e.stack(&["run", "e2e.rhai", "--yes"]);
    ok(&again);
    again.assert_stdout("No changes");
    assert_eq!(e.writes(), Vec::<String>::new(), "a second run wrote");
}

fn removing_from_the_script_prunes_and_destroy_removes_everything(e: Env) {
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    let plan = e.stack(&["plan", "e2e.rhai", "--set", "teams=web"]);
    ok(&plan);
    plan.assert_stdout("- e2e/namespace/team-api  (delete)");
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--set", "teams=web"]));
    assert!(e.server.object("v1/namespaces", None, "team-api").is_none());
    assert!(e
        .server
        .object("v1/configmaps", Some("team-api"), "settings")
        .is_none());
    assert!(e.server.object("v1/namespaces", None, "team-web").is_some());

    let destroy = e.stack(&["destroy", "e2e.rhai", "--yes", "--set", "teams=web"]);
    ok(&destroy);
    destroy.assert_stdout("- cluster/e2e  (delete: only forgotten: the `existing` provider");
    assert_eq!(
        e.names("v1/namespaces", None)
            .iter()
            .filter(|n| n.starts_with("team-") || *n == "after-app")
            .count(),
        0
    );
    assert!(e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "podinfo"
        )
        .is_none());
    assert_eq!(e.state()["resources"], serde_json::json!({}));
}

fn a_degraded_app_fails_skips_its_dependents_and_a_fixed_rerun_converges(e: Env) {
    e.server
        .knobs()
        .argocd()
        .degrade("podinfo", "Deployment podinfo: ImagePullBackOff");
    let run = e.stack(&["run", "e2e.rhai", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("ImagePullBackOff");
    run.assert_stderr("skipped e2e/namespace/after-app");
    // Independent work was done and recorded.
    assert!(e.server.object("v1/namespaces", None, "team-api").is_some());
    let state = e.state();
    assert!(state["resources"].get("e2e/namespace/team-api").is_some());
    assert!(state["resources"].get("e2e/namespace/after-app").is_none());
    e.server.knobs().argocd().heal("podinfo");
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/namespaces", None, "after-app")
        .is_some());
}

fn a_second_concurrent_run_fails_at_once_naming_the_holder(e: Env) {
    // The first run holds the lock while it waits on a slow Argo CD.
    e.server
        .knobs()
        .argocd()
        .set_sync_delay(Duration::from_secs(3));
    let mut first = e.spawn(&["run", "e2e.rhai", "--yes"]);
    let lock = e.state_path().with_file_name("e2e.state.json.lock");
    assert!(
        poll_until(Duration::from_secs(10), || lock.exists()),
        "the first run never locked"
    );
    let started = Instant::now();
    let second = e.stack(&["run", "e2e.rhai", "--yes"]);
    assert_eq!(second.code, 1, "{}", second.transcript());
    second.assert_stderr("is locked by `stack run`");
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.transcript()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second run waited"
    );
    // Nor does `--force-unlock` break the lock of a run that is alive.
    let forced = e.stack(&["run", "e2e.rhai", "--yes", "--force-unlock"]);
    assert_eq!(forced.code, 1, "{}", forced.transcript());
    forced.assert_stderr("is still running");
    assert!(
        forced.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        forced.transcript()
    );
    assert!(lock.exists(), "the live run keeps its lock");
    assert!(first.wait().expect("the first run ends").success());
    assert!(!lock.exists(), "released by its holder");
}

fn injected_server_errors_are_retried(e: Env) {
    e.server
        .knobs()
        .inject(FaultRule::rate(Fault::Unavailable, 0.05));
    e.server.knobs().inject(FaultRule::rate(
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        0.05,
    ));
    // And at least these, whatever the dice say.
    e.server
        .knobs()
        .inject(FaultRule::times(Fault::InternalError, 2).on_writes());
    e.server
        .knobs()
        .inject(FaultRule::times(Fault::DropConnection, 1).on_writes());
    let run = e.stack(&["run", "e2e.rhai", "--yes"]);
    ok(&run);
    assert!(
        e.server.requests().iter().any(|r| r.injected),
        "no fault was injected"
    );
    e.server.knobs().clear_faults();
    e.server.clear_requests();
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    assert_eq!(e.writes(), Vec::<String>::new());
}

/// The value, and the encodings a leak would show it in.
fn encodings(value: &str) -> [String; 3] {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD.encode(value);
    let url: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    [value.to_string(), base64, url]
}

/// The password, whether declared, live or recorded, shows in no output
/// (text or JSON, with `--refresh` after the Secret was edited or deleted
/// behind the stack's back) and in no state, in clear or encoded.
fn the_secret_never_leaves_the_cluster_secret(e: Env) {
    const OTHER: &str = "someone-elses-password";
    let transcripts = std::cell::RefCell::new(Vec::new());
    let step = |args: &[&str]| {
        let run = e.stack(args);
        ok(&run);
        transcripts.borrow_mut().push(run.transcript());
    };
    step(&["run", "e2e.rhai", "--yes"]);
    step(&["plan", "e2e.rhai"]);
    step(&["plan", "e2e.rhai", "--output", "json"]);
    step(&["graph", "e2e.rhai"]);
    // Edited behind the stack's back: the drift says which key changed.
    e.server
        .apply(
            serde_json::json!({ "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "db", "namespace": "team-web" },
                "stringData": { "password": OTHER } }),
            "kubectl-edit",
        )
        .expect("edit the Secret");
    let refreshed = e.stack(&["plan", "e2e.rhai", "--refresh"]);
    ok(&refreshed);
    refreshed.assert_stdout("(sensitive) value changed");
    transcripts.borrow_mut().push(refreshed.transcript());
    step(&["plan", "e2e.rhai", "--refresh", "--output", "json"]);
    // Deleted behind its back: the drift shows the object without its data.
    e.server
        .delete("v1/secrets", Some("team-web"), "db")
        .expect("delete the Secret");
    step(&["plan", "e2e.rhai", "--refresh"]);
    step(&["plan", "e2e.rhai", "--refresh", "--output", "json"]);
    step(&["run", "e2e.rhai", "--yes", "--refresh"]);
    let state = std::fs::read_to_string(e.state_path()).expect("state");
    step(&["destroy", "e2e.rhai", "--yes"]);
    for value in encodings(PASSWORD).iter().chain(&encodings(OTHER)) {
        for t in transcripts.borrow().iter() {
            assert!(!t.contains(value.as_str()), "`{value}` leaked:\n{t}");
        }
        assert!(!state.contains(value.as_str()), "`{value}` is in the state");
    }
}

fn refresh_shows_drift_made_by_someone_else(e: Env) {
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    let mut changed = e
        .server
        .object("v1/configmaps", Some("team-web"), "settings")
        .expect("settings");
    changed["data"]["team"] = Json::from("someone-else");
    let patch = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": "team-web" },
        "data": { "team": "someone-else" },
    });
    e.server
        .apply(patch, "kubectl-edit")
        .expect("apply as another manager");
    let plain = e.stack(&["plan", "e2e.rhai"]);
    ok(&plain);
    plain.assert_stdout("No changes");
    let refreshed = e.stack(&["plan", "e2e.rhai", "--refresh", "--detailed-exitcode"]);
    assert_eq!(refreshed.code, 3, "{}", refreshed.transcript());
    assert!(
        refreshed
            .stdout
            .contains("e2e/manifest/ConfigMap/team-web/settings"),
        "{}",
        refreshed.transcript()
    );
    refreshed.assert_stdout("someone-else");
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--refresh"]));
    let fixed = e
        .server
        .object("v1/configmaps", Some("team-web"), "settings")
        .expect("settings");
    assert_eq!(fixed.pointer("/data/team"), Some(&Json::from("web")));
}

/// `stack diff` shows, without changing anything, what a run would change
/// in the live objects: a field someone else edited, a Secret's data only
/// as changed, an object that is gone; and nothing once it converged.
fn diff_shows_what_a_run_would_change_in_live_objects(e: Env) {
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    let same = e.stack(&["diff", "e2e.rhai", "--detailed-exitcode"]);
    assert_eq!(same.code, 0, "{}", same.transcript());
    let uid = |namespace: &str| {
        e.server
            .object("v1/configmaps", Some(namespace), "settings")
            .and_then(|c| c.pointer("/metadata/uid").cloned())
    };
    let settings = uid("team-web");
    e.server
        .apply(
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "settings", "namespace": "team-web" },
                "data": { "team": "someone-else" },
            }),
            "kubectl-edit",
        )
        .expect("apply as another manager");
    e.server
        .apply(
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "db", "namespace": "team-web" },
                "stringData": { "password": "edited-by-hand-password" },
            }),
            "kubectl-edit",
        )
        .expect("edit the Secret");
    e.server
        .delete("v1/configmaps", Some("team-api"), "settings")
        .expect("delete a ConfigMap");
    e.server.clear_requests();
    let diff = e.stack(&["diff", "e2e.rhai", "--detailed-exitcode"]);
    assert_eq!(diff.code, 3, "{}", diff.transcript());
    diff.assert_stdout("someone-else");
    diff.assert_stdout("ConfigMap/team-api/settings");
    diff.assert_stdout("Secret/team-web/db");
    for hidden in [PASSWORD, "edited-by-hand-password"] {
        assert!(!diff.stdout.contains(hidden), "{}", diff.transcript());
    }
    for encoded in encodings(PASSWORD)
        .iter()
        .chain(&encodings("edited-by-hand-password"))
    {
        assert!(
            !diff.stdout.contains(encoded.as_str()),
            "{}",
            diff.transcript()
        );
    }
    let json = e.stack(&["diff", "e2e.rhai", "-o", "json"]);
    ok(&json);
    let parsed: Json = serde_json::from_str(&json.stdout).expect("diff -o json is JSON");
    assert!(parsed["differences"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["path"] == "data.team")));
    // Nothing was written: only reads and dry runs reached the server.
    assert_eq!(e.writes(), Vec::<String>::new());
    assert_eq!(uid("team-web"), settings);
    assert_eq!(
        e.server
            .object("v1/configmaps", Some("team-web"), "settings")
            .and_then(|c| c.pointer("/data/team").cloned()),
        Some(Json::from("someone-else"))
    );
}

/// Kills runs at random moments; the state file is always valid, and a
/// rerun converges to exactly the declared objects.
fn killed_runs_lose_nothing_and_the_next_run_converges(e: Env) {
    e.server.knobs().set_latency(Duration::from_millis(15));
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for trial in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let teams = if trial % 2 == 0 {
            "teams=web,api,data"
        } else {
            "teams=web,ops"
        };
        let mut child = e.spawn(&["run", "e2e.rhai", "--yes", "--set", teams]);
        let wait = Duration::from_millis(50 + seed % 900);
        poll_until(wait, || child.try_wait().ok().flatten().is_some());
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if e.state_path().exists() {
            let text = std::fs::read_to_string(e.state_path()).expect("read the state");
            serde_json::from_str::<Json>(&text)
                .unwrap_or_else(|err| panic!("trial {trial}: the state is not valid JSON: {err}"));
        }
    }
    let finish = e.stack(&["run", "e2e.rhai", "--yes", "--set", "teams=web,api"]);
    ok(&finish);
    let teams: Vec<String> = e
        .names("v1/namespaces", None)
        .into_iter()
        .filter(|n| n.starts_with("team-"))
        .collect();
    assert_eq!(
        teams,
        ["team-api", "team-web"],
        "orphaned or missing namespaces"
    );
    e.server.clear_requests();
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--set", "teams=web,api"]));
    assert_eq!(
        e.writes(),
        Vec::<String>::new(),
        "the converged stack still wrote"
    );
}

/// Objects of a stack in a namespace it does not own (so nothing goes with
/// a namespace it deletes), a chart's among them.
const SHARED_NAMESPACE_STACK: &str = r#"
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true });
for i in 0..4 {
    manifest(c, #{ apiVersion: "v1", kind: "ConfigMap",
                   metadata: #{ name: `settings-${i}`, namespace: "shared" }, data: #{ i: `${i}` } });
}
helm_app(c, "podinfo", #{
    repo: "https://stefanprodan.github.io/podinfo", chart: "podinfo", version: "6.5.0",
    namespace: "shared", timeout: "20s",
});
namespace(c, "own");
"#;

/// Runs killed at random moments, each followed by `destroy`: whatever
/// the moment, nothing that carries the stack's mark stays in the cluster.
fn killed_runs_then_destroy_leave_nothing_behind(e: Env) {
    e.ctx.write("shared.rhai", SHARED_NAMESPACE_STACK);
    e.server
        .create(serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "shared" } }))
        .expect("create the shared namespace");
    e.server.knobs().set_latency(Duration::from_millis(15));
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for trial in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = e.spawn(&["run", "shared.rhai", "--yes"]);
        let wait = Duration::from_millis(50 + seed % 1500);
        poll_until(wait, || child.try_wait().ok().flatten().is_some());
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let destroy = e.stack(&["destroy", "shared.rhai", "--yes"]);
        assert_eq!(destroy.code, 0, "trial {trial}: {}", destroy.transcript());
        for resource in [
            "v1/namespaces",
            "v1/configmaps",
            "v1/services",
            "apps/v1/deployments",
            "argoproj.io/v1alpha1/applications",
        ] {
            let left: Vec<String> = e
                .server
                .list(resource, None)
                .iter()
                .filter(|o| {
                    o.pointer("/metadata/labels/stack.dev~1stack") == Some(&Json::from("shared"))
                })
                .filter_map(|o| o.pointer("/metadata/name").and_then(Json::as_str))
                .map(str::to_string)
                .collect();
            assert!(
                left.is_empty(),
                "trial {trial} (killed after {wait:?}): destroy left {resource} {left:?}"
            );
        }
    }
    assert!(e.server.object("v1/namespaces", None, "shared").is_some());
}

/// An Application for an Argo CD the cluster does not run (no namespace
/// where `argocd_installed` and `argocd_namespace` say it is) fails with a
/// help that questions them, not one to declare the namespace.
fn an_argo_cd_that_is_not_there_is_questioned(e: Env) {
    e.ctx.write(
        "argo.rhai",
        r#"
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true, argocd_namespace: "argo-missing" });
helm_app(c, "podinfo", #{ repo: "https://stefanprodan.github.io/podinfo", chart: "podinfo", version: "6.7.0" });
"#,
    );
    let run = e.stack(&["run", "argo.rhai", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("argocd_installed");
    assert!(
        !run.stderr.contains("declare the namespace"),
        "{}",
        run.transcript()
    );
}

/// An AppProject bounds a team's Applications: it is applied in Argo CD's
/// namespace before the Application that joins it, a rerun writes
/// nothing, and removing both deletes them.
fn an_appproject_is_applied_before_the_applications_that_join_it(e: Env) {
    e.ctx.write(
        "projects.rhai",
        r#"
let c = cluster("e2e", #{ provider: "existing", argocd_installed: true });
let web = appproject(c, "team-web", #{ namespaces: ["team-web"],
                                      source_repos: ["https://stefanprodan.github.io/podinfo"] });
helm_app(c, "podinfo", #{ repo: "https://stefanprodan.github.io/podinfo", chart: "podinfo",
                          version: "6.5.0", namespace: "team-web", project: web.name, timeout: "20s" });
"#,
    );
    ok(&e.stack(&["run", "projects.rhai", "--yes"]));
    let project = e
        .server
        .object(
            "argoproj.io/v1alpha1/appprojects",
            Some("argocd"),
            "team-web",
        )
        .expect("the AppProject");
    assert_eq!(
        project.pointer("/spec/destinations/0/namespace"),
        Some(&Json::from("team-web"))
    );
    assert_eq!(
        project.pointer("/spec/clusterResourceWhitelist"),
        Some(&serde_json::json!([]))
    );
    let app = e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "podinfo",
        )
        .expect("the Application");
    assert_eq!(app.pointer("/spec/project"), Some(&Json::from("team-web")));
    e.server.clear_requests();
    ok(&e.stack(&["run", "projects.rhai", "--yes"]));
    assert_eq!(e.writes(), Vec::<String>::new());
    ok(&e.stack(&["destroy", "projects.rhai", "--yes"]));
    assert!(e
        .server
        .object(
            "argoproj.io/v1alpha1/appprojects",
            Some("argocd"),
            "team-web"
        )
        .is_none());
}

/// An ApplicationSet's git files generator makes one Application per file
/// (Argo CD's applicationset controller is a double here), the run waits
/// until each is Synced and Healthy, and a file removed from the
/// repository takes its Application away.
fn an_applicationset_makes_an_application_per_file(e: Env) {
    let root = e.ctx.path().join("services-root");
    for (service, team) in [("web", "team-web"), ("api", "team-api")] {
        e.ctx.write(
            &format!("services-root/staging/{service}.json"),
            &format!(r#"{{ "service": "{service}", "team": "{team}" }}"#),
        );
        e.ctx.write(
            &format!("services-root/apps/{service}/settings.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {service}-settings\ndata:\n  team: {team}\n"),
        );
    }
    e.ctx.write(
        "services.rhai",
        &format!(
            r#"
let c = cluster("e2e", #{{ provider: "existing", argocd_installed: true }});
applicationset(c, "services", #{{
    generators: [#{{ git: #{{ repo: "{root}", files: ["staging/*.json"] }} }}],
    template: #{{
        metadata: #{{ name: "{{{{service}}}}-staging" }},
        spec: #{{
            source: #{{ repoURL: "{root}", path: "apps/{{{{service}}}}", directory: #{{}} }},
            destination: #{{ server: "https://kubernetes.default.svc", namespace: "default" }},
        }},
    }},
}});
"#,
            root = root.display()
        ),
    );
    ok(&e.stack(&["run", "services.rhai", "--yes"]));
    let set = e
        .server
        .object(
            "argoproj.io/v1alpha1/applicationsets",
            Some("argocd"),
            "services",
        )
        .expect("the ApplicationSet");
    for service in ["web", "api"] {
        let app = e
            .server
            .object(
                "argoproj.io/v1alpha1/applications",
                Some("argocd"),
                &format!("{service}-staging"),
            )
            .expect("a generated Application");
        assert_eq!(
            app.pointer("/metadata/ownerReferences/0/uid"),
            set.pointer("/metadata/uid")
        );
        assert_eq!(app.pointer("/spec/project"), Some(&Json::from("default")));
        // The run waited until Argo CD (the double) had synced it.
        assert_eq!(
            app.pointer("/status/health/status"),
            Some(&Json::from("Healthy"))
        );
        assert!(e
            .server
            .object(
                "v1/configmaps",
                Some("default"),
                &format!("{service}-settings")
            )
            .is_some());
    }
    std::fs::remove_file(root.join("staging/api.json")).expect("remove a service file");
    assert!(
        poll_until(Duration::from_secs(20), || e
            .server
            .object(
                "argoproj.io/v1alpha1/applications",
                Some("argocd"),
                "api-staging"
            )
            .is_none()),
        "the Application of a removed file stayed"
    );
}

/// An Application is held to its AppProject (Argo CD's controller is a
/// double here): a cluster-scoped kind the project does not allow fails
/// its sync and the run, naming the project; allowed, it syncs.
fn an_appproject_refuses_what_it_does_not_permit(e: Env) {
    e.ctx.write(
        "team-repo/rbac/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: team-web-reader\nrules: []\n",
    );
    let repo = e.ctx.path().join("team-repo");
    let script = |allowed: &str| {
        format!(
            r#"
let c = cluster("e2e", #{{ provider: "existing", argocd_installed: true }});
let web = appproject(c, "team-web", #{{ namespaces: ["team-web"], cluster_resources: [{allowed}] }});
manifest(c, #{{ apiVersion: "argoproj.io/v1alpha1", kind: "Application",
    metadata: #{{ name: "web-rbac", namespace: "argocd" }},
    spec: #{{ project: web.name,
             source: #{{ repoURL: "{repo}", path: "rbac", directory: #{{}} }},
             destination: #{{ server: "https://kubernetes.default.svc", namespace: "team-web" }} }} }});
"#,
            repo = repo.display()
        )
    };
    e.ctx.write("rbac.rhai", &script(""));
    let refused = e.stack(&["run", "rbac.rhai", "--yes"]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    // The help is wrapped to the terminal: compare its words.
    let words = refused
        .stderr
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains("ClusterRole is not permitted in project team-web"),
        "{}",
        refused.transcript()
    );
    assert!(e
        .server
        .object(
            "rbac.authorization.k8s.io/v1/clusterroles",
            None,
            "team-web-reader"
        )
        .is_none());
    e.ctx.write(
        "rbac.rhai",
        &script(r#"#{ group: "rbac.authorization.k8s.io", kind: "ClusterRole" }"#),
    );
    ok(&e.stack(&["run", "rbac.rhai", "--yes"]));
    assert!(e
        .server
        .object(
            "rbac.authorization.k8s.io/v1/clusterroles",
            None,
            "team-web-reader"
        )
        .is_some());
}

/// `kubectl` sees what `stack` applied.
fn kubectl_sees_what_stack_applied(e: Env) {
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &e.kubeconfig.to_string_lossy(),
            "get",
            "configmap",
            "settings",
            "-n",
            "team-web",
            "-o",
            "json",
        ])
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cm: Json = serde_json::from_slice(&out.stdout).expect("kubectl prints JSON");
    assert_eq!(cm.pointer("/data/team"), Some(&Json::from("web")));
}

/// GitOps delivery commits once per changing run and never when nothing changed.
#[test]
fn gitops_delivery_commits_once_per_changing_run() {
    let ctx = TestContext::new();
    ctx.write(
        "gitops.rhai",
        r#"
let teams = param("teams", ["web", "api"]);
let c = cluster("ops", #{ provider: "existing", delivery: "gitops",
                          gitops: #{ repo: "repo", path: "clusters", branch: "main" } });
for t in teams { namespace(c, `team-${t}`, #{ labels: #{ team: t } }); }
helm_app(c, "traefik", #{ repo: "https://traefik.github.io/charts", chart: "traefik", version: "28.3.0" });
"#,
    );
    let commits = |dir: &Path| -> Vec<String> {
        let out = Command::new("git")
            .args(["log", "--format=%s"])
            .current_dir(dir)
            .output()
            .expect("git log");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let repo = ctx.path().join("repo");
    ok(&ctx.stack_env(
        &["run", "gitops.rhai", "--yes"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    ));
    assert_eq!(commits(&repo).len(), 1);
    assert!(repo.join("clusters/ops/traefik.yaml").exists());
    assert!(repo.join("clusters/ops/namespaces/team-api.yaml").exists());
    assert!(repo.join("clusters/ops/root.yaml").exists());
    ok(&ctx.stack_env(
        &["run", "gitops.rhai", "--yes"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    ));
    assert_eq!(commits(&repo).len(), 1, "a run with no change committed");
    ok(&ctx.stack_env(
        &["run", "gitops.rhai", "--yes", "--set", "teams=web"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    ));
    let log = commits(&repo);
    assert_eq!(log.len(), 2);
    assert!(!repo.join("clusters/ops/namespaces/team-api.yaml").exists());
    let message = Command::new("git")
        .args(["log", "-1", "--format=%B"])
        .current_dir(&repo)
        .output()
        .expect("git log");
    assert!(String::from_utf8_lossy(&message.stdout).contains("delete ops/namespace/team-api"));
}

/// Runs git in `dir` and returns what it printed.
fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The `repoURL` a rendered or committed root Application points Argo CD at.
fn root_repo_url(root: &Path) -> String {
    let text = std::fs::read_to_string(root).expect("root.yaml");
    let root: Json = serde_yaml::from_str(&text).expect("root.yaml is YAML");
    root.pointer("/spec/source/repoURL")
        .and_then(Json::as_str)
        .expect("a repoURL")
        .to_string()
}

/// A GitOps run says which commit it made in which repository and branch;
/// a root Application that points at a path on this machine is warned
/// about, and one with an `origin` remote points there and is pushed. A
/// hand-edited file or a deleted repository is drift: `plan --refresh`
/// shows it and `run --refresh` writes it back.
#[test]
fn gitops_run_names_its_commit_and_restores_what_was_changed_in_the_repository() {
    let ctx = TestContext::new();
    ctx.write(
        "gitops.rhai",
        r#"
let c = cluster("ops", #{ provider: "existing", delivery: "gitops",
                          gitops: #{ repo: "repo", path: "clusters", branch: "main" } });
namespace(c, "team-web", #{ labels: #{ team: "web" } });
manifest(c, #{ apiVersion: "v1", kind: "ConfigMap", metadata: #{ name: "settings", namespace: "team-web" },
               data: #{ team: param("team", "web") } });
"#,
    );
    let unreachable = [("KUBECONFIG", "/nonexistent/kubeconfig")];
    let repo = ctx.path().join("repo");
    let namespace = repo.join("clusters/ops/namespaces/team-web.yaml");
    let root = repo.join("clusters/ops/root.yaml");

    let first = ctx.stack_env(&["run", "gitops.rhai", "--yes"], &unreachable);
    ok(&first);
    let short = git_in(&repo, &["rev-parse", "--short", "HEAD"]);
    first.assert_stderr(&format!("committed {short} to repo (branch main)"));
    // No remote: Argo CD is pointed at this machine's path, with a warning,
    // and told how to get its root Application.
    let local = repo.canonicalize().expect("the repository exists");
    assert_eq!(root_repo_url(&root), local.to_string_lossy());
    first.assert_stderr("gitops.url");
    first.assert_stderr("kubectl apply -f repo/clusters/ops/root.yaml");

    // A hand edit is drift; a plan without --refresh does not read the files.
    let delivered = std::fs::read_to_string(&namespace).expect("the namespace file");
    std::fs::write(&namespace, delivered.replace("team: web", "team: edited")).expect("edit");
    let diff = ctx.stack_env(
        &["diff", "gitops.rhai", "--detailed-exitcode"],
        &unreachable,
    );
    assert_eq!(diff.code, 3, "{}", diff.transcript());
    diff.assert_stdout("metadata.labels.team: \"edited\"");
    let quiet = ctx.stack_env(
        &["plan", "gitops.rhai", "--detailed-exitcode"],
        &unreachable,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.transcript());
    let drift = ctx.stack_env(
        &["plan", "gitops.rhai", "--refresh", "--detailed-exitcode"],
        &unreachable,
    );
    assert_eq!(drift.code, 3, "{}", drift.transcript());
    drift.assert_stdout("ops/namespace/team-web");
    ok(&ctx.stack_env(&["run", "gitops.rhai", "--refresh", "--yes"], &unreachable));
    assert_eq!(
        std::fs::read_to_string(&namespace).expect("restored"),
        delivered
    );
    assert_eq!(
        git_in(&repo, &["status", "--porcelain"]),
        "",
        "left uncommitted"
    );

    // A deleted repository is drift of everything, and comes back whole.
    std::fs::remove_dir_all(&repo).expect("delete the repository");
    let gone = ctx.stack_env(
        &["plan", "gitops.rhai", "--refresh", "--detailed-exitcode"],
        &unreachable,
    );
    assert_eq!(gone.code, 3, "{}", gone.transcript());
    gone.assert_stdout("ops/manifest/ConfigMap/team-web/settings");
    ok(&ctx.stack_env(&["run", "gitops.rhai", "--refresh", "--yes"], &unreachable));
    assert_eq!(
        std::fs::read_to_string(&namespace).expect("restored"),
        delivered
    );
    assert!(root.exists(), "the root Application was not written back");

    // With an `origin` remote, the root Application points there and the
    // commit is pushed to it.
    let origin = ctx.path().join("origin.git");
    git_in(
        ctx.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    git_in(
        &repo,
        &["remote", "add", "origin", &origin.to_string_lossy()],
    );
    let pushed = ctx.stack_env(
        &["run", "gitops.rhai", "--yes", "--set", "team=payments"],
        &unreachable,
    );
    ok(&pushed);
    pushed.assert_stderr(&format!("pushed to {}", origin.display()));
    assert_eq!(
        git_in(&origin, &["rev-parse", "main"]),
        git_in(&repo, &["rev-parse", "HEAD"])
    );
    assert_eq!(root_repo_url(&root), origin.to_string_lossy());
}

/// `plan --out PLAN` saves a plan (parameters only as salted hashes) and
/// `run PLAN` applies exactly it, without asking again; it refuses, having
/// changed nothing, once the state, the script or a parameter differs.
#[test]
fn a_saved_plan_is_applied_exactly_or_refused() {
    let ctx = TestContext::new();
    let script = r#"
let c = cluster("ops", #{ provider: "existing", delivery: "gitops", gitops: #{ repo: "repo" } });
manifest(c, #{ apiVersion: "v1", kind: "ConfigMap", metadata: #{ name: "settings", namespace: "default" },
               data: #{ mode: if param("token", "none") == "none" { "open" } else { "locked" } } });
"#;
    ctx.write("ops.rhai", script);
    let env = [("KUBECONFIG", "/nonexistent/kubeconfig")];
    let repo = ctx.path().join("repo");
    let commits = || {
        if repo.exists() {
            git_in(&repo, &["rev-list", "--count", "HEAD"])
        } else {
            "0".to_string()
        }
    };
    let state = ctx.path().join(".stack/ops.state.json");
    let serial = || -> Json {
        let text = std::fs::read_to_string(&state).unwrap_or_else(|_| "{}".into());
        serde_json::from_str::<Json>(&text).expect("state JSON")["serial"].clone()
    };

    let plan = ctx.stack_env(
        &[
            "plan",
            "ops.rhai",
            "--out",
            "ops.plan",
            "--set",
            "token=s3cr3t-param",
        ],
        &env,
    );
    ok(&plan);
    let saved = std::fs::read_to_string(ctx.path().join("ops.plan")).expect("the saved plan");
    assert!(
        !saved.contains("s3cr3t-param"),
        "a parameter's value was saved"
    );
    // Another parameter than planned: refused.
    let other = ctx.stack_env(&["run", "ops.plan", "--set", "token=other"], &env);
    assert_eq!(other.code, 2, "{}", other.transcript());
    assert_eq!(commits(), "0");
    // Given by a flag only the plan decides: refused.
    let target = ctx.stack_env(&["run", "ops.plan", "--target", "cluster/ops"], &env);
    assert_eq!(target.code, 2, "{}", target.transcript());
    // The same: applied without asking (there is no terminal and no --yes).
    let run = ctx.stack_env(&["run", "ops.plan", "--set", "token=s3cr3t-param"], &env);
    ok(&run);
    assert_eq!(commits(), "1");
    let applied = serial();

    // The state moved on since: refused, nothing changed.
    let again = ctx.stack_env(&["run", "ops.plan", "--set", "token=s3cr3t-param"], &env);
    assert_eq!(again.code, 2, "{}", again.transcript());
    assert_eq!((commits().as_str(), serial()), ("1", applied.clone()));

    // The script changed since: refused, nothing changed.
    ok(&ctx.stack_env(&["plan", "ops.rhai", "--out", "next.plan"], &env));
    ctx.write("ops.rhai", &script.replace("settings", "options"));
    let edited = ctx.stack_env(&["run", "next.plan"], &env);
    assert_eq!(edited.code, 2, "{}", edited.transcript());
    assert_eq!((commits().as_str(), serial()), ("1", applied));
}

/// `gitops.url` is what the root Application clones, and a URL needs no warning.
#[test]
fn gitops_url_is_what_argo_cd_clones() {
    let ctx = TestContext::new();
    ctx.write(
        "gitops.rhai",
        r#"
let c = cluster("ops", #{ provider: "existing", delivery: "gitops",
                          gitops: #{ repo: "repo", url: "https://git.example.com/ops.git" } });
namespace(c, "team-web");
"#,
    );
    let run = ctx.stack_env(
        &["run", "gitops.rhai", "--yes"],
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    );
    ok(&run);
    assert!(!run.stderr.contains("warning"), "{}", run.transcript());
    assert_eq!(
        root_repo_url(&ctx.path().join("repo/ops/root.yaml")),
        "https://git.example.com/ops.git"
    );
    let rendered = ctx.stack(&["render", "gitops.rhai", "--out", "out"]);
    ok(&rendered);
    assert_eq!(
        root_repo_url(&ctx.path().join("out/ops/root.yaml")),
        "https://git.example.com/ops.git"
    );
}

/// `state(#{ backend: "kubernetes" })`: the state lives in a Secret of the
/// cluster and the lock is a Lease; no local state file is written.
fn the_state_can_live_in_the_cluster(e: Env) {
    let script = STACK.replace(
        r#"let c = cluster("e2e", #{ provider: "existing", argocd_installed: true });"#,
        r#"let c = cluster("e2e", #{ provider: "existing", argocd_installed: true });
state(#{ backend: "kubernetes", cluster: c, namespace: "stack-system" });"#,
    );
    e.ctx.write("e2e.rhai", &script);
    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    assert!(!e.state_path().exists(), "a local state file was written");
    let secret = e
        .server
        .object("v1/secrets", Some("stack-system"), "stack-state-e2e")
        .expect("the state Secret");
    assert!(secret.get("data").is_some(), "{secret:#}");
    assert!(
        !secret.to_string().contains(PASSWORD),
        "the password is in the state Secret"
    );
    let lease = e.server.object(
        "coordination.k8s.io/v1/leases",
        Some("stack-system"),
        "stack-lock-e2e",
    );
    assert!(
        lease
            .as_ref()
            .is_none_or(|l| l.pointer("/spec/holderIdentity").is_none_or(Json::is_null)),
        "the lock was not released: {lease:?}"
    );
    e.server.clear_requests();
    let again = e.stack(&["plan", "e2e.rhai", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    ok(&e.stack(&[
        "render",
        "e2e.rhai",
        "--out",
        "rendered",
        "--repo-url",
        "https://git.example/p",
    ]));

    // destroy reads the same state: it deletes what the run made, then the
    // state itself.
    let destroy = e.stack(&["destroy", "e2e.rhai", "--yes"]);
    ok(&destroy);
    assert!(
        !destroy.stdout.contains("Nothing to do"),
        "{}",
        destroy.transcript()
    );
    assert!(e
        .server
        .object("v1/namespaces", None, "after-app")
        .is_none());
    assert!(e
        .server
        .object("v1/configmaps", Some("team-web"), "settings")
        .is_none());
    assert!(
        e.server
            .object("v1/secrets", Some("stack-system"), "stack-state-e2e")
            .is_none(),
        "the empty state Secret stays"
    );
    assert!(e
        .server
        .object(
            "coordination.k8s.io/v1/leases",
            Some("stack-system"),
            "stack-lock-e2e"
        )
        .is_none());
    assert!(!e.state_path().exists(), "a local state file was written");
    let nothing = e.stack(&["destroy", "e2e.rhai", "--yes"]);
    ok(&nothing);
    nothing.assert_stdout("Nothing to destroy");
}

/// Ctrl-C stops starting work, lets running work finish, saves and exits 130.
fn an_interrupted_run_saves_what_finished_and_exits_130(e: Env) {
    e.server.knobs().set_latency(Duration::from_millis(40));
    let child = e.spawn(&[
        "run",
        "e2e.rhai",
        "--yes",
        "--parallelism",
        "1",
        "--set",
        "teams=web,a,b,c,d,e",
    ]);
    // Interrupt once the first namespace exists.
    assert!(e.server.wait_for(
        "v1/namespaces",
        None,
        "team-a",
        Duration::from_secs(20),
        &|o| o.is_some()
    ));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let output = child.wait_with_output().expect("the run ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // It names what it waits for: at parallelism 1, one resource at most.
    let said = stderr
        .lines()
        .find(|l| l.starts_with("Interrupted: "))
        .unwrap_or_else(|| panic!("no interruption message:\n{stderr}"));
    assert!(
        said.contains("waiting for 1 running resource (") || said.contains("nothing is running"),
        "{said}"
    );
    let state = e.state();
    let recorded = state["resources"].as_object().map_or(0, |r| r.len());
    assert!(
        (2..15).contains(&recorded),
        "recorded {recorded} resources:\n{stderr}"
    );
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--set", "teams=web,a,b,c,d,e"]));
}

/// GitOps delivery to a cluster that can be reached: the root Application is
/// handed to Argo CD, which syncs the repository, and the run waits until
/// the Applications it wrote are Synced and Healthy.
fn gitops_delivery_waits_for_argo_cd_when_the_cluster_is_reachable(e: Env) {
    let repo = e.ctx.path().join("platform-repo");
    let script = format!(
        r#"
let c = cluster("ops", #{{ provider: "existing", delivery: "gitops",
                          gitops: #{{ repo: "{}", path: "clusters", branch: "main" }} }});
namespace(c, "team-web", #{{ labels: #{{ team: "web" }} }});
helm_app(c, "traefik", #{{ repo: "https://traefik.github.io/charts", chart: "traefik", version: "28.3.0" }});
"#,
        repo.display()
    );
    e.ctx.write("ops.rhai", &script);
    let run = e.stack(&["run", "ops.rhai", "--yes"]);
    ok(&run);
    let root = e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "ops-root",
        )
        .expect("the root Application");
    assert_eq!(
        root.pointer("/status/health/status"),
        Some(&Json::from("Healthy"))
    );
    // Argo CD (the double) synced the repository: the app and the namespace came from git.
    let app = e
        .server
        .object(
            "argoproj.io/v1alpha1/applications",
            Some("argocd"),
            "traefik",
        )
        .expect("synced from git");
    assert_eq!(
        app.pointer("/status/sync/status"),
        Some(&Json::from("Synced"))
    );
    assert!(e.server.object("v1/namespaces", None, "team-web").is_some());

    e.server
        .knobs()
        .argocd()
        .degrade("traefik", "Service traefik: no endpoints");
    e.ctx.write("ops.rhai", &script.replace("28.3.0", "28.4.0"));
    let degraded = e.stack(&["run", "ops.rhai", "--yes"]);
    assert_eq!(degraded.code, 1, "{}", degraded.transcript());
    degraded.assert_stderr("no endpoints");
}

/// GitOps delivery of a Secret with secret values: the Secret, and the
/// declared namespace it lives in, are applied by the run itself (neither
/// is written to git), so the Secret never waits for Argo CD to create its
/// namespace; the ConfigMap beside it comes from git through Argo CD. A
/// second run changes nothing and keeps the namespace. A namespace already
/// delivered through git stays there when a Secret is added to it. Destroy
/// removes them.
fn gitops_secret_gets_its_namespace_from_the_run(e: Env) {
    let repo = e.ctx.path().join("platform-repo");
    let committed = || -> Vec<String> {
        crate::common::files_below(&repo.join("clusters"))
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect()
    };
    let script = format!(
        r#"
let c = cluster("ops", #{{ provider: "existing", delivery: "gitops",
                          gitops: #{{ repo: "{}", path: "clusters", branch: "main" }} }});
let ns = namespace(c, "payments");
manifest(c, #{{ apiVersion: "v1", kind: "Secret", metadata: #{{ name: "db", namespace: ns.name }},
               stringData: #{{ password: secret("env:E2E_DB_PASSWORD") }} }});
manifest(c, #{{ apiVersion: "v1", kind: "ConfigMap", metadata: #{{ name: "settings", namespace: "payments" }},
               data: #{{ team: "payments" }} }});
let billing = namespace(c, "billing");
"#,
        repo.display()
    );
    e.ctx.write("ops.rhai", &script);
    ok(&e.stack(&["run", "ops.rhai", "--yes"]));
    let namespace = e
        .server
        .object("v1/namespaces", None, "payments")
        .expect("the run created the namespace");
    assert_eq!(
        namespace.pointer("/metadata/annotations/stack.dev~1resource"),
        Some(&Json::from("ops/namespace/payments"))
    );
    let uid = namespace.pointer("/metadata/uid").cloned();
    assert!(e
        .server
        .object("v1/secrets", Some("payments"), "db")
        .is_some());
    assert!(
        e.server
            .object("v1/configmaps", Some("payments"), "settings")
            .is_some(),
        "Argo CD delivered the ConfigMap from git"
    );
    let files = committed();
    assert!(files.iter().any(|text| text.contains("name: settings")));
    let namespace_file = |name: &str| {
        committed()
            .iter()
            .any(|text| text.contains("kind: Namespace") && text.contains(&format!("name: {name}")))
    };
    assert!(!namespace_file("payments"));
    assert!(namespace_file("billing"));
    assert!(!files.iter().any(|text| text.contains("kind: Secret")));
    assert!(!files.iter().any(|text| text.contains(PASSWORD)));

    let plan = e.stack(&["plan", "ops.rhai", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    ok(&e.stack(&["run", "ops.rhai", "--yes"]));
    let again = e.server.object("v1/namespaces", None, "payments");
    assert_eq!(again.and_then(|n| n.pointer("/metadata/uid").cloned()), uid);

    let billing_secret = r#"manifest(c, #{ apiVersion: "v1", kind: "Secret", metadata: #{ name: "db", namespace: billing.name },
               stringData: #{ password: secret("env:E2E_DB_PASSWORD") } });
"#;
    e.ctx
        .write("ops.rhai", &format!("{script}{billing_secret}"));
    ok(&e.stack(&["run", "ops.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/secrets", Some("billing"), "db")
        .is_some());
    assert!(namespace_file("billing"), "the namespace stays in git");
    // The state says which way each went: deletes take the same way.
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(e.ctx.path().join(".stack/ops.state.json")).expect("the state"),
    )
    .expect("state JSON");
    let direct = |id: &str| state["resources"][id]["direct"].as_bool().unwrap_or(false);
    assert!(direct("ops/namespace/payments") && direct("ops/manifest/Secret/billing/db"));
    assert!(!direct("ops/namespace/billing"));
    assert!(!committed().iter().any(|text| text.contains(PASSWORD)));

    ok(&e.stack(&["destroy", "ops.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/secrets", Some("payments"), "db")
        .is_none());
    assert!(e
        .server
        .object("v1/namespaces", None, "payments")
        .is_none_or(|n| n.pointer("/metadata/deletionTimestamp").is_some()));
}

/// A kind cluster on a machine without kind: a clear diagnostic at the
/// cluster's declaration, exit 1, nothing recorded.
#[test]
fn a_kind_cluster_without_kind_says_what_is_missing() {
    let ctx = TestContext::new();
    ctx.write(
        "local.rhai",
        r#"let c = cluster("local", #{ provider: "kind", version: "1.30" });
namespace(c, "apps");
"#,
    );
    let run = ctx.stack_env(&["run", "local.rhai", "--yes"], &[("PATH", "/nonexistent")]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stderr("`kind` is not installed");
    run.assert_stderr("local.rhai:1");
    run.assert_stderr("skipped local/namespace/apps");
}

/// Through the direct kubeconfig: HTTPS with the server's own certificate
/// authority and a bearer token, as a user's kubeconfig reaches a cluster.
#[test]
fn a_run_over_tls_with_a_token_reaches_the_api_server() {
    let cluster = RealCluster::take_with_argocd();
    let yaml = cluster.direct_kubeconfig_yaml();
    let e = env_on(Box::new(cluster));
    let direct = e.ctx.path().join("direct-kubeconfig");
    std::fs::write(&direct, yaml).expect("write the kubeconfig");
    let direct = direct.to_string_lossy().into_owned();
    let env = [
        ("KUBECONFIG", direct.as_str()),
        ("E2E_DB_PASSWORD", PASSWORD),
    ];
    let run = e.ctx.stack_env(&["run", "e2e.rhai", "--yes"], &env);
    ok(&run);
    assert!(e.server.object("v1/namespaces", None, "team-web").is_some());
    let plan = e
        .ctx
        .stack_env(&["plan", "e2e.rhai", "--detailed-exitcode"], &env);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    ok(&e.ctx.stack_env(&["destroy", "e2e.rhai", "--yes"], &env));
    assert!(e
        .server
        .object("v1/configmaps", Some("team-web"), "settings")
        .is_none());
}

/// Resources applied side by side share what they read once: one
/// discovery of their kind, one owner check each before the plan.
fn resources_side_by_side_share_one_discovery(e: Env) {
    e.ctx.write(
        "wide.rhai",
        r#"
let c = cluster("e2e", #{ provider: "existing" });
for i in 0..30 { namespace(c, `wide-${i}`); }
"#,
    );
    e.server.clear_requests();
    ok(&e.stack(&["run", "wide.rhai", "--yes", "--parallelism", "30"]));
    let requests = e.server.requests();
    let discoveries = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1")
        .count();
    assert_eq!(discoveries, 1, "{requests:#?}");
    for i in 0..30 {
        let path = format!("/api/v1/namespaces/wide-{i}");
        let applies = requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path == path)
            .count();
        assert_eq!(applies, 1, "{path}");
        assert!(e
            .server
            .object("v1/namespaces", None, &format!("wide-{i}"))
            .is_some());
    }
    ok(&e.stack(&["destroy", "wide.rhai", "--yes"]));
}

/// `--target` narrows `run` to a resource and what it needs, and `destroy`
/// to a resource and what needs it; the rest is left as it is.
fn targets_narrow_run_and_destroy(e: Env) {
    let ns = "e2e/namespace/team-api";
    let plan = e.stack(&["plan", "e2e.rhai", "--target", ns]);
    ok(&plan);
    plan.assert_stdout("Plan: 2 to create");
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--target", ns]));
    assert!(e.server.object("v1/namespaces", None, "team-api").is_some());
    assert!(e.server.object("v1/namespaces", None, "team-web").is_none());
    let recorded: Vec<String> = e.state()["resources"]
        .as_object()
        .expect("resources")
        .keys()
        .cloned()
        .collect();
    assert_eq!(recorded, ["cluster/e2e", ns]);

    ok(&e.stack(&["run", "e2e.rhai", "--yes"]));
    let web_uid = e
        .server
        .object("v1/namespaces", None, "team-web")
        .and_then(|o| o.pointer("/metadata/uid").cloned())
        .expect("team-web");
    let destroy = e.stack(&["destroy", "e2e.rhai", "--yes", "--target", ns]);
    ok(&destroy);
    destroy.assert_stdout("- e2e/manifest/ConfigMap/team-api/settings  (delete)");
    assert!(e.server.object("v1/namespaces", None, "team-api").is_none());
    assert_eq!(
        e.server
            .object("v1/namespaces", None, "team-web")
            .and_then(|o| o.pointer("/metadata/uid").cloned()),
        Some(web_uid),
        "what the target does not reach is left alone"
    );
    let state = e.state();
    assert!(state["resources"].get(ns).is_none());
    assert!(state["resources"].get("e2e/namespace/team-web").is_some());

    let unknown = e.stack(&[
        "destroy",
        "e2e.rhai",
        "--yes",
        "--target",
        "e2e/namespace/team-apj",
    ]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    unknown.assert_stderr("did you mean");
}

/// The parameters of the last whole run are kept in the state, and a plan
/// says which are set differently now: `--set` is not silently reverted.
fn a_plan_names_parameters_set_differently_than_in_the_last_run(e: Env) {
    ok(&e.stack(&["run", "e2e.rhai", "--yes", "--set", "teams=web,api"]));
    let recorded = e.state()["params"]["teams"].clone();
    assert!(recorded.is_string(), "{recorded}");
    assert!(
        !recorded.to_string().contains("web"),
        "kept as a hash, not in clear: {recorded}"
    );
    // The default is the same list: nothing changes but the parameters.
    let plan = e.stack(&["plan", "e2e.rhai"]);
    ok(&plan);
    plan.assert_stdout("teams: set then, not set now");
    assert!(!plan.stdout.contains("web,api"), "{}", plan.stdout);
    plan.assert_stdout("No changes");
    let run = e.stack(&["run", "e2e.rhai", "--yes"]);
    ok(&run);
    assert_eq!(e.state().get("params"), None, "recorded as none");
    let plan = e.stack(&["plan", "e2e.rhai"]);
    assert!(!plan.stdout.contains("Parameters"), "{}", plan.stdout);
    let json = e.stack(&["plan", "e2e.rhai", "--set", "teams=web", "-o", "json"]);
    ok(&json);
    let parsed: Json = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(
        parsed["params"],
        serde_json::json!([{ "name": "teams", "was_set": false, "is_set": true }])
    );
    // A targeted run is not the whole stack's: it records nothing.
    ok(&e.stack(&[
        "run",
        "e2e.rhai",
        "--yes",
        "--set",
        "teams=web",
        "--target",
        "e2e/namespace/team-web",
    ]));
    assert_eq!(e.state().get("params"), None);
}

/// Outputs of the stack are recorded by a whole run and read with `stack
/// output`; a secret is recorded and shown only as `(sensitive)`.
fn stack_outputs_are_recorded_by_a_run_and_secrets_never_are(e: Env) {
    e.ctx.write(
        "out.rhai",
        r#"
let c = cluster("o", #{ provider: "existing" });
let ns = namespace(c, "team-out");
output("namespace", ns.name, #{ description: "the team's namespace" });
output("version", c.version);
output("password", secret("env:E2E_DB_PASSWORD"));
output("teams", ["a", "b"]);
"#,
    );
    let before = e.stack(&["output", "out.rhai"]);
    ok(&before);
    before.assert_stdout("namespace (not recorded yet)");
    let missing = e.stack(&["output", "out.rhai", "namespace"]);
    assert_eq!(missing.code, 1, "{}", missing.transcript());

    ok(&e.stack(&["run", "out.rhai", "--yes"]));
    let bare = e.stack(&["output", "out.rhai", "namespace"]);
    ok(&bare);
    assert_eq!(bare.stdout, "team-out\n");
    let version = e.stack(&["output", "out.rhai", "version"]);
    ok(&version);
    assert!(version.stdout.trim().starts_with('v'), "{}", version.stdout);
    let all = e.stack(&["output", "out.rhai", "-o", "json"]);
    ok(&all);
    let parsed: Json = serde_json::from_str(&all.stdout).expect("json");
    assert_eq!(parsed["teams"]["value"], serde_json::json!(["a", "b"]));
    assert_eq!(
        parsed["namespace"]["description"],
        serde_json::json!("the team's namespace")
    );
    assert_eq!(parsed["password"]["sensitive"], serde_json::json!(true));
    assert_eq!(parsed["password"]["value"], Json::Null);
    let secret = e.stack(&["output", "out.rhai", "password"]);
    ok(&secret);
    assert_eq!(secret.stdout, "(sensitive)\n");
    let state =
        std::fs::read_to_string(e.ctx.path().join(".stack").join("out.state.json")).expect("state");
    for printed in [&all.stdout, &secret.stdout, &state] {
        for encoding in encodings(PASSWORD) {
            assert!(!printed.contains(&encoding), "the secret leaked: {printed}");
        }
    }
    let typo = e.stack(&["output", "out.rhai", "namespac"]);
    assert_eq!(typo.code, 2, "{}", typo.transcript());
    typo.assert_stderr("did you mean `namespace`?");
}

on_both_servers!(
    stack_outputs_are_recorded_by_a_run_and_secrets_never_are,
    a_plan_names_parameters_set_differently_than_in_the_last_run,
    targets_narrow_run_and_destroy,
    resources_side_by_side_share_one_discovery,
    run_applies_then_a_second_run_writes_nothing,
    removing_from_the_script_prunes_and_destroy_removes_everything,
    a_degraded_app_fails_skips_its_dependents_and_a_fixed_rerun_converges,
    a_second_concurrent_run_fails_at_once_naming_the_holder,
    injected_server_errors_are_retried,
    the_secret_never_leaves_the_cluster_secret,
    refresh_shows_drift_made_by_someone_else,
    diff_shows_what_a_run_would_change_in_live_objects,
    killed_runs_lose_nothing_and_the_next_run_converges,
    killed_runs_then_destroy_leave_nothing_behind,
    kubectl_sees_what_stack_applied,
    an_argo_cd_that_is_not_there_is_questioned,
    an_appproject_is_applied_before_the_applications_that_join_it,
    an_applicationset_makes_an_application_per_file,
    an_appproject_refuses_what_it_does_not_permit,
    the_state_can_live_in_the_cluster,
    an_interrupted_run_saves_what_finished_and_exits_130,
    gitops_delivery_waits_for_argo_cd_when_the_cluster_is_reachable,
    gitops_secret_gets_its_namespace_from_the_run,
);

/// An answer whose body never comes (a stalled load balancer) is given up
/// after the request timeout and the request is made again: the run
/// converges on the real server behind the proxy.
#[test]
fn a_stalled_answer_is_given_up_and_retried() {
    let e = real_env();
    e.server.knobs().inject(
        FaultRule::times(Fault::StallBody, 1)
            .on_methods(&["PATCH"])
            .on_path("/configmaps/"),
    );
    let run = e.stack(&["run", "e2e.rhai", "--yes"]);
    ok(&run);
    let stalled = e
        .server
        .requests()
        .into_iter()
        .filter(|r| r.injected)
        .count();
    assert_eq!(stalled, 1, "one answer stalled");
    assert!(e
        .server
        .object("v1/configmaps", Some("team-web"), "settings")
        .is_some());
    assert!(e
        .server
        .object("v1/configmaps", Some("team-api"), "settings")
        .is_some());
}
