#!/usr/bin/env bash
# Runs the herd CLI from this checkout, after making sure the machine is set up.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
exec node "$here/packages/cli/dist/main.js" "$@"
