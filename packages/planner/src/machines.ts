import type { Cluster } from '@herd/api';
import { LABEL, machineSpecHash, poolsOf, type PoolPlan, type Role } from './labels.js';

/** A machine as a provider lists it. Only its labels say what it is for. */
export interface ObservedMachine {
  name: string;
  labels: Record<string, string>;
  /** When the provider created it (ISO 8601); the newest go first on scale-down. */
  createdAt?: string;
}

export type MachineAction =
  | { type: 'create'; cluster: string; pool: string; role: Role; name: string; labels: Record<string, string>; reason: string }
  | { type: 'delete'; cluster: string; pool: string; name: string; reason: string };

export interface MachinePlan {
  actions: MachineAction[];
  /** Machines carrying the cluster's label and a pool it no longer has are deleted; say so. */
  notes: string[];
}

/**
 * Closes the gap between the machines each pool should have and the machines the provider
 * lists, level-based: the same world always gives the same plan. Scale-down removes the
 * newest machines first (the oldest have proven themselves). Machines of another spec hash
 * count towards their pool until a rolling replacement (a later step) swaps them.
 */
export function planMachines(cluster: Cluster, observed: readonly ObservedMachine[], newName: (pool: PoolPlan) => string): MachinePlan {
  const name = cluster.metadata.name;
  const mine = observed.filter((m) => m.labels[LABEL.cluster] === name);
  const pools = poolsOf(cluster);
  const actions: MachineAction[] = [];
  const notes: string[] = [];

  for (const pool of pools) {
    const members = mine.filter((m) => m.labels[LABEL.pool] === pool.name);
    const missing = pool.replicas - members.length;
    for (let i = 0; i < missing; i++) {
      actions.push({
        type: 'create', cluster: name, pool: pool.name, role: pool.role, name: newName(pool),
        labels: { [LABEL.cluster]: name, [LABEL.pool]: pool.name, [LABEL.role]: pool.role, [LABEL.specHash]: machineSpecHash(cluster, pool) },
        reason: `pool ${pool.name} has ${members.length} of ${pool.replicas} machines`,
      });
    }
    if (missing < 0) {
      const newestFirst = [...members].sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.name.localeCompare(a.name));
      for (const machine of newestFirst.slice(0, -missing)) {
        actions.push({ type: 'delete', cluster: name, pool: pool.name, name: machine.name, reason: `pool ${pool.name} has ${members.length} machines and wants ${pool.replicas}` });
      }
    }
  }

  const known = new Set(pools.map((p) => p.name));
  for (const machine of mine.filter((m) => !known.has(m.labels[LABEL.pool] ?? ''))) {
    const pool = machine.labels[LABEL.pool] ?? '(none)';
    actions.push({ type: 'delete', cluster: name, pool, name: machine.name, reason: `pool ${pool} is no longer in the cluster's spec` });
    notes.push(`machine ${machine.name} belongs to pool ${pool}, which was removed from ${name}`);
  }
  return { actions, notes };
}

/** Machines that carry herd's labels for a cluster Git no longer declares: reported, never deleted without `herd down`. */
export function orphanedMachines(clusters: readonly string[], observed: readonly ObservedMachine[]): ObservedMachine[] {
  const declared = new Set(clusters);
  return observed.filter((m) => m.labels[LABEL.cluster] !== undefined && !declared.has(m.labels[LABEL.cluster]!));
}
