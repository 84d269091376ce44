// fleetView, the one model `herd status` and the status page read: a live session wins over
// the recorded round, a coordinator without a session means disconnected now, and without a
// coordinator the recorded state shows as `was …` and a machine no provider lists as gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetView, nodesAtCommit, type FleetStatus } from '@herd/reconciler';
import type { NodeSession__Output } from '@herd/proto';

const agent = { connected: true, unreachable: false, desiredGeneration: 3, observedGeneration: 2, commit: 'old', agentVersion: '0.1.0',
  conditions: [], lastError: 'recorded error', rebootRequired: false, driftCorrected: [] };
const status: FleetStatus = {
  time: '2026-12-01T00:00:00Z', source: '/repo', commit: 'c1', orphans: [], converged: false,
  rejected: { commit: 'c2', errors: [{ file: 'clusters/a.yaml', line: 2, column: 3, field: 'spec', message: 'bad\u001b[2J' }] },
  clusters: [{
    name: 'a', provider: 'local', converged: false, reason: 'waiting', pools: [{ name: 'p', role: 'worker', desired: 2, machines: 2 }],
    machines: [
      { name: 'm1', pool: 'p', role: 'worker', addresses: ['10.0.0.2'], state: 'running', agent, converged: false },
      { name: 'm2', pool: 'p', role: 'worker', addresses: [], state: 'running', agent: null, converged: false },
    ],
  }],
};
const session: NodeSession__Output = {
  nodeName: 'm1', cluster: 'a', connected: true, unreachable: false, connectedSince: '', lastHeartbeat: '2026-12-01T00:00:05Z',
  desiredGeneration: 3, observedGeneration: 3, agentVersion: '0.2.0', addresses: [], identityGeneration: 1, identityReplacedAt: '',
  status: { observedGeneration: 3, commit: 'new', conditions: [{ type: 'Files', status: 'True', reason: 'Converged', message: '', lastTransitionTime: '' }],
    driftCorrected: [], lastError: '', rebootRequired: false, lastRoundTime: '', dryRun: false, actions: [] },
};

test('a live session wins over the recorded round, converged judged from it', () => {
  const view = fleetView({ status, sessions: [session], coordinator: { pid: 1, port: 2 } });
  const [m1, m2] = view.clusters[0]!.nodes;
  assert.deepEqual({ agent: m1!.agent, live: m1!.live, gen: [m1!.observedGeneration, m1!.desiredGeneration], commit: m1!.commit, v: m1!.agentVersion, err: m1!.lastError, converged: m1!.converged },
    { agent: 'connected', live: true, gen: [3, 3], commit: 'new', v: '0.2.0', err: '', converged: true });
  assert.equal(m2!.agent, 'not enrolled');
  assert.equal(view.coordinator.running, true);
  assert.equal(view.refused?.errors[0]?.message, 'bad\\u001b[2J', 'control characters escaped, as every message');
});

test('a running coordinator without a session: disconnected now; without a coordinator: the recorded state, and gone machines', () => {
  assert.equal(fleetView({ status, sessions: [] }).clusters[0]!.nodes[0]!.agent, 'disconnected');
  const offline = fleetView({ status, listed: { clusters: new Set(['a']), machines: new Set(['a/m2']) } });
  const [m1, m2] = offline.clusters[0]!.nodes;
  assert.deepEqual([m1!.agent, m1!.machine, m1!.observedGeneration, m1!.lastError], ['was connected', 'gone', 2, 'recorded error']);
  assert.equal(m2!.machine, 'running');
  assert.equal(offline.coordinator.running, false);
  assert.equal(fleetView({ status, cluster: 'other' }).clusters.length, 0);
  assert.deepEqual(fleetView({ status: undefined }).clusters, []);
});

test('nodesAtCommit: the nodes whose last complete round came from a commit, by full SHA or prefix', () => {
  const a = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  const b = 'a1b2c3d4ffff0718293a4b5c6d7e8f9012345678';
  const fleet: FleetStatus = {
    ...status,
    clusters: [
      { ...status.clusters[0]!, machines: [
        { ...status.clusters[0]!.machines[0]!, name: 'm1', agent: { ...agent, commit: a } },
        { ...status.clusters[0]!.machines[0]!, name: 'm2', agent: { ...agent, commit: b } },
        { ...status.clusters[0]!.machines[1]!, name: 'm3' },
      ] },
      { ...status.clusters[0]!, name: 'b', machines: [{ ...status.clusters[0]!.machines[0]!, name: 'n1', agent: { ...agent, commit: a } }] },
    ],
  };
  const view = fleetView({ status: fleet });
  assert.deepEqual(nodesAtCommit(view, a), { commits: [a], total: 4, nodes: [{ cluster: 'a', node: 'm1', commit: a }, { cluster: 'b', node: 'n1', commit: a }] });
  assert.deepEqual(nodesAtCommit(view, 'A1B2C3D4E').nodes.map((n) => n.node), ['m1', 'n1'], 'a prefix, any case');
  assert.deepEqual(nodesAtCommit(view, 'a1b2c3d').commits, [a, b], 'an ambiguous prefix names every commit it matches');
  assert.deepEqual(nodesAtCommit(view, 'ffffff0'), { commits: [], nodes: [], total: 4 });
  assert.deepEqual(nodesAtCommit(view, '').nodes, [], 'an empty prefix matches no node, not every one');
  // A session's commit wins over the recorded one, as everywhere in the view.
  const live = fleetView({ status: fleet, sessions: [{ ...session, nodeName: 'm2', status: { ...session.status!, commit: a } }] });
  assert.deepEqual(nodesAtCommit(live, a).nodes.map((n) => n.node), ['m1', 'm2', 'n1']);
  assert.equal(nodesAtCommit(fleetView({ status: fleet, cluster: 'b' }), a).total, 1, 'within the cluster asked for');
});
