#!/usr/bin/env bash
# Builds an offline Kubernetes for one version, from the Go module proxy, into the cache:
#
#   scripts/build-kubernetes.sh v1.34.4 [--cache DIR]
#
#   DIR (default ${HERD_CACHE_DIR:-/var/cache/herd}) gets kubernetes/:
#     go/mod, go/build          GOMODCACHE and GOCACHE, shared by every version
#     VERSION/bin/              kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#                               kube-scheduler kube-proxy etcd pause coredns flanneld flannel
#                               (the CNI plugin) (static, CGO off, stripped)
#     VERSION/debs/             kubeadm_X.Y.Z-1.1_amd64.deb kubelet_… kubectl_… (official names and layout)
#     VERSION/images/           OCI archives (each names its image in io.containerd.image.name),
#                               tagged as `kubeadm config images list` prints them; images.txt
#                               lists them; the local provider pushes them to its registry
#     debian/                   containerd, runc, CNI plugins, conntrack, … and the dependencies
#                               a minbase machine lacks, from `apt-get download`
#     image-base/               the tools some images exec (iptables in nft mode, conntrack,
#                               busybox) with their libraries, from Debian's .debs
#
# Each step records a stamp of its inputs and a checksum list of its outputs; a run whose
# stamps match and whose outputs are intact does nothing (seconds). Go builds run under
# `nice -n 15`. See docs/test-world.md ("Kubernetes in the test world").
set -euo pipefail

# use_gomod DIR: DIR/go.mod.want (a wrapper module just written) becomes the module to build
# when it differs from the one used last. go.mod.in keeps the pristine text; go.mod and
# go.sum are what `go build -mod=mod` grows, so they start again only on a real change.
use_gomod() {
  local dir=$1
  if ! cmp -s "$dir/go.mod.want" "$dir/go.mod.in" 2>/dev/null; then
    cp "$dir/go.mod.want" "$dir/go.mod.in"
    cp "$dir/go.mod.want" "$dir/go.mod"
    rm -f "$dir/go.sum"
  fi
  rm -f "$dir/go.mod.want"
}

