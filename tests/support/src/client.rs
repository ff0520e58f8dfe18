//! The test kit's own Kubernetes client: what the controller doubles and
//! the real cluster's object access use to reach any API server. Its
//! requests carry [`TESTKIT_HEADER`], so the test server neither logs,
//! slows nor faults them: the request log and the knobs are about the
//! client under test.

use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::runtime::watcher;
use serde_json::{json, Value};

use crate::status::ApiError;

/// Marks the test kit's own requests.
pub const TESTKIT_HEADER: &str = "x-stack-testkit";

/// How the test kit reaches a server.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    /// A bearer token (the real server's admin token).
    pub(crate) token: Option<String>,
    /// PEM certificates to trust (the real server's self-signed one).
    pub(crate) root_cert_pem: Option<Vec<u8>>,
}

/// A client for `endpoint`.
pub(crate) fn connect(endpoint: &Endpoint) -> Result<kube::Client, String> {
    let uri = endpoint
        .url
        .parse()
        .map_err(|e| format!("{}: {e}", endpoint.url))?;
    let mut config = kube::Config::new(uri);
    config.headers.push((
        http::HeaderName::from_static(TESTKIT_HEADER),
        http::HeaderValue::from_static("1"),
    ));
    if let Some(token) = &endpoint.token {
        config.auth_info.token = Some(token.clone().into());
    }
    if let Some(pem) = &endpoint.root_cert_pem {
        config.root_cert = Some(pem_certificates(pem));
    }
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(pem);
    let mut certs = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----BEGIN CERTIFICATE") {
            current = Some(String::new());
        } else if line.starts_with("-----END CERTIFICATE") {
            let der = current
                .take()
                .and_then(|body| base64::engine::general_purpose::STANDARD.decode(body).ok());
            certs.extend(der);
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    certs
}

/// The pause before a controller's watch lists again after an error (a
/// kind not served yet, a dropped connection).
pub(crate) const RETRY: Duration = Duration::from_millis(100);

/// Every change to the objects of `api`, from an initial list on; errors
/// are yielded for the caller to pause on, and the next poll lists again.
pub(crate) fn watch_all(
    api: Api<DynamicObject>,
) -> futures_util::stream::BoxStream<'static, Result<watcher::Event<DynamicObject>, watcher::Error>>
{
    watcher(api, watcher::Config::default()).boxed()
}

/// Waits (up to 30 s) until the CRD of this name is Established, as a
/// sync does before applying objects of its kinds.
pub(crate) async fn await_established(client: &kube::Client, name: &str) -> Result<(), String> {
    let crds = ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    };
    let api = api(client, &crds, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(crd)) = api.get_opt(name).await {
            let established = to_value(&crd)
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if established {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the CRD {name} was not established within 30s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A group, version and plural: `"apps/v1/deployments"`, `"v1/configmaps"`.
pub(crate) fn api_resource(resource: &str) -> Option<ApiResource> {
    let parts: Vec<&str> = resource.trim_matches('/').split('/').collect();
    let (group, version, plural) = match parts.as_slice() {
        [v, plural] => ("", *v, *plural),
        [g, v, plural] => (*g, *v, *plural),
        _ => return None,
    };
    Some(ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        kind: String::new(),
        plural: plural.to_string(),
    })
}

/// The API of a resource in one namespace, or across all / cluster-scoped.
pub(crate) fn api(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

pub(crate) fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// A kube error as the API's own `Status` error.
pub(crate) fn api_error(e: kube::Error) -> ApiError {
    match e {
        kube::Error::Api(s) => ApiError::new(s.code, &s.reason, s.message),
        other => ApiError::new(503, "ServiceUnavailable", other.to_string()),
    }
}

/// The resource and scope of a manifest's kind, from discovery.
pub(crate) async fn resource_of(
    client: &kube::Client,
    manifest: &Value,
) -> Result<(ApiResource, bool), ApiError> {
    let api_version = manifest
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = manifest.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) =
        kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|e| match e {
                kube::Error::Discovery(_) => ApiError::new(
                    404,
                    "NotFound",
                    format!("the server does not serve {api_version} {kind}"),
                ),
                other => api_error(other),
            })?;
    Ok((resource, caps.scope == Scope::Namespaced))
}

/// Server-side applies a whole manifest as `manager`, forcing conflicts;
/// a namespaced object without a namespace goes to `default_namespace`.
pub(crate) async fn apply_manifest(
    client: &kube::Client,
    manifest: &Value,
    manager: &str,
    default_namespace: &str,
) -> Result<Value, ApiError> {
    let (resource, namespaced) = resource_of(client, manifest).await?;
    let name = manifest
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let namespace = namespaced.then(|| {
        manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(default_namespace)
            .to_string()
    });
    let mut manifest = manifest.clone();
    if let Some(ns) = &namespace {
        manifest["metadata"]["namespace"] = json!(ns);
    }
    let api = api(client, &resource, namespace.as_deref());
    api.patch(
        &name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&manifest),
    )
    .await
    .map(|o| to_value(&o))
    .map_err(api_error)
}

/// Creates an object from a whole manifest.
pub(crate) async fn create_manifest(
    client: &kube::Client,
    manifest: &Value,
) -> Result<Value, ApiError> {
    let (resource, namespaced) = resource_of(client, manifest).await?;
    let namespace = namespaced.then(|| {
        manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string()
    });
    let object: DynamicObject = serde_json::from_value(manifest.clone())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    api(client, &resource, namespace.as_deref())
        .create(&Default::default(), &object)
        .await
        .map(|o| to_value(&o))
        .map_err(api_error)
}

/// Deletes an object; `Ok(true)` when it is gone, `Ok(false)` when
/// finalizers (or the namespace controller) still hold it.
pub(crate) async fn delete(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<bool, ApiError> {
    match api(client, resource, namespace)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(either) => Ok(either.is_right()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(true),
        Err(e) => Err(api_error(e)),
    }
}

/// Writes `status` onto an object: through its status subresource where it
/// has one, else onto the object itself (CRDs without the subresource).
pub(crate) async fn write_status(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    status: Value,
    manager: &str,
) -> Result<(), ApiError> {
    let api = api(client, resource, namespace);
    let patch = json!({ "status": status });
    let params = PatchParams {
        field_manager: Some(manager.to_string()),
        ..Default::default()
    };
    match api.patch_status(name, &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 405 => api
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(api_error),
        Err(e) => Err(api_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pem_bundles_and_resource_paths() {
        let pem = b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nd29ybGQh\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(pem),
            vec![b"hello".to_vec(), b"world!".to_vec()]
        );
        let r = api_resource("apps/v1/deployments").expect("a resource");
        assert_eq!(
            (r.group.as_str(), r.api_version.as_str()),
            ("apps", "apps/v1")
        );
        assert_eq!(
            api_resource("v1/configmaps").expect("core").api_version,
            "v1"
        );
        assert!(api_resource("configmaps").is_none());
    }
}
