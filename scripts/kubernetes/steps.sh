# shellcheck shell=bash
# What scripts/build-kubernetes.sh, scripts/build-conformance.sh and scripts/build-coordinator-image.sh
# share, sourced by each:
# the cache's lock, progress lines, step stamps, Debian package resolution and download, the answers of
# `go mod download -json` and wrapper modules. The caller sets SCRIPT (its name in progress lines), VERSION and
# K (its directory in the cache) before it calls them.

# cache_flag ARG...: CACHE from `--cache DIR`, the one flag the build scripts share, else
# HERD_CACHE_DIR or /var/cache/herd; anything else is the caller's usage().
cache_flag() {
  CACHE=${HERD_CACHE_DIR:-/var/cache/herd}
  while [[ $# -gt 0 ]]; do
    case $1 in
      --cache) [[ $# -ge 2 ]] || usage; CACHE=$2; shift 2 ;;
      *) usage ;;
    esac
  done
}

# One build at a time per cache: tests of several engineers (or CI jobs) may ask at once, and
# the steps share the module cache, the etcd and Debian directories. Held until the script ends.
lock_cache() {
  exec 9>"$K/.lock"
  if ! flock -n 9; then
    echo "[$SCRIPT $VERSION] waiting for another build in $K to finish" >&2
    flock 9
  fi
  STARTED=$(date +%s)
}

say() { printf '[%s %s %4ss] %s\n' "$SCRIPT" "$VERSION" "$(( $(date +%s) - STARTED ))" "$*" >&2; }
sha() { sha256sum | cut -c1-64; }

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

# resolve's answer, kept in DIR/.resolved until apt's package lists change (resolving takes
# seconds); a host with no lists yet gets them first.
resolved_debs() { # DIR PACKAGE...
  local dir=$1 lists debs; shift
  lists=$( { echo "$*"; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null; } | sha)
  if [[ -f $dir/.resolved && $(head -1 "$dir/.resolved") == "$lists" ]]; then tail -n +2 "$dir/.resolved"; return; fi
  if ! debs=$(resolve "$@") || [[ -z $debs ]]; then
    say "apt-get update (no package lists yet)"; apt-get update -qq >&2
    lists=$( { echo "$*"; ls -l --time-style=+%s /var/lib/apt/lists/; } | sha)
    debs=$(resolve "$@")
  fi
  { echo "$lists"; echo "$debs"; } > "$dir/.resolved"
  echo "$debs"
}

download_debs() { # DIR FILE...: the .debs resolve named (NAME_VERSION_ARCH.deb), into DIR
  local dir=$1 f ver names=(); shift
  for f in "$@"; do [[ -f $dir/$f ]] || { ver=${f#*_}; ver=${ver%_*}; names+=("${f%%_*}=${ver//%3a/:}"); }; done
  ((${#names[@]})) || return 0
  (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "${names[@]}" >&2)
}

modfile() { # MODULE@VERSION FIELD: a path `go mod download -json` names (GoMod, Info, Dir)
  (cd "$K" && go mod download -json "$1") | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}\$/\1/p"
}

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
