// The coordinator loop's metrics read from a fleet status: every machine in exactly one state,
// a halted rollout and a refused commit as 0/1 gauges, actions by kind and result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconcilerMetrics, type FleetStatus, type MachineStatus } from '@herd/reconciler';
import { MetricsRegistry } from '@herd/sys';

const agent = (connected: boolean, unreachable = false) => ({
  connected, unreachable, desiredGeneration: 2, observedGeneration: 2, commit: 'abc', conditions: [], lastError: '', rebootRequired: false, driftCorrected: [],
});
const machine = (name: string, a: MachineStatus['agent'], converged = false): MachineStatus =>
  ({ name, pool: 'web', role: 'worker', addresses: [], state: 'running', agent: a, converged });

test('nodes by state, converged, halted, running and refused come from the last status; actions by kind and result', () => {
  const registry = new MetricsRegistry();
  let status: FleetStatus | undefined;
  const metrics = new ReconcilerMetrics(registry, () => status);
  const lines = () => registry.render().split('\n').filter((l) => l && !l.startsWith('#') && !l.includes('_bucket'));
  assert.deepEqual(lines(), [], 'nothing before the first round');

  status = {
    time: '2026-01-01T00:00:00.000Z', source: 'repo', rejected: { commit: 'bad', errors: [] }, orphans: [], converged: false,
    clusters: [{
      name: 'shop', provider: 'local', converged: false, reason: 'halted', pools: [],
      machines: [machine('a', null), machine('b', agent(false)), machine('c', agent(true, true)), machine('d', agent(true)), machine('e', agent(true), true)],
      kubernetes: { initialized: true, nodes: [], running: ['upgrade e: new version'], holds: [], halted: 'upgrade of d failed at drain: timeout' },
    }],
  };
  metrics.action('shop', 'upgrade', 'failed', 90_000);
  metrics.action('shop', 'join', 'done', 4_000);
  assert.deepEqual(lines(), [
    'herd_lifecycle_action_duration_seconds_sum{cluster="shop",kind="upgrade",result="failed"} 90',
    'herd_lifecycle_action_duration_seconds_count{cluster="shop",kind="upgrade",result="failed"} 1',
    'herd_lifecycle_action_duration_seconds_sum{cluster="shop",kind="join",result="done"} 4',
    'herd_lifecycle_action_duration_seconds_count{cluster="shop",kind="join",result="done"} 1',
    'herd_lifecycle_action_failures_total{cluster="shop",kind="upgrade"} 1',
    'herd_lifecycle_action_failures_total{cluster="shop",kind="join"} 0',
    'herd_nodes{cluster="shop",state="unenrolled"} 1',
    'herd_nodes{cluster="shop",state="disconnected"} 2',
    'herd_nodes{cluster="shop",state="converging"} 1',
    'herd_nodes{cluster="shop",state="converged"} 1',
    'herd_cluster_converged{cluster="shop"} 0',
    'herd_cluster_rollout_halted{cluster="shop"} 1',
    'herd_lifecycle_actions_running{cluster="shop"} 1',
    'herd_desired_state_refused 1',
    'herd_reconcile_last_round_timestamp_seconds 1767225600',
  ]);
});
