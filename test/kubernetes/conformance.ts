/**
 * Kubernetes' own conformance tests on a herd cluster: scripts/conformance.sh runs e2e.test
 * (built by scripts/build-conformance.sh) and leaves ginkgo's JSON report, which is read here.
 * The subset below is what `npm test` runs (docs/conformance.md); the whole set is a command.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { herdCacheDir } from '@herd/sys';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The subset, by the specs' full names without their [tags]: what makes a cluster one a person
 * can put a workload on (Services by ClusterIP and DNS name, pods across nodes, DNS, Deployments,
 * ConfigMaps and Secrets, pods' lifecycle), each a `[Conformance]` spec of e2e.test. Not here: the
 * specs that run agnhost 2.55 (the suite's AgnhostPrev: RecreateDeployment, the Deployment lifecycle,
 * the Pods and PodStatus lifecycle), which scripts/build-conformance.sh does not build.
 */
export const CONFORMANCE_SUBSET = [
  '[sig-network] Services should serve a basic endpoint from pods',
  '[sig-network] Services should serve multiport endpoints from pods',
  '[sig-network] Services should be able to create a functioning NodePort service',
  '[sig-network] Services should be able to change the type from ExternalName to ClusterIP',
  '[sig-network] Services should have session affinity work for service with type clusterIP',
  '[sig-network] Services should find a service from listing all namespaces',
  '[sig-network] Services should complete a service status lifecycle',
  '[sig-network] Services should serve endpoints on same port and different protocols',
  '[sig-network] DNS should provide DNS for the cluster',
  '[sig-network] DNS should provide DNS for services',
  '[sig-network] DNS should provide DNS for pods for Hostname',
  '[sig-network] DNS should provide DNS for pods for Subdomain',
  '[sig-network] DNS should provide /etc/hosts entries for the cluster',
  '[sig-network] DNS should support configurable pod DNS nameservers',
  '[sig-network] Networking Granular Checks: Pods should function for intra-pod communication: http',
  '[sig-network] Networking Granular Checks: Pods should function for intra-pod communication: udp',
  '[sig-network] Networking Granular Checks: Pods should function for node-pod communication: http',
  '[sig-network] Networking Granular Checks: Pods should function for node-pod communication: udp',
  '[sig-apps] Deployment RollingUpdateDeployment should delete old pods and create new ones',
  '[sig-apps] Deployment deployment should support rollover',
  '[sig-apps] Deployment Deployment should have a working scale subresource',
  '[sig-apps] Deployment deployment should support proportional scaling',
  '[sig-storage] ConfigMap should be consumable from pods in volume',
  '[sig-storage] ConfigMap updates should be reflected in volume',
  '[sig-storage] ConfigMap should be consumable in multiple volumes in the same pod',
  '[sig-storage] Secrets should be consumable from pods in volume',
  '[sig-storage] Secrets should be consumable from pods in volume with mappings',
  '[sig-node] ConfigMap should be consumable via environment variable',
  '[sig-node] ConfigMap should be consumable via the environment',
  '[sig-node] Secrets should be consumable from pods in env vars',
  '[sig-node] Secrets should be consumable via the environment',
  '[sig-node] Pods should get a host IP',
  '[sig-node] Pods should be submitted and removed',
  '[sig-node] Pods should be updated',
  '[sig-node] Pods should contain environment variables for services',
  '[sig-node] Pods should support remote command execution over websockets',
];

/** A spec's full name without its [tags] ([Conformance], [NodeConformance], [LinuxOnly], …) after the first word. */
export const untagged = (name: string) => name.replace(/(?<=\S) \[[^\]]+\]/g, '').replace(/\s+/g, ' ').trim();

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/**
 * A ginkgo focus selecting exactly the `[Conformance]` specs named: each name, then only tags
 * with [Conformance] among them (a `[Provider:GCE]` spec shares a name with one), up to the end. Not
 * anchored at the start: the text ginkgo matches does not begin with the first container's (seen at v1.35.4).
 */
export function focusOf(names: readonly string[]): string {
  return `(${names.map(escape).join('|')})( \\[[^\\]]+\\])* \\[Conformance\\]( \\[[^\\]]+\\])*$`;
}

export interface SpecResult {
  name: string;
  /** ginkgo's SpecState: passed, failed, skipped, pending, panicked, timedout, interrupted, aborted. */
  state: string;
  seconds: number;
  failure?: string;
}

interface GinkgoSpecReport {
  ContainerHierarchyTexts: string[] | null;
  LeafNodeText: string;
  LeafNodeType: string;
  State: string;
  RunTime: number;
  Failure?: { Message: string; Location?: { FileName: string; LineNumber: number } };
}

/** The specs of ginkgo's JSON report (--ginkgo.json-report): every It, with its state. */
export function specResults(reportJson: string): SpecResult[] {
  const suites = JSON.parse(reportJson) as { SpecReports: GinkgoSpecReport[] | null }[];
  return suites.flatMap((s) => s.SpecReports ?? []).filter((r) => r.LeafNodeType === 'It').map((r) => ({
    name: untagged([...(r.ContainerHierarchyTexts ?? []), r.LeafNodeText].join(' ')),
    state: r.State,
    seconds: Math.round(r.RunTime / 1e9),
    ...(r.Failure?.Message ? { failure: `${r.Failure.Location?.FileName ?? ''}:${r.Failure.Location?.LineNumber ?? ''}: ${r.Failure.Message}` } : {}),
  }));
}

export interface ConformanceRun {
  /** e2e.test's exit code: 0 when every spec that ran passed. */
  code: number;
  specs: SpecResult[];
  /** The last lines of the suite's output, for a failure's message. */
  tail: string;
}

/**
 * scripts/conformance.sh against a cluster: builds the suite (cached), pushes its images to
 * `registry`, runs the specs `focus` selects in 3 ginkgo processes (most of a spec's time is
 * waiting for pods, so 3 take about a third of one's time even on 2 cores).
 */
export async function runConformance(o: { kubeconfig: string; version: string; registry: string; focus: string; reportDir: string }): Promise<ConformanceRun> {
  const args = [join(ROOT, 'scripts/conformance.sh'), o.kubeconfig, o.version, '--registry', o.registry, '--focus', o.focus,
    '--report-dir', o.reportDir, '--timeout', '40m', '--parallel', '3', '--cache', herdCacheDir()];
  let code = 0;
  let tail = '';
  try {
    await promisify(execFile)('bash', args, { maxBuffer: 64 << 20, timeout: 90 * 60_000 });
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    code = typeof err.code === 'number' ? err.code : 1;
    tail = err.stderr ?? String(e);
  }
  let specs: SpecResult[] = [];
  try {
    specs = specResults(readFileSync(join(o.reportDir, 'report.json'), 'utf8'));
  } catch (e) {
    if (code === 0) throw e;
  }
  return { code, specs, tail };
}
