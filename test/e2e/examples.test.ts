// Every example in examples/ brought up as far as it can run here, so that an example cannot
// rot: each local cluster of each example, from a copy of the example's exact files, with the
// real CLI until converged (Kubernetes nodes Ready). Then, on those running machines, the CLI
// on a working tree that does not validate: a restarted `herd up` keeps the last good state in
// force, `herd status` lists the machines, `herd down` removes them. `herd validate` of every
// example is test/cli/validate.test.ts's. No other test brings up these files (the Kubernetes
// e2e uses its own), so this adds one bring-up per local cluster of an example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from '@herd/api';
import { createExecutor } from '@herd/sys';
import { buildArtifacts, saveHostSysctls } from '../kubernetes/node.js';
import { herd, ROOT, type FleetStatus } from './herd.js';

/** Clusters of an example that cannot be brought up here, and why; every other cluster is. */
const NOT_HERE: Record<string, string> = {
  // Static machines at documentation addresses (192.0.2.0/24), which exist nowhere; on some
  // hosts that range is even the real uplink, where tests must send nothing.
  'fleet/shop-prod': 'a static cluster of machines that do not exist here',
};

const examples = readdirSync(join(ROOT, 'examples')).sort();

/** The example's clusters with their profile and defaults applied, as `herd validate --resolved` prints them. */
function clustersOf(example: string): Cluster[] {
  const r = herd(['validate', `examples/${example}`, '--resolved']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Cluster);
}

/** The file declaring cluster NAME below DIR/clusters (the file name is the cluster's name). */
function clusterFile(dir: string, name: string): string {
  const found = readdirSync(join(dir, 'clusters'), { recursive: true }).map(String).find((p) => /(^|\/)([^/]+)\.ya?ml$/.exec(p)?.[2] === name);
  assert.ok(found, `no file for cluster ${name}`);
  return join('clusters', found);
}

const isLocal = (c: Cluster) => c.spec.provider.kind === 'local';

test('every cluster of every example is brought up here, or says why not', () => {
  for (const example of examples) {
    for (const cluster of clustersOf(example)) {
      const key = `${example}/${cluster.metadata.name}`;
      assert.ok(cluster.spec.provider.kind === 'local' || NOT_HERE[key], `${key}: a ${cluster.spec.provider.kind} cluster with no reason in NOT_HERE`);
      assert.ok(!(cluster.spec.provider.kind === 'local' && NOT_HERE[key]), `${key}: a local cluster is always brought up`);
    }
  }
});

for (const example of examples.filter((e) => clustersOf(e).some(isLocal))) {
  const title = `examples/${example}: every local cluster converges; on a broken working tree the last good state stays in force, `
    + 'status lists the machines, down removes them';
  test(title, { timeout: 3_600_000 }, async (t) => {
    const local = clustersOf(example).filter(isLocal);
    const root = mkdtempSync(join(tmpdir(), `herd-example-${example}-`));
    const repo = join(root, example);
    const state = join(root, 'state');
    cpSync(join(ROOT, 'examples', example), repo, { recursive: true });
    const restoreSysctls = await saveHostSysctls();
    // Every command names its cluster: the example's other clusters (static machines that do
    // not exist here) are never contacted.
    t.after(() => { for (const cluster of local) herd(['down', repo, '--cluster', cluster.metadata.name, '--state', state]); });
    t.after(restoreSysctls);
    t.after(() => rmSync(root, { recursive: true, force: true }));

    const machines = new Map<string, string[]>();
    for (const cluster of local) {
      const name = cluster.metadata.name;
      // The build a cold cache needs (tens of minutes, shared with every Kubernetes test)
      // comes first, so that --timeout bounds the bring-up alone.
      await buildArtifacts(`v${cluster.spec.kubernetes.version.replace(/^v/, '')}`, createExecutor());
      const up = herd(['up', repo, '--cluster', name, '--state', state, '--exit-when-converged', '--timeout', '20m', '--output', 'json']);
      assert.equal(up.code, 0, `${example}/${name} did not converge: ${up.stderr.slice(-3000)}`);
      const status = (JSON.parse(up.stdout) as { status: FleetStatus }).status;
      const mine = status.clusters.find((c) => c.name === name)!;
      const desired = (cluster.spec.controlPlane?.replicas ?? 1) + cluster.spec.pools.reduce((n, p) => n + p.replicas, 0);
      assert.equal(mine.machines.length, desired);
      assert.equal(mine.kubernetes?.nodes.filter((n) => n.ready).length, desired, 'every node Ready');
      machines.set(name, mine.machines.map((m) => m.name).sort());
    }

    // The working tree stops validating; a coordinator restarted on it keeps the last good
    // state in force (and changes nothing), so status and down still see every machine.
    const broken = clusterFile(repo, local[0]!.metadata.name);
    appendFileSync(join(repo, broken), '  bogus: [\n');
    // Before any coordinator saw it, status says so beside the last status.
    const before = herd(['status', repo, '--cluster', local[0]!.metadata.name, '--state', state, '--output', 'json']);
    assert.equal(before.code, 0, before.stderr);
    assert.ok((JSON.parse(before.stdout) as { workingTreeErrors: { file: string }[] }).workingTreeErrors.some((e) => e.file === broken), before.stdout);
    for (const cluster of local) {
      const name = cluster.metadata.name;
      const restarted = herd(['up', repo, '--cluster', name, '--state', state, '--interval', '1s', '--timeout', '5s']);
      assert.equal(restarted.code, 1, restarted.stderr);
      assert.match(restarted.stderr, /the working tree refused: \d+ errors?; the last good state stays in force:/);

      const status = herd(['status', repo, '--cluster', name, '--state', state, '--output', 'json']);
      assert.equal(status.code, 0, status.stderr);
      const recorded = JSON.parse(status.stdout) as { status: FleetStatus; machinesListedNow: string[] };
      assert.ok(recorded.status.rejected?.errors.some((e) => e.file === broken), 'the refused working tree is named');
      assert.deepEqual(recorded.status.clusters.find((c) => c.name === name)?.machines.map((m) => m.name).sort(), machines.get(name));
      assert.deepEqual(recorded.machinesListedNow.sort(), machines.get(name)!.map((m) => `${name}/${m}`), 'every machine still runs');
      const table = herd(['status', repo, '--cluster', name, '--state', state]);
      for (const m of machines.get(name)!) assert.match(table.stdout, new RegExp(`^${name} +\\S+ +${m} +\\S+ +running `, 'm'));

      const down = herd(['down', repo, '--cluster', name, '--state', state, '--output', 'json']);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /does not validate \(\d+ errors?\); removing the clusters of the last good state/);
      const result = JSON.parse(down.stdout) as { deleted: { machine: string }[]; fromLastGoodState: boolean };
      assert.equal(result.fromLastGoodState, true);
      assert.deepEqual(result.deleted.map((d) => d.machine).sort(), machines.get(name));
    }
    const left = join(state, 'providers/local/machines');
    assert.deepEqual(existsSync(left) ? readdirSync(left) : [], [], 'no machine left');
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(state), 'no mount left');
    assert.equal(spawnSync('pgrep', ['-f', `systemd-nspawn.*${state}`], { encoding: 'utf8' }).stdout.trim(), '', 'no machine process left');
  });
}
