#!/usr/bin/env bash
# Makes this machine ready to build, test and run herd, and changes nothing when it already is:
# Debian packages from scripts/host-packages.txt (as root, through apt-get), npm packages
# (npm ci, only when package-lock.json changed since the last install), then the build.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done < scripts/host-packages.txt
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

stamp=node_modules/.herd-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi
npx tsc -b >&2
# Each machine's systemd, and containerd on a Kubernetes node, holds inotify instances; the
# kernel's default of 128 per user is used up by a few clusters at once, and machines then
# fail to boot ("too many open files"). Raised here, never lowered.
if [[ $(id -u) -eq 0 ]]; then
  for setting in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288; do
    key=${setting%=*} want=${setting#*=}
    (( $(sysctl -n "$key") >= want )) || sysctl -qw "$setting"
  done
fi
# podman (the coordinator image's test) as this host needs it: runc, since crun refuses hybrid
# cgroups; cgroupfs, with no systemd session to own the cgroups; explicit ulimits, since as
# root podman raises a container's open files above this host's hard limit of 20000 ("error
# setting rlimit type 7: operation not permitted"). A drop-in of podman's, written only when it differs.
if [[ $(id -u) -eq 0 ]]; then
  conf=/etc/containers/containers.conf.d/herd.conf
  want=$(cat <<'CONF'
# Written by herd's scripts/setup.sh (why: there); rewritten when it differs.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
)
  if [[ ! -f $conf || $(cat "$conf") != "$want" ]]; then
    mkdir -p "${conf%/*}"
    printf '%s\n' "$want" > "$conf.tmp" && mv "$conf.tmp" "$conf"
    echo "setup: wrote $conf" >&2
  fi
fi
# The Debian image machines boot from (tests, the local provider): built once into the
# cache (about a minute, from the Debian mirror), so tests themselves never fetch it.
if [[ $(id -u) -eq 0 ]]; then
  node --input-type=module -e "import { ensureImage } from '@herd/nspawn'; import { createLogger } from '@herd/sys';
    const image = await ensureImage({ logger: createLogger({ name: 'setup' }) });
    if (image.built) console.error('setup: built the machine image ' + image.path);" >&2
fi
