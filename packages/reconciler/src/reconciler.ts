import { EventEmitter } from 'node:events';
import type { Cluster, SpecError } from '@herd/api';
import type { Coordinator, SecretStore } from '@herd/coordinator';
import { machineLabels, orphanedMachines, poolsOf, type ClusterPlan, type PoolPlan } from '@herd/planner';
import type { AptSource, NodeSession } from '@herd/proto';
import {
  LABEL, ProviderUnavailableError, QuotaExceededError, TransientProviderError, type Machine, type Provider, type ProviderError,
} from '@herd/provider';
import type { Snapshot } from '@herd/source';
import { backoffDelay, systemClock, type Clock, type Logger, type MetricsRegistry } from '@herd/sys';
import { kubeVersion } from '@herd/kubeadm';
import { ClusterLifecycle, type ActionEvent, type AgentChannel, type KubernetesStatus } from './kubernetes/lifecycle.js';
import { kubernetesNodeSpec } from './kubernetes/node-spec.js';
import { agentConverged } from './kubernetes/observe.js';
import { ReconcilerMetrics } from './metrics.js';
import type { ClusterStatus, FleetStatus, MachineStatus, ProviderBackoff } from './status.js';

export interface ReconcilerOptions {
  /** Reads the desired state (a Git source, or a working tree), checked against the snapshot in force. */
  read(inForce?: Snapshot): Promise<Snapshot>;
  /**
   * The state an earlier coordinator had in force (its commit, or the files of a working tree
   * it recorded): when this process starts on a commit that does not validate, that one stays
   * in force, not nothing.
   */
  lastGood?: () => Promise<Snapshot | undefined>;
  coordinator: Pick<Coordinator, 'tokens' | 'caHash' | 'port'> & { nodes: Pick<Coordinator['nodes'], 'assign' | 'sessions'> & AgentChannel };
  /** Where each cluster's admin credentials are kept (encrypted). */
  secrets: SecretStore;
  /** Who this coordinator is in each cluster's lease: the same after a restart, so it resumes what it started. */
  holder: string;
  /** The provider for a cluster (the caller caches them). */
  provider(cluster: Cluster): Promise<Provider>;
  /** Directory of the agent artifact installed on new machines (scripts/build-agent.mjs); asked for only when one is needed. */
  agentArtifact: () => string;
  /** Only this cluster (`herd up --cluster`). */
  cluster?: string;
  /** Lifetime of the bootstrap token made for each new machine. Default 15 minutes. */
  tokenTtlMs?: number;
  /** A machine whose agent never connected gets the agent installed again after this long. Default 2 minutes. */
  reinstallAfterMs?: number;
  /** Machines created at once per cluster. Default 3. */
  parallelCreates?: number;
  logger: Logger;
  clock?: Clock;
  /** Where actions and the fleet's state are counted (docs/metrics.md). */
  metrics?: MetricsRegistry;
  /** Durations an earlier coordinator measured (its last status), so estimates survive a restart. */
  measured?: FleetStatus['measured'];
  /**
   * How long a cluster whose provider failed with a TransientProviderError, QuotaExceededError
   * or ProviderUnavailableError is left alone: doubling from `initialMs` with each round that
   * fails so, up to `maxMs`. Default 10 s (two rounds of `herd up`'s 5 s) to 5 minutes.
   */
  providerBackoff?: { initialMs?: number; maxMs?: number };
}

/** The provider errors that another try a round later would most likely meet again (docs/providers.md). */
const BACKED_OFF: (typeof ProviderError)[] = [TransientProviderError, QuotaExceededError, ProviderUnavailableError];

function backsOff(e: unknown): e is ProviderError {
  return BACKED_OFF.some((kind) => e instanceof kind);
}

/** Durations kept per kind of action: enough for a median, bounded for a status file. */
const MEASURED_KEPT = 20;

