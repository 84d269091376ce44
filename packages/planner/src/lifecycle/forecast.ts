/**
 * What a commit will make herd do, in order: the planner is asked again and again, each
 * time about the world as it will be once the actions it says may start now are done. It is
 * the planner herd runs (planCluster), which also decides what starts together; what is
 * simulated is only the world's answer to an action that succeeds. So `herd plan` cannot
 * invent an order `herd up` would not follow.
 */
import type { Cluster } from '@herd/api';
import { planCluster } from './plan.js';
import { normaliseVersion, policyOf } from './policy.js';
import type { ClusterAction, ClusterObservation, Hold, MemberObservation } from './types.js';

/** A planned action; a create names the machine it will make. */
export type ForecastAction = Exclude<ClusterAction, { type: 'create' }> | (Extract<ClusterAction, { type: 'create' }> & { machine: string });

/** One round's worth of work: what starts together, and what the planner held back then. */
export interface ForecastStep {
  actions: ForecastAction[];
  holds: Hold[];
  /** The world as the planner saw it when it chose these. */
  world: ClusterObservation;
}

export interface Forecast {
  steps: ForecastStep[];
  /** What still holds once nothing more can start (a halt, a refused upgrade): the commit does not converge by itself. */
  remaining: Hold[];
  /** More steps than `maxSteps`: the forecast stopped there. */
  truncated: boolean;
}

export interface ForecastOptions {
  /** The name a new machine of `pool` gets (the provider's newMachineName), given the names taken. */
  newMachineName(pool: string, taken: ReadonlySet<string>): string;
  /** Default 200: far more than any cluster's rollout takes. */
  maxSteps?: number;
}

export function forecastCluster(cluster: Cluster, observed: ClusterObservation, options: ForecastOptions): Forecast {
  const steps: ForecastStep[] = [];
  const taken = new Set(observed.members.map((m) => m.machine));
  // A failed action's pause before its retry is over by the time the forecast gets there.
  const { retryAfter: _, ...now } = structuredClone(observed);
  let world: ClusterObservation = now;
  for (let i = 0; i < (options.maxSteps ?? 200); i++) {
    const plan = planCluster(cluster, world);
    const { actions } = plan;
    if (!actions.length) return { steps, remaining: plan.holds, truncated: false };
    const named = actions.map((a): ForecastAction => (a.type === 'create' ? { ...a, machine: nameFor(a.pool) } : a));
    steps.push({ actions: named, holds: plan.holds, world });
    const desired = policyOf(cluster).desiredVersion;
    world = named.reduce((w, a) => afterDone(w, a, desired), { ...world, now: world.now + 1000 });
  }
  return { steps, remaining: [], truncated: true };

  function nameFor(pool: string): string {
    const name = options.newMachineName(pool, taken);
    taken.add(name);
    return name;
  }
}

/** The world once `action` succeeded, as the executor and the machines make it. */
function afterDone(world: ClusterObservation, action: ForecastAction, desired: string): ClusterObservation {
  const at = new Date(world.now).toISOString();
  const members = world.members.map((m) => ({ ...m, ...(m.node ? { node: { ...m.node } } : {}), ...(m.agent ? { agent: { ...m.agent } } : {}) }));
  const find = (name: string) => members.find((m) => m.machine === name);
  const etcd = world.etcdMembers ? [...world.etcdMembers] : undefined;
  const apiVersion = world.api?.version;
  const readyNode = (version: string): NonNullable<MemberObservation['node']> =>
    ({ ready: true, readySince: at, kubeletVersion: version, unschedulable: false, cordonedByHerd: false });
  let next: ClusterObservation = { ...world, members, ...(etcd ? { etcdMembers: etcd } : {}) };
  // The action the lease recorded is the one that just finished.
  if ('machine' in action && world.inProgress?.action.machine === action.machine) delete next.inProgress;
  switch (action.type) {
    case 'create':
      // Its agent installs and converges; it joins at the version the control plane runs.
      members.push({
        machine: action.machine, pool: action.pool, role: action.role, createdAt: at, state: 'running', outdated: false,
        agent: { connected: true, lastSeen: at, converged: true, rebootRequired: false },
        assignedVersion: apiVersion ?? desired,
      });
      break;
    case 'init': {
      const m = find(action.machine)!;
      m.node = readyNode(normaliseVersion(action.version));
      next = { ...next, initialized: true, api: { healthy: true, version: normaliseVersion(action.version) }, etcdMembers: [action.machine] };
      break;
    }
    case 'join': {
      const m = find(action.machine)!;
      m.node = readyNode(m.assignedVersion ?? apiVersion ?? '');
      if (action.role === 'control-plane') next.etcdMembers = [...(etcd ?? []), action.machine];
      break;
    }
    case 'upgrade': {
      const m = find(action.machine)!;
      m.node = readyNode(normaliseVersion(action.version));
      m.assignedVersion = normaliseVersion(action.version);
      if (action.mode === 'apply') next.api = { healthy: true, version: normaliseVersion(action.version) };
      break;
    }
    case 'reboot': {
      const m = find(action.machine)!;
      if (m.agent) m.agent.rebootRequired = false;
      if (m.node) m.node = { ...m.node, ready: true, unschedulable: false, cordonedByHerd: false };
      break;
    }
    case 'uncordon': {
      const m = find(action.machine);
      if (m?.node) m.node = { ...m.node, unschedulable: false, cordonedByHerd: false };
      break;
    }
    case 'remove':
      next.members = members.filter((m) => m.machine !== action.machine);
      if (etcd) next.etcdMembers = etcd.filter((n) => n !== action.machine);
      break;
    case 'forget':
      next.staleNodes = world.staleNodes.filter((n) => n.name !== action.node);
      if (etcd) next.etcdMembers = etcd.filter((n) => n !== action.node);
      break;
  }
  return next;
}
