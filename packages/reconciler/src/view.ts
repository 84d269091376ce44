/**
 * The fleet as a person reads it: the last round's status merged with what is live now (the
 * agents' sessions) or, with no coordinator, with what the providers list now. `herd status`
 * prints it and the status page shows it; both read this one model, so they cannot disagree.
 * Pure: no I/O, no clock.
 */
import { safeSpecError, type SpecError } from '@herd/api';
import type { NodeSession__Output } from '@herd/proto';
import { agentConverged } from './kubernetes/observe.js';
import type { FleetStatus, MachineStatus } from './status.js';

/**
 * What a node's agent is: live states come from a session (connected, silent, unreachable,
 * disconnected); `was …` from the last recorded status when no coordinator runs.
 */
export type AgentLink = 'connected' | 'silent' | 'unreachable' | 'disconnected' | 'was connected' | 'was disconnected' | 'not enrolled';

export interface ConditionView { type: string; status: string; reason: string; message: string }

export interface NodeView {
  name: string;
  pool: string;
  role: string;
  address: string;
  /** The provider's word for the machine (running, stopped, …), or `gone` when the provider no longer lists it. */
  machine: string;
  agent: AgentLink;
  /** True when `agent` is read from a session now, not from the last recorded round. */
  live: boolean;
  observedGeneration: number | null;
  desiredGeneration: number | null;
  converged: boolean;
  /** The commit of the agent's last complete round ('' before one). */
  commit: string;
  agentVersion: string;
  lastHeartbeat: string;
  conditions: ConditionView[];
  lastError: string;
  rebootRequired: boolean;
  /** The Kubernetes node of the same name, when the API lists one. */
  kubernetes: { ready: boolean; unschedulable: boolean; version: string } | null;
}

export interface ClusterView {
  name: string;
  provider: string;
  converged: boolean;
  reason: string;
  pools: { name: string; role: string; desired: number; machines: number }[];
  nodes: NodeView[];
  kubernetes: {
    initialized: boolean;
    endpoint: string;
    apiVersion: string;
    /** Lifecycle actions running now, each "type machine: reason". */
    running: string[];
    holds: string[];
    halted: string;
    lastFailure: string;
  } | null;
  error: string;
}

export interface FleetView {
  /** When the status this view is from was made (RFC 3339); '' when none is recorded. */
  time: string;
  source: string;
  /** The commit in force; '' for a working tree (or nothing in force yet). */
  commit: string;
  coordinator: { running: boolean; pid: number | null; port: number | null };
  /** The newest commit (or working tree) the coordinator refused, with its located errors. */
  refused: { commit: string; errors: SpecError[] } | null;
  /** A working tree that stopped validating after the last recorded round (no coordinator saw it). */
  refusedNow: SpecError[] | null;
  clusters: ClusterView[];
  orphans: { cluster: string; machine: string }[];
  converged: boolean;
}

export interface FleetViewInput {
  status: FleetStatus | undefined;
  /** The agents' sessions, when a coordinator runs (this process's, or one's through the admin API). */
  sessions?: readonly NodeSession__Output[];
  /** `cluster/machine` of every machine the providers list now, when no coordinator runs; clusters not in `listedClusters` are taken as recorded. */
  listed?: { clusters: ReadonlySet<string>; machines: ReadonlySet<string> };
  coordinator?: { pid: number; port: number };
  refusedNow?: readonly SpecError[];
  /** Only this cluster. */
  cluster?: string;
}

export function sessionLink(n: Pick<NodeSession__Output, 'connected' | 'unreachable'>): AgentLink {
  if (n.unreachable) return n.connected ? 'silent' : 'unreachable';
  return n.connected ? 'connected' : 'disconnected';
}

type KubeNode = { ready: boolean; unschedulable: boolean; version: string };