/** Progress, for a terminal or a log: what the loop did, as it does it. */
export interface ReconcilerEvents {
  'machine-created': [cluster: string, machine: string];
  'agent-installed': [cluster: string, machine: string];
  'machine-deleted': [cluster: string, machine: string];
  /** A cluster's Kubernetes actions finished: time for a round. */
  'actions-done': [cluster: string];
  /** A Kubernetes action (init, join, upgrade, …) started, finished or failed. */
  action: [cluster: string, ...event: ActionEvent];
  /** Something long under way for a cluster (a Kubernetes version being built for its machines). */
  progress: [cluster: string, message: string];
  assigned: [cluster: string, machine: string, generation: number];
  /** The newest desired state does not validate (emitted once per refused state); nothing changes. */
  rejected: [commit: string | undefined, errors: SpecError[], lastGoodInForce: boolean];
  round: [status: FleetStatus];
}

/**
 * The coordinator's loop, level-based (it acts on the world as observed now, never on a log of what it did): every round reads Git, lists each
 * cluster's machines from its provider, plans from what is there now, acts, and reports.
 * Nothing depends on having seen an earlier round, so a restarted coordinator with the same
 * repository simply carries on. A commit that does not validate changes nothing: the last
 * good one stays in force and the status says what is wrong.
 */
export class Reconciler extends EventEmitter<ReconcilerEvents> {
  private inForce?: Snapshot;
  private rejected?: FleetStatus['rejected'];
  /** The spec last handed to each node, to hand a new one only when it changed. */
  private readonly assigned = new Map<string, { text: string; generation: number }>();
  /** When the agent was last installed on a machine (or the machine first seen), to retry an install that never enrolled. */
  private readonly installed = new Map<string, number>();
  private readonly clock: Clock;
  private last?: FleetStatus;
  private readonly lifecycles = new Map<string, ClusterLifecycle>();
  /** What the latest round knew of each cluster, for specs handed out between rounds (by the lifecycle). */
  private readonly latest = new Map<string, { cluster: Cluster; machines: Machine[]; commit: string; aptSources: AptSource[] }>();
  private readonly metrics?: ReconcilerMetrics;
  /** Milliseconds each kind of action took when it succeeded, newest last: `herd plan`'s estimates. */
  private readonly measured: Record<string, number[]>;
  /** Clusters whose provider failed in a way worth waiting out, with when to try again. */
  private readonly backoffs = new Map<string, ProviderBackoff>();

  constructor(private readonly options: ReconcilerOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.measured = structuredClone(options.measured ?? {});
    if (options.metrics) this.metrics = new ReconcilerMetrics(options.metrics, () => this.last);
    this.on('action', (cluster, phase, _description, durationMs, kind) => { if (phase !== 'started') this.ended(cluster, kind, phase, durationMs); });
  }

  /** An action ended: counted, and its duration kept when it succeeded. */
  private ended(cluster: string, kind: string, result: 'done' | 'failed', ms: number): void {
    this.metrics?.action(cluster, kind, result, ms);
    if (result === 'failed') return;
    const kept = (this.measured[kind] ??= []);
    kept.push(Math.round(ms));
    kept.splice(0, Math.max(0, kept.length - MEASURED_KEPT));
  }

  get status(): FleetStatus | undefined {
    return this.last;
  }

