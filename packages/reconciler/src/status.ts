import type { SpecError } from '@herd/api';
import type { Condition, Drift } from '@herd/proto';
import type { KubernetesStatus } from './kubernetes/lifecycle.js';

export interface AgentState {
  connected: boolean;
  /** No heartbeat within the coordinator's timeout. */
  unreachable: boolean;
  desiredGeneration: number;
  observedGeneration: number;
  /** The commit the agent's last complete round came from. */
  commit: string;
  /** What the agent said it is in its hello (absent from a status recorded before it was kept). */
  agentVersion?: string;
  conditions: Condition[];
  lastError: string;
  rebootRequired: boolean;
  /** What the agent's last round put back because the machine had moved away from its spec. */
  driftCorrected: Drift[];
}

export interface MachineStatus {
  name: string;
  pool: string;
  role: string;
  addresses: string[];
  state: string;
  /** Null until the machine's agent has enrolled. */
  agent: AgentState | null;
  /** Enrolled, holding the newest assignment, and its last round converged. */
  converged: boolean;
}

export interface PoolStatus {
  name: string;
  role: string;
  desired: number;
  machines: number;
}

export interface ClusterStatus {
  name: string;
  provider: string;
  converged: boolean;
  /** Why not converged, for a person (empty when converged). */
  reason: string;
  pools: PoolStatus[];
  machines: MachineStatus[];
  /** The Kubernetes side: API, nodes, what runs, what is held and why. */
  kubernetes?: KubernetesStatus;
  /** The last failure acting on this cluster (provider, install), if the last round had one. */
  error?: string;
  /** The provider failed in a way worth waiting out: the cluster is left alone until `until`. */
  backoff?: ProviderBackoff;
}

/** A cluster waiting out its provider (a TransientProviderError, QuotaExceededError or ProviderUnavailableError). */
export interface ProviderBackoff {
  /** RFC 3339 time of the next try. */
  until: string;
  /** Rounds in a row that failed so: the wait doubles with each, up to its cap. */
  failures: number;
  /** The error's class and message. */
  reason: string;
  /** The round's failures as its status said them, kept while waiting. */
  error?: string;
}

export interface FleetStatus {
  /** RFC 3339 time of the round this status is from. */
  time: string;
  source: string;
  /** The commit in force: the newest one that validated (undefined for a working tree). */
  commit?: string;
  /** The newest commit read, when it did not validate and so changed nothing. */
  rejected?: { commit?: string; errors: SpecError[] };
  clusters: ClusterStatus[];
  /** Machines labelled for a cluster Git no longer declares: left alone until `herd down`. */
  orphans: { cluster: string; machine: string }[];
  converged: boolean;
  /** Milliseconds the last lifecycle actions that succeeded took, by kind, newest last (absent in a status recorded before they were kept). */
  measured?: Record<string, number[]>;
}
