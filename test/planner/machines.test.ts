import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRepository, type Cluster } from '@herd/api';
import { LABEL, buildNodeSpec, machineLabels, orphanedMachines, planMachines, poolsOf, type ObservedMachine } from '@herd/planner';

function cluster(spec: string): Cluster {
  const repo = loadRepository([{ path: 'clusters/c.yaml', text: `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: c }\nspec:\n  kubernetes: { version: 1.34.2 }\n${spec}` }]);
  assert.deepEqual(repo.errors, []);
  return repo.clusters[0]!.cluster;
}

function machine(name: string, pool: string, createdAt: string, c = cluster('')): ObservedMachine {
  const plan = poolsOf(c).find((p) => p.name === pool) ?? { name: pool, role: 'worker' as const, replicas: 0, shape: {} };
  return { name, labels: machineLabels(c, plan), createdAt };
}

const counter = () => { let n = 0; return (pool: { name: string }) => `c-${pool.name}-${++n}`; };
const summary = (plan: ReturnType<typeof planMachines>) => plan.actions.map((a) => `${a.type} ${a.pool} ${a.name}`);

test('an empty world gets every machine of every pool, control plane first', () => {
  const c = cluster('  controlPlane: { replicas: 3 }\n  pools: [{ name: web, replicas: 2 }, { name: db, replicas: 1 }]\n');
  assert.deepEqual(summary(planMachines(c, [], counter())), [
    'create control-plane c-control-plane-1', 'create control-plane c-control-plane-2', 'create control-plane c-control-plane-3',
    'create web c-web-4', 'create web c-web-5', 'create db c-db-6',
  ]);
  const first = planMachines(c, [], counter()).actions[0]!;
  assert.equal(first.type === 'create' && first.labels[LABEL.role], 'control-plane');
});

test('a converged world plans nothing', () => {
  const c = cluster('  pools: [{ name: web, replicas: 2 }]\n');
  const world = [machine('cp', 'control-plane', '1', c), machine('w1', 'web', '2', c), machine('w2', 'web', '3', c)];
  assert.deepEqual(planMachines(c, world, counter()).actions, []);
});

test('scale-down removes the newest machines of the pool', () => {
  const c = cluster('  pools: [{ name: web, replicas: 1 }]\n');
  const world = [machine('cp', 'control-plane', '1', c), machine('old', 'web', '2026-01-01', c), machine('new', 'web', '2026-03-01', c), machine('mid', 'web', '2026-02-01', c)];
  assert.deepEqual(summary(planMachines(c, world, counter())), ['delete web new', 'delete web mid']);
});

test('a pool removed from Git has its machines deleted, and says why', () => {
  const c = cluster('  pools: [{ name: web, replicas: 1 }]\n');
  const world = [machine('cp', 'control-plane', '1', c), machine('w', 'web', '2', c), machine('b', 'batch', '3', c)];
  const plan = planMachines(c, world, counter());
  assert.deepEqual(summary(plan), ['delete batch b']);
  assert.match(plan.actions[0]!.reason, /pool batch is no longer in the cluster's spec/);
});

test('machines of other clusters are not touched; those of clusters gone from Git are only reported', () => {
  const c = cluster('');
  const other = { name: 'x', labels: { [LABEL.cluster]: 'other', [LABEL.pool]: 'control-plane' } };
  const unlabelled = { name: 'pet', labels: {} };
  assert.deepEqual(summary(planMachines(c, [machine('cp', 'control-plane', '1', c), other, unlabelled], counter())), []);
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
