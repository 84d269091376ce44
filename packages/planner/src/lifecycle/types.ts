/**
 * The Kubernetes lifecycle planner's world: what a cluster should be (the Cluster from Git),
 * what it is (ClusterObservation: provider machines, agent reports, the Kubernetes API), and
 * the actions that close the gap. The planner is a pure function of these; the reconciler
 * observes, executes the actions and plans again.
 */
import type { Role } from '../labels.js';

/** A node as the Kubernetes API reports it. */
export interface KubeNodeObservation {
  ready: boolean;
  /** When Ready last changed (RFC 3339): how long it has been (Not)Ready. */
  readySince: string;
  /** status.nodeInfo.kubeletVersion, like v1.34.4. */
  kubeletVersion: string;
  unschedulable: boolean;
  /** Cordoned by herd (annotation herd.dev/cordoned): only those are uncordoned by herd. */
  cordonedByHerd: boolean;
}

/** The machine's agent as the coordinator's session registry knows it. */
export interface AgentObservation {
  connected: boolean;
  /** Last message from the agent (RFC 3339); undefined when never heard from. */
  lastSeen?: string;
  /** Holds the newest assignment and its last round converged. */
  converged: boolean;
  rebootRequired: boolean;
}

/** One machine of the cluster, with what its agent and the API say about it. */
export interface MemberObservation {
  /** Machine name = hostname = Kubernetes node name. */
  machine: string;
  pool: string;
  role: Role;
  /** When the provider created the machine (RFC 3339). */
  createdAt: string;
  state: 'running' | 'stopped' | 'unknown';
  /** The machine was made from another spec (provider kind, shape) than its pool has now. */
  outdated: boolean;
  /** Undefined until the agent enrolled. */
  agent?: AgentObservation;
  /** Undefined while no Node of this name exists. */
  node?: KubeNodeObservation;
  /** The Kubernetes version this machine's assignment installs now (packages kubeadm/kubelet/kubectl). */
  assignedVersion?: string;
}

/** A Node object that no machine of the cluster backs (its machine was deleted behind herd's back). */
export interface StaleNodeObservation {
  name: string;
  role: Role;
}

/** A disruptive action an earlier round started and has not finished (recorded in the cluster's lease). */
export interface InProgress {
  action: DisruptiveAction;
  /** RFC 3339. */
  since: string;
}

/** A step that failed and halts what it belongs to until the spec changes (status says why). */
export interface Halted {
  action: DisruptiveAction;
  /** Which step of the action failed (cordon, drain, upgrade, ready, ...). */
  step: string;
  message: string;
  /** The Kubernetes version in force when it failed: a new version in Git starts afresh. */
  version: string;
}

export interface ClusterObservation {
  /** Now, in milliseconds since the epoch (the planner never reads a clock). */
  now: number;
  /** The coordinator holds admin credentials: `kubeadm init` has run. */
  initialized: boolean;
  /** Undefined when the API server did not answer. */
  api?: { healthy: boolean; version: string };
  members: MemberObservation[];
  staleNodes: StaleNodeObservation[];
  /** Node names of the etcd members; undefined when unknown (no control-plane agent answered). */
  etcdMembers?: string[];
  inProgress?: InProgress;
  halted?: Halted;
  /** Another coordinator holds the cluster's lease and it has not expired: this one only creates machines. */
  leaseHeldElsewhere?: string;
  /** A disruptive action failed: none starts before this time (ms since the epoch). */
  retryAfter?: number;
}

/** Actions that take a node out of service for a while: each counts against the disruption budget. */
export type DisruptiveAction =
  /** Cordon, drain, kubeadm upgrade (apply on the first control plane, node elsewhere), new kubelet, Ready at the version, uncordon. */
  | { type: 'upgrade'; machine: string; pool: string; role: Role; version: string; mode: 'apply' | 'node'; reason: string }
  /** Cordon, drain, reboot granted to the agent, Ready again, uncordon. */
  | { type: 'reboot'; machine: string; pool: string; role: Role; reason: string }
  /** Cordon, drain (when reachable), kubeadm reset (when reachable), etcd member removal (control plane), delete the Node, delete the machine. */
  | { type: 'remove'; machine: string; pool: string; role: Role; cause: 'scale-down' | 'unhealthy' | 'outdated' | 'pool-removed'; reason: string };

export type ClusterAction =
  | DisruptiveAction
  /** A new machine for a pool (its agent is installed; it joins in a later round). */
  | { type: 'create'; pool: string; role: Role; reason: string }
  /** `kubeadm init` on the first control-plane machine. */
  | { type: 'init'; machine: string; version: string; reason: string }
  /** `kubeadm join` of a machine whose agent converged (control planes with an uploaded certificate key). */
  | { type: 'join'; machine: string; pool: string; role: Role; reason: string }
  /** Uncordon a node herd cordoned whose action is over (a coordinator that stopped half-way). */
  | { type: 'uncordon'; machine: string; reason: string }
  /** Remove a Node (and for a control plane its etcd member) that no machine backs any more. */
  | { type: 'forget'; node: string; role: Role; reason: string };

/** Something the planner will not do now, and why: shown in status, never silent. */
export interface Hold {
  /** Machine or pool it concerns; undefined for the whole cluster. */
  subject?: string;
  reason: string;
}

export interface ClusterPlan {
  /** Everything here may start now, at the same time (rule 14 included); the executor plans again once they are done. */
  actions: ClusterAction[];
  holds: Hold[];
}
