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

#[test]
fn resources_show_objects_and_outputs_given_by_the_test() {
    let ctx = TestContext::new();
    ctx.write(
        "edge_test.rhai",
        r#"fn test_objects_and_mocks() {
    let c = cluster("prod", #{
        provider: "eks", region: "eu-west-1", version: "1.30",
        subnet_ids: ["subnet-a", "subnet-b"], role_arn: "arn:aws:iam::1:role/eks",
        argocd_installed: true,
    });
    manifest(c, #{
        apiVersion: "v1", kind: "ConfigMap",
        metadata: #{ name: "endpoint", namespace: "default" },
        data: #{ url: c.endpoint },
    });
    let map = resources().filter(|r| r.kind == "manifest")[0];
    assert_eq(map.objects[0].data.url, "(known after apply)");
    mock_output(c, "endpoint", "https://ABC.gr7.eu-west-1.eks.amazonaws.com");
    let map = resources().filter(|r| r.kind == "manifest")[0];
    assert_eq(map.objects[0].data.url, "https://ABC.gr7.eu-west-1.eks.amazonaws.com");
}

fn test_a_secret_cannot_be_mocked() {
    let c = cluster("dev", #{ provider: "kind" });
    mock_output(c, "endpoint", secret("env:HOME"));
}

fn test_a_mock_of_an_output_the_kind_lacks_fails() {
    let c = cluster("dev", #{ provider: "kind" });
    mock_output(c, "endpont", "x");
}
"#,
    );
    let run = ctx.stack(&["test", "edge_test.rhai"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    run.assert_stdout("edge_test.rhai::test_objects_and_mocks ... ok");
    run.assert_stdout("edge_test.rhai::test_a_mock_of_an_output_the_kind_lacks_fails ... FAILED");
    run.assert_stdout("did you mean `endpoint`?");
    run.assert_stdout("edge_test.rhai::test_a_secret_cannot_be_mocked ... FAILED");
    run.assert_stdout("stack::test::mock_output");
}

#[test]
fn reference_and_docs_read_modules_from_their_interfaces() {
    let run = crate::common::run_in(
        &crate::common::repo_root(),
        &["reference", "std/traefik"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    run.assert_stdout("## `traefik::install(cluster, opts)`");
    run.assert_stdout("| `replicas` | integer | `1` |");

    let ctx = TestContext::new();
    ctx.write(
        "lib/edge.rhai",
        "// The edge.\nimport \"std/traefik\" as traefik;\n\nexport const INSTALL = interface(\"edge\", [\n    option(\"issuer\", \"string\", (), \"ClusterIssuer\"),\n], #{ ingress: \"the ingress interface\" });\n\nfn install(c, opts) {\n    let o = options(global::INSTALL, opts);\n    traefik::install(c, #{ cluster_issuer: o.issuer })\n}\n",
    );
    ctx.write(
        "main.rhai",
        r#"import "std/service" as service;
import "./lib/edge" as edge;
let c = cluster("dev", #{ provider: "kind", base_domain: "dev.example.com", argocd_installed: true });
let e = edge::install(c, #{ issuer: "letsencrypt-prod" });
service::install(c, #{ name: "web", image: "nginx:1.27", ingress: e.ingress });
"#,
    );
    let run = ctx.stack(&["reference", "./lib/edge"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    run.assert_stdout("| `issuer` | string | `()` | ClusterIssuer |");

    let run = ctx.stack(&["docs", "main.rhai", "--out", "site"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let index = std::fs::read_to_string(ctx.path().join("site/README.md")).unwrap();
    assert!(
        index.contains("| `traefik` | traefik | 28.3.0 | traefik |"),
        "{index}"
    );
    assert!(index.contains("<https://web.dev.example.com>"), "{index}");
    for page in ["std-service", "std-traefik", "lib-edge"] {
        let path = ctx.path().join(format!("site/modules/{page}.md"));
        assert!(path.exists(), "{page} has no page: {index}");
    }
    // Written again over its own pages; never over a file it did not write.
    assert_eq!(ctx.stack(&["docs", "main.rhai", "--out", "site"]).code, 0);
    ctx.write("mine/README.md", "# My notes\n");
    let run = ctx.stack(&["docs", "main.rhai", "--out", "mine"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    run.assert_stderr("stack::docs::not_generated");
    let kept = std::fs::read_to_string(ctx.path().join("mine/README.md")).unwrap();
    assert_eq!(kept, "# My notes\n");
    assert!(
        !ctx.path().join("mine/modules").exists(),
        "nothing was written"
    );
}
