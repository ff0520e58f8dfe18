"""The benchmark graphs, shared by the comparison scripts (and mirrored by
benches/support/dag.rs for the criterion benches)."""

NEEDS = {
    # node i needs i-1 and i/2: long chains and wide fan-out, like a platform
    "dag": "if i > 0 { deps.push(nodes[i - 1]); }\n    if i > 1 { deps.push(nodes[i / 2]); }",
    # node i needs (i-1)/2: a binary tree, depth about log2 n
    "tree": "if i > 0 { deps.push(nodes[(i - 1) / 2]); }",
    # node i needs i-1: one long chain
    "chain": "if i > 0 { deps.push(nodes[i - 1]); }",
    # node i needs i-100: 100 columns, each a chain (waves of a platform)
    "layered": "if i >= 100 { deps.push(nodes[i - 100]); }",
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


def needs(i: int, shape: str) -> list:
    """The nodes node i needs in `shape` (as NEEDS says in Rhai)."""
    if shape == "dag":
        return ([i - 1] if i > 0 else []) + ([i // 2] if i > 1 else [])
    if shape == "tree":
        return [(i - 1) // 2] if i > 0 else []
    if shape == "chain":
        return [i - 1] if i > 0 else []
    if shape == "layered":
        return [i - 100] if i >= 100 else []
    return []


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


def layered_stack_script(width: int = 100, layers: int = 10) -> str:
    """`width` columns of `layers` helm_apps each, every app needing the one
    before it in its column: a platform's apps in waves. Argo CD runs on the
    cluster already and delivers them, so nothing else is declared."""
    return (
        'let c = cluster("bench", #{ provider: "existing", argocd_installed: true });\n'
        "let before = [];\n"
        f"for layer in 0..{layers} {{\n"
        "    let now = [];\n"
        f"    for column in 0..{width} {{\n"
        "        let deps = if layer > 0 { [before[column]] } else { [] };\n"
        '        now.push(helm_app(c, `app-${layer}-${column}`, #{\n'
        '            repo: "https://charts.example.com", chart: "app", version: "1.2.3",\n'
        '            namespace: "apps", values: #{ layer: layer, column: column },\n'
        "            depends_on: deps,\n"
        "        }));\n"
        "    }\n"
        "    before = now;\n"
        "}\n"
    )


def layered_terraform_config(width: int = 100, layers: int = 10) -> str:
    """The layered shape as Terraform `terraform_data` resources."""
    out = []
    for layer in range(layers):
        for column in range(width):
            deps = f"[terraform_data.app_{layer - 1}_{column}]" if layer > 0 else "[]"
            out.append(
                f'resource "terraform_data" "app_{layer}_{column}" {{\n'
                f'  input = {{ layer = "{layer}", column = "{column}" }}\n'
                f"  depends_on = {deps}\n}}\n"
            )
    return "".join(out)