  /** One round over every cluster. `signal` ends long preparations (a Kubernetes build) early, for a shutdown. */
  async round(signal?: AbortSignal): Promise<FleetStatus> {
    const snapshot = await this.options.read(this.inForce);
    if (snapshot.errors.length && !this.inForce && this.options.lastGood) {
      const previous = await this.options.lastGood().catch((e: unknown) => {
        this.options.logger.warn({ err: e }, 'cannot read the last good state');
        return undefined;
      });
      if (previous && !previous.errors.length) this.inForce = previous;
    }
    if (snapshot.errors.length) {
      const rejected = { ...(snapshot.commit ? { commit: snapshot.commit } : {}), errors: snapshot.errors };
      // Said once per refused state, not every round: a working tree has no commit, so its errors tell.
      if (JSON.stringify(rejected) !== JSON.stringify(this.rejected)) {
        this.emit('rejected', snapshot.commit, snapshot.errors, this.inForce !== undefined);
        // `event` names the reconciler event saying the same, for a display that shows those itself.
        const inForce = this.inForce?.commit ?? (this.inForce ? 'working tree' : 'nothing');
        this.options.logger.warn({ event: 'rejected', commit: snapshot.commit, errors: snapshot.errors.length, inForce }, 'desired state does not validate; keeping the last good one');
      }
      this.rejected = rejected;
    } else {
      this.inForce = snapshot;
      this.rejected = undefined;
    }
    const source = this.inForce ?? snapshot;
    const clusters = (this.inForce?.clusters ?? []).map((c) => c.cluster).filter((c) => !this.options.cluster || c.metadata.name === this.options.cluster);
    const statuses: ClusterStatus[] = [];
    const seen = new Map<string, Machine>();
    for (const cluster of clusters) {
      const result = await this.reconcileCluster(cluster, this.inForce!.commit ?? 'working-tree', signal);
      statuses.push(result.status);
      for (const m of result.seen) seen.set(m.name, m);
    }
    const declared = (this.inForce?.clusters ?? []).map((c) => c.cluster.metadata.name);
    const orphans = orphanedMachines(declared, [...seen.values()]).map((m) => ({ cluster: m.labels[LABEL.cluster]!, machine: m.name }));
    const status: FleetStatus = {
      time: new Date(this.clock.now()).toISOString(),
      source: source.source,
      ...(this.inForce?.commit ? { commit: this.inForce.commit } : {}),
      ...(this.rejected ? { rejected: this.rejected } : {}),
      clusters: statuses,
      orphans,
      measured: structuredClone(this.measured),
      converged: !this.rejected && this.inForce !== undefined && statuses.every((c) => c.converged),
    };
    this.last = status;
    this.emit('round', status);
    return status;
  }

  /**
   * One cluster's round, unless its provider is being waited out: then nothing is asked of
   * the provider and the status shows the machines as last listed and why it waits.
   */
  private async reconcileCluster(cluster: Cluster, commit: string, signal?: AbortSignal): Promise<{ status: ClusterStatus; seen: Machine[] }> {
    const name = cluster.metadata.name;
    const backoff = this.backoffs.get(name);
    if (backoff && this.clock.now() < Date.parse(backoff.until)) {
      return { status: this.clusterStatus(cluster, this.latest.get(name)?.machines ?? [], backoff.error, backoff), seen: [] };
    }
    const failed: unknown[] = [];
    const result = await this.reconcileClusterNow(cluster, commit, failed, signal);
    const cause = failed.find(backsOff);
    if (!cause) {
      this.backoffs.delete(name);
      return result;
    }
    const failures = (backoff?.failures ?? 0) + 1;
    const { initialMs = 10_000, maxMs = 60_000 } = this.options.providerBackoff ?? {};
    // No jitter: one retrier per cluster, nothing to spread out.
    const waitMs = backoffDelay(failures - 1, { initialMs, maxMs, random: () => 1 });
    const next: ProviderBackoff = {
      until: new Date(this.clock.now() + waitMs).toISOString(), failures, reason: `${cause.name}: ${cause.message}`,
      ...(result.status.error ? { error: result.status.error } : {}),
    };
    this.backoffs.set(name, next);
    this.options.logger.warn({ cluster: name, failures, waitMs, reason: next.reason }, 'provider failed; backing off');
    const status = result.status;
    return { ...result, status: { ...status, converged: false, reason: [status.reason, waitingOut(next)].filter(Boolean).join('; '), backoff: next } };
  }

