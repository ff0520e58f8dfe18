//! `api_version(cluster, kind)`: the API version to write a Kubernetes
//! kind in on a cluster, chosen by the Kubernetes version the script
//! declares for the cluster (`version`), so one module serves clusters old
//! and new: a PodDisruptionBudget is `policy/v1` from 1.21 on and
//! `policy/v1beta1` before. A cluster declared without a version gets the
//! newest; `stack plan` then checks what a reachable cluster serves.

use rhai::{Engine, ImmutableString, NativeCallContext};
use stack_engine::{suggest, Value};

use super::FnDoc;
use crate::fault::{Fault, RhaiResult};
use crate::handle::Handle;
use crate::session::Session;

/// Kinds whose API version changed across Kubernetes releases: each with
/// `(from minor version, API version)`, newest first.
const MOVED: &[(&str, &[(u32, &str)])] = &[
    ("CronJob", &[(21, "batch/v1"), (0, "batch/v1beta1")]),
    (
        "EndpointSlice",
        &[(21, "discovery.k8s.io/v1"), (0, "discovery.k8s.io/v1beta1")],
    ),
    (
        "HorizontalPodAutoscaler",
        &[(23, "autoscaling/v2"), (0, "autoscaling/v2beta2")],
    ),
    (
        "Ingress",
        &[
            (19, "networking.k8s.io/v1"),
            (0, "networking.k8s.io/v1beta1"),
        ],
    ),
    (
        "IngressClass",
        &[
            (19, "networking.k8s.io/v1"),
            (0, "networking.k8s.io/v1beta1"),
        ],
    ),
    (
        "PodDisruptionBudget",
        &[(21, "policy/v1"), (0, "policy/v1beta1")],
    ),
];

pub static DOC: FnDoc = FnDoc {
    name: "api_version",
    signatures: &["api_version(cluster: cluster handle, kind: string) -> string"],
    summary: "The API version to write `kind` in on `cluster`, for the kinds whose API version changed across Kubernetes releases (CronJob, EndpointSlice, HorizontalPodAutoscaler, Ingress, IngressClass, PodDisruptionBudget), chosen by the cluster's declared `version` (the newest when it declares none). Modules use it to serve old and new clusters alike; `stack plan` checks what a reachable cluster serves.",
    schema: None,
    kind: None,
    example: r#"manifest(c, #{ apiVersion: api_version(c, "PodDisruptionBudget"), kind: "PodDisruptionBudget",
               metadata: #{ name: "web", namespace: "web" },
               spec: #{ minAvailable: 1, selector: #{ matchLabels: #{ app: "web" } } } });"#,
};

/// The minor version of `"1.20"`, `"v1.20.2"` or `"1.30-eks"`.
fn minor(version: &str) -> Option<u32> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?;
    let minor = parts.next()?;
    let digits: String = minor.chars().take_while(char::is_ascii_digit).collect();
    (major == "1").then(|| digits.parse().ok()).flatten()
}

/// The API version of `kind` on a cluster of `version` (`None`: the newest).
pub fn for_version(kind: &str, version: Option<&str>) -> Option<&'static str> {
    let (_, versions) = MOVED.iter().find(|(k, _)| *k == kind)?;
    let newest = versions.first().map(|(_, v)| *v);
    match version.and_then(minor) {
        None => newest,
        Some(m) => versions
            .iter()
            .find(|(since, _)| m >= *since)
            .map(|(_, v)| *v)
            .or(newest),
    }
}

fn api_version(
    ctx: &NativeCallContext,
    session: &Session,
    cluster: Handle,
    kind: &str,
) -> RhaiResult<ImmutableString> {
    crate::declare::expect_cluster(ctx, "api_version", &cluster)?;
    let declared = session
        .resource(&cluster.id)
        .and_then(|r| match r.inputs.get("version") {
            Some(Value::String(v)) => Some(v.clone()),
            _ => None,
        });
    for_version(kind, declared.as_deref())
        .map(ImmutableString::from)
        .ok_or_else(|| {
            let known = MOVED.iter().map(|(k, _)| *k);
            Fault::new(
                "stack::script::argument",
                format!("api_version does not know the kind `{kind}`"),
            )
            .label("unknown kind")
            .help(suggest::did_you_mean(kind, known.clone()).unwrap_or_else(|| {
                format!(
                    "it knows the kinds whose API version changed ({}); other kinds have one version: write it",
                    known.collect::<Vec<_>>().join(", ")
                )
            }))
            .raise(ctx.call_position())
        })
}

pub fn register(engine: &mut Engine, session: &Session) {
    let s = session.clone();
    engine.register_fn(
        "api_version",
        move |ctx: NativeCallContext, cluster: Handle, kind: ImmutableString| {
            api_version(&ctx, &s, cluster, &kind)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_get_the_version_their_cluster_serves() {
        let cases = [
            ("PodDisruptionBudget", Some("1.20"), "policy/v1beta1"),
            ("PodDisruptionBudget", Some("v1.21.0"), "policy/v1"),
            ("PodDisruptionBudget", None, "policy/v1"),
            (
                "HorizontalPodAutoscaler",
                Some("1.20"),
                "autoscaling/v2beta2",
            ),
            ("HorizontalPodAutoscaler", Some("1.30"), "autoscaling/v2"),
            ("CronJob", Some("1.20"), "batch/v1beta1"),
            ("CronJob", Some("1.29-eks"), "batch/v1"),
            ("Ingress", Some("1.18"), "networking.k8s.io/v1beta1"),
            ("Ingress", Some("not a version"), "networking.k8s.io/v1"),
        ];
        for (kind, version, expected) in cases {
            assert_eq!(
                for_version(kind, version),
                Some(expected),
                "{kind} {version:?}"
            );
        }
        assert_eq!(for_version("Deployment", Some("1.20")), None);
    }
}
