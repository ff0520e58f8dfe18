//! The Cognito provider against moto in server mode: create an app client
//! and a hosted UI domain in a user pool, converge again without writes,
//! adopt the client after a run that died before saving, update the
//! callback URLs, move the domain, read the secret back, delete, and a
//! missing user pool as a clear error.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value as Json};
use stack_engine::provider::{Applied, ApplyRequest, DeleteRequest, Provider};
use stack_engine::{Kind, ResourceId};
use stack_providers::cognito::CognitoProvider;
use stack_testkit::Moto;

use common::{moto_aws, recorded};

fn inputs(pool: &str, redirect: &[&str], domain: &str) -> Json {
    json!({
        "provider": "cognito",
        "region": "eu-west-1",
        "user_pool_id": pool,
        "redirect_uris": redirect,
        "domain": domain,
    })
}

fn request(inputs: Json, previous: Option<(&Json, &Applied)>) -> ApplyRequest {
    ApplyRequest {
        id: ResourceId::of(Kind::Oidc, None, "sso"),
        kind: Kind::Oidc,
        name: "sso".into(),
        inputs,
        objects: Vec::new(),
        cluster: None,
        previous: previous.map(|(inputs, applied)| recorded(Kind::Oidc, inputs, applied)),
        unconfirmed: Vec::new(),
        wave: 0,
        timeout: Duration::from_secs(30),
        wait: true,
        direct: false,
        owner: test_owner(),
        progress: Default::default(),
    }
}

fn text(outputs: &BTreeMap<String, Json>, key: &str) -> String {
    outputs
        .get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cognito_client_is_created_converged_updated_and_deleted() {
    // Started off the async runtime: starting waits for moto to answer.
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("the moto launcher")
        .unwrap_or_else(|e| panic!("the Cognito tests need moto: {e}"));
    let aws = moto_aws(&moto);
    let cognito = aws.cognito("eu-west-1").await;
    let pool = cognito
        .create_user_pool()
        .pool_name("platform")
        .send()
        .await
        .expect("a user pool")
        .user_pool
        .and_then(|p| p.id)
        .expect("the pool's id");
    let provider = CognitoProvider::with_aws(aws.clone());

    // Create: the client with a secret, then the domain.
    let first = inputs(
        &pool,
        &["https://argocd.example.com/auth/callback"],
        "acme-sso",
    );
    let created = provider
        .apply(&request(first.clone(), None))
        .await
        .expect("created");
    assert_eq!(
        provider.journal().take(),
        [
            format!("create client sso in {pool}"),
            format!("create domain acme-sso for {pool}")
        ]
    );
    let client_id = text(&created.outputs, "client_id");
    let secret = text(&created.outputs, "client_secret");
    assert!(!client_id.is_empty() && !secret.is_empty(), "{created:?}");
    assert_eq!(
        text(&created.outputs, "issuer_url"),
        format!("https://cognito-idp.eu-west-1.amazonaws.com/{pool}")
    );

    // Converged: nothing written.
    let again = provider
        .apply(&request(first.clone(), Some((&first, &created))))
        .await
        .expect("converged");
    assert_eq!(again, created);
    assert!(provider.journal().take().is_empty());

    // A run that died before saving its state: the client is adopted by name.
    let adopted = provider
        .apply(&request(first.clone(), None))
        .await
        .expect("adopted");
    assert_eq!(text(&adopted.outputs, "client_id"), client_id);
    assert!(provider.journal().take().is_empty());

    // New callback URLs and another domain: an update, a new domain, the old one gone.
    let second = inputs(
        &pool,
        &[
            "https://argocd.example.com/auth/callback",
            "https://grafana.example.com/login/generic_oauth",
        ],
        "acme-login",
    );
    let updated = provider
        .apply(&request(second.clone(), Some((&first, &created))))
        .await
        .expect("updated");
    assert_eq!(
        provider.journal().take(),
        [
            "update client sso in ".to_string() + &pool,
            "delete domain acme-sso".to_string(),
            format!("create domain acme-login for {pool}"),
        ]
    );
    assert_eq!(text(&updated.outputs, "client_id"), client_id);
    let live = cognito
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .send()
        .await
        .expect("described")
        .user_pool_client
        .expect("the client");
    assert_eq!(live.callback_urls().len(), 2);

    // The secret, read back for a later run's dependents.
    let read = provider
        .read_outputs(&request(second.clone(), Some((&second, &updated))))
        .await
        .expect("read");
    assert_eq!(text(&read, "client_secret"), secret);

    // Delete: the domain, then the client; the pool stays.
    provider
        .delete(&DeleteRequest {
            id: ResourceId::of(Kind::Oidc, None, "sso"),
            kind: Kind::Oidc,
            recorded: recorded(Kind::Oidc, &second, &updated),
            cluster: None,
            timeout: Duration::from_secs(30),
            owner: test_owner(),
            progress: Default::default(),
        })
        .await
        .expect("deleted");
    assert_eq!(
        provider.journal().take(),
        ["delete domain acme-login", "delete client sso"]
    );
    let left = cognito
        .list_user_pool_clients()
        .user_pool_id(&pool)
        .send()
        .await
        .expect("listed");
    assert!(left.user_pool_clients().is_empty());

    // A user pool that does not exist: AWS's answer, naming the client and pool.
    let missing = provider
        .apply(&request(inputs("eu-west-1_nope", &[], "acme-x"), None))
        .await
        .expect_err("no such pool");
    assert!(missing.message().contains("eu-west-1_nope"), "{missing:?}");
    assert!(
        matches!(
            missing.downcast_ref::<stack_providers::aws::AwsError>(),
            Some(stack_providers::aws::AwsError::Refused { code, .. }) if code == "ResourceNotFoundException"
        ),
        "{missing:?}"
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
