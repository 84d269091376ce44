/**
 * The Kubernetes lifecycle planner: a pure function from the cluster in Git and the cluster as
 * observed to the actions that may all run now, each with its reason, and what it holds back
 * and why. docs/lifecycle-rules.md lists the rules and the tests that pin each one.
 */
import type { Cluster } from '@herd/api';
import { CONTROL_PLANE_POOL } from '../labels.js';
import { majority, normaliseVersion } from './policy.js';
import type { ClusterAction, ClusterObservation, ClusterPlan, DisruptiveAction, Hold, InProgress, MemberObservation } from './types.js';
import { upgradesWanted } from './upgrade.js';
import { budgetOf, disruptedIn, remediationPaused, surgeOf, worldOf, type PoolState, type World } from './world.js';

/** A disruptive action a pool wants; `cost` is what it takes from the budget (0 for a member already out of service). */
interface Candidate { action: DisruptiveAction; cost: number }

/** A control-plane change: one at a time, each passing its own guard. */
interface Change { action: ClusterAction; subject: string; cost: number; refusal: () => string | undefined }

export function planCluster(cluster: Cluster, observed: ClusterObservation): ClusterPlan {
  return startable(wanted(cluster, observed), observed);
}

/**
 * Rule 14, what may start now of what the rules want: nothing but creates while another
 * coordinator holds the cluster's lease; one disruptive action at a time (the lease records
 * one action), and none while a failed one waits out its pause before a retry.
 */
function startable(plan: ClusterPlan, observed: ClusterObservation): ClusterPlan {
  const { actions, holds } = plan;
  if (observed.leaseHeldElsewhere) {
    const waiting = actions.filter((a) => a.type !== 'create').length;
    return {
      actions: actions.filter((a) => a.type === 'create'),
      holds: [{ reason: `another coordinator (${observed.leaseHeldElsewhere}) holds the cluster's lease${waiting ? `: ${waiting} action(s) wait` : ''}` }, ...holds],
    };
  }
  const disruptive = actions.filter(isDisruptive);
  const paused = observed.retryAfter !== undefined && observed.now < observed.retryAfter;
  const admitted = paused ? [] : disruptive.slice(0, 1);
  if (paused && disruptive.length) {
    holds.push({ reason: `${disruptive.length} disruptive action(s) wait until ${new Date(observed.retryAfter!).toISOString()}: a failed one is retried after a pause` });
  } else if (disruptive.length > 1) {
    holds.push({ reason: `${disruptive.length - 1} more disruptive action(s) wait: one node is disrupted at a time (the lease records one action)` });
  }
  return { actions: actions.filter((a) => !isDisruptive(a) || admitted.includes(a)), holds };
}

