//! One declared resource: what it is, what it was given, where it was written.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source::Span;
use crate::value::Value;

/// A stable, readable identity: `cluster/prod`, `oidc/sso`,
/// `prod/helm_app/traefik`, `prod/namespace/team-web`,
/// `prod/manifest/ConfigMap/team-web/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceId(String);

/// A recorded id must have the shape `stack` writes: two or more `/`
/// parts, none empty, no spaces or control characters.
impl TryFrom<String> for ResourceId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        let well_formed = id.split('/').count() >= 2
            && id.split('/').all(|part| !part.is_empty())
            && !id.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed {
            Ok(ResourceId(id))
        } else {
            Err(format!("`{}` is not a resource id", id.escape_debug()))
        }
    }
}

impl From<ResourceId> for String {
    fn from(id: ResourceId) -> String {
        id.0
    }
}

impl ResourceId {
    pub fn new(id: impl Into<String>) -> Self {
        ResourceId(id.into())
    }

    /// The id of a resource of `kind` called `name`, living on `cluster` (if any).
    pub fn of(kind: Kind, cluster: Option<&str>, name: &str) -> Self {
        match cluster {
            Some(cluster) if kind != Kind::Cluster => {
                ResourceId(format!("{cluster}/{}/{name}", kind.as_str()))
            }
            _ => ResourceId(format!("{}/{name}", kind.as_str())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the id is made of, the inverse of [`ResourceId::of`]; `None`
    /// for an id `stack` does not write (such as one recorded by a newer
    /// release with a kind this one does not know).
    pub fn parts(&self) -> Option<IdParts<'_>> {
        let (first, rest) = self.0.split_once('/')?;
        if let Some(kind) = Kind::parse(first) {
            if !rest.contains('/') {
                return Some(IdParts {
                    cluster: None,
                    kind,
                    name: rest,
                });
            }
        }
        let (kind, name) = rest.split_once('/')?;
        Some(IdParts {
            cluster: Some(first),
            kind: Kind::parse(kind)?,
            name,
        })
    }

    /// The resource's own name: `prod` of `cluster/prod`, `traefik` of
    /// `prod/helm_app/traefik`; the last part of an id of unknown shape.
    pub fn name(&self) -> &str {
        match self.parts() {
            Some(parts) => parts.name,
            None => self.0.rsplit('/').next().unwrap_or(&self.0),
        }
    }

    /// The id of the cluster a resource lives on, as its id says.
    pub fn cluster(&self) -> Option<ResourceId> {
        let cluster = self.parts()?.cluster?;
        Some(ResourceId::of(Kind::Cluster, None, cluster))
    }
}

/// The parts of a [`ResourceId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdParts<'a> {
    /// The cluster's name, for what lives on one.
    pub cluster: Option<&'a str>,
    pub kind: Kind,
    /// The resource's name: `Kind/namespace/name` for a manifest.
    pub name: &'a str,
}

impl From<&str> for ResourceId {
    fn from(s: &str) -> Self {
        ResourceId(s.to_string())
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of thing a resource is. Each kind knows its outputs and which
/// input changes cannot be done in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Cluster,
    Bootstrap,
    HelmApp,
    Oidc,
    Namespace,
    Manifest,
}

/// An output a kind exposes.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    pub name: &'static str,
    /// Sensitive outputs are redacted everywhere and only written into Secrets.
    pub secret: bool,
}

const fn out(name: &'static str) -> OutputSpec {
    OutputSpec {
        name,
        secret: false,
    }
}

const fn secret(name: &'static str) -> OutputSpec {
    OutputSpec { name, secret: true }
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Cluster,
        Kind::Bootstrap,
        Kind::HelmApp,
        Kind::Oidc,
        Kind::Namespace,
        Kind::Manifest,
    ];

