//! Modules kept in git: resolution with the real `git` (file:// and smart
//! HTTP through `git http-backend`), `stack.lock`, `--locked` and
//! `stack modules lock|update|outdated`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{files_below, serve_git, TestContext};

/// A module library: a git repository with tagged versions.
struct Library {
    dir: PathBuf,
}

impl Library {
    fn new(dir: PathBuf) -> Library {
        std::fs::create_dir_all(&dir).expect("create the library");
        let lib = Library { dir };
        lib.git(&["init", "--quiet", "-b", "main"]);
        lib.git(&["config", "user.email", "platform@example.com"]);
        lib.git(&["config", "user.name", "Platform"]);
        lib
    }

    /// Commits `files` and tags the commit `tag`.
    fn release(&self, tag: &str, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = self.dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", tag]);
        self.git(&["tag", "-a", tag, "-m", tag]);
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn commit(&self, rev: &str) -> String {
        let out = Command::new("git")
            .args(["rev-parse", &format!("{rev}^{{commit}}")])
            .current_dir(&self.dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A module that declares a namespace labelled with its library's tier,
/// which it imports by a relative path inside the repository.
fn ingress(tier: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "net/ingress.rhai",
            "import \"./tier\" as t;\nfn ns(c, name) { namespace(c, name, #{ labels: #{ tier: t::tier() } }) }\n"
                .to_string(),
        ),
        ("net/tier.rhai", format!("fn tier() {{ \"{tier}\" }}\n")),
    ]
}

fn release(lib: &Library, tag: &str, tier: &str) {
    let files = ingress(tier);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    lib.release(tag, &files);
}

struct Env {
    ctx: TestContext,
    lib: Library,
    cache: PathBuf,
}

fn env() -> Env {
    let ctx = TestContext::new();
    let lib = Library::new(ctx.path().join("lib"));
    release(&lib, "v1.4.0", "one");
    release(&lib, "v1.5.0", "two");
    let cache = ctx.path().join("cache");
    Env { ctx, lib, cache }
}

impl Env {
    fn stack_importing(&self, url: &str, reference: &str) {
        self.ctx.write(
            "stack/main.rhai",
            &format!(
                "import \"git+{url}//net/ingress?ref={reference}\" as ing;\nlet c = cluster(\"dev\", #{{ provider: \"kind\" }});\ning::ns(c, \"web\");\n"
            ),
        );
    }

    fn stack(&self, args: &[&str]) -> crate::common::Run {
        let cache = self.cache.to_string_lossy().into_owned();
        crate::common::run_in(
            &self.ctx.path().join("stack"),
            args,
            &[("STACK_CACHE_DIR", &cache)],
        )
    }

    fn lock(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.ctx.path().join("stack/stack.lock"))
            .expect("stack.lock is written");
        serde_json::from_str(&text).unwrap()
    }

    fn locked_commits(&self) -> Vec<(String, String)> {
        self.lock()["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["path"].as_str().unwrap().to_string(),
                    m["commit"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The tier label of the rendered namespace.
    fn rendered_tier(&self) -> String {
        let out = self.ctx.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let run = self.stack(&[
            "render",
            "main.rhai",
            "--out",
            &out.to_string_lossy(),
            "--repo-url",
            "https://git.example.com/platform.git",
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        files_below(&out)
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .find_map(|text| {
                text.lines()
                    .find_map(|l| l.trim().strip_prefix("tier: ").map(str::to_string))
            })
            .expect("a rendered namespace with its tier label")
    }
}

fn has_lock(dir: &Path) -> bool {
    dir.join("stack/stack.lock").exists()
}

#[test]
fn a_git_module_is_locked_on_first_use_and_stays_locked_until_update() {
    let e = env();
    e.stack_importing(&e.lib.url(), "^1.4");
    let run = e.stack(&["check", "main.rhai"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let v15 = e.lib.commit("v1.5.0");
    // The module and the module it imports inside its repository, at one commit.
    assert_eq!(
        e.locked_commits(),
        vec![
            ("net/ingress".to_string(), v15.clone()),
            ("net/tier".to_string(), v15.clone())
        ]
    );
    assert_eq!(e.rendered_tier(), "two");

    release(&e.lib, "v1.6.0", "three");
    release(&e.lib, "v2.0.0", "four");
    assert_eq!(e.rendered_tier(), "two", "the lock holds v1.5.0");
    let outdated = e.stack(&["modules", "outdated", "main.rhai"]);
    assert_eq!(outdated.code, 0, "{}", outdated.transcript());
    outdated.assert_stdout("v1.6.0 within ^1.4, v2.0.0 beyond it");

    let update = e.stack(&["modules", "update", "main.rhai"]);
    assert_eq!(update.code, 0, "{}", update.transcript());
    let v16 = e.lib.commit("v1.6.0");
    assert!(e.locked_commits().iter().all(|(_, c)| *c == v16));
    assert_eq!(e.rendered_tier(), "three");
}

#[test]
fn the_locked_commit_is_used_offline_from_the_cache() {
    let e = env();
    e.stack_importing(&e.lib.url(), "v1.4.0");
    assert_eq!(e.stack(&["modules", "lock", "main.rhai"]).code, 0);
    std::fs::rename(&e.lib.dir, e.ctx.path().join("lib-gone")).unwrap();
    assert_eq!(e.rendered_tier(), "one");
    let run = e.stack(&["check", "--locked", "main.rhai"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn a_moved_tag_is_refused_until_update() {
    let e = env();
    e.stack_importing(&e.lib.url(), "v1.4.0");
    assert_eq!(e.stack(&["check", "main.rhai"]).code, 0);
    let before = e.lock();
    e.lib.git(&[
        "tag",
        "-f",
        "-a",
        "v1.4.0",
        "-m",
        "moved",
        "v1.5.0^{commit}",
    ]);
    std::fs::remove_dir_all(&e.cache).unwrap();

    let run = e.stack(&["plan", "main.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::module::moved");
    run.assert_stderr("main.rhai:1:");
    assert_eq!(e.lock(), before, "a refused run leaves the lock as it was");

    assert_eq!(e.stack(&["modules", "update", "main.rhai"]).code, 0);
    assert_eq!(e.rendered_tier(), "two");
}

#[test]
fn content_that_does_not_match_the_lock_is_refused() {
    let e = env();
    e.stack_importing(&e.lib.url(), "v1.4.0");
    assert_eq!(e.stack(&["check", "main.rhai"]).code, 0);
    let path = e.ctx.path().join("stack/stack.lock");
    let mut lock = e.lock();
    lock["modules"][0]["sha256"] = serde_json::json!("0".repeat(64));
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();

    let run = e.stack(&["check", "main.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::module::changed");
    assert_eq!(e.lock(), lock);
}

#[test]
fn locked_refuses_to_write_or_change_the_lock() {
    let e = env();
    e.stack_importing(&e.lib.url(), "v1.4.0");
    let run = e.stack(&["check", "--locked", "main.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::module::locked");
    assert!(!has_lock(e.ctx.path()));

    assert_eq!(e.stack(&["modules", "lock", "main.rhai"]).code, 0);
    e.stack_importing(&e.lib.url(), "v1.5.0");
    let run = e.stack(&["plan", "--locked", "main.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    // Without --locked the new ref is locked and the old one dropped.
    assert_eq!(e.stack(&["check", "main.rhai"]).code, 0);
    let refs: Vec<String> = e.lock()["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refs, ["v1.5.0", "v1.5.0"]);
}

#[test]
fn a_git_module_may_import_another_repository() {
    let e = env();
    let base = Library::new(e.ctx.path().join("base"));
    base.release("v0.1.0", &[("labels.rhai", "fn team() { \"platform\" }\n")]);
    let app = Library::new(e.ctx.path().join("app"));
    app.release(
        "v3.0.0",
        &[(
            "app.rhai",
            &format!(
                "import \"git+{}//labels?ref=v0.1.0\" as l;\nfn ns(c, name) {{ namespace(c, name, #{{ labels: #{{ tier: l::team() }} }}) }}\n",
                base.url()
            ),
        )],
    );
    e.ctx.write(
        "stack/main.rhai",
        &format!(
            "import \"git+{}//app?ref=v3.0.0\" as app;\nlet c = cluster(\"dev\", #{{ provider: \"kind\" }});\napp::ns(c, \"web\");\n",
            app.url()
        ),
    );
    assert_eq!(e.rendered_tier(), "platform");
    let urls: Vec<String> = e.lock()["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 2);
    assert!(urls.contains(&base.url()) && urls.contains(&app.url()));
}

#[test]
fn a_git_module_is_read_over_http() {
    let e = env();
    let root = e.ctx.path().join("served");
    std::fs::create_dir_all(&root).unwrap();
    let bare = root.join("lib.git");
    let out = Command::new("git")
        .args([
            "clone",
            "--quiet",
            "--bare",
            &e.lib.dir.to_string_lossy(),
            &bare.to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let served = serve_git(root);
    let url = format!("{}/lib.git", served.url);
    e.stack_importing(&url, "~1.4");
    assert_eq!(e.rendered_tier(), "one");
    assert_eq!(e.lock()["modules"][0]["url"], serde_json::json!(url));
    assert_eq!(e.lock()["modules"][0]["resolved"], "refs/tags/v1.4.0");
}

#[test]
fn a_missing_ref_module_or_repository_points_at_the_import() {
    let e = env();
    let cases = [
        (
            format!("git+{}//net/ingress?ref=v1.4.1", e.lib.url()),
            "stack::module::no_such_ref",
        ),
        (
            format!("git+{}//net/ingres?ref=v1.4.0", e.lib.url()),
            "stack::module::not_found",
        ),
        (
            format!("git+{}//net/ingress?ref=^7", e.lib.url()),
            "stack::module::no_such_ref",
        ),
        (
            "git+file:///nowhere/lib//m?ref=v1".to_string(),
            "stack::module::unreachable",
        ),
        (
            "git+http://127.0.0.1:9/lib.git//m?ref=v1".to_string(),
            "stack::module::unreachable",
        ),
        (
            "git+https://host/lib.git".to_string(),
            "stack::module::git_syntax",
        ),
    ];
    for (import, code) in cases {
        e.ctx.write(
            "stack/main.rhai",
            &format!("let x = 1;\nimport \"{import}\" as m;\n"),
        );
        let run = e.stack(&["check", "main.rhai"]);
        assert_eq!(run.code, 2, "{import}: {}", run.transcript());
        run.assert_stderr(code);
        run.assert_stderr("main.rhai:2:");
        assert!(!has_lock(e.ctx.path()), "{import}");
    }
}

#[test]
fn vendored_modules_evaluate_without_the_repository_or_the_cache() {
    let e = env();
    e.stack_importing(&e.lib.url(), "^1.4");
    let run = e.stack(&["modules", "vendor", "main.rhai"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let vendored = files_below(&e.ctx.path().join("stack/vendor/modules"));
    assert_eq!(vendored.len(), 2, "the module and the one it imports");
    std::fs::rename(&e.lib.dir, e.ctx.path().join("lib-gone")).unwrap();
    std::fs::remove_dir_all(&e.cache).unwrap();

    assert_eq!(e.rendered_tier(), "two");
    let plan = e.stack(&["plan", "--locked", "main.rhai"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    assert!(!e.cache.join("git").exists(), "nothing was fetched");

    // A vendored file that differs from the lock is refused.
    let tier = vendored
        .iter()
        .find(|p| p.ends_with("net/tier.rhai"))
        .unwrap();
    std::fs::write(tier, "fn tier() { \"tampered\" }\n").unwrap();
    let run = e.stack(&["check", "main.rhai"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::module::changed");
}

#[test]
fn the_reference_of_a_git_module_comes_from_its_interface_without_writing_a_lock() {
    let e = env();
    e.lib.release(
        "v1.7.0",
        &[(
            "net/edge.rhai",
            "// The edge of a cluster.\n\nexport const INSTALL = interface(\"edge\", [\n    required(\"domain\", \"string\", \"the public domain\"),\n    option(\"replicas\", \"integer\", 2, \"proxy replicas\"),\n], #{ ingress: \"the ingress interface\" });\n\nfn install(cluster, opts) { options(global::INSTALL, opts) }\n",
        )],
    );
    std::fs::create_dir_all(e.ctx.path().join("stack")).unwrap();
    let url = format!("git+{}//net/edge?ref=v1.7.0", e.lib.url());
    let run = e.stack(&["reference", &url]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    run.assert_stdout("The edge of a cluster.");
    run.assert_stdout("## `edge::install(cluster, opts)`");
    run.assert_stdout("| `domain` | string | required | the public domain |");
    run.assert_stdout("| `replicas` | integer | `2` | proxy replicas |");
    run.assert_stdout("| `ingress` | the ingress interface |");
    assert!(!has_lock(e.ctx.path()), "reference writes no stack.lock");

    let missing = e.stack(&[
        "reference",
        &format!("git+{}//net/nothing?ref=v1.7.0", e.lib.url()),
    ]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
}