  /** `failed` collects every error caught, for reconcileCluster to tell a provider worth waiting out. */
  private async reconcileClusterNow(cluster: Cluster, commit: string, failed: unknown[], signal?: AbortSignal): Promise<{ status: ClusterStatus; seen: Machine[] }> {
    const name = cluster.metadata.name;
    const log = this.options.logger.child({ cluster: name });
    let error: string | undefined;
    let provider: Provider;
    let machines: Machine[];
    try {
      provider = await this.options.provider(cluster);
      machines = await provider.list({});
    } catch (e) {
      log.error({ err: e }, 'cannot list machines');
      failed.push(e);
      return { status: this.clusterStatus(cluster, [], `cannot list machines: ${(e as Error).message}`), seen: [] };
    }
    let mine = machines.filter((m) => m.labels[LABEL.cluster] === name);
    const failures: string[] = [];
    const lifecycle = this.lifecycleOf(name);
    let plan: ClusterPlan = { actions: [], holds: [] };
    try {
      plan = await lifecycle.round(cluster, provider, mine, signal);
    } catch (e) {
      log.error({ err: e }, 'cannot observe the cluster');
      failed.push(e);
      failures.push(`observe: ${(e as Error).message}`);
    }

    // New machines are made within the round (their agents then converge and join later);
    // everything else the plan asks runs in the background (lifecycle.start).
    const taken = new Set(machines.map((m) => m.name));
    const creates = plan.actions.filter((a) => a.type === 'create');
    const parallel = this.options.parallelCreates ?? 3;
    for (let i = 0; i < creates.length; i += parallel) {
      await Promise.all(creates.slice(i, i + parallel).map(async (action) => {
        const fresh = provider.newMachineName(name, action.pool, taken);
        taken.add(fresh);
        try {
          await this.createMachine(provider, cluster, action.pool, fresh, action.reason, log);
        } catch (e) {
          log.error({ err: e, machine: fresh }, 'cannot create machine');
          failed.push(e);
          failures.push(`create ${fresh}: ${(e as Error).message}`);
        }
      }));
    }
    if (creates.length) mine = await provider.list({ [LABEL.cluster]: name }).catch(() => mine);
    try {
      const aptSources = (await provider.aptSources?.()) ?? [];
      this.latest.set(name, { cluster, machines: mine, commit, aptSources });
      await this.assignAll(provider, cluster, mine, log);
    } catch (e) {
      failed.push(e);
      failures.push(`assign: ${(e as Error).message}`);
    }
    lifecycle.start(cluster, mine, plan);
    if (failures.length) error = failures.join('; ');
    return { status: this.clusterStatus(cluster, mine, error), seen: machines };
  }

  private async createMachine(provider: Provider, cluster: Cluster, poolName: string, name: string, reason: string, log: Logger): Promise<void> {
    const pool = poolsOf(cluster).find((p) => p.name === poolName)!;
    log.info({ machine: name, pool: poolName, reason }, 'creating machine');
    const started = this.clock.now();
    try {
      const machine = await provider.create({ name, labels: machineLabels(cluster, pool), shape: pool.shape });
      this.emit('machine-created', cluster.metadata.name, machine.name);
      await this.installAgent(provider, cluster.metadata.name, machine.name, log);
    } catch (e) {
      this.ended(cluster.metadata.name, 'create', 'failed', this.clock.now() - started);
      throw e;
    }
    this.ended(cluster.metadata.name, 'create', 'done', this.clock.now() - started);
  }

  private async installAgent(provider: Provider, cluster: string, machine: string, log: Logger): Promise<void> {
    const { coordinator } = this.options;
    const token = await coordinator.tokens.create({ cluster, node: machine, ttlMs: this.options.tokenTtlMs ?? 15 * 60_000 });
    const host = await provider.coordinatorHost();
    this.installed.set(`${cluster}/${machine}`, this.clock.now());
    await provider.installAgent(machine, { artifactDir: this.options.agentArtifact(), coordinator: `${host}:${coordinator.port}`, token: token.token, caHash: coordinator.caHash });
    log.info({ machine }, 'agent installed');
    this.emit('agent-installed', cluster, machine);
  }

  private async deleteMachine(provider: Provider, cluster: string, name: string, log: Logger): Promise<void> {
    log.info({ machine: name }, 'deleting machine');
    // The provider stops the machine in order first, so its agent ends its round cleanly.
    await provider.delete(name);
    const key = `${cluster}/${name}`;
    this.assigned.delete(key);
    this.installed.delete(key);
    this.emit('machine-deleted', cluster, name);
  }

