#!/usr/bin/env bash
# kube-apiserver.sh: make a real Kubernetes control plane available for tests, offline.
#
# Adapted from the workplace's shared tools (../shared/tools/kube-apiserver.sh).
#
# Builds kube-apiserver from the k8s.io/kubernetes module on the Go module proxy (no
# binary download), links Debian's etcd next to it, and prints the directory. That
# directory works as KUBEBUILDER_ASSETS for controller-runtime's envtest, which is how
# internal/kubetest finds it:
#
#   export KUBEBUILDER_ASSETS="$(bash hack/kube-apiserver.sh)"
#
# Needs: go, and etcd (installed here with `apt-get install -y etcd-server` if missing;
# etcd 3.4 is enough for kube-apiserver 1.31).
# First build takes about 10-12 minutes on 2 cores; later calls return at once (cached
# under ${KUBE_TOOLS_DIR:-$HOME/.cache/kube-tools}/v1.31.4).
# Progress goes to stderr; stdout is only the directory, so $(...) captures it.
set -euo pipefail
# Pinned: internal/kubetest looks for the assets at this version's default path.
ver=v1.31.4
minor="v0.${ver#v1.}"                       # v1.31.4 -> v0.31.4 (published staging modules)
root="${KUBE_TOOLS_DIR:-$HOME/.cache/kube-tools}"
out="$root/$ver"
# A build that does not report $ver (an older or interrupted one) is rebuilt.
ready() {
  [ -x "$out/etcd" ] && [ -x "$out/kube-apiserver" ] &&
    [ "$("$out/kube-apiserver" --version 2>/dev/null)" = "Kubernetes $ver" ]
}
if ready; then echo "$out"; exit 0; fi

if ! command -v etcd >/dev/null; then
  # The install usually works from the image's package lists; refresh them only when it
  # does not, because apt-get update is the slow, network-heavy part.
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  echo "kube-apiserver.sh: installing etcd-server" >&2
  "${sudo[@]}" apt-get install -y etcd-server >&2 ||
    { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y etcd-server >&2; }
  command -v etcd >/dev/null || { echo "kube-apiserver.sh: etcd still not found after installing etcd-server" >&2; exit 1; }
fi

mkdir -p "$out"
# Two callers at once (say, a background build and a test run) would both spend ten
# minutes compiling; the second waits for the first and then finds the cache.
if command -v flock >/dev/null; then
  exec 9>"$root/.lock"
  flock 9
  if ready; then echo "$out"; exit 0; fi
fi

work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOWORK=off
dir="$(cd "$work" && go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[ -n "$dir" ] || { echo "kube-apiserver.sh: could not download k8s.io/kubernetes@$ver" >&2; exit 1; }
cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"; cd "$work/src"
rm -f go.work go.work.sum
sed -i '/=> .\/staging/d' go.mod                                  # staging dirs are not in the module zip
sed -i -E "s#^(\s+k8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 $minor#" go.mod   # use the published staging modules
echo "kube-apiserver.sh: building kube-apiserver $ver (about 10-12 minutes on 2 cores)" >&2
# The version stamp that Kubernetes' own build (hack/lib/version.sh) sets; without it
# the server reports v0.0.0-master on /version.
major="${ver#v}"; major="${major%%.*}"; kminor="${ver#v*.}"; kminor="${kminor%%.*}"
pkg=k8s.io/component-base/version
go build -ldflags "-X $pkg.gitVersion=$ver -X $pkg.gitMajor=$major -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean" \
  -o "$out/kube-apiserver" ./cmd/kube-apiserver >&2
ln -sf "$(command -v etcd)" "$out/etcd"
echo "$out"
