import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forecastCluster, type ClusterObservation, type Forecast } from '@herd/planner';
import { cluster, describe, m, world } from './worlds.js';

// The forecast is the planner asked again about the world once what starts now is done:
// these pin the orders `herd plan` shows for the changes operators make most.

const names = (pool: string, taken: ReadonlySet<string>) => {
  for (let i = 1; ; i++) if (!taken.has(`${pool}-${i}`)) return `${pool}-${i}`;
};
const steps = (f: Forecast) => f.steps.map((s) => s.actions.map((a) => (a.type === 'create' ? `create ${a.machine}` : describe(a))));

test('a version bump: the control plane (upgrade apply), then the canary worker, then the next, one node at a time', () => {
  const f = forecastCluster(cluster({ version: '1.35.4' }), world([m('cp1'), m('w1'), m('w2')]), { newMachineName: names });
  assert.deepEqual(steps(f), [['upgrade cp1 apply v1.35.4'], ['upgrade w1 node v1.35.4'], ['upgrade w2 node v1.35.4']]);
  assert.deepEqual(f.remaining, []);
  assert.equal(f.truncated, false);
  // While the control plane upgrades, the workers are held, and the plan says so.
  assert.ok(f.steps[0]!.holds.some((h) => /worker\(s\) wait for the control plane/.test(h.reason)), JSON.stringify(f.steps[0]!.holds));
});

test('a scale-down from 3 workers to 1: the newest go first, one at a time', () => {
  const f = forecastCluster(cluster({ workers: 1 }), world([m('cp1'), m('w1'), m('w2'), m('w3')]), { newMachineName: names });
  assert.deepEqual(steps(f), [['remove w3 (scale-down)'], ['remove w2 (scale-down)']]);
});

test('a cluster from nothing: machines, kubeadm init on the first control plane, then the joins', () => {
  const empty: ClusterObservation = { now: Date.parse('2026-03-01T12:00:00Z'), initialized: false, members: [], staleNodes: [] };
  const f = forecastCluster(cluster({ cp: 1, workers: 2 }), empty, { newMachineName: names });
  assert.deepEqual(steps(f), [
    ['create control-plane-1', 'create workers-1', 'create workers-2'],
    ['init control-plane-1 v1.34.4'],
    ['join workers-1', 'join workers-2'],
  ]);
});

test('nothing to do: no steps, and a halted rollout is what remains', () => {
  assert.deepEqual(steps(forecastCluster(cluster(), world([m('cp1'), m('w1'), m('w2')]), { newMachineName: names })), []);
  const halted = { action: { type: 'upgrade', machine: 'w1', pool: 'workers', role: 'worker', version: 'v1.35.4', mode: 'node', reason: 'r' }, step: 'drain', message: 'timed out', version: 'v1.35.4' } as const;
  const f = forecastCluster(cluster({ version: '1.35.4' }), world([m('cp1', { v: 'v1.35.4' }), m('w1', { cordoned: 'herd' }), m('w2')], { api: { healthy: true, version: 'v1.35.4' }, halted }),
    { newMachineName: names });
  assert.deepEqual(steps(f), []);
  assert.ok(f.remaining.some((h) => /rollout halted: upgrade on w1 failed at drain/.test(h.reason)), JSON.stringify(f.remaining));
});

test('the observation handed in is not changed', () => {
  const observed = world([m('cp1'), m('w1'), m('w2')]);
  const before = structuredClone(observed);
  forecastCluster(cluster({ version: '1.35.4', workers: 1 }), observed, { newMachineName: names });
  assert.deepEqual(observed, before);
});
