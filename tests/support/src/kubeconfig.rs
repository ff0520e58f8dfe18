//! The kubeconfig that points kubectl and kube-rs at a test server: plain
//! HTTP on loopback, no credentials (the server does no authentication).

/// The context, cluster and user name used in the kubeconfig.
pub const CONTEXT: &str = "stack-test";

/// A kubeconfig for `server_url` with `namespace` as the default namespace.
pub fn kubeconfig_yaml(server_url: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server_url}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: {namespace}
current-context: {CONTEXT}
preferences: {{}}
users:
- name: {CONTEXT}
  user: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_valid_yaml_naming_the_server() {
        let text = kubeconfig_yaml("http://127.0.0.1:1234", "default");
        let v: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
        assert_eq!(
            v["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:1234"
        );
        assert_eq!(v["current-context"], CONTEXT);
        assert_eq!(v["contexts"][0]["context"]["namespace"], "default");
    }
}
