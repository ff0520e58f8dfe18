#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: checks for the tools the
# tests drive, then every unit, integration, snapshot and pseudo-terminal test.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: \`$1\` is required: $2" >&2; exit 1; }
}
need cargo "install a Rust toolchain (rustup)"
need git "the tests use the real git"
need kubectl "the tests cross-check the Kubernetes API test server with the real kubectl"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --locked
