#!/usr/bin/env python3
"""Times `stack run` against `terraform apply` and against the critical-path bound.

1. Engine overhead: `stack run` of 1,000 namespaces against the Kubernetes
   API test server with no latency, in three shapes: the DAG (node i needs
   i-1 and i/2), one chain, and 100 columns of 10 layers; beside
   `terraform apply` of the DAG as `terraform_data` resources.
2. Latency: with L ms added to every request, `stack run` of n independent
   resources at parallelism 10 and 50 (bound by work) and of a 200-node DAG
   (bound by depth), compared with the critical-path bound. The bound comes
   from the test server's request log, each request costing the latency
   the server really added (its timer wakes a little after L): a
   resource's requests (those naming its namespace) go one after the
   other; those that name no resource (version, discovery) are the
   cluster's, at the root of every graph; the reads before the plan (up to
   the first write) are bound by work, each resource's being its own.
   Bound = cluster + max(reads of one resource, all reads / parallelism)
   + max(longest path, all later requests / parallelism). Wall time is the
   whole process: start, evaluation, plan and the reads before it included.

Usage: benches/compare-apply.py [--nodes 1000] [--latency-ms 10]
Writes the figures to bench-out/apply.json.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag import needs, stack_script, terraform_config  # noqa: E402
TARGET = ROOT / "target" / "release"











class Server:
    """The Kubernetes API test server as a separate process."""

    def __init__(self, work: Path, latency_ms: int, name: str = "server"):
        self.kubeconfig = work / f"kubeconfig-{name}-{latency_ms}"
        self.request_log = work / f"requests-{name}-{latency_ms}.jsonl"
        self.proc = subprocess.Popen(
            [str(TARGET / "stack-test-apiserver"), "--kubeconfig", str(self.kubeconfig),
             "--latency-ms", str(latency_ms), "--request-log", str(self.request_log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while not self.kubeconfig.exists():
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> list:
        """Stops the server; the requests it answered."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()
        if not self.request_log.exists():
            return []
        return [json.loads(line) for line in self.request_log.read_text().splitlines()]


NAMESPACE = re.compile(r"^/api/v1/namespaces/n(\d+)(/|$)")


def bound_seconds(requests: list, nodes: int, shape: str, parallelism: int) -> dict:
    """The critical-path bound of a run from the requests it made, each
    costing the latency the server added to it: the reads before the plan
    (up to the first write; each resource's are its own, so they are bound
    by work alone), then the run along the graph."""
    first_write = next((i for i, r in enumerate(requests) if r["method"] != "GET"), len(requests))
    cluster = 0.0
    cluster_requests = 0
    phases = []
    for part in (requests[:first_write], requests[first_write:]):
        per_node = [0.0] * nodes
        for r in part:
            cost = r["delayed_ms"] / 1000
            m = NAMESPACE.match(r["path"])
            if m and int(m.group(1)) < nodes:
                per_node[int(m.group(1))] += cost
            else:
                cluster += cost
                cluster_requests += 1
        phases.append(per_node)
    reads, run = phases
    reads_bound = max(max(reads, default=0), sum(reads) / parallelism)
    longest = [0.0] * nodes
    for i in range(nodes):
        longest[i] = run[i] + max((longest[j] for j in needs(i, shape)), default=0)
    run_bound = max(max(longest, default=0), sum(run) / parallelism)
    return {"bound": cluster + reads_bound + run_bound, "requests": len(requests),
            "cluster_requests": cluster_requests,
            "requests_per_resource": (len(requests) - cluster_requests) / max(nodes, 1),
            "mean_latency_ms": sum(r["delayed_ms"] for r in requests) / max(len(requests), 1)}


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
        # 1. Engine overhead, no latency. Each run gets a server of its own:
        # the stacks share a name, and one stack's objects are not another's
        # to take.
        def fresh_run(name, script, parallelism, latency_ms):
            server = Server(work, latency_ms, name)
            try:
                seconds = stack_run(work, name, script, server, parallelism)
            finally:
                requests = server.stop()
            return seconds, requests

        results["no_latency"] = {}
        for shape in ["dag", "chain", "layered"]:
            seconds, _ = fresh_run(f"overhead-{shape}", stack_script(n, shape), 10, 0)
            results["no_latency"][shape] = seconds
        results["stack_apply_seconds"] = results["no_latency"]["dag"]
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

        # 2. Latency, against the bound of the requests each run made.
        runs = []
        for shape, nodes, parallelism in [("flat", n, 10), ("flat", n, 50), ("dag", 200, 10)]:
            name = f"{shape}-{nodes}-{parallelism}"
            wall, requests = fresh_run(name, stack_script(nodes, shape), parallelism, args.latency_ms)
            bound = bound_seconds(requests, nodes, shape, parallelism)
            runs.append({"shape": shape, "nodes": nodes, "parallelism": parallelism, "seconds": wall,
                         **bound, "ratio": wall / bound["bound"]})
        results["latency_runs"] = runs
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for shape, seconds in results["no_latency"].items():
        print(f"stack run, {n} resources ({shape}), no latency: {seconds:.2f} s")
    if "terraform_apply_seconds" in results:
        print(f"terraform apply, {n} resources (dag):         {results['terraform_apply_seconds']:.2f} s  ({results['apply_speedup']:.1f}x slower)")
    for r in results["latency_runs"]:
        print(f"  {args.latency_ms} ms: {r['shape']:5} n={r['nodes']:<5} parallelism {r['parallelism']:<3} {r['seconds']:7.2f} s"
              f"  bound {r['bound']:7.2f} s ({r['requests_per_resource']:.1f} requests per resource, {r['cluster_requests']} for the cluster, {r['mean_latency_ms']:.2f} ms each)"
              f"  ratio {r['ratio']:.2f}")
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "apply.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
