#!/usr/bin/env python3
"""Times `stack plan` against `terraform plan` on the same DAG, in one run.

Two shapes. `dag` is the one the criterion benches use
(benches/support/dag.rs): node i depends on i-1 and i/2, each a namespace
on an existing cluster. `layered` is a platform's apps in waves: 100
columns of 10 helm_apps, each needing the one before it in its column.
Terraform models each node as a `terraform_data` resource with
`depends_on`. Both plan from an empty state; the runs of stack and
Terraform are interleaved so that both see the same machine.

Usage: benches/compare-terraform.py [--nodes 1000] [--runs 5]
Prints a table and writes the figures as JSON to bench-out/compare.json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag import layered_stack_script, layered_terraform_config, stack_script, terraform_config  # noqa: E402








def timed(cmd, cwd, env=None):
    """Wall seconds and peak RSS (KiB) of one command, which must succeed."""
    wrapped = ["/usr/bin/time", "-f", "%M", *cmd]
    start = time.perf_counter()
    proc = subprocess.run(wrapped, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = int(proc.stderr.strip().splitlines()[-1])
    return elapsed, rss


def measure(cmd, cwd, runs, env=None):
    samples = [timed(cmd, cwd, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    if shutil.which("terraform") is None:
        sys.exit("terraform is not on PATH: the comparison needs it")
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "stack"], cwd=ROOT, check=True)
    stack = ROOT / "target" / "release" / "stack"

    work = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    results = {"nodes": args.nodes, "runs": args.runs}
    try:
        for n, name in [(args.nodes, "stack"), (10 * args.nodes, "stack_x10")]:
            d = work / name
            d.mkdir()
            (d / "bench.rhai").write_text(stack_script(n))
            t, rss = measure([str(stack), "plan", "bench.rhai"], d, args.runs, {**os.environ, "NO_COLOR": "1"})
            results[name] = {"resources": n, "plan_seconds": t, "peak_rss_kib": rss}

        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/dev/null"}
        tf = work / "terraform"
        tf.mkdir()
        (tf / "main.tf").write_text(terraform_config(args.nodes))
        subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=tf, env=env, check=True, capture_output=True)
        t, rss = measure(["terraform", "plan", "-input=false", "-no-color", "-lock=false"], tf, max(1, min(args.runs, 3)), env)
        results["terraform"] = {"resources": args.nodes, "plan_seconds": t, "peak_rss_kib": rss}

        # The layered shape, stack and Terraform in turn, run after run.
        layered = work / "layered"
        layered.mkdir()
        (layered / "bench.rhai").write_text(layered_stack_script())
        tf_layered = work / "terraform-layered"
        tf_layered.mkdir()
        (tf_layered / "main.tf").write_text(layered_terraform_config())
        subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=tf_layered, env=env, check=True, capture_output=True)
        stack_samples, tf_samples = [], []
        for _ in range(args.runs):
            stack_samples.append(timed([str(stack), "plan", "bench.rhai"], layered, {**os.environ, "NO_COLOR": "1"}))
            tf_samples.append(timed(["terraform", "plan", "-input=false", "-no-color", "-lock=false"], tf_layered, env))
        for name, samples in [("stack_layered", stack_samples), ("terraform_layered", tf_samples)]:
            results[name] = {
                "resources": 1000,
                "plan_seconds": statistics.median(s[0] for s in samples),
                "peak_rss_kib": max(s[1] for s in samples),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    s, s10, tf = results["stack"], results["stack_x10"], results["terraform"]
    sl, tfl = results["stack_layered"], results["terraform_layered"]
    results["speedup"] = tf["plan_seconds"] / s["plan_seconds"]
    results["speedup_layered"] = tfl["plan_seconds"] / sl["plan_seconds"]
    print(f"{'':28}{'resources':>10}{'plan (s)':>12}{'peak RSS (MiB)':>16}")
    for label, r in [
        ("stack plan", s),
        ("stack plan (10x)", s10),
        ("terraform plan", tf),
        ("stack plan (layered)", sl),
        ("terraform plan (layered)", tfl),
    ]:
        print(f"{label:28}{r['resources']:>10}{r['plan_seconds']:>12.3f}{r['peak_rss_kib'] / 1024:>16.1f}")
    print(f"\nstack plan is {results['speedup']:.1f}x faster than terraform plan at {args.nodes} resources")
    print(f"and {results['speedup_layered']:.1f}x faster on the layered helm_app stack")
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "compare.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
