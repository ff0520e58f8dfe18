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