  private lifecycleOf(name: string): ClusterLifecycle {
    let lifecycle = this.lifecycles.get(name);
    if (!lifecycle) {
      const log = this.options.logger.child({ cluster: name });
      lifecycle = new ClusterLifecycle({
        cluster: name,
        agents: this.options.coordinator.nodes,
        secrets: this.options.secrets,
        holder: this.options.holder,
        assign: (machine) => this.assignMachine(name, machine, log),
        deleteMachine: async (machine) => this.deleteMachine(await this.options.provider(this.latest.get(name)!.cluster), name, machine, log),
        logger: log,
        clock: this.clock,
      });
      lifecycle.on('done', () => this.emit('actions-done', name));
      lifecycle.on('action', (...event) => this.emit('action', name, ...event));
      lifecycle.on('progress', (message) => this.emit('progress', name, message));
      this.lifecycles.set(name, lifecycle);
    }
    return lifecycle;
  }

  /** Waits for every cluster's Kubernetes actions in flight (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.lifecycles.values()].map((l) => l.idle()));
  }

  /** The admin kubeconfig of a cluster, once `kubeadm init` has run. */
  kubeconfig(cluster: string): string | undefined {
    return this.lifecycles.get(cluster)?.kubeconfig;
  }

  /**
   * Hands a machine its spec as the latest round and the lifecycle see it, when it changed;
   * returns the generation the machine should reach.
   */
  private assignMachine(name: string, machine: string, log: Logger): number {
    const latest = this.latest.get(name);
    const found = latest?.machines.find((m) => m.name === machine);
    const pool = latest && found && poolsOf(latest.cluster).find((p) => p.name === found.labels[LABEL.pool]);
    if (!latest || !found || !pool) throw new Error(`machine ${machine} is not in cluster ${name}`);
    const lifecycle = this.lifecycleOf(name);
    const spec = kubernetesNodeSpec(latest.cluster, pool, machine, {
      commit: latest.commit, aptSources: latest.aptSources, address: found.addresses[0] ?? '',
      versions: lifecycle.versions(machine), ...lifecycle.nodeContext(machine),
    });
    const key = `${name}/${machine}`;
    const text = JSON.stringify(spec);
    if (this.assigned.get(key)?.text === text) return this.assigned.get(key)!.generation;
    const generation = this.options.coordinator.nodes.assign({ cluster: name, node: machine }, spec);
    this.assigned.set(key, { text, generation });
    log.info({ machine, generation, commit: latest.commit }, 'assigned');
    this.emit('assigned', name, machine, generation);
    return generation;
  }

  /** Hands every machine of the cluster its spec, when it changed; re-installs agents that never enrolled. */
  private async assignAll(provider: Provider, cluster: Cluster, machines: Machine[], log: Logger): Promise<void> {
    const name = cluster.metadata.name;
    const sessions = new Map(this.options.coordinator.nodes.sessions(name).map((s) => [s.nodeName, s]));
    for (const machine of machines) {
      if (!poolsOf(cluster).some((p) => p.name === machine.labels[LABEL.pool])) continue;
      const key = `${name}/${machine.name}`;
      this.assignMachine(name, machine.name, log);
      // Counted from the install, or from when this process first saw the machine: an agent
      // of a restarted coordinator needs a moment (its backoff) to find it again.
      if (!this.installed.has(key)) this.installed.set(key, this.clock.now());
      const neverEnrolled = !sessions.get(machine.name)?.lastHeartbeat;
      const retryAfter = this.options.reinstallAfterMs ?? 120_000;
      if (machine.state === 'running' && neverEnrolled && this.clock.now() - this.installed.get(key)! > retryAfter) {
        // A machine we did not see enroll (a crash between create and install, or an install
        // that failed): install again with a fresh token; install-agent.sh is idempotent.
        await this.installAgent(provider, name, machine.name, log);
      }
    }
  }

