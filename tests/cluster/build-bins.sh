#!/usr/bin/env bash
# Build the upstream kube-apiserver, kube-controller-manager and etcd from this Go module
# (go.mod pins the versions) into a cache directory keyed by a hash of go.mod + go.sum,
# and print that directory on the last line. A cached build is reused as is.
#
#   build-bins.sh               build if needed, print the directory
#   build-bins.sh --print-dir   only print the directory (it may not exist yet)
#
# Environment:
#   FRAUD_DEMO_CACHE        cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/fraud-demo)
#   KUBEBUILDER_ASSETS      envtest binaries (kube-apiserver, etcd): when set, nothing is built
#   TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD: same, one binary each
#   FRAUD_DEMO_GO_PARALLEL  packages compiled at once (default 2; each compile can take ~2 GiB)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${FRAUD_DEMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fraud-demo}
key=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
out="$cache_root/kube-$key"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$out"
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "build-bins.sh: unknown argument '$1' (only --print-dir is accepted)" >&2
  exit 2
fi

if [[ -n "${KUBEBUILDER_ASSETS:-}" || -n "${TEST_ASSET_KUBE_APISERVER:-}" ]]; then
  echo "build-bins.sh: using envtest binaries from KUBEBUILDER_ASSETS/TEST_ASSET_*; nothing built" >&2
  echo "${KUBEBUILDER_ASSETS:-$(dirname "$TEST_ASSET_KUBE_APISERVER")}"
  exit 0
fi

binaries=(kube-apiserver kube-controller-manager etcd)
complete() { for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done; }

if complete; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build-bins.sh: 'go' not found on PATH (Go >= 1.26 is needed)" >&2; exit 1; }
mkdir -p "$cache_root"
exec 9>"$cache_root/kube-$key.lock"
flock 9  # another build of the same key may be running: wait for it
if complete; then
  echo "$out"
  exit 0
fi

cd "$here"
kube_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v*.}; minor=${minor%%.*}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

staging=$(mktemp -d "$cache_root/kube-$key.tmp.XXXXXX")
trap 'rm -rf "$staging"' EXIT
parallel=${FRAUD_DEMO_GO_PARALLEL:-2}
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"

echo "build-bins.sh: building kube-apiserver, kube-controller-manager $kube_version and etcd into $out" \
  "(-p $parallel; cold: ~16 CPU-minutes, 20-40 min on 2 cores; see docs/benchmarks.md)" >&2
# Wall time and the largest process's peak RSS of each `go build`, for docs/benchmarks.md.
timed=()
[[ -x /usr/bin/time ]] && timed=(/usr/bin/time -a -o "$staging/build-stats.txt" -f "go-build wall_seconds=%e user_seconds=%U system_seconds=%S max_rss_kib=%M")
echo "load-average-at-start $(cut -d' ' -f1-3 /proc/loadavg)" > "$staging/build-stats.txt"
started=$SECONDS
"${timed[@]}" go build -p "$parallel" -ldflags "$ldflags" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
"${timed[@]}" go build -p "$parallel" -ldflags "-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3
"$staging/kube-apiserver" --version >&2
"$staging/etcd" --version | head -1 >&2
echo "build-bins.sh: built in $((SECONDS - started)) s" >&2

rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "$out"
