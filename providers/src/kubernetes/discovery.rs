//! Kinds resolved through API discovery, one group-version at a time, and
//! cached per cluster. A kind that is not found is looked up again next
//! time: CustomResourceDefinitions add kinds while a run goes on. One
//! lookup goes out at a time, so resources applied side by side share it
//! instead of each asking for the same group-version.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;

use super::client::Cluster;
use super::object::{split_api_version, ObjectId};
use super::retry::{CallError, Conflicts};

/// What discovery says about one kind.
#[derive(Debug, Clone)]
pub struct KindInfo {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The kinds of each group-version seen so far on one cluster.
#[derive(Debug, Default)]
pub struct Kinds {
    by_version: Mutex<HashMap<String, HashMap<String, KindInfo>>>,
    /// Held while a lookup is out.
    looking_up: tokio::sync::Mutex<()>,
}

impl Kinds {
    fn cached(&self, api_version: &str, kind: &str) -> Option<KindInfo> {
        let map = self
            .by_version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(api_version)?.get(kind).cloned()
    }

    fn store(&self, api_version: &str, kinds: HashMap<String, KindInfo>) {
        let mut map = self
            .by_version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(api_version.to_string(), kinds);
    }
}

impl Cluster {
    /// The kind of `object`, or `None` when the API does not serve it (yet).
    pub async fn kind(&self, object: &ObjectId) -> Result<Option<KindInfo>, CallError> {
        if let Some(found) = self.kinds.cached(&object.api_version, &object.kind) {
            return Ok(Some(found));
        }
        let _turn = self.kinds.looking_up.lock().await;
        // Found by the lookup this one waited for.
        if let Some(found) = self.kinds.cached(&object.api_version, &object.kind) {
            return Ok(Some(found));
        }
        let (group, version) = split_api_version(&object.api_version);
        let api_version = object.api_version.clone();
        let listed = self
            .retry
            .run(Conflicts::Retry, || {
                let client = self.client.clone();
                let api_version = api_version.clone();
                async move {
                    if group.is_empty() {
                        client.list_core_api_resources(&api_version).await
                    } else {
                        client.list_api_group_resources(&api_version).await
                    }
                }
            })
            .await;
        let list = match listed {
            Ok(list) => list,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let kinds: HashMap<String, KindInfo> = list
            .resources
            .iter()
            .filter(|r| !r.name.contains('/'))
            .map(|r| {
                let info = KindInfo {
                    resource: ApiResource {
                        group: group.to_string(),
                        version: version.to_string(),
                        api_version: object.api_version.clone(),
                        kind: r.kind.clone(),
                        plural: r.name.clone(),
                    },
                    namespaced: r.namespaced,
                };
                (r.kind.clone(), info)
            })
            .collect();
        let found = kinds.get(&object.kind).cloned();
        self.kinds.store(&object.api_version, kinds);
        Ok(found)
    }

    /// The API of `object`'s kind, and the object with its namespace as
    /// the API sees it: the client's default for namespaced objects that
    /// name none, none for cluster-scoped ones.
    pub fn api(&self, object: &ObjectId, kind: &KindInfo) -> (Api<DynamicObject>, ObjectId) {
        let mut object = object.clone();
        if kind.namespaced {
            let ns = object
                .namespace
                .get_or_insert_with(|| self.client.default_namespace().to_string())
                .clone();
            (
                Api::namespaced_with(self.client.clone(), &ns, &kind.resource),
                object,
            )
        } else {
            object.namespace = None;
            (Api::all_with(self.client.clone(), &kind.resource), object)
        }
    }
}
