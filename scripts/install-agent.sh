#!/bin/bash
# install-agent.sh: the one way herd-agent gets onto a machine — over SSH, from cloud-init
# user data, or copied into a local machine. Run it as root from the artifact directory that
# scripts/build-agent.mjs makes (it sits there beside node and herd-agent.mjs).
#
# It installs or upgrades the agent and its systemd unit, then enables and starts it.
# Idempotent: run again with the same artifact and settings it changes nothing and says so;
# with a newer artifact it upgrades in place and restarts the agent.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install-agent.sh --coordinator HOST:PORT --ca-hash sha256:HEX --token-file PATH [--node NAME] [--move]
       install-agent.sh [--move]        (upgrade or repair, keeping the recorded settings)
  --coordinator, --ca-hash and --token-file are needed the first time. PATH holds the
  single-use token; it is copied to /etc/herd/agent.token (0600), which the agent reads
  once and deletes after enrolling. The token is never an argument: command lines are
  readable by every local user. Later runs keep /etc/herd/agent.env unless given again.
  --no-start   install and enable, but leave starting to the next boot (image building)
  --move       the artifact directory is a copy made for this install alone: its files are
               moved into place, not copied (one write of the 99 MB runtime, not two); the
               directory is left without them
EOF
}

artifact="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix=/opt/herd/agent
env_file=/etc/herd/agent.env
token_file=/etc/herd/agent.token
enrolled=/var/lib/herd-agent/agent.json
unit_file=/etc/systemd/system/herd-agent.service
wrapper=/usr/local/bin/herd-agent

die() { echo "install-agent: $*" >&2; exit 1; }

coordinator='' ca_hash='' token='' token_from='' node='' start=1 move=0
while (($#)); do
  case "$1" in
    --coordinator) coordinator=${2:?--coordinator needs HOST:PORT}; shift 2 ;;
    --ca-hash) ca_hash=${2:?--ca-hash needs sha256:HEX}; shift 2 ;;
    --token-file) token_from=${2:?--token-file needs a path}; shift 2 ;;
    --node) node=${2:?--node needs a name}; shift 2 ;;
    --no-start) start=0; shift ;;
    --move) move=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

((EUID == 0)) || die "must run as root"
for f in node herd-agent.mjs VERSION; do
  [[ -f $artifact/$f ]] || die "$artifact is not an agent artifact (no $f); build one with scripts/build-agent.mjs"
done
# Values end up as words on the agent's command line: check their shape here, before
# anything changes, so a typo never reaches the unit.
if [[ -n $token_from ]]; then
  [[ -f $token_from && -r $token_from ]] || die "--token-file $token_from: no such readable file"
  token=$(head -c 257 "$token_from" | tr -d '\n')
  [[ -n $token ]] || die "--token-file $token_from is empty"
