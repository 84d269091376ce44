#!/usr/bin/env bash
# Builds an offline Kubernetes for one version, from the Go module proxy, into the cache:
#
#   scripts/build-kubernetes.sh v1.34.4 [--cache DIR]
#
#   DIR (default ${HERD_CACHE_DIR:-/var/cache/herd}) gets kubernetes/:
#     go/mod, go/build          GOMODCACHE and GOCACHE, shared by every version
#     VERSION/bin/              kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#                               kube-scheduler etcd pause (static, CGO off, stripped)
#     VERSION/debs/             kubeadm_X.Y.Z-1.1_amd64.deb kubelet_… kubectl_… (official names and layout)
#     VERSION/images/           OCI archives (each names its image in io.containerd.image.name),
#                               tagged as `kubeadm config images list` prints them; images.txt
#                               lists them; the local provider pushes them to its registry
#     debian/                   containerd, runc, CNI plugins, conntrack, … and the dependencies
#                               a minbase machine lacks, from `apt-get download`
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
# The control-plane binaries; kube-proxy is not built (see docs/test-world.md: its image
# would need iptables and its libraries, so kubeadm's kube-proxy addon is disabled).
COMMANDS=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler)

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
modfile() { # MODULE@VERSION FIELD: a file `go mod download -json` names (GoMod, Info)
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
# kube-proxy and CoreDNS are left out (docs/test-world.md); the kubeadm configuration
# disables those addons, and then kubeadm lists, checks and uses only these.
mapfile -t IMAGES < <("$BIN/kubeadm" config images list --kubernetes-version "$VERSION" 2>/dev/null \
  | grep -Ev '/(kube-proxy|coredns/coredns|coredns):')
image_of() { local i; for i in "${IMAGES[@]}"; do [[ ${i%%:*} == */$1 ]] && { echo "$i"; return; }; done
  echo "kubeadm lists no $1 image: ${IMAGES[*]}" >&2; exit 1; }
ETCD_IMAGE=$(image_of etcd) PAUSE_IMAGE=$(image_of pause)
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

# --- 5. OCI image archives -------------------------------------------------------------
IMG=$OUT/images
mkdir -p "$IMG"
key=$( { printf '%s\n' "${IMAGES[@]}"; cat "$HERE/kubernetes/oci-image.mjs"; \
  sha256sum "$BIN"/kube-apiserver "$BIN"/kube-controller-manager "$BIN"/kube-scheduler "$BIN"/etcd "$BIN"/pause | cut -c1-64; } | sha)
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

say "done in $(( $(date +%s) - STARTED ))s: $OUT ($(du -sh "$OUT" | cut -f1))"
echo "$OUT"
