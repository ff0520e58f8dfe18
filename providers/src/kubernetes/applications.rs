//! What Argo CD says of its Applications on a cluster: each one's sync and
//! health status, for commands that report them (`stack service list`).

use std::collections::BTreeMap;

use kube::core::{ApiResource, DynamicObject};
use serde_json::Value as Json;
use stack_engine::provider::{ClusterTarget, ProviderError};

use super::client::Clients;

/// `(sync, health)` of each Application in `namespace` that carries the
/// label `label`, by name.
pub async fn statuses(
    target: &ClusterTarget,
    namespace: &str,
    label: &str,
) -> Result<BTreeMap<String, (String, String)>, ProviderError> {
    let cluster = Clients::new().cluster(target).await?;
    let resource = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    };
    let api: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(cluster.client.clone(), namespace, &resource);
    let list = api
        .list(&kube::api::ListParams::default().labels(label))
        .await
        .map_err(|e| cluster.unreachable("list the Applications of", e))?;
    Ok(list
        .items
        .into_iter()
        .map(|app| {
            let status = |field: &str| {
                app.data
                    .pointer(&format!("/status/{field}/status"))
                    .and_then(Json::as_str)
                    .unwrap_or("Unknown")
                    .to_string()
            };
            let statuses = (status("sync"), status("health"));
            (app.metadata.name.unwrap_or_default(), statuses)
        })
        .collect())
}
