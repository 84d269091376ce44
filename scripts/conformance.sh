#!/usr/bin/env bash
# Runs Kubernetes' conformance tests (e2e.test, built by scripts/build-conformance.sh) against
# a cluster:
#
#   scripts/conformance.sh KUBECONFIG VERSION [--registry HOST:PORT] [--focus REGEX] [--skip REGEX]
#                          [--report-dir DIR] [--timeout DURATION] [--parallel N] [--cache DIR]
#
#   VERSION        the cluster's Kubernetes version (e2e.test is built at it)
#   --registry     the cluster's image registry (the local provider's, in
#                  STATE/providers/local/registry/CLUSTER/registry.json): the test images are
#                  pushed to it first. Without it the nodes pull them from registry.k8s.io.
#   --focus        the specs to run (a regex on their full names); default every [Conformance] spec
#   --skip         specs left out (a regex); default none
#   --report-dir   where the reports go (default ./conformance-VERSION): report.json (ginkgo's
#                  JSON report), junit_01.xml, e2e.log (the suite's output)
#   --timeout      ginkgo's timeout for the whole run (default 6h)
#   --parallel     N ginkgo processes (the ginkgo CLI runs e2e.test N times, each a share of
#                  the specs; [Serial] ones at the end, alone); default 1: e2e.test alone
#
# The exit code is e2e.test's: 0 when every spec that ran passed. See docs/conformance.md.
set -euo pipefail

usage() {
  echo "usage: $0 KUBECONFIG VERSION [--registry HOST:PORT] [--focus REGEX] [--skip REGEX] [--report-dir DIR]" \
    "[--timeout DURATION] [--parallel N] [--cache DIR]" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
KUBECONFIG_FILE=$1 VERSION=$2; shift 2
[[ $VERSION == v* ]] || VERSION="v$VERSION"
[[ -r $KUBECONFIG_FILE ]] || { echo "conformance: $KUBECONFIG_FILE: no such kubeconfig" >&2; exit 2; }
REGISTRY='' FOCUS='\[Conformance\]' SKIP='' REPORT_DIR=./conformance-$VERSION TIMEOUT=6h PARALLEL=1
CACHE=${HERD_CACHE_DIR:-/var/cache/herd}
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --registry) REGISTRY=$2 ;;
    --focus) FOCUS=$2 ;;
    --skip) SKIP=$2 ;;
    --report-dir) REPORT_DIR=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    --parallel) PARALLEL=$2 ;;
    --cache) CACHE=$2 ;;
    *) usage ;;
  esac
  shift 2
done
HERE=$(cd "$(dirname "$0")" && pwd)

OUT=$(bash "$HERE/build-conformance.sh" "$VERSION" --cache "$CACHE")
if [[ -n $REGISTRY ]]; then
  command -v skopeo >/dev/null || { echo "conformance: skopeo is missing (Debian's skopeo package)" >&2; exit 1; }
  # As the local provider pushes the cluster's own images: the path without the registry's
  # host (what containerd's mirror asks for), the archive's digests kept. Each archive names
  # its reference in its index (oci-image.mjs).
  pushed=0
  for archive in "$OUT"/images/*.tar; do
    ref=$(tar -xOf "$archive" index.json | sed -n 's/.*"io\.containerd\.image\.name":"\([^"]*\)".*/\1/p')
    [[ -n $ref ]] || { echo "conformance: $archive names no image" >&2; exit 1; }
    skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci-archive:$archive" "docker://$REGISTRY/${ref#*/}"
    pushed=$((pushed + 1))
  done
  echo "[conformance $VERSION] pushed $pushed test images to $REGISTRY" >&2
fi

mkdir -p "$REPORT_DIR"
REPORT_DIR=$(cd "$REPORT_DIR" && pwd)
rm -f "$REPORT_DIR"/report.json "$REPORT_DIR"/junit_*.xml
# Not interactive: no colour, one line per spec; nothing gathered from cloud providers or
# nodes; the suite's own images by the names in repo-list.yaml.
# The suite runs kubectl (exec, logs): this version's, not whatever PATH has.
suite=(--kubeconfig="$KUBECONFIG_FILE" --kubectl-path="$(dirname "$OUT")/bin/kubectl" --provider=skeleton --report-dir="$REPORT_DIR"
  --dump-logs-on-failure=false --disable-log-dump)
ginkgo=(--focus="$FOCUS" --timeout="$TIMEOUT" --no-color)
[[ -z $SKIP ]] || ginkgo+=(--skip="$SKIP")
shown=$FOCUS; [[ ${#shown} -le 120 ]] || shown="${shown:0:100}… (${#FOCUS} characters)"
echo "[conformance $VERSION] e2e.test --ginkgo.focus='$shown'${SKIP:+ --ginkgo.skip='$SKIP'}, $PARALLEL process(es); reports in $REPORT_DIR" >&2
rc=0
export KUBE_TEST_REPO_LIST=$OUT/repo-list.yaml
if [[ $PARALLEL -gt 1 ]]; then
  "$OUT/bin/ginkgo" --procs="$PARALLEL" "${ginkgo[@]}" --output-dir="$REPORT_DIR" --json-report=report.json \
    "$OUT/bin/e2e.test" -- "${suite[@]}" > "$REPORT_DIR/e2e.log" 2>&1 || rc=$?
else
  "$OUT/bin/e2e.test" "${suite[@]}" "${ginkgo[@]/#--/--ginkgo.}" --ginkgo.json-report="$REPORT_DIR/report.json" > "$REPORT_DIR/e2e.log" 2>&1 || rc=$?
fi
tail -n 30 "$REPORT_DIR/e2e.log" >&2
exit $rc
