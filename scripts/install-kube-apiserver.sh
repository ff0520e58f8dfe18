#!/usr/bin/env bash
# Builds a real kube-apiserver and kube-controller-manager (Kubernetes
# v1.20.2) from Debian's source package `kubernetes`, and installs etcd from
# Debian's `etcd-server`, for the end-to-end tests that run against a real
# Kubernetes API server.
#
# The binaries are cached by version under the user's cache directory
# (`$XDG_CACHE_HOME/stack/kubernetes/<version>`, outside the clone), so later
# runs on the same machine skip the build (about six minutes on two cores).
# Prints the directory holding `kube-apiserver`, `kube-controller-manager`
# and `etcd` as its last line. A failure names the step that failed.
set -euo pipefail

source_version="1.20.5+really1.20.2-1.1+deb12u1"
upstream_version="v1.20.2"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/stack/kubernetes/$upstream_version"

step="start"
trap 'echo "error: installing the real kube-apiserver failed at: $step" >&2' ERR

say() { echo "install-kube-apiserver: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

runs() { "$1" --version >/dev/null 2>&1; }

step="installing etcd (etcd-server)"
if ! command -v etcd >/dev/null 2>&1; then
  say "installing etcd-server"
  apt_install etcd-server
  # The package starts a system etcd on the default ports; the tests start
  # their own on free loopback ports and need none running.
  as_root systemctl disable --now etcd >/dev/null 2>&1 || true
fi
mkdir -p "$cache"
ln -sf "$(command -v etcd)" "$cache/etcd"

if runs "$cache/kube-apiserver" && runs "$cache/kube-controller-manager"; then
  echo "$cache"
  exit 0
fi

say "building kube-apiserver $upstream_version from Debian's source package (about six minutes)"

step="adding a deb-src entry derived from the machine's Debian sources"
sources=/etc/apt/sources.list.d/debian.sources
src_list=/etc/apt/sources.list.d/stack-kubernetes-src.sources
if [ ! -f "$src_list" ]; then
  if [ -f "$sources" ]; then
    # Every stanza of the machine's own sources, as source entries.
    sed -e 's/^Types:.*/Types: deb-src/' "$sources" | as_root tee "$src_list" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' |
      as_root tee /etc/apt/sources.list.d/stack-kubernetes-src.list >/dev/null
  else
    echo "error: no Debian sources on this machine to derive a deb-src entry from" >&2
    false
  fi
  apt_updated=""
fi

step="installing Go and the build dependencies"
apt_install golang-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev

work=$(mktemp -d "${TMPDIR:-/tmp}/stack-kubernetes-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

step="fetching the source package kubernetes=$source_version"
if [ -z "$apt_updated" ]; then
  as_root apt-get update -qq >&2
  apt_updated=1
fi
(cd "$work" && apt-get source --download-only -qq "kubernetes=$source_version" >&2)

step="unpacking the source package"
(cd "$work" && dpkg-source --no-check -x kubernetes_*.dsc k8s >/dev/null)

step="replacing the vendored reflect2 and json-iterator (they crash under Go >= 1.18)"
vendor="$work/k8s/vendor/github.com"
for pkg in modern-go/reflect2 json-iterator/go; do
  rm -rf "${vendor:?}/$pkg"
  mkdir -p "$vendor/$pkg"
  cp -rL "/usr/share/gocode/src/github.com/$pkg/." "$vendor/$pkg/"
  find "$vendor/$pkg" -name '*_test.go' -delete
done

step="building kube-apiserver and kube-controller-manager"
mkdir -p "$work/home"
(cd "$work/k8s" &&
  env -u GOFLAGS GOPROXY=off CGO_ENABLED=0 HOME="$work/home" GOCACHE="$work/home/go-build" \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$work/build.log" 2>&1) ||
  { tail -n 40 "$work/build.log" >&2; false; }

step="installing the binaries into $cache"
for binary in kube-apiserver kube-controller-manager; do
  install -m 0755 "$work/k8s/_output/bin/$binary" "$cache/$binary.tmp"
  mv "$cache/$binary.tmp" "$cache/$binary"
done
runs "$cache/kube-apiserver"
runs "$cache/kube-controller-manager"

echo "$cache"
