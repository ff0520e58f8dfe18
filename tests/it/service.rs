//! `stack service` against a real services-root: a bare repository other
//! clones push to, with the real git.

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use crate::common::{Run, TestContext};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
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

/// A services-root with `staging` and `production` and two teams, as a
/// bare repository (`root.git`), and a developer's clone of it (`dev`).
fn services_root(ctx: &TestContext) -> (String, std::path::PathBuf) {
    ctx.write("seed/staging/.keep", "");
    ctx.write("seed/production/.keep", "");
    ctx.write("seed/teams.json", r#"["payments", "search"]"#);
    let seed = ctx.path().join("seed");
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "the environments"]);
    git(ctx.path(), &["clone", "-q", "--bare", "seed", "root.git"]);
    git(ctx.path(), &["clone", "-q", "root.git", "dev"]);
    let root = ctx.path().join("root.git");
    (root.to_string_lossy().into_owned(), ctx.path().join("dev"))
}

fn service(ctx: &TestContext, args: &[&str]) -> Run {
    let cache = ctx.path().join("cache");
    let mut all = vec!["service"];
    all.extend(args);
    ctx.stack_env(&all, &[("STACK_CACHE_DIR", &cache.to_string_lossy())])
}

fn commits(root: &str) -> usize {
    git(Path::new(root), &["rev-list", "--count", "main"])
        .parse()
        .expect("a count")
}

fn file(root: &str, path: &str) -> Json {
    let text = git(Path::new(root), &["show", &format!("main:{path}")]);
    serde_json::from_str(&text).expect("a service file")
}

