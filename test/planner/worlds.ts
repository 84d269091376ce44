// Small worlds for the planner's tests: a cluster's spec, its members in a compact notation.
import assert from 'node:assert/strict';
import { loadRepository, type Cluster } from '@herd/api';
import { CONTROL_PLANE_POOL, type ClusterAction, type ClusterObservation, type MemberObservation } from '@herd/planner';

export const NOW = Date.parse('2026-03-01T12:00:00Z');
export const ago = (minutes: number, plusMs = 0) => new Date(NOW - minutes * 60_000 + plusMs).toISOString();

export interface Shape { cp?: number; workers?: number; version?: string; extra?: string; pools?: string }

export function cluster({ cp = 1, workers = 2, version = '1.34.4', extra = '', pools }: Shape = {}): Cluster {
  const text = `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: c }\nspec:\n  kubernetes: { version: ${version} }\n`
    + `  controlPlane: { replicas: ${cp} }\n  pools: [${pools ?? `{ name: workers, replicas: ${workers} }`}]\n${extra}`;
  const repo = loadRepository([{ path: 'clusters/c.yaml', text }]);
  assert.deepEqual(repo.errors, []);
  return repo.clusters[0]!.cluster;
}

export interface Opts {
  pool?: string;
  /** false: no Node yet. */
  node?: false;
  /** kubelet version (default v1.34.4). */
  v?: string;
  /** NotReady for this many minutes. */
  notReady?: number;
  cordoned?: 'herd' | 'admin';
  outdated?: true;
  reboot?: true;
  agent?: 'none' | 'unconverged' | 'disconnected';
  /** Agent last heard from this many minutes ago (default: now). */
  silent?: number;
  /** Agent never heard from since the coordinator started. */
  unheard?: true;
  assigned?: string;
  /** Created this many minutes ago (default: 600 with a node, 1 without). */
  created?: number;
  state?: 'stopped';
}

let order = 0;
/** cpN are control planes, the rest workers of pool "workers" unless said; members listed earlier are older (by a few ms). */
export function m(machine: string, o: Opts = {}): MemberObservation {
  const pool = o.pool ?? (machine.startsWith('cp') ? CONTROL_PLANE_POOL : 'workers');
  const agent = o.agent === 'none' ? undefined : {
    connected: o.agent !== 'disconnected',
    ...(o.unheard ? {} : { lastSeen: ago(o.silent ?? 0) }),
    converged: o.agent === undefined,
    rebootRequired: o.reboot === true,
  };
  return {
    machine, pool, role: pool === CONTROL_PLANE_POOL ? 'control-plane' : 'worker',
    createdAt: ago(o.created ?? (o.node === false ? 1 : 600), order++),
    state: o.state ?? 'running',
    outdated: o.outdated === true,
    ...(agent ? { agent } : {}),
    ...(o.node === false ? {} : {
      node: {
        ready: o.notReady === undefined, readySince: ago(o.notReady ?? 60), kubeletVersion: o.v ?? 'v1.34.4',
        unschedulable: o.cordoned !== undefined, cordonedByHerd: o.cordoned === 'herd',
      },
    }),
    assignedVersion: o.assigned ?? o.v ?? 'v1.34.4',
  };
}

export function world(members: MemberObservation[], extra: Partial<ClusterObservation> = {}): ClusterObservation {
  return {
    now: NOW, initialized: true, api: { healthy: true, version: 'v1.34.4' }, members, staleNodes: [],
    etcdMembers: members.filter((x) => x.role === 'control-plane' && x.node).map((x) => x.machine),
    ...extra,
  };
}

export function describe(a: ClusterAction): string {
  switch (a.type) {
    case 'create': return `create ${a.pool}`;
    case 'init': return `init ${a.machine} ${a.version}`;
    case 'forget': return `forget ${a.node}`;
    case 'upgrade': return `upgrade ${a.machine} ${a.mode} ${a.version}`;
    case 'remove': return `remove ${a.machine} (${a.cause})`;
    default: return `${a.type} ${a.machine}`;
  }
}

