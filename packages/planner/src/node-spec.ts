import type { Cluster } from '@herd/api';
import type { AptSource, NodeSpec } from '@herd/proto';
import type { PoolPlan } from './labels.js';

export interface NodeSpecContext {
  /** The Git commit the cluster was read at (echoed back by the agent). */
  commit: string;
  /** Package sources the machine's provider serves (a local repository for machines without internet). */
  aptSources?: AptSource[];
}

/**
 * The full desired state of one machine, from its cluster and pool. Always whole: the agent
 * never needs an earlier assignment to understand this one.
 */
export function buildNodeSpec(cluster: Cluster, pool: PoolPlan, machine: string, context: NodeSpecContext): NodeSpec {
  const os = cluster.spec.os;
  return {
    hostname: machine,
    cluster: cluster.metadata.name,
    pool: pool.name,
    role: pool.role,
    commit: context.commit,
    swapOff: true,
    kernelModules: [...os.kernelModules],
    sysctls: Object.fromEntries(Object.entries(os.sysctls).map(([key, value]) => [key, String(value)])),
    aptSources: context.aptSources ?? [],
    packages: [
      ...Object.entries(os.packages).map(([name, version]) => ({ name, version, hold: true, allowDowngrade: true })),
      ...os.absentPackages.filter((name) => !(name in os.packages)).map((name) => ({ name, absent: true })),
    ],
    files: [],
    units: [],
  };
}
