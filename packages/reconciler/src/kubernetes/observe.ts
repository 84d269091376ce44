/**
 * The observed cluster, from the three places it lives: the provider's machines, the agents'
 * reports, and the Kubernetes API. Whatever does not answer is left out (undefined), never
 * guessed: the planner holds where it lacks a fact.
 */
import type { Cluster } from '@herd/api';
import type { KubeClient, KubeNode } from '@herd/kube';
import { kubeVersion } from '@herd/kubeadm';
import { machineSpecHash, poolsOf, type ClusterObservation, type Halted, type InProgress, type MemberObservation, type Role } from '@herd/planner';
import type { NodeSession } from '@herd/proto';
import { LABEL, type Machine } from '@herd/provider';

/** The lease every disruptive step holds (kube-system), and the annotations that record it. */
export const LEASE = { name: 'herd-lifecycle', inProgress: 'herd.dev/in-progress', halted: 'herd.dev/halted' } as const;

export interface ApiView {
  api?: { healthy: boolean; version: string };
  nodes: KubeNode[];
  inProgress?: InProgress;
  halted?: Halted;
  /** Another coordinator holds the lease and it has not expired. */
  leaseHeldElsewhere?: string;
}

/** Everything the API says that the planner needs; undefined parts when it does not answer. */
export async function readApi(kube: KubeClient | undefined, holder: string): Promise<ApiView> {
  if (!kube) return { nodes: [] };
  try {
    const [version, healthy, nodes] = await Promise.all([kube.version(), kube.healthy(), kube.nodes()]);
    const lease = await kube.lease.get(LEASE.name);
    const annotations = lease?.annotations ?? {};
    const parse = <T>(text: string | undefined) => (text ? (JSON.parse(text) as T) : undefined);
    const elsewhere = lease && lease.holder && lease.holder !== holder && !lease.expired ? lease.holder : undefined;
    return {
      api: { healthy, version },
      nodes,
      ...(annotations[LEASE.inProgress] ? { inProgress: parse<InProgress>(annotations[LEASE.inProgress]) } : {}),
      ...(annotations[LEASE.halted] ? { halted: parse<Halted>(annotations[LEASE.halted]) } : {}),
      ...(elsewhere ? { leaseHeldElsewhere: elsewhere } : {}),
    };
  } catch {
    return { nodes: [] };
  }
}

/** An agent is converged when it holds the newest assignment and its last round converged everything. */
export function agentConverged(session: NodeSession | undefined): boolean {
  const status = session?.status;
  return Boolean(session && session.connected && !session.unreachable && Number(session.desiredGeneration) > 0
    && Number(session.observedGeneration) >= Number(session.desiredGeneration) && !status?.lastError
    && (status?.conditions ?? []).every((c) => c.status === 'True'));
}

export interface ObserveInput {
  cluster: Cluster;
  machines: Machine[];
  sessions: NodeSession[];
  view: ApiView;
  initialized: boolean;
  etcdMembers?: string[];
  /** The Kubernetes version each machine's assignment installs now. */
  assignedVersion(machine: string): string;
  now: number;
}

export function observeCluster(input: ObserveInput): ClusterObservation {
  const { cluster, view } = input;
  const sessions = new Map(input.sessions.map((s) => [s.nodeName, s]));
  const nodes = new Map(view.nodes.map((n) => [n.name, n]));
  const pools = new Map(poolsOf(cluster).map((p) => [p.name, p]));
  const members: MemberObservation[] = input.machines.map((m) => {
    const pool = pools.get(m.labels[LABEL.pool] ?? '');
    const session = sessions.get(m.name);
    const node = nodes.get(m.name);
    return {
      machine: m.name,
      pool: m.labels[LABEL.pool] ?? '',
      role: (m.labels[LABEL.role] as Role | undefined) ?? 'worker',
      createdAt: m.createdAt,
      state: m.state,
      outdated: pool !== undefined && m.labels[LABEL.specHash] !== machineSpecHash(cluster, pool),
      ...(session ? {
        agent: {
          connected: Boolean(session.connected),
          ...(session.lastHeartbeat ? { lastSeen: session.lastHeartbeat } : {}),
          converged: agentConverged(session),
          rebootRequired: Boolean(session.status?.rebootRequired),
        },
      } : {}),
      ...(node ? {
        node: {
          ready: node.ready, readySince: node.readySince, kubeletVersion: node.kubeletVersion,
          unschedulable: node.unschedulable, cordonedByHerd: node.cordonedByHerd,
        },
      } : {}),
      assignedVersion: input.assignedVersion(m.name),
    };
  });
  const machineNames = new Set(input.machines.map((m) => m.name));
  return {
    now: input.now,
    initialized: input.initialized,
    ...(view.api ? { api: { healthy: view.api.healthy, version: kubeVersion(view.api.version) } } : {}),
    members,
    staleNodes: view.nodes.filter((n) => !machineNames.has(n.name)).map((n) => ({ name: n.name, role: isControlPlane(n) ? 'control-plane' : 'worker' })),
    ...(input.etcdMembers ? { etcdMembers: input.etcdMembers } : {}),
    ...(view.inProgress ? { inProgress: view.inProgress } : {}),
    ...(view.halted ? { halted: view.halted } : {}),
    ...(view.leaseHeldElsewhere ? { leaseHeldElsewhere: view.leaseHeldElsewhere } : {}),
  };
}

export function isControlPlane(node: KubeNode): boolean {
  return 'node-role.kubernetes.io/control-plane' in node.labels;
}
