import { createHash } from 'node:crypto';
import type { Cluster, MachineShape } from '@herd/api';
import { LABEL } from '@herd/provider';

export const CONTROL_PLANE_POOL = 'control-plane';

export type Role = 'control-plane' | 'worker';

/** A pool as the planner sees it: the control plane is one more pool, with its own role. */
export interface PoolPlan {
  name: string;
  role: Role;
  replicas: number;
  shape: MachineShape;
}

export function poolsOf(cluster: Cluster): PoolPlan[] {
  return [
    { name: CONTROL_PLANE_POOL, role: 'control-plane', replicas: cluster.spec.controlPlane.replicas, shape: cluster.spec.controlPlane.machine ?? {} },
    ...cluster.spec.pools.map((p): PoolPlan => ({ name: p.name, role: 'worker', replicas: p.replicas, shape: p.machine ?? {} })),
  ];
}

/**
 * What a machine was made from (provider kind and machine shape). A machine whose hash
 * differs from the pool's must be replaced to change; everything else the agent converges
 * in place.
 */
export function machineSpecHash(cluster: Cluster, pool: PoolPlan): string {
  const { kind } = cluster.spec.provider;
  return createHash('sha256').update(JSON.stringify({ kind, shape: pool.shape })).digest('hex').slice(0, 12);
}

export function machineLabels(cluster: Cluster, pool: PoolPlan): Record<string, string> {
  return {
    [LABEL.cluster]: cluster.metadata.name,
    [LABEL.pool]: pool.name,
    [LABEL.role]: pool.role,
    [LABEL.specHash]: machineSpecHash(cluster, pool),
  };
}
