//! The EKS provider against moto in server mode: create a cluster with node
//! groups, converge again without writes, scale, retag, drop a node group,
//! upgrade the Kubernetes version, delete, and AWS errors as provider errors.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde_json::{json, Value as Json};
use stack_engine::provider::{Applied, ApplyRequest, DeleteRequest, Provider, ProviderError};
use stack_engine::{Kind, ResourceId};
use stack_providers::aws::AwsError;
use stack_providers::eks::{Aws, AwsSettings, EksError, EksProvider};
use stack_providers::ownership::OwnershipError;
use stack_testkit::Moto;

use common::{moto_aws, recorded};

/// moto, started off the async runtime (starting it waits for it to answer).
async fn moto() -> Moto {
    tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("the moto launcher")
        .unwrap_or_else(|e| panic!("the EKS tests need moto: {e}"))
}

fn provider(moto: &Moto) -> EksProvider {
    EksProvider::with_aws(moto_aws(moto))
}

/// An EKS client on moto, to look at what the provider did.
async fn eks(moto: &Moto) -> aws_sdk_eks::Client {
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new("eu-west-1"))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

fn inputs(version: &str, default_desired: i64, tags: Json, groups: &[&str]) -> Json {
    let all = [
        json!({ "name": "default", "instance_type": "m5a.large", "min": 2, "max": 4, "desired": default_desired, "labels": { "role": "general" } }),
        json!({ "name": "spot", "instance_type": "m5a.xlarge", "min": 0, "max": 2 }),
    ];
    json!({
        "provider": "eks",
        "region": "eu-west-1",
        "version": version,
        "subnet_ids": ["subnet-a", "subnet-b"],
        "role_arn": "arn:aws:iam::123456789012:role/eks",
        "node_groups": all.into_iter().filter(|g| groups.contains(&g["name"].as_str().unwrap_or_default())).collect::<Vec<_>>(),
        "endpoint_public_access": true,
        "logging": ["api", "audit"],
        "tags": tags,
    })
}

fn request(inputs: Json, previous: Option<(&Json, &Applied)>) -> ApplyRequest {
    ApplyRequest {
        id: ResourceId::of(Kind::Cluster, None, "prod"),
        kind: Kind::Cluster,
        name: "prod".into(),
        inputs,
        objects: Vec::new(),
        cluster: None,
        previous: previous.map(|(inputs, applied)| recorded(Kind::Cluster, inputs, applied)),
        unconfirmed: Vec::new(),
        wave: 0,
        timeout: Duration::from_secs(60),
        wait: true,
        direct: false,
        owner: test_owner(),
        progress: Default::default(),
    }
}

async fn scaling(client: &aws_sdk_eks::Client, group: &str) -> (i32, i32, i32) {
    let described = client
        .describe_nodegroup()
        .cluster_name("prod")
        .nodegroup_name(group)
        .send()
        .await
        .expect("the node group exists");
    let scaling = described
        .nodegroup()
        .and_then(|g| g.scaling_config())
        .expect("a scaling config");
    (
        scaling.min_size().unwrap_or(-1),
        scaling.desired_size().unwrap_or(-1),
        scaling.max_size().unwrap_or(-1),
    )
}

async fn groups(client: &aws_sdk_eks::Client) -> Vec<String> {
    let mut names = client
        .list_nodegroups()
        .cluster_name("prod")
        .send()
        .await
        .expect("the cluster exists")
        .nodegroups()
        .to_vec();
    names.sort();
    names
}

