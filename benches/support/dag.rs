//! The benchmark DAG, shared by the criterion benches and the Terraform
//! comparison: node `i` depends on `i - 1` and on `i / 2`, so the graph has
//! long chains and wide fan-out like a real platform.

/// The stack script of an `n`-resource DAG on one existing cluster.
pub fn stack_script(n: usize) -> String {
    let mut s = String::with_capacity(n * 80);
    s.push_str("let c = cluster(\"bench\", #{ provider: \"existing\" });\nlet nodes = [];\n");
    s.push_str(&format!("for i in 0..{} {{\n", n.saturating_sub(1)));
    s.push_str(
        "    let deps = [];\n    if i > 0 { deps.push(nodes[i - 1]); }\n    if i > 1 { deps.push(nodes[i / 2]); }\n    nodes.push(namespace(c, `n${i}`, #{ labels: #{ index: `${i}` }, depends_on: deps }));\n}\n",
    );
    s
}

/// The same DAG as Terraform `terraform_data` resources.
#[allow(dead_code)]
pub fn terraform(n: usize) -> String {
    let mut s = String::with_capacity(n * 120);
    for i in 0..n.saturating_sub(1) {
        let mut deps = Vec::new();
        if i > 0 {
            deps.push(format!("terraform_data.n{}", i - 1));
        }
        if i > 1 {
            deps.push(format!("terraform_data.n{}", i / 2));
        }
        s.push_str(&format!(
            "resource \"terraform_data\" \"n{i}\" {{\n  input = {{ index = \"{i}\" }}\n  depends_on = [{}]\n}}\n",
            deps.join(", ")
        ));
    }
    s
}
