import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planForCluster, specChanges, type PlanWorld } from '@herd/reconciler';
import { cluster, m, world } from '../planner/worlds.js';

const names = (pool: string, taken: ReadonlySet<string>) => {
  for (let i = 1; ; i++) if (!taken.has(`${pool}-${i}`)) return `${pool}-${i}`;
};
const planned = (observation: PlanWorld['observation']): PlanWorld => ({ observation, apiAnswered: true, agents: 'live' });

test('a version bump: each upgrade with its steps, the nodes out of service, etcd down, estimates from the measured medians', async () => {
  const from = cluster({ version: '1.34.4' });
  const to = cluster({ version: '1.35.4' });
  // w2 is cordoned by an administrator: out of service while each upgrade runs.
  const plan = await planForCluster({
    cluster: to, inForce: from, world: planned(world([m('cp1'), m('w1'), m('w2', { cordoned: 'admin' })])), newMachineName: names,
    measured: { upgrade: [100_000, 300_000, 200_000] },
  });
  assert.equal(plan.change, 'update');
  assert.deepEqual(plan.specChanges, [{ path: 'spec.kubernetes.version', from: '1.34.4', to: '1.35.4' }]);
  const actions = plan.steps.flatMap((s) => s.actions);
  assert.deepEqual(actions.map((a) => `${a.type} ${a.machine} ${a.mode}`), ['upgrade cp1 apply']);
  const [cp1] = actions;
  assert.deepEqual(cp1!.steps, ['cordon', 'drain', 'kubeadm package', 'kubeadm upgrade apply', 'kubelet package', 'kubelet restart', 'ready', 'api healthy', 'uncordon']);
  assert.equal(cp1!.etcd, 'down');
  assert.deepEqual(cp1!.unschedulable, ['cp1', 'w2']);
  assert.equal(cp1!.estimateSeconds, 200, 'the median of the measured upgrades');
  assert.equal(cp1!.evictions, null, 'no API client: which pods is not known');
  // The cordoned worker takes the pool's only disruption: the rollout does not converge by itself.
  assert.ok(plan.remaining.some((h) => /disruption budget of pool workers used/.test(h.reason)), JSON.stringify(plan.remaining));
  assert.equal(plan.estimateSeconds, 200);
});

test('a scale-down removes the newest worker: drained, reset, its Node and machine deleted; no estimate before one was measured', async () => {
  const plan = await planForCluster({ cluster: cluster({ workers: 1 }), inForce: cluster({ workers: 2 }), world: planned(world([m('cp1'), m('w1'), m('w2')])), newMachineName: names, measured: {} });
  assert.deepEqual(plan.specChanges, [{ path: 'spec.pools[workers].replicas', from: 2, to: 1 }]);
  const [remove] = plan.steps.flatMap((s) => s.actions);
  assert.equal(remove!.machine, 'w2');
  assert.equal(remove!.cause, 'scale-down');
  assert.deepEqual(remove!.steps, ['cordon', 'drain', 'kubeadm reset', 'delete node', 'delete machine']);
  assert.equal(remove!.etcd, null);
  assert.equal(remove!.estimateSeconds, null);
  assert.equal(plan.estimateSeconds, null);
});

test('another coordinator holding the lease is said first among what remains', async () => {
  const plan = await planForCluster({
    cluster: cluster({ version: '1.35.4' }), world: planned(world([m('cp1'), m('w1'), m('w2')], { leaseHeldElsewhere: 'herd-0123' })), newMachineName: names, measured: {},
  });
  assert.equal(plan.change, 'none', 'this coordinator would start nothing');
  assert.match(plan.remaining[0]!.reason, /another coordinator \(herd-0123\) holds the cluster's lease: 1 action\(s\) wait/);
});

test('specChanges: fields added and removed, named lists by name, other lists whole', () => {
  const a = cluster({ extra: '  upgrade: { maxUnavailable: 1 }\n' });
  const b = cluster({ workers: 3, pools: '{ name: workers, replicas: 3 }, { name: gpu, replicas: 1 }' });
  const changes = specChanges(a, b).map((c) => c.path);
  assert.ok(changes.includes('spec.pools[gpu]'), changes.join(', '));
  assert.ok(changes.includes('spec.pools[workers].replicas'), changes.join(', '));
  assert.deepEqual(specChanges(a, a), []);
});
