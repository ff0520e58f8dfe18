//! `stack run` / `destroy` of a stack with one EKS cluster against moto,
//! reached through `AWS_ENDPOINT_URL` and dummy credentials from the
//! environment: the plan before each step, then what AWS holds.

use stack_providers::eks::{self, cluster, Credentials};
use stack_testkit::Moto;

use crate::common::{settings, Run, TestContext};

const STACK: &str = r#"
let version = param("version", "1.30");
let desired = param("desired", "2");
cluster("prod", #{
    provider: "eks",
    region: "eu-west-1",
    version: version,
    subnet_ids: ["subnet-a", "subnet-b"],
    role_arn: "arn:aws:iam::123456789012:role/eks",
    node_groups: [#{ name: "default", instance_type: "m5a.large", min: 1, max: 3, desired: parse_int(desired) }],
});
"#;

struct Aws {
    moto: Moto,
    cx: TestContext,
}

impl Aws {
    fn new() -> Aws {
        let moto = Moto::start().unwrap_or_else(|e| panic!("the EKS tests need moto: {e}"));
        let cx = TestContext::new();
        cx.write("eks.rhai", STACK);
        Aws { moto, cx }
    }

    fn stack(&self, args: &[&str]) -> Run {
        let env = aws_env(&self.moto);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.cx.stack_env(args, &env)
    }

    /// The cluster's Kubernetes version as AWS describes it; `None` when
    /// there is no cluster.
    fn live_version(&self) -> Option<String> {
        let aws = moto_aws(&self.moto);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let client = aws.eks("eu-west-1").await;
            cluster::describe(&client, "prod")
                .await
                .expect("described")
                .map(|c| c.version().unwrap_or_default().to_string())
        })
    }

    fn state(&self) -> serde_json::Value {
        let path = self.cx.path().join(".stack/eks.state.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("the state is JSON")
    }
}

/// The environment that points the AWS SDK's standard chain at moto, with
/// dummy credentials and nothing read from the machine's AWS files.
pub(crate) fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.url()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials".into(),
        ),
    ]
}

/// An AWS configuration on moto, for a test to look at what `stack` did.
pub(crate) fn moto_aws(moto: &Moto) -> eks::Aws {
    eks::Aws::with_settings(eks::AwsSettings {
        endpoint_url: Some(moto.url()),
        credentials: Some(Credentials::new("testing", "testing", None, None, "test")),
    })
}

/// The plan before a step, as a snapshot (`tests/it/snapshots/`).
fn snapshot(name: &str, plan: &str) {
    settings(None).bind(|| insta::assert_snapshot!(name, plan));
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn eks_cluster_is_created_upgraded_and_destroyed() {
    let aws = Aws::new();

    let plan = aws.stack(&["plan", "eks.rhai"]);
    ok(&plan);
    snapshot("eks_1_create", &plan.stdout);
    ok(&aws.stack(&["run", "eks.rhai", "--yes"]));
    let state = aws.state();
    let outputs = &state["resources"]["cluster/prod"]["outputs"];
    assert_eq!(outputs["version"], "1.30", "{state}");
    assert!(
        outputs["endpoint"]
            .as_str()
            .is_some_and(|e| e.contains(".eu-west-1.eks.amazonaws.com")),
        "{state}"
    );

    let again = aws.stack(&["plan", "eks.rhai", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "no changes: {}", again.transcript());

    assert_eq!(aws.live_version().as_deref(), Some("1.30"));

    let change = ["--set", "version=1.31", "--set", "desired=3"];
    let upgrade = aws.stack(&[&["plan", "eks.rhai"][..], &change].concat());
    ok(&upgrade);
    snapshot("eks_2_upgrade_and_scale", &upgrade.stdout);
    ok(&aws.stack(&[&["run", "eks.rhai", "--yes"][..], &change].concat()));
    assert_eq!(aws.live_version().as_deref(), Some("1.31"));
    assert_eq!(
        aws.state()["resources"]["cluster/prod"]["outputs"]["version"],
        "1.31"
    );

    let destroy = aws.stack(&[&["destroy", "eks.rhai", "--yes"][..], &change].concat());
    ok(&destroy);
    snapshot("eks_3_destroy", &destroy.stdout);
    assert_eq!(aws.live_version(), None, "the cluster is gone from AWS");
    let state = aws.state();
    assert!(
        state["resources"].get("cluster/prod").is_none(),
        "destroyed: {state}"
    );
}
