//! Bearer tokens for the Kubernetes API of EKS clusters, as
//! `aws eks get-token` makes them: a presigned STS `GetCallerIdentity` URL
//! whose signature covers the `x-k8s-aws-id: <cluster name>` header, valid
//! 60 seconds, base64url-encoded without padding and prefixed `k8s-aws-v1.`.

use std::time::{Duration, SystemTime};

use super::error::EksError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use stack_engine::provider::{ClusterTarget, ProviderError};
use stack_engine::state::backend::BoxFuture;

use super::Aws;
use crate::kubernetes::client::TokenSource;

/// The header that binds a token to one cluster.
const CLUSTER_HEADER: &str = "x-k8s-aws-id";
const PREFIX: &str = "k8s-aws-v1.";

/// The token for `cluster` in `region`, signed with `credentials` at `time`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, ProviderError> {
    let failed = |e: &dyn std::fmt::Display| -> ProviderError {
        EksError::Token {
            cluster: cluster.to_string(),
            cause: e.to_string(),
        }
        .into()
    };
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        &url,
        std::iter::once((CLUSTER_HEADER, cluster)),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .body(())
        .map_err(|e| failed(&e))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    ))
}

/// Tokens for clusters with `provider: "eks"`, signed with the credentials
/// of the standard AWS chain; other clusters get none.
pub struct EksTokenSource {
    aws: Aws,
}

impl EksTokenSource {
    pub fn new(aws: Aws) -> Self {
        EksTokenSource { aws }
    }

    async fn token_for(&self, target: &ClusterTarget) -> Result<Option<String>, ProviderError> {
        if target.input_str("provider") != Some("eks") {
            return Ok(None);
        }
        let region = target.input_str("region").unwrap_or_default();
        let name = target
            .outputs
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or(&target.name);
        let config = self.aws.config(region).await;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| EksError::NoCredentials {
                cluster: name.to_string(),
                cause: None,
            })?;
        let credentials =
            provider
                .provide_credentials()
                .await
                .map_err(|e| EksError::NoCredentials {
                    cluster: name.to_string(),
                    cause: Some(e.to_string()),
                })?;
        token(&credentials, region, name, SystemTime::now()).map(Some)
    }
}

impl TokenSource for EksTokenSource {
    fn token<'a>(
        &'a self,
        target: &'a ClusterTarget,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(self.token_for(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(provider: &str) -> ClusterTarget {
        ClusterTarget {
            id: "cluster/prod".into(),
            name: "prod".into(),
            inputs: serde_json::json!({ "provider": provider, "region": "eu-west-1" }),
            outputs: [("name".to_string(), serde_json::json!("prod"))]
                .into_iter()
                .collect(),
        }
    }

    #[tokio::test]
    async fn only_eks_clusters_get_tokens() {
        let source = EksTokenSource::new(Aws::with_settings(super::super::AwsSettings {
            endpoint_url: None,
            credentials: Some(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )),
        }));
        let existing = source.token(&target("existing")).await.expect("no error");
        assert_eq!(existing, None);
        let token = source
            .token(&target("eks"))
            .await
            .expect("no error")
            .expect("a token");
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.strip_prefix(PREFIX).expect("the prefix"))
            .expect("base64url");
        let url = String::from_utf8(url).expect("utf-8");
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"),
            "{url}"
        );
        assert!(
            url.contains("&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&"),
            "{url}"
        );
    }

    /// Fixed credentials, region and time; the signature agrees with
    /// botocore's `SigV4QueryAuth` for the same request.
    #[test]
    fn signs_the_fixed_vector() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        // 2024-01-02T03:04:05Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        let token = token(&credentials, "eu-west-1", "prod", time).expect("a token");
        assert_eq!(
            token,
            "k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtd2VzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhBTVBMRSUyRjIwMjQwMTAyJTJGZXUtd2VzdC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNDAxMDJUMDMwNDA1WiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9YzViOTk1YzhkZDVlYzc3MWQxZDFmYjBmYTNiNmRmY2IyNTk3ZWYwOGI3ZDRkZDMyOGUyMmE3YWFkZTc4ZTU3Mg"
        );
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_start_matches(PREFIX))
            .expect("base64url");
        assert_eq!(
            String::from_utf8(url).expect("utf-8"),
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20240102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=c5b995c8dd5ec771d1d1fb0fa3b6dfcb2597ef08b7d4dd328e22a7aade78e572"
        );
    }
}
