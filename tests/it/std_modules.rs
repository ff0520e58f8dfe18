//! Options of the standard modules, checked through the binary.

use crate::common::TestContext;

#[test]
fn argocd_with_sso_and_without_a_bootstrap_declares_its_oidc_secret() {
    let ctx = TestContext::new();
    ctx.write(
        "main.rhai",
        r#"import "std/argocd" as argocd;
let c = cluster("dev", #{ provider: "kind", base_domain: "dev.example.com", argocd_installed: true });
let sso = oidc("sso", #{
    provider: "external",
    issuer_url: "https://login.example.com",
    client_id: "argocd",
    client_secret: secret("env:SSO_SECRET"),
});
argocd::install(c, #{ oidc: sso });
"#,
    );
    let run = ctx.stack_env(&["graph", "main.rhai"], &[("SSO_SECRET", "s3cr3t-value")]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    run.assert_stdout("dev/manifest/Secret/argocd/argocd-oidc");
    run.assert_stdout(
        "dev/helm_app/argocd  ← cluster/dev, oidc/sso, dev/manifest/Secret/argocd/argocd-oidc",
    );
    assert!(!run.stdout.contains("s3cr3t-value") && !run.stderr.contains("s3cr3t-value"));
}

#[test]
fn the_standard_modules_pass_their_own_tests() {
    let dir = crate::common::repo_root().join("modules/tests");
    let run = crate::common::run_in(
        &crate::common::repo_root(),
        &["test", &dir.to_string_lossy()],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.lines().filter(|l| l.ends_with("... ok")).count() >= 3);
    assert!(!run.stdout.contains("FAILED"), "{}", run.transcript());
}

#[test]
fn stack_test_runs_each_test_alone_and_exits_by_the_worst_result() {
    let ctx = TestContext::new();
    ctx.write(
        "lib/team_test.rhai",
        r#"fn team(c, name) { namespace(c, `team-${name}`) }

fn test_one_namespace() {
    let c = cluster("dev", #{ provider: "kind" });
    team(c, "a");
    // Declarations of other tests do not leak in.
    assert_eq(resources().len(), 2);
}

fn test_fails_at_its_line() {
    assert(false, "on purpose");
}

fn helper_not_a_test() { throw "never run"; }
"#,
    );
    let run = ctx.stack(&["test", "lib"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stdout("lib/team_test.rhai::test_one_namespace ... ok");
    run.assert_stdout("lib/team_test.rhai::test_fails_at_its_line ... FAILED");
    run.assert_stdout("team_test.rhai:11:");
    assert!(!run.stdout.contains("helper_not_a_test"));

    ctx.write("lib/broken_test.rhai", "fn test_x() { let = 1; }\n");
    let run = ctx.stack(&["test", "lib"]);
    assert_eq!(run.code, 2, "{}", run.transcript());

    let run = ctx.stack(&["test", "nowhere"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::test::none");
}