/** What the rules want done now, before rule 14 (startable) picks what may start. */
function wanted(cluster: Cluster, observed: ClusterObservation): ClusterPlan {
  const world = worldOf(cluster, observed);
  const holds: Hold[] = [];
  if (world.halted) {
    const { action, step, message } = world.halted;
    holds.push({ subject: action.machine, reason: `${action.type === 'upgrade' ? 'rollout halted' : 'halted'}: ${action.type} on ${action.machine} failed at ${step}: ${message}` });
  }
  const actions: ClusterAction[] = createActions(world);
  if (observed.inProgress) return planAroundInProgress(world, observed.inProgress, actions, holds);
  if (!observed.initialized) {
    actions.push(...surplusBeforeInit(world));
    const first = world.controlPlane.members.find((m) => m.state === 'running' && m.agent?.connected && m.agent.converged);
    if (first) actions.push({ type: 'init', machine: first.machine, version: world.policy.desiredVersion, reason: `the cluster is not initialized and ${first.machine} is the oldest control-plane machine whose agent converged` });
    else holds.push({ subject: CONTROL_PLANE_POOL, reason: "waiting for a control-plane machine's agent to converge before kubeadm init" });
    return { actions, holds };
  }
  if (!world.apiVersion) return { actions, holds: [...holds, { reason: 'the API server does not answer healthy: Kubernetes-side actions wait' }] };

  const joins = joinsWanted(world);
  holds.push(...joins.holds);
  const forgets = observed.staleNodes.map((n): Forget => ({ type: 'forget', node: n.name, role: n.role, reason: `node ${n.name} has no machine any more` }));
  actions.push(...forgets.filter((f) => f.role === 'worker'), ...joins.workers);

  const upgrade = upgradesWanted(world);
  holds.push(...upgrade.holds);
  const wanted = new Map(world.pools.map((p) => [p.name, candidatesOf(world, p, upgrade.upgrades, holds)]));

  // The control plane: remediation, etcd cleanup and joins before the rest; the first change its guards allow.
  const cp = world.controlPlane;
  const cpWanted = wanted.get(cp.name)!;
  const guarded = (c: Candidate): Change => ({
    action: c.action, subject: c.action.machine, cost: c.cost,
    refusal: () => etcdRefusal(world, c.action.machine, c.action.type === 'remove' ? 'remove' : 'down'),
  });
  const changes: Change[] = [
    ...cpWanted.filter((c) => c.action.type === 'remove' && c.action.cause === 'unhealthy').map(guarded),
    ...forgets.filter((f) => f.role === 'control-plane').map((f): Change => ({ action: f, subject: f.node, cost: 0, refusal: () => etcdRefusal(world, f.node, 'remove') })),
    ...joins.controlPlanes.map((j): Change => ({ action: j, subject: j.machine, cost: 0, refusal: () => controlPlaneJoinRefusal(world) })),
    ...cpWanted.filter((c) => !(c.action.type === 'remove' && c.action.cause === 'unhealthy')).map(guarded),
  ];
  const budget = budgetOf(cp);
  const chosen = changes.findIndex((change) => {
    const refusal = change.refusal() ?? (change.cost > 0 && budget <= 0 ? budgetRefusal(cp) : undefined);
    if (refusal) holds.push({ subject: change.subject, reason: refusal });
    return refusal === undefined;
  });
  if (chosen >= 0) {
    actions.push(changes[chosen]!.action);
    const waiting = changes.length - chosen - 1;
    if (waiting) holds.push({ subject: cp.name, reason: `${waiting} more control-plane change(s) wait: the control plane changes one machine at a time` });
  }

  // Workers: never while the control plane changes; otherwise within each pool's budget.
  const workerPools = world.pools.filter((p) => p.role === 'worker');
  if (chosen >= 0) {
    const waiting = workerPools.reduce((n, p) => n + wanted.get(p.name)!.length, 0);
    if (waiting) holds.push({ reason: `${waiting} worker disruption(s) wait while the control plane changes` });
  } else {
    for (const pool of workerPools) actions.push(...withinBudget(pool, wanted.get(pool.name)!, holds));
  }

  const busy = new Set(actions.filter(isDisruptive).map((a) => a.machine));
  actions.push(...uncordons(world, busy));
  return { actions, holds };
}

/** Rule 10 before init: no cluster exists yet, so a surplus machine runs nothing of Kubernetes and simply goes, newest first. */
function surplusBeforeInit(world: World): DisruptiveAction[] {
  return world.pools.flatMap((pool) => {
    const surplus = pool.members.length - (pool.inSpec ? pool.replicas : 0);
    return pool.members.slice(pool.members.length - Math.max(0, surplus)).reverse().map((m): DisruptiveAction => ({
      type: 'remove', machine: m.machine, pool: pool.name, role: pool.role, cause: pool.inSpec ? 'scale-down' : 'pool-removed',
      reason: pool.inSpec ? `pool ${pool.name} has ${pool.members.length} machines and wants ${pool.replicas} (no cluster yet)` : `pool ${pool.name} is no longer in the cluster's spec (no cluster yet)`,
    }));
  });
}

/** Rule 1: the action in progress resumes alone; only what disrupts nothing goes alongside (creates, worker joins, uncordons). */
function planAroundInProgress(world: World, inProgress: InProgress, actions: ClusterAction[], holds: Hold[]): ClusterPlan {
  const { action, since } = inProgress;
  actions.unshift(action);
  holds.push({ subject: action.machine, reason: `${action.type} on ${action.machine} in progress since ${since}: other disruptive actions wait` });
  if (world.apiVersion) {
    const joins = joinsWanted(world);
    actions.push(...joins.workers, ...uncordons(world, new Set([action.machine])));
    holds.push(...joins.holds, ...joins.controlPlanes.map((j) => ({ subject: j.machine, reason: `joins once the ${action.type} on ${action.machine} is over` })));
  }
  return { actions, holds };
}