/// Deploy, deploy again, promote, remove: one commit each, none when
/// nothing changes; a push someone made meanwhile is rebased onto.
#[test]
fn deploy_promote_and_remove_commit_once_each() {
    let ctx = TestContext::new();
    let (root, dev) = services_root(&ctx);
    let first = [
        "deploy",
        "--root",
        &root,
        "--env",
        "staging",
        "--service",
        "checkout",
        "--image-tag",
        "3f2c1e9",
        "--team",
        "payments",
        "--repo-url",
        "https://git.example.com/payments/checkout.git",
    ];
    let run = service(&ctx, &first);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(commits(&root), 2);
    let deployed = file(&root, "staging/checkout.json");
    assert_eq!(deployed["imageTag"], "3f2c1e9");
    assert_eq!(deployed["targetRevision"], "3f2c1e9");
    assert_eq!(deployed["team"], "payments");
    assert_eq!(
        deployed["repoURL"],
        "https://git.example.com/payments/checkout.git"
    );

    let again = service(&ctx, &first);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(commits(&root), 2, "a deploy that changes nothing committed");

    // Someone pushes meanwhile: the next deploy rebases onto it.
    git(&dev, &["pull", "-q", "origin", "main"]);
    std::fs::write(dev.join("staging/notes.txt"), "hand-written\n").expect("write");
    git(&dev, &["add", "-A"]);
    git(&dev, &["commit", "-q", "-m", "a note"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    let newer = service(
        &ctx,
        &[
            "deploy",
            "--root",
            &root,
            "--env",
            "staging",
            "--service",
            "checkout",
            "--image-tag",
            "4a5b6c7",
        ],
    );
    assert_eq!(newer.code, 0, "{}", newer.transcript());
    assert_eq!(commits(&root), 4);
    assert_eq!(file(&root, "staging/checkout.json")["imageTag"], "4a5b6c7");

    let promoted = service(
        &ctx,
        &[
            "promote",
            "--root",
            &root,
            "--from",
            "staging",
            "--to",
            "production",
            "--service",
            "checkout",
        ],
    );
    assert_eq!(promoted.code, 0, "{}", promoted.transcript());
    assert_eq!(
        file(&root, "production/checkout.json")["imageTag"],
        "4a5b6c7"
    );

    let list = service(&ctx, &["list", "--root", &root, "-o", "json"]);
    assert_eq!(list.code, 0, "{}", list.transcript());
    let listed: Json = serde_json::from_str(&list.stdout).expect("list -o json is JSON");
    let envs: Vec<&str> = listed["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["env"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(envs, ["production", "staging"]);

    // From a developer's working copy: only the service's file is committed.
    git(&dev, &["pull", "-q", "origin", "main"]);
    std::fs::write(dev.join("staging/scratch.txt"), "not for the commit\n").expect("write");
    let dev_root = dev.to_string_lossy().into_owned();
    let from_dev = service(
        &ctx,
        &[
            "deploy",
            "--root",
            &dev_root,
            "--env",
            "staging",
            "--service",
            "checkout",
            "--image-tag",
            "5d6e7f8",
        ],
    );
    assert_eq!(from_dev.code, 0, "{}", from_dev.transcript());
    assert_eq!(file(&root, "staging/checkout.json")["imageTag"], "5d6e7f8");
    let pushed = git(Path::new(&root), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!pushed.contains("scratch.txt"), "{pushed}");

    let removed = service(
        &ctx,
        &[
            "remove",
            "--root",
            &root,
            "--env",
            "staging",
            "--service",
            "checkout",
        ],
    );
    assert_eq!(removed.code, 0, "{}", removed.transcript());
    let tree = git(Path::new(&root), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!tree.contains("staging/checkout.json"), "{tree}");
    assert!(tree.contains("production/checkout.json"), "{tree}");
}

/// An unknown environment or team, a first deploy without its team, and a
/// service file with a typo'd field are refused (exit 2) and commit nothing.
#[test]
fn what_the_services_root_does_not_know_is_refused() {
    let ctx = TestContext::new();
    let (root, dev) = services_root(&ctx);
    let deploy = |env: &str, team: &str| {
        service(
            &ctx,
            &[
                "deploy",
                "--root",
                &root,
                "--env",
                env,
                "--service",
                "cart",
                "--image-tag",
                "1",
                "--team",
                team,
                "--repo-url",
                "https://git.example.com/payments/cart.git",
            ],
        )
    };
    for (run, said) in [
        (deploy("stagin", "payments"), "did you mean `staging`"),
        (deploy("staging", "paymnts"), "did you mean `payments`"),
        (
            service(
                &ctx,
                &[
                    "deploy",
                    "--root",
                    &root,
                    "--env",
                    "staging",
                    "--service",
                    "cart",
                    "--image-tag",
                    "1",
                ],
            ),
            "--team",
        ),
    ] {
        assert_eq!(run.code, 2, "{}", run.transcript());
        run.assert_stderr(said);
    }
    assert_eq!(commits(&root), 1);

    std::fs::write(
        dev.join("staging/cart.json"),
        "{\n  \"service\": \"cart\",\n  \"team\": \"payments\",\n  \"repoURL\": \"u\",\n  \"targetRevision\": \"1\",\n  \"imageTAG\": \"1\"\n}\n",
    )
    .expect("write");
    git(&dev, &["add", "-A"]);
    git(&dev, &["commit", "-q", "-m", "a typo"]);
    git(&dev, &["push", "-q", "origin", "HEAD:main"]);
    let list = service(&ctx, &["list", "--root", &root]);
    assert_eq!(list.code, 2, "{}", list.transcript());
    list.assert_stderr("staging/cart.json");
    list.assert_stderr("imageTAG");
    list.assert_stderr(":6:");
}

/// With a cluster named, `list` shows each Application's sync and health
/// as Argo CD (its double here) reports them; one not made yet is Missing.
#[test]
fn list_shows_what_argo_cd_says_of_each_service() {
    let e = crate::run::env();
    let (root, _) = services_root(&e.ctx);
    let deploy = |env: &str| {
        service(
            &e.ctx,
            &[
                "deploy",
                "--root",
                &root,
                "--env",
                env,
                "--service",
                "checkout",
                "--image-tag",
                "3f2c1e9",
                "--team",
                "payments",
                "--repo-url",
                "https://git.example.com/payments/checkout.git",
            ],
        )
    };
    for env in ["staging", "production"] {
        let run = deploy(env);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    // What the ApplicationSet of staging made.
    e.server
        .create(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": { "name": "checkout-staging", "namespace": "argocd",
                          "labels": { "stack.dev/service": "checkout", "stack.dev/env": "staging" } },
            "spec": { "project": "default",
                      "source": { "repoURL": "https://git.example.com/payments/checkout.git", "chart": "checkout", "targetRevision": "3f2c1e9" },
                      "destination": { "server": "https://kubernetes.default.svc", "namespace": "payments" } },
        }))
        .expect("create the Application");
    let kubeconfig = e.kubeconfig.to_string_lossy().into_owned();
    let mut statuses = Json::Null;
    let synced = crate::run::poll_until(std::time::Duration::from_secs(10), || {
        let list = service(
            &e.ctx,
            &[
                "list",
                "--root",
                &root,
                "--kubeconfig",
                &kubeconfig,
                "-o",
                "json",
            ],
        );
        assert_eq!(list.code, 0, "{}", list.transcript());
        statuses = serde_json::from_str(&list.stdout).expect("JSON");
        statuses["services"][1]["health"] == "Healthy"
    });
    assert!(synced, "{statuses:#}");
    assert_eq!(statuses["services"][1]["env"], "staging");
    assert_eq!(statuses["services"][1]["sync"], "Synced");
    assert_eq!(statuses["services"][0]["env"], "production");
    assert_eq!(statuses["services"][0]["health"], "Missing");
}
