//! Which provider a declaration names (`provider: "eks"`): the names this
//! release can apply, as types, so that routing and connecting match on
//! them rather than on text.

use serde_json::Value as Json;
use stack_engine::provider::ClusterTarget;

/// Who makes and runs a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterProvider {
    /// A cluster that exists already, reached through a kubeconfig.
    Existing,
    Eks,
    Kind,
}

/// Who runs an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProvider {
    /// An issuer that exists already.
    External,
    Keycloak,
    Cognito,
}

impl ClusterProvider {
    pub const ALL: [ClusterProvider; 3] = [
        ClusterProvider::Existing,
        ClusterProvider::Eks,
        ClusterProvider::Kind,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterProvider::Existing => "existing",
            ClusterProvider::Eks => "eks",
            ClusterProvider::Kind => "kind",
        }
    }

    /// The provider `inputs` name; `None` for one this release does not apply.
    pub fn named_in(inputs: &Json) -> Option<ClusterProvider> {
        let name = inputs.get("provider").and_then(Json::as_str)?;
        ClusterProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
    }

    /// The provider of `target`: a cluster declared without one is existing.
    pub fn of(target: &ClusterTarget) -> Option<ClusterProvider> {
        match target.inputs.get("provider") {
            None | Some(Json::Null) => Some(ClusterProvider::Existing),
            Some(_) => ClusterProvider::named_in(&target.inputs),
        }
    }
}

impl IdentityProvider {
    pub const ALL: [IdentityProvider; 3] = [
        IdentityProvider::External,
        IdentityProvider::Keycloak,
        IdentityProvider::Cognito,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProvider::External => "external",
            IdentityProvider::Keycloak => "keycloak",
            IdentityProvider::Cognito => "cognito",
        }
    }

    /// The provider `inputs` name; `None` for one this release does not apply.
    pub fn named_in(inputs: &Json) -> Option<IdentityProvider> {
        let name = inputs.get("provider").and_then(Json::as_str)?;
        IdentityProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// `"a"`, `"b"` or `"c"`, for help texts.
pub fn listed(names: impl IntoIterator<Item = &'static str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("`\"{n}\"`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_read_back_into_providers() {
        for p in ClusterProvider::ALL {
            assert_eq!(
                ClusterProvider::named_in(&json!({ "provider": p.as_str() })),
                Some(p)
            );
        }
        for p in IdentityProvider::ALL {
            assert_eq!(
                IdentityProvider::named_in(&json!({ "provider": p.as_str() })),
                Some(p)
            );
        }
        assert_eq!(
            ClusterProvider::named_in(&json!({ "provider": "aks" })),
            None
        );
        assert_eq!(
            listed(ClusterProvider::ALL.map(ClusterProvider::as_str)),
            "`\"existing\"`, `\"eks\"` or `\"kind\"`"
        );
    }
}
