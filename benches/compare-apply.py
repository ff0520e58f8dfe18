#!/usr/bin/env python3
"""Times `stack run` against `terraform apply` and against the critical-path bound.

1. Engine overhead: `stack run` of the 1,000-node DAG (node i needs i-1 and
   i/2) against the Kubernetes API test server with no latency, beside
   `terraform apply` of the same DAG as `terraform_data` resources.
2. Latency: with L ms added to every request, `stack run` of n independent
   resources at parallelism 10 and 50 (bound by work) and of a chain (bound
   by depth), compared with the critical-path bound
   max(depth * c, n * c / parallelism), where c is the measured cost of one
   resource at that latency (a calibration run at parallelism 1). The
   cluster itself is one more node at the root of every graph. Wall time is
   the whole process: start, evaluation and plan included.

Usage: benches/compare-apply.py [--nodes 1000] [--latency-ms 10]
Writes the figures to bench-out/apply.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag import depth, stack_script, terraform_config  # noqa: E402
TARGET = ROOT / "target" / "release"











class Server:
    """The Kubernetes API test server as a separate process."""

    def __init__(self, work: Path, latency_ms: int, name: str = "server"):
        self.kubeconfig = work / f"kubeconfig-{name}-{latency_ms}"
        self.proc = subprocess.Popen(
            [str(TARGET / "stack-test-apiserver"), "--kubeconfig", str(self.kubeconfig), "--latency-ms", str(latency_ms)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while not self.kubeconfig.exists():
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit("the test server did not start")
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def stack_run(work: Path, name: str, script: str, server: Server, parallelism: int) -> float:
    d = work / name
    d.mkdir()
    (d / "bench.rhai").write_text(script)
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": str(server.kubeconfig)}
    start = time.perf_counter()
    proc = subprocess.run(
        [str(TARGET / "stack"), "run", "bench.rhai", "--yes", "--parallelism", str(parallelism)],
        cwd=d, env=env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"stack run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=10)
    parser.add_argument("--skip-terraform", action="store_true")
    args = parser.parse_args()
    n = args.nodes
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "stack"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "stack-testkit", "--bin", "stack-test-apiserver"], cwd=ROOT, check=True)

    work = Path(tempfile.mkdtemp(prefix="stack-apply-bench-"))
    results = {"nodes": n, "latency_ms": args.latency_ms}
    try:
        # 1. Engine overhead, no latency.
        server = Server(work, 0)
        try:
            results["stack_apply_seconds"] = stack_run(work, "overhead", stack_script(n, "dag"), server, 10)
        finally:
            server.stop()
        if not args.skip_terraform and shutil.which("terraform"):
            tf = work / "terraform"
            tf.mkdir()
            (tf / "main.tf").write_text(terraform_config(n))
            env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/dev/null"}
            subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=tf, env=env, check=True, capture_output=True)
            start = time.perf_counter()
            subprocess.run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color", "-lock=false"], cwd=tf, env=env, check=True, capture_output=True)
            results["terraform_apply_seconds"] = time.perf_counter() - start
            results["apply_speedup"] = results["terraform_apply_seconds"] / results["stack_apply_seconds"]

        # 2. Latency: calibrate the cost of one resource, then compare with
        # the bound. Each run gets a server of its own: the stacks share a
        # name, and one stack's objects are not another's to take.
        def fresh_run(name, script, parallelism):
            server = Server(work, args.latency_ms, name)
            try:
                return stack_run(work, name, script, server, parallelism)
            finally:
                server.stop()

        calibration = 40
        c = fresh_run("calibrate", stack_script(calibration, "flat"), 1) / (calibration + 1)
        results["seconds_per_resource"] = c
        runs = []
        for shape, nodes, parallelism in [("flat", n, 10), ("flat", n, 50), ("dag", 200, 10)]:
            wall = fresh_run(f"{shape}-{nodes}-{parallelism}", stack_script(nodes, shape), parallelism)
            bound = max(depth(nodes, shape) * c, (nodes + 1) * c / parallelism)
            runs.append({"shape": shape, "nodes": nodes, "parallelism": parallelism, "seconds": wall, "bound": bound, "ratio": wall / bound})
        results["latency_runs"] = runs
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"stack run, {n} resources, no latency: {results['stack_apply_seconds']:.2f} s")
    if "terraform_apply_seconds" in results:
        print(f"terraform apply, {n} resources:         {results['terraform_apply_seconds']:.2f} s  ({results['apply_speedup']:.1f}x slower)")
    print(f"one resource at {args.latency_ms} ms latency: {results['seconds_per_resource'] * 1000:.1f} ms")
    for r in results["latency_runs"]:
        print(f"  {r['shape']:5} n={r['nodes']:<5} parallelism {r['parallelism']:<3} {r['seconds']:7.2f} s  bound {r['bound']:7.2f} s  ratio {r['ratio']:.2f}")
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "apply.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