usage() { echo "usage: $0 VERSION [--cache DIR]   (VERSION like v1.34.4)" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
VERSION=$1; shift
[[ $VERSION == v* ]] || VERSION="v$VERSION"
[[ $VERSION =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || usage
MAJOR=${BASH_REMATCH[1]} MINOR=${BASH_REMATCH[2]} PATCH=${BASH_REMATCH[3]}
CACHE=${HERD_CACHE_DIR:-/var/cache/herd}
while [[ $# -gt 0 ]]; do
  case $1 in
    --cache) [[ $# -ge 2 ]] || usage; CACHE=$2; shift 2 ;;
    *) usage ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
for tool in go node dpkg-deb apt-get tar sha256sum flock; do
  command -v "$tool" >/dev/null || { echo "build-kubernetes: $tool is missing (Go: any release since 1.21; GOTOOLCHAIN fetches the one Kubernetes asks for)" >&2; exit 1; }
done
K=$(mkdir -p "$CACHE/kubernetes" && cd "$CACHE/kubernetes" && pwd)
OUT=$K/$VERSION
DEB_VERSION="$MAJOR.$MINOR.$PATCH-1.1"
STAGING_VERSION="v0.$MINOR.$PATCH"
ARCH=amd64
# Kubernetes' own binaries: the node tools, the control plane and kube-proxy (kubeadm's addon).
COMMANDS=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
# The pod network (docs/dependencies.md): flanneld and the flannel CNI plugin. The same
# versions and image names are in packages/kubeadm/src/network.ts (a test compares them).
FLANNEL_VERSION=v0.28.10
FLANNEL_IMAGE=ghcr.io/flannel-io/flannel:$FLANNEL_VERSION
# The proxy refuses github.com/flannel-io/cni-plugin (every version); its origin, the plugin
# in containernetworking/plugins, builds and speaks the same protocol (cniVersion 0.3.1).
CNI_FLANNEL_VERSION=v0.9.1
FLANNEL_CNI_IMAGE=ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3
# A small client for pods (tests, debugging): Debian's busybox-static.
BUSYBOX_IMAGE=docker.io/library/busybox:1.35.0

export GOMODCACHE=$K/go/mod GOCACHE=$K/go/build GOFLAGS=-mod=mod CGO_ENABLED=0 GOOS=linux GOARCH=$ARCH
# `auto`: the machine's Go when it is new enough for the module, else the one go.mod asks
# for, fetched from the module proxy.
export GOTOOLCHAIN=auto
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
mkdir -p "$GOMODCACHE" "$GOCACHE" "$OUT"
# One build at a time per cache: tests of several engineers (or CI jobs) may ask at once,
# and the steps share the module cache, the etcd and Debian directories.
exec 9>"$K/.lock"
if ! flock -n 9; then
  echo "[build-kubernetes $VERSION] waiting for another build in $K to finish" >&2
  flock 9
fi

STARTED=$(date +%s)
say() { printf '[build-kubernetes %s %4ss] %s\n' "$VERSION" "$(( $(date +%s) - STARTED ))" "$*" >&2; }
sha() { sha256sum | cut -c1-64; }

resolve() { # PACKAGE...: the .deb file names apt would fetch onto an empty system
  local status archives rc=0
  status=$(mktemp); : > "$status"
  # An empty archive cache too: apt prints no URI for a .deb this host already has in
  # /var/cache/apt/archives, which would leave it out of the bundle (seen: libperl5.36).
  archives=$(mktemp -d); mkdir -p "$archives/partial"
  apt-get install --print-uris -qq -y --no-install-recommends \
    -o Dir::State::status="$status" -o Dir::Cache::Archives="$archives" -o Debug::NoLocking=1 "$@" > "$status.out" || rc=$?
  awk "/^'/ { print \$2 }" "$status.out"; rm -rf "$status" "$status.out" "$archives"; return $rc
}

# --- stamps ---------------------------------------------------------------------------
# A step is done when DIR/.stamp-STEP holds the hash of the step's inputs followed by a
# sha256sum list of its outputs, and every output still matches.
step_done() { # STEP KEY DIR
  local stamp=$3/.stamp-$1
  [[ -f $stamp && $(head -1 "$stamp") == "$2" ]] || return 1
  (cd "$3" && tail -n +2 "$stamp" | sha256sum --quiet --strict -c - >/dev/null 2>&1)
}
step_record() { # STEP KEY DIR FILE... (relative to DIR)
  local step=$1 key=$2 dir=$3; shift 3
  { echo "$key"; (cd "$dir" && sha256sum -- "$@"); } > "$dir/.stamp-$step.tmp"
  mv "$dir/.stamp-$step.tmp" "$dir/.stamp-$step"
}

# --- 1. the wrapper module and the Kubernetes binaries -------------------------------
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, client-go, …) with
# ./staging/…, which only works inside its own repository. The wrapper requires it and
# replaces every staging module (those it requires at v0.0.0) with the published v0.Y.Z.
modfile() { # MODULE@VERSION FIELD: a path `go mod download -json` names (GoMod, Info, Dir)
  (cd "$K" && go mod download -json "$1") | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}\$/\1/p"
}
kube_gomod=$(modfile "k8s.io/kubernetes@$VERSION" GoMod)
[[ -f $kube_gomod ]] || { echo "the module proxy has no k8s.io/kubernetes@$VERSION" >&2; exit 1; }
kube_time=$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$(modfile "k8s.io/kubernetes@$VERSION" Info)")
BUILD_DATE=$(date -u -d "${kube_time:-1970-01-01T00:00:00Z}" +%Y-%m-%dT%H:%M:%SZ)

SRC=$OUT/src
mkdir -p "$SRC"
{
  echo "// Generated by scripts/build-kubernetes.sh: builds k8s.io/kubernetes $VERSION outside its repository."
  echo "module herd.local/kubernetes-build"
  echo
  grep -E '^(go|godebug) ' "$kube_gomod"
  echo
  echo "require k8s.io/kubernetes $VERSION"
  echo
  echo "replace ("
  awk -v v="$STAGING_VERSION" '
    /^require[[:space:]]*\(/ { inreq = 1; next }
    inreq && /^\)/ { inreq = 0 }
    inreq && $1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print "\t" $1 " => " $1 " " v }
  ' "$kube_gomod"
  echo ")"
} > "$SRC/go.mod.want"
use_gomod "$SRC"

# Version information, as Kubernetes' hack/lib/version.sh sets it for both packages; kubeadm
# reads it to choose image tags and the kubelet reports it. The module proxy does not carry
# the Git commit, so gitCommit stays empty; buildDate is the version's publication time.
LDFLAGS="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  LDFLAGS+=" -X $pkg.gitMajor=$MAJOR -X $pkg.gitMinor=$MINOR -X $pkg.gitVersion=$VERSION"
  LDFLAGS+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done
GO_VERSION=$(cd "$SRC" && go version)
BIN=$OUT/bin
mkdir -p "$BIN"
key=$( { cat "$SRC/go.mod.in"; echo "$LDFLAGS"; echo "$GO_VERSION"; echo "${COMMANDS[*]}"; } | sha)
if step_done kubernetes "$key" "$BIN"; then
  say "kubernetes binaries: cached"
else
  say "kubernetes binaries: building ${COMMANDS[*]} ($GO_VERSION; the first build takes long)"
  t=$(date +%s)
  pkgs=(); for c in "${COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$SRC" && nice -n 15 go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/" "${pkgs[@]}")
  step_record kubernetes "$key" "$BIN" "${COMMANDS[@]}"
  say "kubernetes binaries: built in $(( $(date +%s) - t ))s"
fi
"$BIN/kubeadm" version -o short | grep -qx "$VERSION" || { echo "kubeadm does not report $VERSION" >&2; exit 1; }

# --- 2. the images kubeadm expects -------------------------------------------------------
# Every one kubeadm lists (control plane, etcd, pause, kube-proxy, CoreDNS), at the tags it
# will deploy: CoreDNS's version is kubeadm's own choice for this Kubernetes version.
mapfile -t KUBEADM_IMAGES < <("$BIN/kubeadm" config images list --kubernetes-version "$VERSION" 2>/dev/null)
image_of() { local i; for i in "${KUBEADM_IMAGES[@]}"; do [[ ${i%%:*} == */$1 ]] && { echo "$i"; return; }; done
  echo "kubeadm lists no $1 image: ${KUBEADM_IMAGES[*]}" >&2; exit 1; }
ETCD_IMAGE=$(image_of etcd) PAUSE_IMAGE=$(image_of pause) COREDNS_IMAGE=$(image_of coredns)
COREDNS_VERSION=${COREDNS_IMAGE##*:}
IMAGES=("${KUBEADM_IMAGES[@]}" "$FLANNEL_IMAGE" "$FLANNEL_CNI_IMAGE" "$BUSYBOX_IMAGE")
ETCD_VERSION=v${ETCD_IMAGE##*:}; ETCD_VERSION=${ETCD_VERSION%-*}   # 3.6.5-0 → v3.6.5
PAUSE_VERSION=${PAUSE_IMAGE##*:}

# --- 3. etcd, at the version kubeadm of this release deploys ---------------------------
# Debian bookworm's etcd (3.4) is older than kubeadm accepts. etcd's server module has
# replace directives to its sibling directories too, so it gets the same kind of wrapper.
ETCD_DIR=$K/etcd/$ETCD_VERSION
mkdir -p "$ETCD_DIR/src"
etcd_gomod=$(modfile "go.etcd.io/etcd/server/v3@$ETCD_VERSION" GoMod)
{
  echo "// Generated by scripts/build-kubernetes.sh: builds the etcd server $ETCD_VERSION."
  echo "module herd.local/etcd-build"
  echo
  grep -E '^go ' "$etcd_gomod"
  echo
  echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
} > "$ETCD_DIR/src/go.mod.want"
use_gomod "$ETCD_DIR/src"
ETCD_LDFLAGS="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
key=$( { cat "$ETCD_DIR/src/go.mod.in"; echo "$ETCD_LDFLAGS"; echo "$GO_VERSION"; } | sha)
if step_done etcd "$key" "$ETCD_DIR"; then
  say "etcd $ETCD_VERSION: cached"
else
  say "etcd $ETCD_VERSION: building"
  t=$(date +%s)
  (cd "$ETCD_DIR/src" && nice -n 15 go build -trimpath -ldflags "$ETCD_LDFLAGS" -o "$ETCD_DIR/etcd" go.etcd.io/etcd/server/v3)
  step_record etcd "$key" "$ETCD_DIR" etcd
  say "etcd $ETCD_VERSION: built in $(( $(date +%s) - t ))s"
fi
cp -f "$ETCD_DIR/etcd" "$BIN/etcd"

# --- 4. pause --------------------------------------------------------------------------
PAUSE_DIR=$K/pause/$PAUSE_VERSION
mkdir -p "$PAUSE_DIR"
key=$( { cat "$HERE/kubernetes/pause/main.go"; echo "$PAUSE_VERSION"; echo "$GO_VERSION"; } | sha)
if step_done pause "$key" "$PAUSE_DIR"; then
  say "pause $PAUSE_VERSION: cached"
else
  say "pause $PAUSE_VERSION: building"
  (cd "$HERE/kubernetes/pause" && GOFLAGS= nice -n 15 go build -trimpath \
    -ldflags "-s -w -X main.version=$PAUSE_VERSION" -o "$PAUSE_DIR/pause" main.go)
  step_record pause "$key" "$PAUSE_DIR" pause
fi
cp -f "$PAUSE_DIR/pause" "$BIN/pause"

# --- 4b. CoreDNS, at the version kubeadm deploys -----------------------------------------
# Its own module, built the way CoreDNS documents for a chosen set of plugins: a main package
# importing the plugins and coremain. Every plugin of its plugin.cfg except those for clouds
# and services a cluster's DNS does not use here (route53, azure, clouddns, etcd, trace):
# their SDKs are most of the build's time. kubeadm's Corefile uses none of them; a Corefile
# naming one is refused by CoreDNS as an unknown directive. kubeadm's Deployment runs the
# image's entrypoint with `-conf /etc/coredns/Corefile`.
COREDNS_DIR=$K/coredns/$COREDNS_VERSION
COREDNS_LEFT_OUT='route53|azure|clouddns|etcd|trace'
mkdir -p "$COREDNS_DIR/src"
coredns_mod=$(modfile "github.com/coredns/coredns@$COREDNS_VERSION" GoMod)
[[ -f $coredns_mod ]] || { echo "the module proxy has no github.com/coredns/coredns@$COREDNS_VERSION" >&2; exit 1; }
coredns_plugins=$(cd "$K" && go mod download -json "github.com/coredns/coredns@$COREDNS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/core/plugin/zplugin.go
{
  echo "// Generated by scripts/build-kubernetes.sh: builds CoreDNS $COREDNS_VERSION outside its repository."
  echo "module herd.local/coredns-build"
  echo
  grep -E '^go ' "$coredns_mod"
  echo
  echo "require github.com/coredns/coredns $COREDNS_VERSION"
} > "$COREDNS_DIR/src/go.mod.want"
use_gomod "$COREDNS_DIR/src"
{
  echo "// Generated by scripts/build-kubernetes.sh: CoreDNS's plugins but $COREDNS_LEFT_OUT."
  echo 'package main'
  echo
  echo 'import ('
  grep -E '^[[:space:]]+_ "' "$coredns_plugins" | grep -Ev "/plugin/($COREDNS_LEFT_OUT)\"\$"
  printf '\t"github.com/coredns/coredns/coremain"\n'
  echo ')'
  echo
  echo 'func main() { coremain.Run() }'
} > "$COREDNS_DIR/src/main.go"
grep -q '/plugin/kubernetes"$' "$COREDNS_DIR/src/main.go" || { echo "CoreDNS $COREDNS_VERSION: no kubernetes plugin in $coredns_plugins" >&2; exit 1; }
key=$( { cat "$COREDNS_DIR/src/go.mod.in" "$COREDNS_DIR/src/main.go"; echo "$GO_VERSION"; } | sha)
if step_done coredns "$key" "$COREDNS_DIR"; then
  say "coredns $COREDNS_VERSION: cached"
else
  say "coredns $COREDNS_VERSION: building"
  t=$(date +%s)
  (cd "$COREDNS_DIR/src" && nice -n 15 go build -trimpath -ldflags "-s -w" -o "$COREDNS_DIR/coredns" .)
  step_record coredns "$key" "$COREDNS_DIR" coredns
  say "coredns $COREDNS_VERSION: built in $(( $(date +%s) - t ))s"
fi
cp -f "$COREDNS_DIR/coredns" "$BIN/coredns"

# --- 4c. flannel: flanneld and its CNI plugin --------------------------------------------
# flanneld's main package imports every backend; two cannot be built here: udp needs cgo,
# and tencentvpc needs an SDK module the proxy refuses. The wrapper's main.go is flannel's
# own without those two imports (vxlan, host-gw, ipip, wireguard, ipsec remain).
FLANNEL_DIR=$K/flannel/$FLANNEL_VERSION
mkdir -p "$FLANNEL_DIR/src"
flannel_main=$(modfile "github.com/flannel-io/flannel@$FLANNEL_VERSION" Dir)/main.go
[[ -f $flannel_main ]] || { echo "the module proxy has no github.com/flannel-io/flannel@$FLANNEL_VERSION" >&2; exit 1; }
{
  echo "// Generated by scripts/build-kubernetes.sh: flanneld $FLANNEL_VERSION without the udp and tencentvpc backends."
  echo "module herd.local/flannel-build"
  echo
  grep -E '^go ' "$(modfile "github.com/flannel-io/flannel@$FLANNEL_VERSION" GoMod)"
  echo
  echo "require github.com/flannel-io/flannel $FLANNEL_VERSION"
} > "$FLANNEL_DIR/src/go.mod.want"
use_gomod "$FLANNEL_DIR/src"
grep -Ev '"github.com/flannel-io/flannel/pkg/backend/(udp|tencentvpc)"$' "$flannel_main" > "$FLANNEL_DIR/src/main.go"
FLANNEL_LDFLAGS="-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION"
key=$( { cat "$FLANNEL_DIR/src/go.mod.in" "$FLANNEL_DIR/src/main.go"; echo "$FLANNEL_LDFLAGS $CNI_FLANNEL_VERSION"; echo "$GO_VERSION"; } | sha)
if step_done flannel "$key" "$FLANNEL_DIR"; then
  say "flannel $FLANNEL_VERSION: cached"
else
  say "flannel $FLANNEL_VERSION and its CNI plugin $CNI_FLANNEL_VERSION: building"
  t=$(date +%s)
  (cd "$FLANNEL_DIR/src" && nice -n 15 go build -trimpath -ldflags "$FLANNEL_LDFLAGS" -o "$FLANNEL_DIR/flanneld" .)
  GOFLAGS= GOBIN=$FLANNEL_DIR nice -n 15 go install -trimpath -ldflags "-s -w" \
    "github.com/containernetworking/plugins/plugins/meta/flannel@$CNI_FLANNEL_VERSION"
  step_record flannel "$key" "$FLANNEL_DIR" flanneld flannel
  say "flannel: built in $(( $(date +%s) - t ))s"
fi
cp -f "$FLANNEL_DIR/flanneld" "$FLANNEL_DIR/flannel" "$BIN/"

# --- 4d. the tools images exec, from Debian -----------------------------------------------
# kube-proxy and flanneld run iptables-restore/-save (nft mode: Debian's default, so the
# node's own iptables and every pod's see the same tables) and conntrack; init containers
# and test pods need a shell and cp (busybox). The .debs with every dependency (resolved
# against an empty system, like step 7) are unpacked into one tree: `dpkg-deb -x` runs no
# maintainer scripts, so the alternatives' links are made here. Shared by every version.
IMAGE_PACKAGES=(iptables conntrack busybox-static)
BASE=$K/image-base
mkdir -p "$BASE/debs"
# Resolving takes seconds; its answer only changes with apt's package lists.
lists=$( { echo "${IMAGE_PACKAGES[*]}"; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null; } | sha)
if [[ -f $BASE/.resolved && $(head -1 "$BASE/.resolved") == "$lists" ]]; then
  mapfile -t base_debs < <(tail -n +2 "$BASE/.resolved")
else
  if ! mapfile -t base_debs < <(resolve "${IMAGE_PACKAGES[@]}") || [[ ${#base_debs[@]} -eq 0 ]]; then
    say "image base: apt-get update (no package lists yet)"; apt-get update -qq >&2
    lists=$( { echo "${IMAGE_PACKAGES[*]}"; ls -l --time-style=+%s /var/lib/apt/lists/; } | sha)
    mapfile -t base_debs < <(resolve "${IMAGE_PACKAGES[@]}")
  fi
  [[ ${#base_debs[@]} -gt 0 ]] || { echo "apt could not resolve ${IMAGE_PACKAGES[*]}" >&2; exit 1; }
  { echo "$lists"; printf '%s\n' "${base_debs[@]}"; } > "$BASE/.resolved"
fi
key=$( { printf '%s\n' "${base_debs[@]}"; sed -n '/^# --- 4d\./,/^# --- 5\./p' "$0"; } | sha)
if step_done image-base "$key" "$BASE"; then
  say "image base: cached"
else
  say "image base: ${IMAGE_PACKAGES[*]} and ${#base_debs[@]} packages in all"
  rm -rf "$BASE/debs" "$BASE/root"; mkdir -p "$BASE/debs" "$BASE/root"
  names=()
  for f in "${base_debs[@]}"; do ver=${f#*_}; ver=${ver%_*}; names+=("${f%%_*}=${ver//%3a/:}"); done
  (cd "$BASE/debs" && apt-get download -qq -o APT::Sandbox::User=root "${names[@]}" >&2)
  for deb in "$BASE"/debs/*.deb; do dpkg-deb -x "$deb" "$BASE/root"; done
  root=$BASE/root
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "xtables-nft-multi" "$root/usr/sbin/$t"
  done
  for applet in $("$root/bin/busybox" --list); do
    [[ -e $root/bin/$applet || -e $root/usr/bin/$applet || -e $root/sbin/$applet || -e $root/usr/sbin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done
  # The libraries are all there: each tool runs inside the tree alone. Never on the caller's
  # stdin: sh takes `--version` for a script to read from it, and waited on a terminal or pipe.
  for tool in /usr/sbin/iptables-restore /usr/sbin/ip6tables-save /usr/sbin/conntrack /bin/sh; do
    chroot "$root" "$tool" --version </dev/null >/dev/null 2>&1 || chroot "$root" "$tool" -c true </dev/null \
      || { echo "image base: $tool does not run in $root (a library missing?)" >&2; exit 1; }
  done
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$BASE/root.tar" .
  rm -rf "$root"
  step_record image-base "$key" "$BASE" root.tar
fi

# --- 5. OCI image archives -------------------------------------------------------------
# One layer of the image's own files; kube-proxy, flannel's two and busybox have the image
# base of step 4d below it (the same blob in each).
IMG=$OUT/images
mkdir -p "$IMG"
key=$( { printf '%s\n' "${IMAGES[@]}"; cat "$HERE/kubernetes/oci-image.mjs"; sha256sum "$BASE/root.tar" | cut -c1-64; \
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd pause coredns flanneld flannel; do
    sha256sum "$BIN/$c"; done | cut -c1-64; } | sha)
if step_done images "$key" "$IMG"; then
  say "images: cached"
else
  say "images: writing ${#IMAGES[@]} OCI archives"
  rm -f "$IMG"/*.tar
  names=()
  for ref in "${IMAGES[@]}"; do
    name=${ref%%:*}; name=${name##*/}
    case $name in
      pause) args=(--file "$BIN/pause:/pause") ;;
      coredns) args=(--file "$BIN/coredns:/coredns") ;;
      kube-proxy) args=(--layer "$BASE/root.tar" --file "$BIN/kube-proxy:/usr/local/bin/kube-proxy") ;;
      # Where flannel's own images keep them (kube-flannel.yml runs these paths).
      flannel) args=(--layer "$BASE/root.tar" --file "$BIN/flanneld:/opt/bin/flanneld") ;;
      flannel-cni-plugin) args=(--layer "$BASE/root.tar" --file "$BIN/flannel:/flannel" --entrypoint /bin/sh) ;;
      busybox) args=(--layer "$BASE/root.tar" --entrypoint /bin/sh) ;;
      *) args=(--file "$BIN/$name:/usr/local/bin/$name") ;;
    esac
    node "$HERE/kubernetes/oci-image.mjs" --ref "$ref" "${args[@]}" --out "$IMG/$name.tar"
    names+=("$name.tar")
  done
  printf '%s\n' "${IMAGES[@]}" > "$IMG/images.txt"
  step_record images "$key" "$IMG" "${names[@]}" images.txt
fi

# --- 6. Debian packages kubeadm, kubelet, kubectl -------------------------------------
# Named, laid out and depending like the official packages (pkgs.k8s.io, built from
# kubernetes/release's krel templates): /usr/bin/*, the kubelet unit in /lib/systemd/system,
# kubeadm's drop-in in /usr/lib/systemd/system/kubelet.service.d, /etc/default/kubelet.
# One deviation: Debian has no kubernetes-cni, so kubelet accepts containernetworking-plugins.
DEBS=$OUT/debs
mkdir -p "$DEBS"
key=$( { echo "$DEB_VERSION"; sed -n '/^# --- 6\./,/^# --- 7\./p' "$0"; \
  sha256sum "$BIN"/kubeadm "$BIN"/kubelet "$BIN"/kubectl | cut -c1-64; } | sha)
if step_done debs "$key" "$DEBS"; then
  say "debs: cached"
else
  say "debs: building kubeadm, kubelet, kubectl $DEB_VERSION"
  rm -f "$DEBS"/*.deb
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  control() { # DIR PACKAGE DESCRIPTION [FIELD...]
    local dir=$1 pkg=$2 desc=$3; shift 3
    mkdir -p "$dir/DEBIAN"
    {
      echo "Package: $pkg"
      echo "Version: $DEB_VERSION"
      echo "Architecture: $ARCH"
      echo "Maintainer: Kubernetes Authors <dev@kubernetes.io>"
      echo "Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
      [[ $# -eq 0 ]] || printf '%s\n' "$@"
      echo "Section: admin"
      echo "Priority: optional"
      echo "Homepage: https://kubernetes.io"
      echo "Description: $desc"
      echo " Built by herd (scripts/build-kubernetes.sh) from k8s.io/kubernetes $VERSION on the Go module proxy."
    } > "$dir/DEBIAN/control"
  }
  build_deb() { # DIR
    find "$1" -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$1" "$DEBS/" >/dev/null
  }
  export SOURCE_DATE_EPOCH=$(date -u -d "$BUILD_DATE" +%s)

  d=$work/kubectl
  install -D -m 0755 "$BIN/kubectl" "$d/usr/bin/kubectl"
  control "$d" kubectl "Command-line utility for interacting with a Kubernetes cluster."
  build_deb "$d"

  d=$work/kubelet
  install -D -m 0755 "$BIN/kubelet" "$d/usr/bin/kubelet"
  install -d "$d/lib/systemd/system" "$d/var/lib/kubelet" "$d/etc/kubernetes/manifests" "$d/etc/default"
  touch "$d/var/lib/kubelet/.kubelet-keep" "$d/etc/kubernetes/manifests/.kubelet-keep"
  cat > "$d/lib/systemd/system/kubelet.service" <<'EOF'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
EOF
  echo 'KUBELET_EXTRA_ARGS=' > "$d/etc/default/kubelet"
  control "$d" kubelet "Node agent for Kubernetes clusters." \
    "Depends: kubernetes-cni (>= 1.2.0) | containernetworking-plugins, mount, util-linux" \
    "Recommends: iptables (>= 1.8.4)"
  echo /etc/default/kubelet > "$d/DEBIAN/conffiles"
  # What the official package's systemd macros do: enable the unit on install (it then
  # restarts every 10 s until kubeadm writes its configuration), stop and disable it on removal.
  cat > "$d/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
  systemctl enable kubelet.service >/dev/null 2>&1 || true
fi
EOF
  cat > "$d/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop kubelet.service || true
  systemctl disable kubelet.service >/dev/null 2>&1 || true
fi
EOF
  cat > "$d/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
  chmod 0755 "$d/DEBIAN/postinst" "$d/DEBIAN/prerm" "$d/DEBIAN/postrm"
  build_deb "$d"

  d=$work/kubeadm
  install -D -m 0755 "$BIN/kubeadm" "$d/usr/bin/kubeadm"
  install -d "$d/usr/lib/systemd/system/kubelet.service.d"
  cat > "$d/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" <<'EOF'
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
EOF
  control "$d" kubeadm "Command-line utility for administering a Kubernetes cluster."
  build_deb "$d"

  rm -rf "$work"; trap - EXIT
  step_record debs "$key" "$DEBS" $(cd "$DEBS" && ls *.deb)
fi

# --- 7. what a node needs from Debian -----------------------------------------------------
# The container runtime and the tools kubelet and kubeadm call, with every dependency a
# minbase machine lacks. apt resolves against an empty dpkg status (so nothing this host
# happens to have installed is left out) twice: once for these packages, once for what
# `debootstrap --variant=minbase` installs (every Priority: required package, and apt);
# the difference is downloaded. Shared by every version. keepalived, haproxy and curl hold
# the virtual IP in front of several control planes (packages/kubeadm ENDPOINT_PACKAGES).
NODE_PACKAGES=(containerd runc containernetworking-plugins conntrack iptables ethtool socat ebtables keepalived haproxy curl)
DEB_DIR=$K/debian
mkdir -p "$DEB_DIR"
required() { apt-cache dumpavail 2>/dev/null | awk '/^Package:/ { p = $2 } /^Priority: required/ { print p }' | sort -u; }
# Resolving takes seconds; its answer only changes with apt's package lists.
lists=$( { echo "${NODE_PACKAGES[*]} minbase-by-name"; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null; } | sha)
if [[ -f $DEB_DIR/.resolved && $(head -1 "$DEB_DIR/.resolved") == "$lists" ]]; then
  mapfile -t want < <(tail -n +2 "$DEB_DIR/.resolved")
else
  if ! resolve "${NODE_PACKAGES[@]}" >/dev/null 2>&1 || [[ -z $(required) ]]; then
    say "debian: apt-get update (no package lists yet)"; apt-get update -qq >&2
    lists=$( { echo "${NODE_PACKAGES[*]} minbase-by-name"; ls -l --time-style=+%s /var/lib/apt/lists/; } | sha)
  fi
  # What a minbase machine has: the Priority: required packages and apt, by name. (Resolving
  # them instead over-counts: it pulled in libperl5.36, which minbase lacks and libsnmp40,
  # keepalived's, needs.)
  mapfile -t minbase < <(required; echo apt)
  mapfile -t want < <(resolve "${NODE_PACKAGES[@]}" | awk -F_ 'NR == FNR { skip[$1]; next } !($1 in skip)' <(printf '%s\n' "${minbase[@]}") -)
  [[ ${#want[@]} -gt 0 && ${#minbase[@]} -gt 0 ]] || { echo "apt could not resolve ${NODE_PACKAGES[*]}" >&2; exit 1; }
  { echo "$lists"; printf '%s\n' "${want[@]}"; } > "$DEB_DIR/.resolved"
fi
key=$(printf '%s\n' "${want[@]}" | sha)
if step_done debian "$key" "$DEB_DIR"; then
  say "debian packages: cached"
else
  names=()
  for f in "${want[@]}"; do
    ver=${f#*_}; ver=${ver%_*}; names+=("${f%%_*}=${ver//%3a/:}")
  done
  say "debian packages: downloading ${#names[@]} (${NODE_PACKAGES[*]} and what minbase lacks)"
  rm -f "$DEB_DIR"/*.deb
  (cd "$DEB_DIR" && apt-get download -qq -o APT::Sandbox::User=root "${names[@]}" >&2)
  step_record debian "$key" "$DEB_DIR" "${want[@]}"
fi

# --- end of steps
# What made this build (provider-local's buildRecipe() computes the same): a cache built by an
# older script is built again, and only what changed is redone.
(cd "$HERE" && find build-kubernetes.sh kubernetes -type f | LC_ALL=C sort | xargs sha256sum) > "$OUT/.recipe"

say "done in $(( $(date +%s) - STARTED ))s: $OUT ($(du -sh "$OUT" | cut -f1))"
echo "$OUT"
