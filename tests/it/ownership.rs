//! Ownership end to end: what a stack applies carries who owns it, and no
//! run takes over, overwrites or deletes what another stack or nobody
//! owns; a declaration renamed within the stack keeps its object; guards
//! refuse a script emptied by mistake and protect what is marked so. Each
//! scenario runs on the Kubernetes API test server and on a real
//! kube-apiserver, and asserts the live objects afterwards (they exist,
//! uid unchanged), not only the output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value as Json};
use stack_testkit::{Cluster, Config, RealCluster, TestServer};

use crate::common::{run_in, Run, TestContext};
use crate::run::ok;

struct Env {
    ctx: TestContext,
    server: Box<dyn Cluster>,
    kubeconfig: PathBuf,
}

fn env() -> Env {
    Env::on(Box::new(TestServer::start_blocking(Config::default())))
}

fn real_env() -> Env {
    Env::on(Box::new(RealCluster::take()))
}

impl Env {
    fn on(server: Box<dyn Cluster>) -> Env {
        let (ctx, kubeconfig) = TestContext::with_kubeconfig(server.as_ref());
        Env {
            ctx,
            server,
            kubeconfig,
        }
    }

    /// Writes the script `platform.rhai` of the stack in directory `dir`.
    fn script(&self, dir: &str, text: &str) -> PathBuf {
        self.ctx.write(&format!("{dir}/platform.rhai"), text)
    }

    /// Runs `stack` in the stack directory `dir`.
    fn stack(&self, dir: &str, args: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig.to_string_lossy().into_owned();
        run_in(
            &self.ctx.path().join(dir),
            args,
            &[("KUBECONFIG", &kubeconfig)],
        )
    }

    fn namespace(&self, name: &str) -> Option<Json> {
        self.server.object("v1/namespaces", None, name)
    }

    fn uid(&self, name: &str) -> Option<String> {
        self.namespace(name).and_then(|n| {
            n.pointer("/metadata/uid")
                .and_then(Json::as_str)
                .map(str::to_string)
        })
    }