    /// The kind `as_str` names.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::Bootstrap => "bootstrap",
            Kind::HelmApp => "helm_app",
            Kind::Oidc => "oidc",
            Kind::Namespace => "namespace",
            Kind::Manifest => "manifest",
        }
    }

    pub fn outputs(self) -> &'static [OutputSpec] {
        const CLUSTER: &[OutputSpec] = &[
            out("name"),
            out("endpoint"),
            out("ca_data"),
            out("version"),
            out("base_domain"),
            out("argocd_namespace"),
        ];
        const BOOTSTRAP: &[OutputSpec] = &[out("namespace"), out("server"), secret("admin_secret")];
        const HELM_APP: &[OutputSpec] = &[
            out("name"),
            out("namespace"),
            out("health"),
            out("revision"),
        ];
        const OIDC: &[OutputSpec] = &[out("issuer_url"), out("client_id"), secret("client_secret")];
        const NAMESPACE: &[OutputSpec] = &[out("name")];
        const MANIFEST: &[OutputSpec] = &[out("name"), out("namespace"), out("kind")];
        match self {
            Kind::Cluster => CLUSTER,
            Kind::Bootstrap => BOOTSTRAP,
            Kind::HelmApp => HELM_APP,
            Kind::Oidc => OIDC,
            Kind::Namespace => NAMESPACE,
            Kind::Manifest => MANIFEST,
        }
    }

    pub fn output(self, name: &str) -> Option<OutputSpec> {
        self.outputs().iter().copied().find(|o| o.name == name)
    }

    /// Inputs whose change means delete-then-create rather than an update.
    pub fn replace_on(self) -> &'static [&'static str] {
        match self {
            Kind::Cluster => &["provider", "region", "subnet_ids", "role_arn"],
            Kind::Bootstrap => &["namespace"],
            Kind::HelmApp => &["namespace", "via"],
            // A Cognito client moves to another pool as a new client.
            Kind::Oidc => &["provider", "user_pool_id", "region"],
            Kind::Namespace | Kind::Manifest => &[],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An explicit `depends_on` entry, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub id: ResourceId,
    pub span: Span,
}

/// One declared resource.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: ResourceId,
    pub kind: Kind,
    pub name: String,
    /// The cluster this resource lives on (none for clusters and external OIDC).
    pub cluster: Option<ResourceId>,
    /// The validated options, defaults filled in, `depends_on` removed.
    pub inputs: BTreeMap<String, Value>,
    /// Explicit `depends_on` edges.
    pub depends_on: Vec<Dependency>,
    /// Outputs already known when the script is evaluated (a cluster's name).
    pub known_outputs: BTreeMap<String, Value>,
    /// Where the declaring call was written.
    pub span: Span,
}

impl Resource {
    pub fn input(&self, key: &str) -> Option<&Value> {
        self.inputs.get(key)
    }

    pub fn input_str(&self, key: &str) -> Option<&str> {
        self.inputs.get(key).and_then(Value::as_str)
    }

    /// Every resource this one needs: explicit `depends_on`, its cluster, and
    /// every resource whose output or handle appears in its inputs.
    pub fn needs(&self) -> Vec<(ResourceId, Span)> {
        let mut needs: Vec<(ResourceId, Span)> = Vec::new();
        let mut push = |id: &ResourceId, span: Span| {
            if id != &self.id && !needs.iter().any(|(n, _)| n == id) {
                needs.push((id.clone(), span));
            }
        };
        if let Some(cluster) = &self.cluster {
            push(cluster, self.span);
        }
        for value in self.inputs.values() {
            value.visit_refs(&mut |id, _| push(id, self.span));
        }
        for dep in &self.depends_on {
            push(&dep.id, dep.span);
        }
        needs
    }

    /// The namespace this resource's objects go into, when written as text.
    pub fn target_namespace(&self) -> Option<&str> {
        match self.kind {
            Kind::HelmApp => self.input_str("namespace"),
            Kind::Manifest => self
                .input("object")
                .and_then(|o| o.get("metadata"))
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str),
            // An identity provider that runs on the cluster (a Keycloak
            // realm) works from its namespace.
            Kind::Oidc => self.input_str("namespace"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_scoped_by_cluster() {
        assert_eq!(
            ResourceId::of(Kind::Cluster, None, "prod").as_str(),
            "cluster/prod"
        );
        assert_eq!(
            ResourceId::of(Kind::HelmApp, Some("prod"), "traefik").as_str(),
            "prod/helm_app/traefik"
        );
        assert_eq!(ResourceId::of(Kind::Oidc, None, "sso").as_str(), "oidc/sso");
    }

    #[test]
    fn ids_parse_back_into_their_parts() {
        let cases = [
            (Kind::Cluster, None, "prod"),
            (Kind::Oidc, None, "sso"),
            (Kind::Oidc, Some("prod"), "sso"),
            (Kind::HelmApp, Some("prod"), "traefik"),
            (Kind::Manifest, Some("prod"), "ConfigMap/team-web/settings"),
            // A cluster may be called like a kind.
            (Kind::Namespace, Some("cluster"), "web"),
            (Kind::Cluster, None, "oidc"),
        ];
        for (kind, cluster, name) in cases {
            let id = ResourceId::of(kind, cluster, name);
            assert_eq!(
                id.parts(),
                Some(IdParts {
                    cluster,
                    kind,
                    name
                }),
                "{id}"
            );
            assert_eq!(id.name(), name);
        }
        let on = ResourceId::of(Kind::HelmApp, Some("prod"), "traefik");
        assert_eq!(on.cluster(), Some(ResourceId::new("cluster/prod")));
        assert_eq!(ResourceId::new("prod/widget/x").parts(), None);
        assert_eq!(ResourceId::new("prod/widget/x").name(), "x");
    }
}
