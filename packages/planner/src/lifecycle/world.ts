/**
 * The observation regrouped the way the rules read it: pools with their members (oldest
 * first), which members are unhealthy and why, which serve, and how much disruption each
 * pool may still take.
 */
import type { Cluster } from '@herd/api';
import { formatDuration } from '@herd/sys';
import { CONTROL_PLANE_POOL, poolsOf, type Role } from '../labels.js';
import { normaliseVersion, policyOf, type LifecyclePolicy, type PoolLimits } from './policy.js';
import type { ClusterObservation, Halted, MemberObservation } from './types.js';

export interface PoolState extends PoolLimits {
  name: string;
  role: Role;
  replicas: number;
  /** False for a pool Git no longer declares: its members are removed. */
  inSpec: boolean;
  /** Oldest first (createdAt, then name). */
  members: MemberObservation[];
  /** Machine → why it is unhealthy. */
  unhealthy: Map<string, string>;
  /** Machines whose node is Ready, schedulable and healthy: the pool's capacity now. */
  serving: Set<string>;
}

export interface World {
  observed: ClusterObservation;
  policy: LifecyclePolicy;
  /** The API server's version (vX.Y.Z) when it answers healthy; Kubernetes-side rules need it. */
  apiVersion?: string;
  /** Spec order (control plane first), then pools Git dropped, by name. */
  pools: PoolState[];
  controlPlane: PoolState;
  /** The halt in force: only one recorded for the version Git wants now. */
  halted?: Halted;
}

const oldestFirst = (a: MemberObservation, b: MemberObservation) => a.createdAt.localeCompare(b.createdAt) || a.machine.localeCompare(b.machine);

/**
 * Why a member is unhealthy at `now`, or undefined: (a) no node startupTimeout after its
 * creation, (b) NotReady for longer than unhealthyTimeout, (c) its agent silent for longer
 * than unhealthyTimeout. A stopped machine is caught by (b) and (c) like any silent one; an
 * agent never heard from (a coordinator that just started) is no evidence either way.
 */
export function unhealthyReason(m: MemberObservation, now: number, policy: LifecyclePolicy): string | undefined {
  const since = (time: string) => now - Date.parse(time);
  const { startupTimeout, unhealthyTimeout } = policy;
  if (!m.node) {
    const age = since(m.createdAt);
    return age > startupTimeout ? `machine ${m.machine} has not joined ${formatDuration(age)} after its creation (startupTimeout ${formatDuration(startupTimeout)})` : undefined;
  }
  if (!m.node.ready && since(m.node.readySince) > unhealthyTimeout) {
    return `node ${m.machine} NotReady for ${formatDuration(since(m.node.readySince))} (unhealthyTimeout ${formatDuration(unhealthyTimeout)})`;
  }
  const lastSeen = m.agent?.lastSeen;
  if (lastSeen !== undefined && since(lastSeen) > unhealthyTimeout) {
    return `agent of ${m.machine} last reported ${formatDuration(since(lastSeen))} ago (unhealthyTimeout ${formatDuration(unhealthyTimeout)})`;
  }
  return undefined;
}

export function worldOf(cluster: Cluster, observed: ClusterObservation): World {
  const policy = policyOf(cluster);
  const apiHealthy = observed.initialized && observed.api?.healthy === true;
  const state = (name: string, role: Role, replicas: number, inSpec: boolean): PoolState => {
    const members = observed.members.filter((m) => m.pool === name).sort(oldestFirst);
    const unhealthy = new Map<string, string>();
    // Health is judged only from a working API's view; without it every node would look lost.
    for (const m of apiHealthy ? members : []) {
      const reason = unhealthyReason(m, observed.now, policy);
      if (reason) unhealthy.set(m.machine, reason);
    }
    const serving = new Set(members.filter((m) => m.node?.ready && !m.node.unschedulable && !unhealthy.has(m.machine)).map((m) => m.machine));
    return { name, role, replicas, inSpec, members, unhealthy, serving, ...policy.limits(replicas) };
  };
  const declared = poolsOf(cluster).map((p) => state(p.name, p.role, p.replicas, true));
  const known = new Set(declared.map((p) => p.name));
  const dropped = [...new Set(observed.members.map((m) => m.pool).filter((p) => !known.has(p)))].sort()
    .map((name) => state(name, observed.members.find((m) => m.pool === name)!.role, 0, false));
  const halted = observed.halted && normaliseVersion(observed.halted.version) === policy.desiredVersion ? observed.halted : undefined;
  return {
    observed, policy,
    ...(apiHealthy ? { apiVersion: normaliseVersion(observed.api!.version) } : {}),
    pools: [...declared, ...dropped],
    controlPlane: declared.find((p) => p.name === CONTROL_PLANE_POOL)!,
    ...(halted ? { halted } : {}),
  };
}

/**
 * Nodes of the pool out of service now: members whose node is NotReady or cordoned, the
 * unhealthy, and capacity still missing (replicas without a serving member, as while a
 * replacement joins). One count for every cause.
 */
export function disruptedIn(pool: PoolState): number {
  const down = pool.members.filter((m) => pool.unhealthy.has(m.machine) || (m.node !== undefined && !pool.serving.has(m.machine))).length;
  return Math.max(down, pool.replicas - pool.serving.size);
}

/** New disruptive actions the pool may still take (may be 0 or less). */
export function budgetOf(pool: PoolState): number {
  return pool.maxUnavailable - disruptedIn(pool);
}

/** Unhealthy beyond maxUnhealthy pauses remediation (a partition must not trigger mass replacement). */
export function remediationPaused(pool: PoolState): string | undefined {
  const n = pool.unhealthy.size;
  return n > pool.maxUnhealthy
    ? `remediation paused: ${n} of ${pool.members.length} machines of pool ${pool.name} unhealthy (more than maxUnhealthy ${pool.maxUnhealthy})`
    : undefined;
}

/** Extra machines the pool runs while it replaces outdated ones: the control plane always adds before it removes. */
export function surgeOf(pool: PoolState): number {
  const outdated = pool.members.filter((m) => m.outdated).length;
  if (!pool.inSpec || outdated === 0) return 0;
  return Math.min(outdated, pool.role === 'control-plane' ? 1 : pool.maxSurge);
}