  private clusterStatus(cluster: Cluster, machines: Machine[], error: string | undefined, backoff?: ProviderBackoff): ClusterStatus {
    const name = cluster.metadata.name;
    const sessions = new Map(this.options.coordinator.nodes.sessions(name).map((s) => [s.nodeName, s]));
    const machineStatuses = machines.map((m) => machineStatus(m, sessions.get(m.name)));
    const pools = poolsOf(cluster).map((p: PoolPlan) => ({ name: p.name, role: p.role, desired: p.replicas, machines: machines.filter((m) => m.labels[LABEL.pool] === p.name).length }));
    const reasons: string[] = [];
    for (const p of pools) if (p.machines !== p.desired) reasons.push(`pool ${p.name} has ${p.machines} of ${p.desired} machines`);
    const waiting = machineStatuses.filter((m) => !m.converged).map((m) => m.name);
    if (waiting.length) reasons.push(`waiting for ${waiting.join(', ')}`);
    const kubernetes = this.lifecycles.get(name)?.status();
    if (kubernetes) reasons.push(...kubernetesReasons(cluster, machines, kubernetes));
    if (error) reasons.push(error);
    if (backoff) reasons.push(waitingOut(backoff));
    return {
      name,
      provider: cluster.spec.provider.kind,
      converged: reasons.length === 0,
      reason: reasons.join('; '),
      pools,
      machines: machineStatuses,
      ...(kubernetes ? { kubernetes } : {}),
      ...(error ? { error } : {}),
      ...(backoff ? { backoff } : {}),
    };
  }
}

function waitingOut(backoff: ProviderBackoff): string {
  return `provider backing off until ${backoff.until} (${backoff.failures} failed ${backoff.failures === 1 ? 'round' : 'rounds'}): ${backoff.reason}`;
}

function machineStatus(machine: Machine, session: NodeSession | undefined): MachineStatus {
  const status = session?.status;
  const agent = session ? {
    connected: Boolean(session.connected),
    unreachable: Boolean(session.unreachable),
    desiredGeneration: Number(session.desiredGeneration ?? 0),
    observedGeneration: Number(session.observedGeneration ?? 0),
    commit: status?.commit ?? '',
    agentVersion: session.agentVersion ?? '',
    conditions: status?.conditions ?? [],
    lastError: status?.lastError ?? '',
    rebootRequired: Boolean(status?.rebootRequired),
    driftCorrected: status?.driftCorrected ?? [],
  } : null;
  const converged = agentConverged(session);
  return {
    name: machine.name,
    pool: machine.labels[LABEL.pool] ?? '',
    role: machine.labels[LABEL.role] ?? '',
    addresses: machine.addresses,
    state: machine.state,
    agent,
    converged,
  };
}

/** Why a cluster's Kubernetes side is not what Git says yet (empty when it is). */
function kubernetesReasons(cluster: Cluster, machines: Machine[], k: KubernetesStatus): string[] {
  const reasons: string[] = [];
  const version = kubeVersion(cluster.spec.kubernetes.version);
  if (!k.initialized) reasons.push('Kubernetes not initialized yet');
  const nodes = new Map(k.nodes.map((n) => [n.name, n]));
  const notYet = machines.filter((m) => {
    const node = nodes.get(m.name);
    return !node || !node.ready || node.unschedulable || node.version !== version;
  }).map((m) => m.name);
  if (k.initialized && notYet.length) reasons.push(`nodes not Ready at ${version} and schedulable: ${notYet.join(', ')}`);
  const stale = k.nodes.filter((n) => !machines.some((m) => m.name === n.name)).map((n) => n.name);
  if (stale.length) reasons.push(`nodes without a machine: ${stale.join(', ')}`);
  reasons.push(...k.running.map((r) => `running: ${r}`), ...k.holds.map((h) => `holding: ${h}`));
  if (k.halted) reasons.push(`halted: ${k.halted}`);
  return reasons;
}
