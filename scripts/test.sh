#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: checks for the tools the
# tests drive and installs the rest (helm, moto, a real kube-apiserver),
# then every unit, integration,
# snapshot, pseudo-terminal and end-to-end test, and closes with one line
# of totals.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: \`$1\` is required: $2" >&2; exit 1; }
}
need cargo "install a Rust toolchain (rustup)"
need git "the tests use the real git"
need kubectl "the tests cross-check the Kubernetes API test server with the real kubectl"
# helm renders and packages charts in the tests: installed into target/tools/bin.
tools=$(scripts/install-tools.sh)
export PATH="$tools:$PATH"
# moto in server mode is the AWS double of the EKS tests: target/tools/venv.
STACK_MOTO=$(scripts/install-moto.sh)
export STACK_MOTO
# A real kube-apiserver, kube-controller-manager and etcd for the
# end-to-end suites: built once from Debian's source package and cached
# under the user's cache directory (scripts/install-kube-apiserver.sh).
STACK_KUBE_BIN=$(scripts/install-kube-apiserver.sh | tail -n 1)
export STACK_KUBE_BIN

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked 2>&1 | tee "$log" || status=$?
# The totals of every test binary, as one closing line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
