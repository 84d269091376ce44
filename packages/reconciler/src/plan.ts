/**
 * `herd plan`'s model of one cluster: the world observed the way a round observes it
 * (observeCluster, readApi), the forecast of the planner herd runs, and for each action its
 * steps, the nodes out of service meanwhile, what its drain evicts, whether the disruption
 * budgets allow that now, and an estimate from the durations herd measured.
 */
import type { Cluster, PlanAction, PlanCluster, PlanStep } from '@herd/api';
import type { DrainPreview, KubeClient } from '@herd/kube';
import { kubeVersion } from '@herd/kubeadm';
import { forecastCluster, isDisruptive, type ClusterObservation, type ForecastAction, type ForecastStep, type Hold } from '@herd/planner';
import type { NodeSession } from '@herd/proto';
import type { Machine } from '@herd/provider';
import { assignedVersion, drainable, stepsOf } from './kubernetes/lifecycle.js';
import { observeCluster, readApi } from './kubernetes/observe.js';

export interface PlanWorldInput {
  cluster: Cluster;
  machines: Machine[];
  /** The agents' sessions: live from a running coordinator, else as its last status recorded them. */
  sessions: NodeSession[];
  agents: PlanCluster['observed']['agents'];
  /** The cluster's API with the admin credentials, once kubeadm init has run. */
  kube?: KubeClient;
  /** This state directory's coordinator in the cluster's lease: its own lease is no other's hold. */
  holder: string;
  /** As the last status recorded them (the agents are asked only by a coordinator). */
  etcdMembers?: string[];
  now: number;
}

export interface PlanWorld {
  observation: ClusterObservation;
  apiAnswered: boolean;
  agents: PlanCluster['observed']['agents'];
  kube?: KubeClient;
}

/** The cluster as a round of the coordinator would observe it now. */
export async function observeForPlan(input: PlanWorldInput): Promise<PlanWorld> {
  const view = await readApi(input.kube, input.holder);
  const desired = kubeVersion(input.cluster.spec.kubernetes.version);
  const apiVersion = view.api ? kubeVersion(view.api.version) : undefined;
  const observation = observeCluster({
    cluster: input.cluster, machines: input.machines, sessions: input.sessions, view, initialized: Boolean(input.kube),
    ...(input.etcdMembers ? { etcdMembers: input.etcdMembers } : {}),
    assignedVersion: (m) => assignedVersion(m, view.nodes, apiVersion, desired), now: input.now,
  });
  return {
    observation, apiAnswered: Boolean(view.api), agents: input.agents,
    ...(input.kube ? { kube: input.kube } : {}),
  };
}

export interface PlanClusterInput {
  cluster: Cluster;
  /** The same cluster in the commit in force, when it is declared there. */
  inForce?: Cluster;
  world: PlanWorld;
  newMachineName(pool: string, taken: ReadonlySet<string>): string;
  /** Milliseconds the last actions of each kind took (the coordinator's status). */
  measured: Record<string, number[]>;
}

export async function planForCluster(input: PlanClusterInput): Promise<PlanCluster> {
  const { world, cluster } = input;
  const observed = world.observation;
  const forecast = forecastCluster(cluster, observed, { newMachineName: input.newMachineName });
  const previews = new Map<string, Promise<DrainPreview | undefined>>();
  const preview = (machine: string) => {
    if (!previews.has(machine)) previews.set(machine, world.kube ? world.kube.previewDrain(machine).catch(() => undefined) : Promise.resolve(undefined));
    return previews.get(machine)!;
  };
  const steps: PlanStep[] = [];
  for (const step of forecast.steps) {
    const actions = await Promise.all(step.actions.map((a) => plannedAction(a, step, observed, world.apiAnswered, preview, input.measured)));
    steps.push({ actions, holds: step.holds.map(holdOf), estimateSeconds: longest(actions.map((a) => a.estimateSeconds)) });
  }
  const total = steps.reduce<number | null>((sum, s) => (sum === null || s.estimateSeconds === null ? null : sum + s.estimateSeconds), 0);
  return {
    name: cluster.metadata.name,
    change: !observed.members.length && !observed.initialized ? 'create' : steps.length ? 'update' : 'none',
    specChanges: input.inForce ? specChanges(input.inForce, cluster) : [],
    observed: { at: new Date(observed.now).toISOString(), agents: world.agents, kubernetesApi: world.apiAnswered, machines: observed.members.length },
    steps,
    remaining: forecast.remaining.map(holdOf),
    truncated: forecast.truncated,
    estimateSeconds: steps.length ? total : 0,
    error: null,
  };
}

