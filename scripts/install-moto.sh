#!/usr/bin/env bash
# Installs moto in server mode (PyPI `moto[server]`), the AWS double the EKS
# tests run against, into a project-local virtualenv: target/tools/venv.
# Quick when it is there already. Prints the path of `moto_server`.
set -euo pipefail
cd "$(dirname "$0")/.."

version="5.2.5"
venv="target/tools/venv"
server="$venv/bin/moto_server"

installed() {
  [ -x "$server" ] && "$venv/bin/python" - "$version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("moto") == sys.argv[1] else 1)
PY
}

if ! installed; then
  python=$(command -v python3 || command -v python || true)
  [ -n "$python" ] || { echo "error: python3 is required to install moto (the AWS double of the EKS tests)" >&2; exit 1; }
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$version" >&2
  installed || { echo "error: moto $version did not install into $venv" >&2; exit 1; }
fi
echo "$PWD/$server"