function nodeView(m: MachineStatus, cluster: string, input: FleetViewInput, session: NodeSession__Output | undefined, kube: Map<string, KubeNode>): NodeView {
  const recorded = m.agent;
  const base = {
    name: m.name, pool: m.pool, role: m.role, address: m.addresses[0] ?? '',
    machine: input.listed?.clusters.has(cluster) && !input.listed.machines.has(`${cluster}/${m.name}`) ? 'gone' : m.state,
    converged: m.converged, kubernetes: kube.get(m.name) ?? null,
  };
  if (session) {
    const s = session.status;
    return {
      // Converged as the round judges it, from the session as it is now.
      ...base, agent: sessionLink(session), live: true, converged: agentConverged(session),
      observedGeneration: session.observedGeneration, desiredGeneration: session.desiredGeneration,
      commit: s?.commit ?? '', agentVersion: session.agentVersion, lastHeartbeat: session.lastHeartbeat,
      conditions: (s?.conditions ?? []).map(conditionView), lastError: s?.lastError ?? '', rebootRequired: Boolean(s?.rebootRequired),
    };
  }
  if (recorded) {
    return {
      ...base,
      // A coordinator that runs and has no session for the node: the agent is not connected now.
      agent: input.sessions ? 'disconnected' : recorded.connected ? 'was connected' : 'was disconnected', live: Boolean(input.sessions),
      observedGeneration: recorded.observedGeneration, desiredGeneration: recorded.desiredGeneration,
      commit: recorded.commit, agentVersion: recorded.agentVersion ?? '', lastHeartbeat: '',
      conditions: recorded.conditions.map(conditionView), lastError: recorded.lastError, rebootRequired: recorded.rebootRequired,
    };
  }
  return {
    ...base, agent: 'not enrolled', live: Boolean(input.sessions), observedGeneration: null, desiredGeneration: null,
    commit: '', agentVersion: '', lastHeartbeat: '', conditions: [], lastError: '', rebootRequired: false,
  };
}

function conditionView(c: { type?: string; status?: string; reason?: string; message?: string }): ConditionView {
  return { type: c.type ?? '', status: c.status ?? '', reason: c.reason ?? '', message: c.message ?? '' };
}

export function fleetView(input: FleetViewInput): FleetView {
  const { status } = input;
  // By cluster/node once: a fleet of thousands is looked up, not searched, per machine.
  const sessions = new Map((input.sessions ?? []).map((s) => [`${s.cluster}/${s.nodeName}`, s]));
  const clusters = (status?.clusters ?? []).filter((c) => !input.cluster || c.name === input.cluster).map((c): ClusterView => {
    const k = c.kubernetes;
    const kube = new Map((k?.nodes ?? []).map((n) => [n.name, { ready: n.ready, unschedulable: n.unschedulable, version: n.version }]));
    return {
      name: c.name, provider: c.provider, converged: c.converged, reason: c.reason, pools: c.pools,
      nodes: c.machines.map((m) => nodeView(m, c.name, input, sessions.get(`${c.name}/${m.name}`), kube)),
      kubernetes: k ? {
        initialized: k.initialized, endpoint: k.endpoint ?? '', apiVersion: k.apiVersion ?? '',
        running: k.running, holds: k.holds, halted: k.halted ?? '', lastFailure: k.lastFailure ?? '',
      } : null,
      error: c.error ?? '',
    };
  });
  return {
    time: status?.time ?? '',
    source: status?.source ?? '',
    commit: status?.commit ?? '',
    coordinator: input.coordinator ? { running: true, pid: input.coordinator.pid, port: input.coordinator.port } : { running: false, pid: null, port: null },
    // Escaped for a terminal here (control characters); the page escapes for HTML.
    refused: status?.rejected ? { commit: status.rejected.commit ?? '', errors: status.rejected.errors.map(safeSpecError) } : null,
    refusedNow: input.refusedNow?.length ? input.refusedNow.map(safeSpecError) : null,
    clusters,
    orphans: status?.orphans ?? [],
    converged: status?.converged ?? false,
  };
}

/** The nodes of a view that run one commit, for `herd status --commit`. */
export interface CommitSelection {
  /** The distinct commits the nodes run that start with the prefix asked for: more than one means it is ambiguous. */
  commits: string[];
  nodes: { cluster: string; node: string; commit: string }[];
  /** Every node of the view, whatever it runs. */
  total: number;
}

/**
 * The nodes whose agent's last complete round came from `prefix` (a full SHA or the start of
 * one, any case). A node before its first round runs no commit, and an empty prefix matches none.
 */
export function nodesAtCommit(view: FleetView, prefix: string): CommitSelection {
  const wanted = prefix.toLowerCase();
  const all = view.clusters.flatMap((c) => c.nodes.map((n) => ({ cluster: c.name, node: n.name, commit: n.commit })));
  const nodes = all.filter((n) => wanted !== '' && n.commit.toLowerCase().startsWith(wanted));
  return { commits: [...new Set(nodes.map((n) => n.commit))].sort(), nodes, total: all.length };
}
