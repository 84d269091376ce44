#!/usr/bin/env bash
# Builds the coordinator's OCI image archive, without a container engine or a registry:
#
#   scripts/build-coordinator-image.sh [--cache DIR]      prints the archive's path
#
#   DIR (default ${HERD_CACHE_DIR:-/var/cache/herd}) gets coordinator-image/:
#     debs/            git, openssh-client, ca-certificates and what they need, from Debian
#     base.tar         those unpacked (less what the coordinator never runs), with a user herd
#                      (uid 10001) and the directories it writes: shared by every build
#     herd-coordinator.tar   the OCI archive: the base, then this host's node binary, the CLI
#                      bundled by esbuild and the agent artifact (scripts/build-agent.mjs);
#                      entrypoint `herd coordinator`, user 10001, labels
#                      org.opencontainers.image.version and .revision (the commit)
#
# `podman load -i` it (docs/operations.md). Each step keeps a stamp of its inputs (the helpers
# of scripts/kubernetes/steps.sh): a second run with the same inputs only bundles again to
# compare (seconds).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=build-coordinator-image
# shellcheck source=kubernetes/steps.sh
source "$HERE/kubernetes/steps.sh"

usage() { echo "usage: $0 [--cache DIR]" >&2; exit 2; }
cache_flag "$@"
ROOT=$(cd "$HERE/.." && pwd)
for tool in node npx dpkg-deb apt-get tar sha256sum flock git chroot; do
  command -v "$tool" >/dev/null || { echo "build-coordinator-image: $tool is missing (scripts/setup.sh installs what herd needs)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "build-coordinator-image: needs root (the base's files are owned by root and by uid 10001, and its tools are checked in a chroot)" >&2; exit 1; }
VERSION=$(node -p "require('$ROOT/packages/cli/package.json').version")
K=$(mkdir -p "$CACHE/coordinator-image" && cd "$CACHE/coordinator-image" && pwd)
lock_cache

# --- 1. the Debian base ------------------------------------------------------------------
# git for the repository (https through libcurl, ssh through the client), a shell for git's
# own scripts and GIT_SSH_COMMAND, and the C++ runtime this host's node links to. Resolved
# against an empty system, so everything they need comes along; then dropped what dpkg pulls
# in for itself and what git runs only in commands herd never calls (Perl: send-email, svn,
# cvs; docs): the chroot check below proves what stays runs.
PACKAGES=(git openssh-client ca-certificates dash libstdc++6)
DROP='^(perl|perl-base|perl-modules-.*|libperl.*|liberror-perl|git-man|dpkg|tar|debconf|adduser|passwd|libpam.*|libsemanage.*|libsepol2|libaudit.*|libcap-ng0|libdb5.3|libgdbm.*|openssl|debianutils)$'
mkdir -p "$K/debs"
mapfile -t debs < <(resolved_debs "$K" "${PACKAGES[@]}" | awk -F_ -v drop="$DROP" '$1 !~ drop')
[[ ${#debs[@]} -gt 0 ]] || { echo "apt could not resolve ${PACKAGES[*]}" >&2; exit 1; }
key=$( { printf '%s\n' "${debs[@]}"; sed -n '/^# --- 1\./,/^# --- 2\./p' "$0"; } | sha)
if step_done base "$key" "$K"; then
  say "base: cached"
else
  say "base: ${PACKAGES[*]}: ${#debs[@]} packages"
  download_debs "$K/debs" "${debs[@]}"
  root=$K/root
  rm -rf "$root"; mkdir -p "$root"
  for deb in "${debs[@]}"; do dpkg-deb -x "$K/debs/$deb" "$root"; done
  # Docs, git's servers and mail and the other VCS bridges, iconv's 8 MB of legacy charsets
  # (git's text is UTF-8): nothing the coordinator's clone and fetch run.
  rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,bash-completion,bug,gitweb,perl5} "$root"/usr/lib/x86_64-linux-gnu/gconv \
    "$root"/usr/lib/git-core/{git-daemon,git-http-backend,git-http-push,git-imap-send,scalar,git-shell,git-svn,git-cvs*,git-send-email,git-archimport,git-instaweb,git-p4} \
    "$root"/usr/bin/{scalar,git-shell}
  # ca-certificates' postinst (not run by dpkg-deb -x) concatenates the bundle git's TLS reads.
  mkdir -p "$root/etc/ssl/certs"
  for crt in "$root"/usr/share/ca-certificates/mozilla/*.crt; do sed -e '$a\' "$crt"; done > "$root/etc/ssl/certs/ca-certificates.crt"
  ln -sf dash "$root/bin/sh"
  # The user the coordinator runs as: ssh refuses a uid with no passwd entry.
  printf 'root:x:0:0:root:/root:/bin/sh\nherd:x:10001:10001:herd coordinator:/home/herd:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nherd:x:10001:\n' > "$root/etc/group"
  # A repository mounted into the container belongs to the host's user, not to uid 10001: git
  # would refuse it as of "dubious ownership". Every repository here was put here on purpose.
  printf '[safe]\n\tdirectory = *\n' > "$root/etc/gitconfig"
  # Its home (git's config, ssh's known_hosts, the Git cache) and the state directory, which
  # a new volume mounted there takes its owner from.
  mkdir -p "$root/home/herd" "$root/var/lib/herd" "$root/root"
  chown 10001:10001 "$root/home/herd" "$root/var/lib/herd"
  chmod 0700 "$root/home/herd" "$root/var/lib/herd" "$root/root"
  # Each program runs in the tree alone, every library found (the loader names a missing one).
  for tool in /usr/bin/git /usr/lib/git-core/git-remote-http /usr/bin/ssh /usr/bin/ssh-keygen /bin/sh; do
    if chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "$tool" | grep 'not found'; then
      echo "base: $tool lacks a library in $root" >&2; exit 1
    fi
  done
  # git opens /dev/null; the runtime gives the container its own.
  mkdir -p "$root/dev"; mknod -m 0666 "$root/dev/null" c 1 3
  chroot "$root" /usr/bin/git --version </dev/null >/dev/null
  chroot "$root" /usr/bin/ssh -V </dev/null 2>/dev/null
  rm "$root/dev/null"
  tar -C "$root" --sort=name --mtime=@0 --numeric-owner --format=gnu -cf "$K/base.tar.tmp" .
  mv "$K/base.tar.tmp" "$K/base.tar"
  rm -rf "$root"
  step_record base "$key" "$K" base.tar
fi

# --- 2. the image ------------------------------------------------------------------------
# One layer above the base: this host's node, the CLI bundled, and the agent artifact the
# coordinator installs on new machines (its `node` a hard link: one copy of 99 MB). Made every
# run (seconds, deterministic): its bytes, not file times, say whether the image is new.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
layer=$work/layer
mkdir -p "$layer/usr/local/bin" "$layer/usr/local/lib/herd"
npx --prefix "$ROOT" tsc -b "$ROOT/packages/cli" >&2
node "$HERE/bundle.mjs" "$ROOT/packages/cli/dist/main.js" "$layer/usr/local/lib/herd/herd.mjs"
# The status page reads its files from ../assets/ beside its module (packages/status-page's
# layout); bundled, that module is herd.mjs.
cp -r "$ROOT/packages/status-page/assets" "$layer/usr/local/lib/assets"
node "$HERE/build-agent.mjs" "$layer/usr/local/lib/herd/agent-artifact" >&2
ln -f "$layer/usr/local/lib/herd/agent-artifact/node" "$layer/usr/local/bin/node"
printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/herd/herd.mjs "$@"\n' > "$layer/usr/local/bin/herd"
chmod 0755 "$layer/usr/local/bin/herd"
tar -C "$layer" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf "$work/herd.tar" .
REVISION=$(git -C "$ROOT" rev-parse HEAD)
[[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no) ]] || REVISION="$REVISION-dirty"
REF=localhost/herd-coordinator:$VERSION
key=$( { echo "$REF $REVISION"; sed -n '/^# --- 2\./,$p' "$0"; cat "$HERE/kubernetes/oci-image.mjs"; \
  sha256sum "$K/base.tar" "$work/herd.tar" | cut -c1-64; } | sha)
if step_done image "$key" "$K"; then
  say "image: cached"
else
  say "image: $REF at $REVISION"
  node "$HERE/kubernetes/oci-image.mjs" --ref "$REF" --layer "$K/base.tar" --layer "$work/herd.tar" \
    --entrypoint /usr/local/bin/herd --entrypoint coordinator --user 10001:10001 \
    --label "org.opencontainers.image.version=$VERSION" --label "org.opencontainers.image.revision=$REVISION" \
    --label "org.opencontainers.image.title=herd coordinator" --out "$K/herd-coordinator.tar"
  step_record image "$key" "$K" herd-coordinator.tar
fi
echo "$K/herd-coordinator.tar"