/** Rules 3 and 13: every pool up to its replicas, plus its surge while outdated machines are replaced. */
function createActions(world: World): ClusterAction[] {
  return world.pools.filter((p) => p.inSpec).flatMap((pool) => {
    const surge = surgeOf(pool);
    const missing = pool.replicas + surge - pool.members.length;
    const reason = pool.members.length < pool.replicas
      ? `pool ${pool.name} has ${pool.members.length} of ${pool.replicas} machines`
      : `pool ${pool.name} replaces outdated machines with a surge of ${surge}`;
    return Array.from({ length: Math.max(0, missing) }, (): ClusterAction => ({ type: 'create', pool: pool.name, role: pool.role, reason }));
  });
}

type Join = Extract<ClusterAction, { type: 'join' }>;
type Forget = Extract<ClusterAction, { type: 'forget' }>;

/** Takes a node out of service for a while: counts against the disruption budget. */
export const isDisruptive = (a: ClusterAction): a is DisruptiveAction => a.type === 'upgrade' || a.type === 'reboot' || a.type === 'remove';

/** Rule 5: members without a node whose agent converged at the version the API server runs. */
function joinsWanted(world: World): { workers: Join[]; controlPlanes: Join[]; holds: Hold[] } {
  const workers: Join[] = [];
  const controlPlanes: Join[] = [];
  const holds: Hold[] = [];
  for (const pool of world.pools.filter((p) => p.inSpec)) {
    const remediated = remediationPaused(pool) === undefined;
    for (const m of pool.members.filter((m) => !m.node && !(remediated && pool.unhealthy.has(m.machine)))) {
      const assigned = m.assignedVersion ? normaliseVersion(m.assignedVersion) : undefined;
      if (!m.agent?.connected || !m.agent.converged) holds.push({ subject: m.machine, reason: 'waits for its agent to converge before joining' });
      else if (assigned !== world.apiVersion) holds.push({ subject: m.machine, reason: `assigned ${assigned ?? 'no version'} while the API server runs ${world.apiVersion}: waits for its new assignment` });
      else (pool.role === 'worker' ? workers : controlPlanes).push({ type: 'join', machine: m.machine, pool: pool.name, role: pool.role, reason: `agent of ${m.machine} converged at ${assigned}` });
    }
  }
  return { workers, controlPlanes, holds };
}

/** Rules 9–11 and 13, per pool in priority order: remediation, scale-down, upgrade, reboot, outdated; one action per machine. */
function candidatesOf(world: World, pool: PoolState, upgrades: Map<string, DisruptiveAction>, holds: Hold[]): Candidate[] {
  const out: Candidate[] = [];
  const taken = new Set<string>(world.halted ? [world.halted.action.machine] : []);
  const serving = (m: MemberObservation) => pool.serving.has(m.machine);
  const add = (m: MemberObservation, action: DisruptiveAction, free = false) => {
    if (taken.has(m.machine)) return;
    taken.add(m.machine);
    out.push({ action, cost: free || !serving(m) ? 0 : 1 });
  };
  const remove = (m: MemberObservation, cause: Extract<DisruptiveAction, { type: 'remove' }>['cause'], reason: string, free = false) =>
    add(m, { type: 'remove', machine: m.machine, pool: pool.name, role: pool.role, cause, reason }, free);
  const newestFirst = [...pool.members].reverse();

  if (!pool.inSpec) {
    for (const m of newestFirst) remove(m, 'pool-removed', `pool ${pool.name} is no longer in the cluster's spec`);
    return out;
  }
  const paused = remediationPaused(pool);
  if (paused) holds.push({ subject: pool.name, reason: paused });
  else for (const m of pool.members) if (pool.unhealthy.has(m.machine)) remove(m, 'unhealthy', pool.unhealthy.get(m.machine)!);

  // Scale-down takes members out of service first, then outdated ones, then the newest.
  const excess = pool.members.length - pool.replicas - surgeOf(pool) - out.length;
  const byScaleDownOrder = newestFirst.filter((m) => !taken.has(m.machine))
    .sort((a, b) => Number(serving(a)) - Number(serving(b)) || Number(b.outdated) - Number(a.outdated));
  for (const m of byScaleDownOrder.slice(0, Math.max(0, excess))) {
    remove(m, 'scale-down', `pool ${pool.name} has ${pool.members.length} machines and wants ${pool.replicas}`);
  }

  for (const m of pool.members) {
    const upgrade = upgrades.get(m.machine);
    if (upgrade) add(m, upgrade);
  }
  for (const m of pool.members.filter((m) => m.node && m.agent?.rebootRequired)) {
    add(m, { type: 'reboot', machine: m.machine, pool: pool.name, role: pool.role, reason: `agent of ${m.machine} reports that a reboot is required` });
  }

  // Outdated: with a surge, remove as many as serve beyond replicas (the new ones are Ready); without, remove first within the budget.
  const outdated = pool.members.filter((m) => m.outdated && !taken.has(m.machine));
  const spare = [...pool.serving].filter((name) => !taken.has(name)).length - pool.replicas;
  const count = surgeOf(pool) > 0 ? Math.min(outdated.length, spare) : outdated.length;
  for (const m of outdated.slice(0, Math.max(0, count))) {
    remove(m, 'outdated', `machine ${m.machine} was made from an earlier spec of pool ${pool.name}`, surgeOf(pool) > 0);
  }
  return out;
}

