//! Discovery documents: the legacy per-group-version lists (`/api`,
//! `/apis`, `/apis/<group>/<version>`) that kube-rs walks, the aggregated
//! `apidiscovery.k8s.io/v2` lists kubectl asks for first, `/version`, and a
//! minimal OpenAPI v3 that tells kubectl the server validates fields
//! itself (so kubectl does not fall back to client-side schema checks).

use serde_json::{json, Map, Value};

use crate::registry::{Registry, ResourceType};

/// The Kubernetes version the server claims to be.
pub(crate) const MAJOR: &str = "1";
pub(crate) const MINOR: &str = "32";

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// The aggregated discovery format a client asked for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregated {
    V2,
    V2Beta1,
}

impl Aggregated {
    /// Reads the `Accept` header: kubectl lists v2, then v2beta1, then
    /// plain JSON; the first one the server knows wins.
    pub(crate) fn from_accept(accept: &str) -> Option<Aggregated> {
        for part in accept.split(',') {
            let p: String = part.chars().filter(|c| !c.is_whitespace()).collect();
            if !p.contains("as=APIGroupDiscoveryList") || !p.contains("g=apidiscovery.k8s.io") {
                if p.starts_with("application/json") && !p.contains("as=") {
                    return None;
                }
                continue;
            }
            if p.contains("v=v2beta1") {
                return Some(Aggregated::V2Beta1);
            }
            if p.contains("v=v2") {
                return Some(Aggregated::V2);
            }
        }
        None
    }

    fn version(self) -> &'static str {
        match self {
            Aggregated::V2 => "v2",
            Aggregated::V2Beta1 => "v2beta1",
        }
    }

    /// The `Content-Type` of an aggregated answer.
    pub(crate) fn content_type(self) -> String {
        format!(
            "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
            self.version()
        )
    }
}

pub(crate) fn version() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub(crate) fn api_versions(addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": addr }],
    })
}

fn gv(group: &str, version: &str) -> Value {
    json!({ "groupVersion": format!("{group}/{version}"), "version": version })
}

fn api_group_json(group: &str, versions: &[String]) -> Value {
    json!({
        "name": group,
        "versions": versions.iter().map(|v| gv(group, v)).collect::<Vec<_>>(),
        "preferredVersion": gv(group, versions.first().map(String::as_str).unwrap_or("v1")),
    })
}

/// `/apis`.
pub(crate) fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| api_group_json(g, vs))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/<group>`.
pub(crate) fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let groups = reg.groups();
    let (_, versions) = groups.iter().find(|(g, _)| g == group && !g.is_empty())?;
    let mut v = api_group_json(group, versions);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub(crate) fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = reg.in_group_version(group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in types {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": VERBS,
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        if t.status {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": STATUS_VERBS,
            }));
        }
        if t.scale() {
            resources.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": STATUS_VERBS,
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn aggregated_resource(t: &ResourceType) -> Value {
    let kind = json!({ "group": t.group, "version": t.version, "kind": t.kind });
    let mut r = json!({
        "resource": t.plural,
        "responseKind": kind,
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular,
        "verbs": VERBS,
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    let mut subresources = Vec::new();
    if t.status {
        subresources.push(json!({
            "subresource": "status",
            "responseKind": kind,
            "verbs": STATUS_VERBS,
        }));
    }
    if t.scale() {
        subresources.push(json!({
            "subresource": "scale",
            "responseKind": { "group": "autoscaling", "version": "v1", "kind": "Scale" },
            "verbs": STATUS_VERBS,
        }));
    }
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}

/// The aggregated list for `/api` (`core`) or `/apis`.
pub(crate) fn aggregated(reg: &Registry, core: bool, format: Aggregated) -> Value {
    let items: Vec<Value> = reg
        .groups()
        .iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    json!({
                        "version": v,
                        "resources": reg.in_group_version(g, v).into_iter().map(aggregated_resource).collect::<Vec<_>>(),
                        "freshness": "Current",
                    })
                })
                .collect();
            let mut metadata = json!({ "creationTimestamp": null });
            if !g.is_empty() {
                metadata["name"] = json!(g);
            }
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{}", format.version()),
        "metadata": {},
        "items": items,
    })
}

/// FNV-1a, for the `hash` of OpenAPI v3 URLs (clients cache by it).
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per group version, with a content hash.
pub(crate) fn openapi_v3_root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, versions) in reg.groups() {
        for v in versions {
            let key = gv_key(&g, &v);
            let hash = openapi_v3_doc(reg, &g, &v)
                .map(|d| fnv(&d.to_string()))
                .unwrap_or_default();
            paths.insert(
                key.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}") }),
            );
        }
    }
    json!({ "paths": paths })
}

fn query_param(name: &str) -> Value {
    json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } })
}

/// `/openapi/v3/apis/<group>/<version>`: paths only, no schemas; each PATCH
/// declares `fieldValidation`, which is what kubectl checks for.
pub(crate) fn openapi_v3_doc(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = reg.in_group_version(group, version);
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for t in types {
        let gvk = json!({ "group": t.group, "version": t.version, "kind": t.kind });
        let base = if t.namespaced {
            format!("{}/namespaces/{{namespace}}/{}", t.gv_path(), t.plural)
        } else {
            format!("{}/{}", t.gv_path(), t.plural)
        };
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}{}", t.kind, t.version),
                "parameters": [
                    query_param("dryRun"),
                    query_param("fieldManager"),
                    query_param("fieldValidation"),
                    query_param("force"),
                ],
                "responses": { "200": { "description": "OK" } },
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            })
        };
        paths.insert(
            format!("{base}/{{name}}"),
            json!({ "get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete") }),
        );
        paths.insert(base, json!({ "get": op("list"), "post": op("post") }));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": format!("v{MAJOR}.{MINOR}.0") },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_picks_the_aggregated_format() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(Aggregated::from_accept(kubectl), Some(Aggregated::V2));
        assert_eq!(
            Aggregated::from_accept(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            ),
            Some(Aggregated::V2Beta1)
        );
        assert_eq!(Aggregated::from_accept("application/json"), None);
        assert_eq!(Aggregated::from_accept(""), None);
    }

    #[test]
    fn legacy_documents_list_groups_and_resources() {
        let reg = Registry::builtin();
        let groups = api_group_list(&reg);
        assert!(groups["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["name"] == "apps")));
        let apps = resource_list(&reg, "apps", "v1").expect("apps/v1");
        let names: Vec<&str> = apps["resources"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"deployments") && names.contains(&"deployments/status"));
        assert!(resource_list(&reg, "argoproj.io", "v1alpha1").is_none());
        assert_eq!(
            api_group(&reg, "apps").map(|g| g["kind"].clone()),
            Some(json!("APIGroup"))
        );
        assert!(api_group(&reg, "").is_none());
    }

    #[test]
    fn aggregated_lists_split_core_from_groups() {
        let reg = Registry::builtin();
        let core = aggregated(&reg, true, Aggregated::V2);
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        assert!(core["items"][0]["metadata"].get("name").is_none());
        let groups = aggregated(&reg, false, Aggregated::V2);
        let first = &groups["items"][0];
        assert_eq!(first["metadata"]["name"], "apps");
        assert_eq!(first["versions"][0]["resources"][0]["scope"], "Namespaced");
    }

    #[test]
    fn openapi_declares_field_validation_on_patch() {
        let reg = Registry::builtin();
        let root = openapi_v3_root(&reg);
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap_or("");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = openapi_v3_doc(&reg, "apps", "v1").expect("doc");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(patch["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation")));
    }
}