async fn tags(client: &aws_sdk_eks::Client) -> BTreeMap<String, String> {
    let cluster = client
        .describe_cluster()
        .name("prod")
        .send()
        .await
        .expect("the cluster exists");
    cluster
        .cluster()
        .and_then(|c| c.tags())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn creates_converges_scales_retags_and_deletes() {
    let moto = moto().await;
    let provider = provider(&moto);
    let client = eks(&moto).await;

    // Create: the cluster, then both node groups.
    let first = inputs(
        "1.30",
        2,
        json!({ "team": "platform", "env": "prod" }),
        &["default", "spot"],
    );
    let applied = provider
        .apply(&request(first.clone(), None))
        .await
        .expect("created");
    // The cluster first; its node groups side by side, in any order.
    let mut writes = provider.journal().take();
    writes[1..].sort();
    assert_eq!(
        writes,
        vec![
            "create cluster prod",
            "create node group prod/default",
            "create node group prod/spot",
        ]
    );
    assert_eq!(applied.outputs["name"], json!("prod"));
    assert_eq!(applied.outputs["version"], json!("1.30"));
    let endpoint = applied.outputs["endpoint"].as_str().unwrap_or_default();
    assert!(
        endpoint.starts_with("https://") && endpoint.contains(".eu-west-1.eks.amazonaws.com"),
        "{endpoint}"
    );
    assert!(!applied.outputs["ca_data"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    let described = client
        .describe_cluster()
        .name("prod")
        .send()
        .await
        .expect("described");
    let cluster = described.cluster().expect("a cluster");
    assert_eq!(cluster.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(
        cluster.role_arn(),
        Some("arn:aws:iam::123456789012:role/eks")
    );
    assert_eq!(
        cluster
            .resources_vpc_config()
            .map(|v| v.subnet_ids().to_vec()),
        Some(vec!["subnet-a".to_string(), "subnet-b".to_string()])
    );
    assert_eq!(groups(&client).await, vec!["default", "spot"]);
    assert_eq!(scaling(&client, "default").await, (2, 2, 4));
    assert_eq!(scaling(&client, "spot").await, (0, 0, 2));
    assert_eq!(
        tags(&client).await.get("team").map(String::as_str),
        Some("platform")
    );

    // The same inputs again: described only, nothing written.
    let again = provider
        .apply(&request(first.clone(), Some((&first, &applied))))
        .await
        .expect("converged");
    assert_eq!(provider.journal().take(), Vec::<String>::new());
    assert_eq!(again, applied);

    // Scaling: only the node group's configuration changes.
    let scaled = inputs(
        "1.30",
        3,
        json!({ "team": "platform", "env": "prod" }),
        &["default", "spot"],
    );
    provider
        .apply(&request(scaled.clone(), Some((&first, &applied))))
        .await
        .expect("scaled");
    assert_eq!(
        provider.journal().take(),
        vec!["update node group config prod/default"]
    );
    assert_eq!(scaling(&client, "default").await, (2, 3, 4));

    // Tags: a changed one is put, a dropped one removed.
    let retagged = inputs("1.30", 3, json!({ "team": "web" }), &["default", "spot"]);
    provider
        .apply(&request(retagged.clone(), Some((&scaled, &applied))))
        .await
        .expect("retagged");
    assert_eq!(
        provider.journal().take(),
        vec!["tag cluster prod", "untag cluster prod"]
    );
    let live = tags(&client).await;
    assert_eq!(live.get("team").map(String::as_str), Some("web"));
    assert_eq!(live.get("env"), None);

    // A new instance type replaces the node group; endpoint access and log
    // types change the cluster's configuration, one change per call.
    let mut replaced = retagged.clone();
    replaced["node_groups"][1]["instance_type"] = json!("m6a.xlarge");
    replaced["logging"] = json!(["api", "audit", "authenticator"]);
    replaced["endpoint_public_access"] = json!(false);
    provider
        .apply(&request(replaced.clone(), Some((&retagged, &applied))))
        .await
        .expect("replaced a node group");
    assert_eq!(
        provider.journal().take(),
        vec![
            "update cluster endpoint access prod",
            "update cluster logging prod",
            "delete node group prod/spot",
            "create node group prod/spot",
        ]
    );
    let spot = client
        .describe_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("spot")
        .send()
        .await
        .expect("the node group exists");
    assert_eq!(
        spot.nodegroup().map(|g| g.instance_types().to_vec()),
        Some(vec!["m6a.xlarge".to_string()])
    );
    let retagged = replaced;

    // A node group dropped from the inputs is deleted.
    let mut fewer = retagged.clone();
    fewer["node_groups"] = json!([retagged["node_groups"][0].clone()]);
    provider
        .apply(&request(fewer.clone(), Some((&retagged, &applied))))
        .await
        .expect("dropped a node group");
    assert_eq!(
        provider.journal().take(),
        vec!["delete node group prod/spot"]
    );
    assert_eq!(groups(&client).await, vec!["default"]);

    // Version upgrade: the cluster first, then its node group.
    let mut upgraded = fewer.clone();
    upgraded["version"] = json!("1.31");
    let applied = provider
        .apply(&request(upgraded.clone(), Some((&fewer, &applied))))
        .await
        .expect("upgraded");
    assert_eq!(
        provider.journal().take(),
        vec![
            "update cluster version prod 1.31",
            "update node group version prod/default 1.31",
        ]
    );
    assert_eq!(applied.outputs["version"], json!("1.31"));
    let group = client
        .describe_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("default")
        .send()
        .await
        .expect("the node group exists");
    assert_eq!(group.nodegroup().and_then(|g| g.version()), Some("1.31"));
    let fewer = upgraded;

    // Delete: node groups first, then the cluster; a second delete finds
    // nothing and succeeds.
    let delete = DeleteRequest {
        id: ResourceId::of(Kind::Cluster, None, "prod"),
        kind: Kind::Cluster,
        recorded: recorded(Kind::Cluster, &fewer, &applied),
        cluster: None,
        timeout: Duration::from_secs(60),
        owner: test_owner(),
        progress: Default::default(),
    };
    provider.delete(&delete).await.expect("deleted");
    assert_eq!(
        provider.journal().take(),
        vec!["delete node group prod/default", "delete cluster prod"]
    );
    let gone = client.describe_cluster().name("prod").send().await;
    assert!(gone.is_err(), "the cluster is gone");
    provider
        .delete(&delete)
        .await
        .expect("deleting a missing cluster is fine");
}

#[tokio::test]
async fn a_cluster_of_the_same_name_in_another_stack_is_neither_taken_over_nor_deleted() {
    let moto = moto().await;
    let provider = provider(&moto);
    let client = eks(&moto).await;
    let declared = inputs("1.30", 2, json!({ "team": "a" }), &["default"]);
    let applied = provider
        .apply(&request(declared.clone(), None))
        .await
        .expect("created by the first stack");
    let owned = tags(&client).await;
    assert_eq!(
        owned.get("stack.dev/identity").map(String::as_str),
        Some("test-identity")
    );
    assert_eq!(
        owned.get("stack.dev/resource").map(String::as_str),
        Some("dev/resources")
    );
    provider.journal().take();

    // A copy of the stack, with its own state, declares the same cluster.
    let copy = stack_engine::ownership::Owner {
        identity: "another-identity".into(),
        ..test_owner()
    };
    let second = ApplyRequest {
        owner: copy.clone(),
        ..request(
            inputs("1.31", 3, json!({ "team": "b" }), &["default"]),
            None,
        )
    };
    provider
        .preflight(&second)
        .await
        .expect_err("refused at plan time");
    let error = provider.apply(&second).await.expect_err("refused");
    assert!(
        matches!(
            error.downcast_ref::<OwnershipError>(),
            Some(OwnershipError::Taken { what, .. }) if what == "EKS cluster `prod`"
        ),
        "{error:?}"
    );
    assert_eq!(
        provider.journal().take(),
        Vec::<String>::new(),
        "nothing written"
    );
    assert_eq!(tags(&client).await, owned, "its tags untouched");

    // Its destroy leaves the other stack's cluster alone.
    let delete = DeleteRequest {
        id: ResourceId::of(Kind::Cluster, None, "prod"),
        kind: Kind::Cluster,
        recorded: recorded(Kind::Cluster, &declared, &applied),
        cluster: None,
        timeout: Duration::from_secs(60),
        owner: copy,
        progress: Default::default(),
    };
    provider.delete(&delete).await.expect("nothing to delete");
    assert_eq!(provider.journal().take(), Vec::<String>::new());
    assert!(client.describe_cluster().name("prod").send().await.is_ok());

    // Made outside any stack (its ownership tags gone): adopted only when
    // the declaration says so.
    let arn = client
        .describe_cluster()
        .name("prod")
        .send()
        .await
        .ok()
        .and_then(|d| d.cluster?.arn)
        .expect("the cluster's ARN");
    for key in [
        "stack.dev/stack",
        "stack.dev/resource",
        "stack.dev/identity",
    ] {
        client
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys(key)
            .send()
            .await
            .expect("untagged");
    }
    let untagged = tags(&client).await;
    assert!(!untagged.contains_key("stack.dev/identity"), "{untagged:?}");
    let error = provider.apply(&second).await.expect_err("refused");
    assert!(
        matches!(
            error.downcast_ref::<OwnershipError>(),
            Some(OwnershipError::Taken { held, .. }) if held.contains("no stack owns it")
        ),
        "{error:?}"
    );
    let mut adopting = second.clone();
    adopting.inputs["adopt"] = json!(true);
    let shown = provider.preflight(&adopting).await.expect("adoptable");
    assert_eq!(shown.len(), 1, "the plan shows it adopted: {shown:?}");
    provider.apply(&adopting).await.expect("adopted");
    let now = tags(&client).await;
    assert_eq!(
        now.get("stack.dev/identity").map(String::as_str),
        Some("another-identity")
    );
    assert_eq!(now.get("team").map(String::as_str), Some("b"));
}

#[tokio::test]
async fn aws_errors_name_the_cluster_and_carry_the_aws_message() {
    let moto = moto().await;
    let provider = provider(&moto);
    let mut bad = inputs("1.30", 2, json!({}), &["default"]);
    bad["role_arn"] = json!("not-a-role");
    let error: ProviderError = provider
        .apply(&request(bad, None))
        .await
        .expect_err("moto refuses the role");
    assert_eq!(
        error.message(),
        "cannot create EKS cluster `prod`: Invalid Role Arn: 'not-a-role'"
    );
    assert!(
        matches!(
            error.downcast_ref::<AwsError>(),
            Some(AwsError::Refused { code, status: 400, .. }) if code == "InvalidParameterException"
        ),
        "{error:?}"
    );

    let mut unknown = inputs("1.30", 2, json!({}), &[]);
    unknown["region"] = json!("");
    let error = provider
        .apply(&request(unknown, None))
        .await
        .expect_err("no region");
    assert!(
        matches!(
            error.downcast_ref::<EksError>(),
            Some(EksError::Invalid { problem, .. }) if problem.contains("`region`")
        ),
        "{error:?}"
    );
}

/// A Kubernetes API client for an EKS cluster sends an EKS token: a
/// one-request server on loopback reads the `Authorization` header.
#[tokio::test]
async fn kubernetes_clients_of_eks_clusters_send_an_eks_token() {
    use stack_engine::provider::ClusterTarget;
    use stack_providers::eks::EksTokenSource;
    use stack_providers::kubernetes::client::Clients;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("a connection");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("the request");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"major":"1","minor":"31","gitVersion":"v1.31.0","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":""}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(response.as_bytes())
            .await
            .expect("the response");
        String::from_utf8_lossy(&head).into_owned()
    });

    let aws = Aws::with_settings(AwsSettings {
        endpoint_url: None,
        credentials: Some(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        )),
    });
    let clients = Clients::new().with_token_source(Arc::new(EksTokenSource::new(aws)));
    let target = ClusterTarget {
        id: ResourceId::of(Kind::Cluster, None, "prod"),
        name: "prod".into(),
        inputs: json!({ "provider": "eks", "region": "eu-west-1" }),
        outputs: [
            ("name".to_string(), json!("prod")),
            (
                "endpoint".to_string(),
                json!(format!("http://127.0.0.1:{port}")),
            ),
        ]
        .into_iter()
        .collect(),
    };
    let cluster = clients.cluster(&target).await.expect("a client");
    let version = cluster
        .client
        .apiserver_version()
        .await
        .expect("the version");
    assert_eq!(version.git_version, "v1.31.0");
    let head = server.await.expect("the server");
    let authorization = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("authorization:")
                .then(|| l["authorization:".len()..].trim().to_string())
        })
        .expect("an Authorization header");
    assert!(
        authorization.starts_with("Bearer k8s-aws-v1."),
        "{authorization}"
    );
}

