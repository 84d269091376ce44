import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRepository, type Cluster } from '@herd/api';
import { buildNodeSpec, machineLabels, orphanedMachines, poolsOf, type ObservedMachine } from '@herd/planner';
import { LABEL } from '@herd/provider';

function cluster(spec: string): Cluster {
  const repo = loadRepository([{ path: 'clusters/c.yaml', text: `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: c }\nspec:\n  kubernetes: { version: 1.34.2 }\n${spec}` }]);
  assert.deepEqual(repo.errors, []);
  return repo.clusters[0]!.cluster;
}

function machine(name: string, pool: string, createdAt: string, c = cluster('')): ObservedMachine {
  const plan = poolsOf(c).find((p) => p.name === pool) ?? { name: pool, role: 'worker' as const, replicas: 0, shape: {} };
  return { name, labels: machineLabels(c, plan), createdAt };
}

test('machines of clusters gone from Git are only reported; unlabelled ones are not herd\'s', () => {
  const other = { name: 'x', labels: { [LABEL.cluster]: 'other', [LABEL.pool]: 'control-plane' } };
  const unlabelled = { name: 'pet', labels: {} };
  assert.deepEqual(orphanedMachines(['c'], [other, unlabelled]).map((m) => m.name), ['x']);
});

test('the spec hash changes with the machine shape and the provider, not with OS settings', () => {
  const base = machineLabels(cluster(''), poolsOf(cluster(''))[0]!)[LABEL.specHash];
  const osChange = cluster('  os: { sysctls: { vm.swappiness: 1 } }\n');
  const shapeChange = cluster('  controlPlane: { machine: { cpus: 4 } }\n');
  assert.equal(machineLabels(osChange, poolsOf(osChange)[0]!)[LABEL.specHash], base);
  assert.notEqual(machineLabels(shapeChange, poolsOf(shapeChange)[0]!)[LABEL.specHash], base);
});

test('the node spec carries the OS settings as the agent needs them', () => {
  const c = cluster('  os:\n    packages: { jq: 1.6-2.1 }\n    absentPackages: [nano, jq]\n    sysctls: { vm.swappiness: 1 }\n    kernelModules: [overlay]\n  pools: [{ name: web, replicas: 1 }]\n');
  const spec = buildNodeSpec(c, poolsOf(c)[1]!, 'c-web-abc12', { commit: 'abc', aptSources: [{ name: 'local', line: 'deb [trusted=yes] http://10.213.0.1:8080 ./' }] });
  assert.equal(spec.hostname, 'c-web-abc12');
  assert.equal(spec.role, 'worker');
  assert.equal(spec.commit, 'abc');
  assert.equal(spec.swapOff, true);
  assert.deepEqual(spec.sysctls, { 'vm.swappiness': '1' });
  assert.deepEqual(spec.kernelModules, ['overlay']);
  assert.deepEqual(spec.packages, [{ name: 'jq', version: '1.6-2.1', hold: true, allowDowngrade: true }, { name: 'nano', absent: true }]);
  assert.equal(spec.aptSources?.length, 1);
});