    fn state(&self, dir: &str) -> Json {
        let path: &Path = &self.ctx.path().join(dir).join(".stack/platform.state.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("a state file")).expect("JSON")
    }
}

/// How long a deleted Namespace may take to go (its lifecycle
/// controller empties it first on a real server).
const GONE: Duration = Duration::from_secs(60);

fn refused(run: &Run) {
    assert_eq!(run.code, 2, "{}", run.transcript());
}

const SHARED: &str = r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "shared", #{ labels: #{ team: "a" } });
"#;

fn a_second_stack_of_the_same_name_cannot_take_an_object_over(e: Env) {
    e.script("a", SHARED);
    e.script("b", &SHARED.replace("team: \"a\"", "team: \"b\""));
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("shared").expect("made by stack a");

    // The other copy's plan and run refuse, naming the holder; nothing changes.
    let plan = e.stack("b", &["plan", "platform.rhai"]);
    refused(&plan);
    plan.assert_stderr("refused to take over Namespace shared");
    plan.assert_stderr("stack `platform`");
    let run = e.stack("b", &["run", "platform.rhai", "--yes"]);
    refused(&run);
    let live = e.namespace("shared").expect("still there");
    assert_eq!(live.pointer("/metadata/labels/team"), Some(&json!("a")));
    assert_eq!(e.uid("shared"), Some(uid.clone()));

    // Its destroy has nothing of it to delete; the owner's still does.
    ok(&e.stack("b", &["destroy", "platform.rhai", "--yes"]));
    assert_eq!(e.uid("shared"), Some(uid));
    ok(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    e.server
        .wait_for("v1/namespaces", None, "shared", GONE, &|o| o.is_none())
        .then_some(())
        .expect("deleted by its owner");
}

fn an_object_made_outside_any_stack_is_refused_then_adopted_then_destroyed(e: Env) {
    e.server
        .create(json!({ "apiVersion": "v1", "kind": "Namespace",
                        "metadata": { "name": "legacy", "labels": { "made-by": "kubectl" } } }))
        .expect("made by hand");
    let uid = e.uid("legacy").expect("exists");
    let script = r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "legacy", #{ labels: #{ team: "a" } ADOPT });
"#;
    e.script("a", &script.replace(" ADOPT", ""));
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    refused(&plan);
    plan.assert_stderr("refused to take over Namespace legacy");
    plan.assert_stderr("adopt: true");
    refused(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(
        e.namespace("legacy")
            .and_then(|n| n.pointer("/metadata/labels/team").cloned()),
        None,
        "untouched"
    );

    e.script("a", &script.replace(" ADOPT", ", adopt: true"));
    // The plan shows the take-over, with the live object as the "before".
    let plan = e.stack("a", &["plan", "platform.rhai", "--output", "json"]);
    ok(&plan);
    let plan: Json = serde_json::from_str(&plan.stdout).expect("a JSON plan");
    let change = &plan["changes"][1];
    assert_eq!(change["action"], json!("adopt"), "{plan:#}");
    assert_eq!(plan["summary"]["adopt"], json!(1));
    let team = change["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("metadata.labels.team"))
        })
        .unwrap_or_else(|| panic!("the label it adds: {plan:#}"));
    assert_eq!(
        (&team["before"], &team["after"]),
        (&Json::Null, &json!("a"))
    );
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let live = e.namespace("legacy").expect("adopted");
    assert_eq!(e.uid("legacy"), Some(uid), "the same object");
    assert_eq!(live.pointer("/metadata/labels/team"), Some(&json!("a")));
    assert_eq!(
        live.pointer("/metadata/labels/made-by"),
        Some(&json!("kubectl"))
    );
    assert_eq!(
        live.pointer("/metadata/annotations/stack.dev~1resource"),
        Some(&json!("t/namespace/legacy"))
    );
    let identity = e.state("a")["identity"].clone();
    assert_eq!(
        live.pointer("/metadata/annotations/stack.dev~1identity"),
        Some(&identity)
    );

    ok(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    e.server
        .wait_for("v1/namespaces", None, "legacy", GONE, &|o| o.is_none())
        .then_some(())
        .expect("adopted, so destroyed with the stack");
}

fn a_declaration_renamed_within_the_stack_keeps_its_object(e: Env) {
    e.script(
        "a",
        r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "team-a");
"#,
    );
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("team-a").expect("made");

    // The same Namespace as a manifest.
    e.script(
        "a",
        r#"
let c = cluster("t", #{ provider: "existing" });
manifest(c, #{ apiVersion: "v1", kind: "Namespace", metadata: #{ name: "team-a" } });
"#,
    );
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    ok(&plan);
    plan.assert_stdout("moved from `t/namespace/team-a`");
    assert!(!plan.stdout.contains("(delete)"), "{}", plan.stdout);
    e.server.clear_requests();
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(
        e.uid("team-a"),
        Some(uid.clone()),
        "not deleted and made anew"
    );
    assert_eq!(e.server.deletes(), Vec::<String>::new());

    // The cluster handle renamed on the same context.
    e.script(
        "a",
        r#"
let c = cluster("t2", #{ provider: "existing" });
manifest(c, #{ apiVersion: "v1", kind: "Namespace", metadata: #{ name: "team-a" } });
"#,
    );
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    ok(&plan);
    plan.assert_stdout("moved from `cluster/t`");
    plan.assert_stdout("moved from `t/manifest/Namespace/team-a`");
    e.server.clear_requests();
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(e.server.deletes(), Vec::<String>::new());
    let live = e.namespace("team-a").expect("still there");
    assert_eq!(e.uid("team-a"), Some(uid));
    assert_eq!(
        live.pointer("/metadata/annotations/stack.dev~1resource"),
        Some(&json!("t2/manifest/Namespace/team-a"))
    );
    let state = e.state("a");
    let ids: Vec<&String> = state["resources"]
        .as_object()
        .expect("resources")
        .keys()
        .collect();
    assert_eq!(ids, ["cluster/t2", "t2/manifest/Namespace/team-a"]);
}

/// A rename the plan cannot tell by itself (the cluster handle renamed and
/// its inputs changed), declared with `moved`.
fn a_declared_move_keeps_what_lived_under_the_old_id(e: Env) {
    e.script(
        "a",
        r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "team-m");
"#,
    );
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("team-m").expect("made");
    let renamed = r#"
let c = cluster("t3", #{ provider: "existing", argocd_installed: false });
namespace(c, "team-m");
MOVED
"#;
    e.script(
        "a",
        &renamed.replace(
            "MOVED",
            r#"moved(#{ from: "cluster/t", to: "cluster/nope" });"#,
        ),
    );
    let wrong = e.stack("a", &["plan", "platform.rhai"]);
    assert_eq!(wrong.code, 2, "{}", wrong.transcript());
    wrong.assert_stderr("which this script does not declare");

    e.script(
        "a",
        &renamed.replace("MOVED", r#"moved(#{ from: "cluster/t", to: c });"#),
    );
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    ok(&plan);
    plan.assert_stdout("moved from `cluster/t`");
    plan.assert_stdout("moved from `t/namespace/team-m`");
    e.server.clear_requests();
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(e.server.deletes(), Vec::<String>::new());
    assert_eq!(e.uid("team-m"), Some(uid), "not deleted and made anew");
    // Left in the script, the move has nothing more to do.
    let again = e.stack("a", &["plan", "platform.rhai", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
}

/// A run killed after it applied an object and before it recorded it:
/// `destroy` finds the object by the stack's mark and deletes it, and
/// leaves what another stack marked.
fn destroy_finds_what_a_killed_run_applied_and_did_not_record(e: Env) {
    e.script(
        "a",
        r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "kept");
"#,
    );
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let identity = e.state("a")["identity"]
        .as_str()
        .expect("identity")
        .to_string();
    // What the killed run left: marked as this stack's, recorded nowhere.
    let marked = |name: &str, identity: &str| {
        json!({ "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": name, "namespace": "default",
                              "labels": { "stack.dev/stack": "platform" },
                              "annotations": { "stack.dev/identity": identity,
                                               "stack.dev/resource": format!("t/manifest/ConfigMap/default/{name}") } } })
    };
    e.server
        .create(marked("stray", &identity))
        .expect("a stray");
    e.server
        .create(marked("others", "another-copy"))
        .expect("another copy's");
    let plan = e.stack("a", &["plan", "platform.rhai", "--refresh"]);
    ok(&plan);
    plan.assert_stderr("ConfigMap/default/stray carries this stack's mark and no record");
    plan.assert_stdout("t/manifest/ConfigMap/default/stray");
    ok(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    assert!(e
        .server
        .object("v1/configmaps", Some("default"), "stray")
        .is_none());
    assert!(
        e.server
            .object("v1/configmaps", Some("default"), "others")
            .is_some(),
        "another copy's object is not this stack's"
    );
}

fn an_emptied_script_and_an_unclosed_comment_delete_nothing(e: Env) {
    let script = r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "kept");
"#;
    e.script("a", script);
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("kept").expect("made");

    e.script("a", "// everything was deleted by mistake\n");
    let run = e.stack("a", &["run", "platform.rhai", "--yes"]);
    refused(&run);
    run.assert_stderr("stack destroy");

    e.script(
        "a",
        &script.replace("let c", "/* a comment never closed\nlet c"),
    );
    let check = e.stack("a", &["check", "platform.rhai"]);
    refused(&check);
    check.assert_stderr("never closed");
    refused(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(e.uid("kept"), Some(uid));
}

fn a_protected_resource_is_neither_deleted_nor_destroyed(e: Env) {
    let script = r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "precious", #{ protect: true });
namespace(c, "other");
"#;
    e.script("a", script);
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("precious").expect("made");

    e.script(
        "a",
        &script.replace("namespace(c, \"precious\", #{ protect: true });", ""),
    );
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    refused(&plan);
    plan.assert_stderr("protected");
    refused(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    refused(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    assert_eq!(e.uid("precious"), Some(uid));
    assert!(e.namespace("other").is_some(), "destroy deleted nothing");

    // Without the option, it goes.
    e.script("a", &script.replace("#{ protect: true }", "#{}"));
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    ok(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    e.server
        .wait_for("v1/namespaces", None, "precious", GONE, &|o| o.is_none())
        .then_some(())
        .expect("deleted once unprotected");
}

/// `stack state mv` renames records by hand: what lives on a renamed
/// cluster follows it, the next run marks the live object with its new id
/// (same object, nothing deleted), and `stack state rm` forgets a resource
/// without touching what it made.
fn records_moved_and_removed_by_hand_touch_nothing_live(e: Env) {
    e.script(
        "a",
        r#"
let c = cluster("t", #{ provider: "existing" });
namespace(c, "team-a");
"#,
    );
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    let uid = e.uid("team-a").expect("made");
    e.script(
        "a",
        r#"
let c = cluster("t2", #{ provider: "existing" });
namespace(c, "team-a");
"#,
    );
    let before = e.state("a");
    let mv = |from: &str, to: &str| e.stack("a", &["state", "mv", "platform.rhai", from, to]);
    // Not before its cluster's record has moved.
    let refused = mv("t/namespace/team-a", "t2/namespace/team-a");
    assert_eq!(refused.code, 2, "{}", refused.transcript());
    refused.assert_stderr("lives on another cluster");
    assert_eq!(e.state("a"), before, "a refused move changes nothing");
    ok(&mv("cluster/t", "cluster/t2"));
    ok(&mv("t/namespace/team-a", "t2/namespace/team-a"));

    let list = e.stack("a", &["state", "list", "platform.rhai"]);
    ok(&list);
    assert_eq!(list.stdout, "cluster/t2\nt2/namespace/team-a\n");
    let show = e.stack(
        "a",
        &[
            "state",
            "show",
            "platform.rhai",
            "t2/namespace/team-a",
            "-o",
            "json",
        ],
    );
    ok(&show);
    let shown: Json = serde_json::from_str(&show.stdout).expect("json");
    assert_eq!(shown["status"], json!("moved"));
    assert_eq!(shown["moved_from"], json!("t/namespace/team-a"));
    assert_eq!(shown["cluster"], json!("cluster/t2"));

    let plan = e.stack("a", &["plan", "platform.rhai"]);
    ok(&plan);
    plan.assert_stdout("moved from `t/namespace/team-a` by `stack state mv`");
    assert!(!plan.stdout.contains("(delete)"), "{}", plan.stdout);
    e.server.clear_requests();
    ok(&e.stack("a", &["run", "platform.rhai", "--yes"]));
    assert_eq!(e.server.deletes(), Vec::<String>::new());
    assert_eq!(e.uid("team-a"), Some(uid.clone()), "the same object");
    let live = e.namespace("team-a").expect("still there");
    assert_eq!(
        live.pointer("/metadata/annotations/stack.dev~1resource"),
        Some(&json!("t2/namespace/team-a"))
    );
    let state = e.state("a");
    assert_eq!(
        state.pointer("/resources/t2~1namespace~1team-a/moved_from"),
        None,
        "the run that re-marked it clears the rename"
    );

    // Forgetting: refused while declared, then the object stays live.
    let rm = |id: &str| e.stack("a", &["state", "rm", "platform.rhai", id]);
    let refused = rm("t2/namespace/team-a");
    assert_eq!(refused.code, 2, "{}", refused.transcript());
    refused.assert_stderr("still declared");
    e.script(
        "a",
        r#"
let c = cluster("t2", #{ provider: "existing" });
"#,
    );
    let refused = e.stack(
        "a",
        &["state", "rm", "platform.rhai", "cluster/t2", "--force"],
    );
    assert_eq!(refused.code, 2, "{}", refused.transcript());
    refused.assert_stderr("is needed by `t2/namespace/team-a`");
    ok(&rm("t2/namespace/team-a"));
    e.server.clear_requests();
    let plan = e.stack("a", &["plan", "platform.rhai"]);
    ok(&plan);
    assert!(!plan.stdout.contains("team-a"), "{}", plan.stdout);
    ok(&e.stack("a", &["destroy", "platform.rhai", "--yes"]));
    assert_eq!(e.server.deletes(), Vec::<String>::new());
    assert_eq!(e.uid("team-a"), Some(uid), "forgotten, not deleted");
}

on_both_servers!(
    a_second_stack_of_the_same_name_cannot_take_an_object_over,
    an_object_made_outside_any_stack_is_refused_then_adopted_then_destroyed,
    a_declaration_renamed_within_the_stack_keeps_its_object,
    a_declared_move_keeps_what_lived_under_the_old_id,
    records_moved_and_removed_by_hand_touch_nothing_live,
    destroy_finds_what_a_killed_run_applied_and_did_not_record,
    an_emptied_script_and_an_unclosed_comment_delete_nothing,
    a_protected_resource_is_neither_deleted_nor_destroyed,
);