const holdOf = (h: Hold) => ({ subject: h.subject ?? null, reason: h.reason });

function longest(values: (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : Math.max(0, ...(values as number[]));
}

function median(values: readonly number[] | undefined): number | null {
  if (!values?.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function plannedAction(action: ForecastAction, step: ForecastStep, observed: ClusterObservation, hasApi: boolean,
  preview: (machine: string) => Promise<DrainPreview | undefined>, measured: Record<string, number[]>): Promise<PlanAction> {
  const machine = action.type === 'forget' ? action.node : action.machine;
  const member = step.world.members.find((m) => m.machine === machine);
  const drained = isDisruptive(action) && drainable(action, member, hasApi);
  // Pods are where they are now: a node the forecast made has none yet.
  const real = observed.members.some((m) => m.machine === machine && m.node);
  const drain = drained && real ? await preview(machine) : undefined;
  const outOfService = step.world.members.filter((m) => m.node && (m.node.unschedulable || !m.node.ready)).map((m) => m.machine);
  const disrupted = step.actions.filter(isDisruptive).map((a) => a.machine);
  const ms = median(measured[action.type]);
  return {
    type: action.type, machine,
    pool: 'pool' in action ? action.pool : null,
    role: 'role' in action ? action.role : null,
    reason: action.reason,
    version: action.type === 'upgrade' || action.type === 'init' ? kubeVersion(action.version) : null,
    mode: action.type === 'upgrade' ? action.mode : null,
    cause: action.type === 'remove' ? action.cause : null,
    steps: stepsOf(action, drained, Boolean(member?.agent?.connected)),
    etcd: etcdEffect(action),
    unschedulable: isDisruptive(action) ? [...new Set([...outOfService, ...disrupted])].sort() : [],
    evictions: drain ? drain.pods : drained ? null : [],
    disruptionBudgets: drain ? {
      allowed: !drain.blockedBy, blockedBy: drain.blockedBy?.budget ?? null, never: drain.blockedBy?.never ?? false,
      message: drain.blockedBy?.message ?? `no PodDisruptionBudget refuses evicting ${drain.pods.length} pod(s) now`,
    } : null,
    estimateSeconds: ms === null ? null : Math.round(ms / 100) / 10,
  };
}

/** What an action does to etcd's membership: only control planes (init makes the first) are members. */
function etcdEffect(action: ForecastAction): PlanAction['etcd'] {
  if (action.type !== 'init' && !('role' in action && action.role === 'control-plane')) return null;
  switch (action.type) {
    case 'init': case 'join': return 'add';
    case 'remove': case 'forget': return 'remove';
    case 'upgrade': case 'reboot': return 'down';
    default: return null;
  }
}

/**
 * How `to` differs from `from`, field by field: objects by key, lists of named items (pools,
 * packages) by name, other lists whole.
 */
export function specChanges(from: Cluster, to: Cluster): PlanCluster['specChanges'] {
  const out: PlanCluster['specChanges'] = [];
  const named = (v: unknown): v is { name: string }[] => Array.isArray(v) && v.every((i) => typeof i === 'object' && i !== null && typeof (i as { name?: unknown }).name === 'string');
  const walk = (path: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (named(a) && named(b)) {
      const byName = (list: { name: string }[]) => new Map(list.map((i) => [i.name, i]));
      const [x, y] = [byName(a), byName(b)];
      for (const name of new Set([...x.keys(), ...y.keys()])) walk(`${path}[${name}]`, x.get(name), y.get(name));
      return;
    }
    const object = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (object(a) && object(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk(path ? `${path}.${key}` : key, a[key], b[key]);
      return;
    }
    out.push({ path, ...(a === undefined ? {} : { from: a }), ...(b === undefined ? {} : { to: b }) });
  };
  walk('spec', from.spec, to.spec);
  return out;
}