/// The owner every request of these tests applies and deletes as.
fn test_owner() -> stack_engine::ownership::Owner {
    stack_engine::ownership::Owner {
        stack: "dev".into(),
        identity: "test-identity".into(),
        resource: "dev/resources".into(),
    }
}

/// An endpoint that answers every request with `404 Not Found` and no
/// body, as a proxy or an emulator without the call does.
fn not_found_endpoint() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 65536];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    url
}

/// An AWS failure without AWS's own words reads as the operation, the HTTP
/// status and the endpoint: never the SDK's error structure.
#[tokio::test]
async fn an_endpoint_without_the_call_is_named_with_its_http_status() {
    let endpoint = not_found_endpoint();
    let provider = EksProvider::with_aws(Aws::with_settings(AwsSettings {
        endpoint_url: Some(endpoint.clone()),
        credentials: Some(Credentials::new("testing", "testing", None, None, "test")),
    }));
    let error = provider
        .apply(&request(inputs("1.30", 2, json!({}), &[]), None))
        .await
        .expect_err("nothing answers the call");
    let shown = format!("{} {}", error.message(), error.help().unwrap_or_default());
    println!("{shown}");
    assert!(shown.contains("HTTP 404"), "{shown}");
    assert!(shown.contains(&endpoint), "{shown}");
    for debug in ["ServiceError", "Unhandled", "{", "source:"] {
        assert!(!shown.contains(debug), "{debug} in: {shown}");
    }
    assert_eq!(
        error.code().as_deref(),
        Some("stack::aws::http_status"),
        "{shown}"
    );
}