/** Rule 6: what the pool's budget allows, in priority order; members already out of service cost nothing. */
function withinBudget(pool: PoolState, candidates: Candidate[], holds: Hold[]): DisruptiveAction[] {
  let left = budgetOf(pool);
  const admitted = candidates.filter((c) => {
    if (c.cost > left) return false;
    left -= c.cost;
    return true;
  });
  const waiting = candidates.length - admitted.length;
  if (waiting) holds.push({ subject: pool.name, reason: `${waiting} disruptive action(s) wait: ${budgetRefusal(pool)}` });
  return admitted.map((c) => c.action);
}

function budgetRefusal(pool: PoolState): string {
  return `disruption budget of pool ${pool.name} used (maxUnavailable ${pool.maxUnavailable}, ${disruptedIn(pool)} disrupted)`;
}

/**
 * Rule 7, the etcd quorum guard: none while quorum is lost; a removal must leave a healthy
 * majority of the remaining members and never the last control plane; taking a member down
 * for a while (upgrade, reboot) must leave a healthy majority, except with a single member,
 * where that downtime is what one replica means.
 */
function etcdRefusal(world: World, machine: string, effect: 'remove' | 'down'): string | undefined {
  const members = world.observed.etcdMembers;
  if (!members) return 'etcd membership unknown: control-plane changes wait';
  const remaining = members.filter((name) => name !== machine).length;
  const otherControlPlanes = world.controlPlane.members.filter((m) => m.node && m.machine !== machine).length;
  if (effect === 'remove' && (remaining === 0 || otherControlPlanes === 0)) return 'never removes the last control plane';
  const ready = new Set(world.controlPlane.members.filter((m) => m.node?.ready).map((m) => m.machine));
  const healthy = members.filter((name) => ready.has(name));
  if (healthy.length < majority(members.length)) return `etcd quorum lost: ${healthy.length} of ${members.length} members healthy`;
  const left = healthy.length - (ready.has(machine) && members.includes(machine) ? 1 : 0);
  if (effect === 'down') {
    return members.length > 1 && left < majority(members.length)
      ? `${machine} down would leave ${left} of ${members.length} etcd members healthy (quorum needs ${majority(members.length)})` : undefined;
  }
  return left < majority(remaining) ? `removing ${machine} would leave ${left} of ${remaining} etcd members healthy (quorum needs ${majority(remaining)})` : undefined;
}

/** A control plane joins only into a sound control plane: every node Ready, etcd members exactly the control-plane nodes. */
function controlPlaneJoinRefusal(world: World): string | undefined {
  const nodes = world.controlPlane.members.filter((m) => m.node);
  const notReady = nodes.filter((m) => !m.node!.ready).map((m) => m.machine);
  if (notReady.length) return `control-plane join waits: ${notReady.join(', ')} NotReady`;
  const members = world.observed.etcdMembers;
  if (!members) return 'control-plane join waits: etcd membership unknown';
  const names = (list: string[]) => [...list].sort().join(', ');
  if (names(members) !== names(nodes.map((m) => m.machine))) {
    return `control-plane join waits: etcd members (${names(members)}) differ from the control-plane nodes (${names(nodes.map((m) => m.machine))})`;
  }
  return undefined;
}

/** Rule 12: nodes herd cordoned, Ready again, that no action holds (a coordinator that stopped half-way). */
function uncordons(world: World, busy: Set<string>): ClusterAction[] {
  return world.pools.flatMap((p) => p.members)
    .filter((m) => m.node?.cordonedByHerd && m.node.ready && !busy.has(m.machine) && m.machine !== world.halted?.action.machine)
    .map((m): ClusterAction => ({ type: 'uncordon', machine: m.machine, reason: `node ${m.machine} is Ready and cordoned by herd, and no action holds it` }));
}
