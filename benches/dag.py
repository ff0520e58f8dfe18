"""The benchmark graphs, shared by the comparison scripts (and mirrored by
benches/support/dag.rs for the criterion benches)."""

import math

NEEDS = {
    # node i needs i-1 and i/2: long chains and wide fan-out, like a platform
    "dag": "if i > 0 { deps.push(nodes[i - 1]); }\n    if i > 1 { deps.push(nodes[i / 2]); }",
    # node i needs (i-1)/2: a binary tree, depth about log2 n
    "tree": "if i > 0 { deps.push(nodes[(i - 1) / 2]); }",
    # independent nodes
    "flat": "",
}


def stack_script(n: int, shape: str = "dag") -> str:
    """n namespaces on one existing cluster, needing each other by `shape`."""
    return (
        'let c = cluster("bench", #{ provider: "existing" });\nlet nodes = [];\n'
        f"for i in 0..{n} {{\n    let deps = [];\n    {NEEDS[shape]}\n"
        "    nodes.push(namespace(c, `n${i}`, #{ labels: #{ index: `${i}` }, depends_on: deps }));\n}\n"
    )


def depth(n: int, shape: str) -> int:
    """Nodes on the longest path, the cluster included."""
    if shape == "flat":
        return 2
    if shape == "tree":
        return int(math.floor(math.log2(n))) + 2
    return n + 1


def terraform_config(n: int) -> str:
    """The "dag" shape as Terraform `terraform_data` resources."""
    out = []
    for i in range(n):
        deps = []
        if i > 0:
            deps.append(f"terraform_data.n{i - 1}")
        if i > 1:
            deps.append(f"terraform_data.n{i // 2}")
        out.append(
            f'resource "terraform_data" "n{i}" {{\n  input = {{ index = "{i}" }}\n'
            f"  depends_on = [{', '.join(deps)}]\n}}\n"
        )
    return "".join(out)