fi
if [[ -n $coordinator$ca_hash$token_from ]]; then
  [[ -n $coordinator && -n $ca_hash && -n $token_from ]] || die "--coordinator, --ca-hash and --token-file go together"
  host_port='^[][A-Za-z0-9.:_-]+:[0-9]+$' # brackets for IPv6: [::1]:7443
  [[ $coordinator =~ $host_port ]] || die "--coordinator must be HOST:PORT, got '$coordinator'"
  [[ $ca_hash =~ ^sha256:[0-9a-f]{64}$ ]] || die "--ca-hash must be sha256: and 64 hex digits"
  [[ ${#token} -le 256 && $token =~ ^[A-Za-z0-9._-]+$ ]] || die "--token-file holds characters a token never has"
  [[ -z $node || $node =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || die "--node must be a lower-case DNS label, got '$node'"
elif [[ -n $node ]]; then
  die "--node goes with --coordinator, --ca-hash and --token-file"
elif [[ ! -f $env_file ]]; then
  usage >&2
  die "first install: --coordinator, --ca-hash and --token-file are needed"
fi

changed=()
# Every command is a process, and on a busy host each costs 50-250 ms (a first install ran
# about 45 of them): bash's own ${dest%/*}, read and printf where they do.
# put SRC DEST MODE: installs SRC as DEST unless DEST already has that content and mode.
# Through a temporary file and a rename, so the running agent never sees half a file.
put() {
  local src=$1 dest=$2 mode=$3
  if [[ -f $dest ]] && cmp -s "$src" "$dest" && [[ $(stat -c %a "$dest") == "$mode" ]]; then return; fi
  [[ -d ${dest%/*} ]] || mkdir -p "${dest%/*}"
  if ((move)); then
    # A rename on one filesystem. The copy may belong to whoever copied it in (scp as a
    # sudo user): root's from here on, before it gets its mode.
    [[ ! -L $src ]] || die "--move: $src is a symbolic link, not a file of the artifact"
    mv -f "$src" "$dest.herd-tmp"
    chown 0:0 "$dest.herd-tmp"
  else
    # Created root-only, then given its mode: a secret is never readable on the way.
    (umask 077 && cp "$src" "$dest.herd-tmp")
  fi
  chmod "$mode" "$dest.herd-tmp"
  mv -f "$dest.herd-tmp" "$dest"
  changed+=("$dest")
}
# put_text DEST MODE: like put, the content from standard input.
put_text() {
  local dest=$1 mode=$2 content='' existing=''
  IFS= read -r -d '' content || true
  if [[ -f $dest ]]; then IFS= read -r -d '' existing <"$dest" || true; fi
  if [[ -f $dest && $existing == "$content" && $(stat -c %a "$dest") == "$mode" ]]; then return; fi
  [[ -d ${dest%/*} ]] || mkdir -p "${dest%/*}"
  # Never readable by others, not even before the chmod: the token file is a secret.
  (umask 077 && printf '%s' "$content" >"$dest.herd-tmp")
  chmod "$mode" "$dest.herd-tmp"
  mv -f "$dest.herd-tmp" "$dest"
  changed+=("$dest")
}

old_version='' new_version=''
if [[ -f $prefix/VERSION ]]; then read -r old_version <"$prefix/VERSION" || true; fi
read -r new_version <"$artifact/VERSION" || true

put "$artifact/node" "$prefix/node" 755
put "$artifact/herd-agent.mjs" "$prefix/herd-agent.mjs" 644
put "$artifact/VERSION" "$prefix/VERSION" 644
put_text "$wrapper" 755 <<EOF
#!/bin/sh
# herd-agent from $prefix (installed by install-agent.sh), e.g. herd-agent --dry-run
exec $prefix/node $prefix/herd-agent.mjs "\$@"
EOF
if [[ -n $coordinator ]]; then
  # The flags name the token's file, never the token: they become the agent's command line.
  put_text "$env_file" 600 <<EOF
# Written by install-agent.sh; read by herd-agent.service. Once enrolled, the agent keeps
# its credentials in /var/lib/herd-agent and has deleted $token_file.
HERD_AGENT_FLAGS="--coordinator=$coordinator --ca-hash=$ca_hash --token-file=$token_file${node:+ --node=$node}"
EOF
  # An enrolled agent needs no token (and would only delete it again).
  if [[ ! -f $enrolled ]]; then
    put_text "$token_file" 600 <<<"$token"
  fi
fi
put_text "$unit_file" 644 <<EOF
[Unit]
Description=herd agent: keeps this machine converged to the spec its coordinator assigns
Wants=network-online.target
After=network-online.target
# Never give up restarting: however often it failed, the agent must come back.
StartLimitIntervalSec=0

[Service]
Type=exec
EnvironmentFile=$env_file
# An agent is idle nearly all the time (docs/benchmarks.md, "Agent at rest"): --no-opt never
# runs the optimizing compiler (about 4 MB of code pages and data stay out of memory), and a
# 1 MB young generation keeps a round's garbage from growing it (peaks 6 MB lower).
ExecStart=$prefix/node --no-opt --max-semi-space-size=1 $prefix/herd-agent.mjs --state=/var/lib/herd-agent \$HERD_AGENT_FLAGS
Restart=always
RestartSec=5
# SIGTERM goes to the agent alone, which ends its round and exits; whatever it started
# that still runs at the end of TimeoutStopSec (apt, dpkg) is then killed with it.
KillMode=mixed
TimeoutStopSec=90
# Credentials (the agent's private key) live here, readable by root only.
StateDirectory=herd-agent
StateDirectoryMode=0700
SyslogIdentifier=herd-agent
UMask=0022
# Hardening that leaves managing the OS intact. The agent installs packages, writes /etc,
# loads modules, sets sysctls and mounts, so no ProtectSystem/ProtectHome/PrivateTmp/
# ProtectKernel* (and nothing else that gives it its own mount namespace: mounts it makes
# must be the system's), and no NoNewPrivileges (maintainer scripts may run setuid tools).
# Rebooting only through systemd (\`systemctl reboot\`, after a grant), never by a direct
# reboot(2) from the agent or anything it runs:
CapabilityBoundingSet=~CAP_SYS_BOOT
# No realtime scheduling and no personality changes for the agent and its commands:
RestrictRealtime=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
EOF

files_changed=${#changed[@]}
# A reload costs as much as the rest of an install on a busy host, so only when needed: a unit
# systemd had loaded before its file changed needs one; a new unit (a first install) is read
# from disk when first asked for, here. `enable --no-reload` makes only the boot-time link.
if [[ " ${changed[*]} " == *" $unit_file "* && $(systemctl show -P NeedDaemonReload herd-agent.service) == yes ]]; then
  systemctl daemon-reload
fi
if ! systemctl is-enabled --quiet herd-agent.service; then
  systemctl enable --quiet --no-reload herd-agent.service
  changed+=("enabled herd-agent.service")
fi
if ((start)); then
  state=$(systemctl is-active herd-agent.service || true)
  if [[ $state == active || $state == activating || $state == reloading ]]; then
    if ((files_changed)); then
      systemctl restart herd-agent.service
      changed+=("restarted herd-agent.service")
    fi
  else
    systemctl start herd-agent.service
    changed+=("started herd-agent.service")
  fi
fi

if ((${#changed[@]} == 0)); then
  echo "herd-agent $new_version: already installed and running, nothing changed"
else
  if [[ -z $old_version ]]; then
    echo "herd-agent $new_version: installed"
  elif [[ $old_version != "$new_version" ]]; then
    echo "herd-agent: upgraded from $old_version to $new_version"
  else
    echo "herd-agent $new_version: updated"
  fi
  printf '  %s\n' "${changed[@]}"
fi
