import type { Counter, Histogram, MetricsRegistry } from '@herd/sys';
import type { FleetStatus, MachineStatus } from './status.js';

/** What a node is, for herd_nodes: every machine is in exactly one of these. */
export const NODE_STATES = ['unenrolled', 'disconnected', 'converging', 'converged'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export function nodeState(machine: MachineStatus): NodeState {
  if (!machine.agent) return 'unenrolled';
  if (!machine.agent.connected || machine.agent.unreachable) return 'disconnected';
  return machine.converged ? 'converged' : 'converging';
}

/** Lifecycle actions take from seconds (uncordon) to tens of minutes (a drain, an upgrade). */
const ACTION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * The coordinator loop's metrics (docs/metrics.md): actions are counted as they end; the
 * fleet's shape is read from the last round's status at every scrape, so it is never out of
 * step with what `herd status` shows.
 */
export class ReconcilerMetrics {
  private readonly durations: Histogram;
  private readonly failures: Counter;

  constructor(registry: MetricsRegistry, status: () => FleetStatus | undefined) {
    this.durations = registry.histogram('herd_lifecycle_action_duration_seconds',
      'Time a lifecycle action (create, init, join, upgrade, remove, reboot, ...) took, by kind and result (done or failed).',
      ACTION_BUCKETS, ['cluster', 'kind', 'result']);
    this.failures = registry.counter('herd_lifecycle_action_failures_total', 'Lifecycle actions that failed, by kind.', ['cluster', 'kind']);
    registry.gauge('herd_nodes', 'Machines of each cluster by state: unenrolled, disconnected, converging, converged.', ['cluster', 'state'], (gauge) => {
      for (const cluster of status()?.clusters ?? []) {
        for (const state of NODE_STATES) gauge.set({ cluster: cluster.name, state }, cluster.machines.filter((m) => nodeState(m) === state).length);
      }
    });
    registry.gauge('herd_cluster_converged', '1 when the cluster matches the commit in force (machines, agents, Kubernetes), else 0.', ['cluster'], (gauge) => {
      for (const cluster of status()?.clusters ?? []) gauge.set({ cluster: cluster.name }, cluster.converged ? 1 : 0);
    });
    const halted = '1 while a disruptive action failed and the rollout waits for a new commit, else 0.';
    registry.gauge('herd_cluster_rollout_halted', halted, ['cluster'], (gauge) => {
      for (const cluster of status()?.clusters ?? []) gauge.set({ cluster: cluster.name }, cluster.kubernetes?.halted ? 1 : 0);
    });
    registry.gauge('herd_lifecycle_actions_running', 'Lifecycle actions running now.', ['cluster'], (gauge) => {
      for (const cluster of status()?.clusters ?? []) gauge.set({ cluster: cluster.name }, cluster.kubernetes?.running.length ?? 0);
    });
    registry.gauge('herd_desired_state_refused', '1 while the newest commit (or working tree) does not validate and the last good one stays in force.', [],
      (gauge) => { const s = status(); if (s) gauge.set(undefined, s.rejected ? 1 : 0); });
    registry.gauge('herd_reconcile_last_round_timestamp_seconds', 'When the last reconcile round ended (Unix time).', [],
      (gauge) => { const s = status(); if (s) gauge.set(undefined, Date.parse(s.time) / 1000); });
  }

  /** An action ended after `ms`. */
  action(cluster: string, kind: string, result: 'done' | 'failed', ms: number): void {
    this.durations.observe({ cluster, kind, result }, ms / 1000);
    if (result === 'failed') this.failures.inc({ cluster, kind });
    else this.failures.inc({ cluster, kind }, 0);
  }
}
