/**
 * One cluster's Kubernetes lifecycle: observe (provider, agents, API), plan (the pure
 * planner), execute the actions the plan allows, and plan again. Actions run in the
 * background so a drain that takes minutes never holds up other clusters' rounds; while they
 * run, rounds still assign specs and report status. Every disruptive action holds the
 * cluster's lease (kube-system/herd-lifecycle) with the action recorded on it, so a
 * coordinator that restarts mid-way resumes it (each step is idempotent) instead of leaving
 * a node cordoned.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Cluster } from '@herd/api';
import type { ClusterSecrets, SecretStore } from '@herd/coordinator';
import { caCertHash, DrainBlockedError, KubeClient, parseKubeconfig, type Kubeconfig, type KubeNode } from '@herd/kube';
import {
  initConfiguration, joinConfiguration, kubeVersion, newCertificateKey, newVrrpPassword, upgradeConfiguration,
  DEFAULT_PLATFORM, type ClusterConfig, type ControlPlaneEndpoint, type Platform,
} from '@herd/kubeadm';
import { isDisruptive, planCluster, type ClusterAction, type ClusterObservation, type ClusterPlan, type DisruptiveAction, type MemberObservation } from '@herd/planner';
import { decodeOutputs, encodeArgs, operationDeadlineMs, type NodeSession, type OperationArgs, type OperationKind, type OperationOutputs } from '@herd/proto';
import { LABEL, type Machine, type Provider } from '@herd/provider';
import { parseDuration, type Clock, type Logger } from '@herd/sys';
import { agentConverged, isControlPlane, LEASE, observeCluster, readApi, type ApiView } from './observe.js';

/** What a node's assignment installs: kubeadm moves first in an upgrade, the kubelet after `kubeadm upgrade`. */
export interface NodeVersions {
  kubeadm: string;
  kubelet: string;
}

export interface OperationOutcome {
  ok: boolean;
  message: string;
  outputs: Record<string, string>;
}

/** An answer with its kind's outputs decoded; a failed one has none. */
type TypedOutcome<K extends OperationKind> = { ok: true; message: string; outputs: OperationOutputs<K> } | { ok: false; message: string };

/** The coordinator's side the lifecycle uses: sessions, and one-shot operations on agents (wire form: OPERATIONS types them). */
export interface AgentChannel {
  sessions(cluster: string): NodeSession[];
  operate(ref: { cluster: string; node: string }, op: { kind: string; args?: Record<string, string> }, options: { timeoutMs: number; signal?: AbortSignal }): Promise<OperationOutcome>;
}

export interface LifecycleOptions {
  cluster: string;
  agents: AgentChannel;
  secrets: SecretStore;
  /** Who holds the lease: stable across restarts of the same coordinator, so it resumes at once. */
  holder: string;
  /** Hands the machine its spec now (with this lifecycle's versions); returns the generation. */
  assign(machine: string): number;
  deleteMachine(name: string): Promise<void>;
  logger: Logger;
  clock: Clock;
  /** Test seam: the API client for a kubeconfig. */
  kubeClient?: (config: Kubeconfig) => KubeClient;
}

/** What `herd status` shows of a cluster's Kubernetes side. */
export interface KubernetesStatus {
  initialized: boolean;
  endpoint?: string;
  apiVersion?: string;
  nodes: { name: string; ready: boolean; version: string; unschedulable: boolean }[];
  /** etcd's members as a control plane's agent last listed them. */
  etcdMembers?: string[];
  /** Actions running now, each "type machine: reason". */
  running: string[];
  /** What the planner will not do now, and why. */
  holds: string[];
  halted?: string;
  lastFailure?: string;
}

const MINUTE = 60_000;
const LEASE_TTL_MS = 60_000;

class StepFailed extends Error {
  constructor(readonly step: string, message: string) {
    super(message);
  }
}

/** An action's start and end, for progress lines and metrics (`kind` is the action's type). */
export type ActionEvent = [phase: 'started' | 'done' | 'failed', description: string, durationMs: number, kind: ClusterAction['type']];

export class ClusterLifecycle extends EventEmitter<{ done: []; action: ActionEvent; progress: [message: string] }> {
  private kube?: KubeClient;
  private kubeconfigText?: string;
  private secrets?: ClusterSecrets;
  private running?: Promise<void>;
  private runningActions: ClusterAction[] = [];
  private readonly pins = new Map<string, NodeVersions>();
  private view: ApiView = { nodes: [] };
  private lastPlan?: ClusterPlan;
  private lastObservation?: ClusterObservation;
  /** Counts finished batches of actions, so a plan made before the last batch finished is not acted on. */
  private finished = 0;
  private plannedAt = -1;
  private lastFailure?: string;
  private failedAt = 0;
  private endpoint?: { address: string; vip?: ControlPlaneEndpoint };
  private platform: Platform = DEFAULT_PLATFORM;
  private readonly prepared = new Set<string>();
  /** The provider the versions in `prepared` were prepared by: a new one (settings changed) prepares them again. */
  private preparedBy?: Provider;
  private etcd?: { members: string[]; at: number };
  private desired = '';
  /** The API server's version when it last answered. */
  private apiVersion?: string;

  constructor(private readonly options: LifecycleOptions) {
    super();
  }

  /**
   * Makes everything the next round's specs need ready (packages of the versions in use,
   * the secrets, the endpoint), then observes and plans. Returns the plan.
   */
  async round(cluster: Cluster, provider: Provider, machines: Machine[], signal?: AbortSignal): Promise<ClusterPlan> {
    this.desired = kubeVersion(cluster.spec.kubernetes.version);
    this.platform = provider.kubernetes?.platform() ?? DEFAULT_PLATFORM;
    if (provider !== this.preparedBy) { this.prepared.clear(); this.preparedBy = provider; }
    await this.loadSecrets(cluster);
    const view = await readApi(this.kube, this.options.holder);
    // An API that does not answer (its server restarting in an upgrade, say) changes no fact:
    // the last nodes seen keep their versions, or every spec would flip to Git's version.
    this.view = view.api || !this.kube ? view : { ...this.view, api: undefined };
    if (view.api) this.apiVersion = kubeVersion(view.api.version);
    // An upgraded node's pin goes only once the API reports it at that version: a view read
    // while its upgrade ran must not hand it the old version again after the upgrade ended.
    for (const [machine, pin] of this.pins) {
      const node = this.view.nodes.find((n) => n.name === machine);
      if (pin.kubeadm === pin.kubelet && node?.kubeletVersion && kubeVersion(node.kubeletVersion) === pin.kubelet) this.pins.delete(machine);
    }
    for (const version of new Set([this.desired, ...this.view.nodes.filter((n) => n.kubeletVersion).map((n) => kubeVersion(n.kubeletVersion))])) {
      if (this.prepared.has(version) || !provider.kubernetes) continue;
      await provider.kubernetes.prepare(version, (message) => {
        this.options.logger.info({ version }, message);
        this.emit('progress', message);
      }, signal);
      this.prepared.add(version);
    }
    await this.resolveEndpoint(cluster, provider, machines);
    const etcdMembers = await this.etcdMembers(cluster, machines);
    const observation = observeCluster({
      cluster, machines, sessions: this.options.agents.sessions(cluster.metadata.name), view: this.view,
      initialized: Boolean(this.kube), ...(etcdMembers ? { etcdMembers } : {}),
      assignedVersion: (m) => this.versions(m).kubelet, now: this.options.clock.now(),
      // A failed remove or reboot is tried again after a pause, not in a tight loop.
      ...(this.failedAt ? { retryAfter: this.failedAt + MINUTE } : {}),
    });
    const plan = planCluster(cluster, observation);
    this.lastPlan = plan;
    this.lastObservation = observation;
    this.plannedAt = this.finished;
    return plan;
  }

  /**
   * Starts the plan's actions in the background unless earlier ones still run: the planner
   * said they may all start now (`herd plan` forecasts with the same plans). Creates are the
   * caller's (it runs them within the round).
   */
  start(cluster: Cluster, machines: Machine[], plan: ClusterPlan): void {
    // A plan made while earlier actions ran is stale once they finished: the next round plans again.
    if (this.running || !this.lastObservation || this.plannedAt !== this.finished) return;
    const observation = this.lastObservation;
    const chosen = plan.actions.filter((a) => a.type !== 'create');
    if (!chosen.length) return;
    this.runningActions = chosen;
    this.running = Promise.all(chosen.map((action) => this.execute(cluster, machines, observation, action)))
      .then(() => undefined)
      .finally(() => {
        this.finished++;
        this.running = undefined;
        this.runningActions = [];
        this.emit('done');
      });
  }

  /** The versions a machine's assignment installs now. */
  versions(machine: string): NodeVersions {
    return this.pins.get(machine) ?? same(assignedVersion(machine, this.view.nodes, this.apiVersion, this.desired));
  }

  /** What a node's spec needs beyond the OS: the endpoint, the platform (the pod network is the cluster's, from Git). */
  nodeContext(_machine: string): { endpoint?: ControlPlaneEndpoint; apiServerEndpoint?: string; platform: Platform } {
    return {
      ...(this.endpoint?.vip ? { endpoint: this.endpoint.vip } : {}),
      ...(this.endpoint ? { apiServerEndpoint: this.endpoint.address } : {}),
      platform: this.platform,
    };
  }

  get kubeconfig(): string | undefined {
    return this.kubeconfigText;
  }

  status(): KubernetesStatus {
    const describe = (a: ClusterAction) => `${a.type} ${'machine' in a ? a.machine : 'node' in a ? a.node : a.pool}: ${a.reason}`;
    const halted = this.view.halted;
    return {
      initialized: Boolean(this.kube),
      ...(this.endpoint ? { endpoint: this.endpoint.address } : {}),
      ...(this.view.api ? { apiVersion: this.view.api.version } : {}),
      nodes: this.view.nodes.map((n) => ({ name: n.name, ready: n.ready, version: n.kubeletVersion, unschedulable: n.unschedulable })),
      ...(this.etcd ? { etcdMembers: this.etcd.members } : {}),
      running: this.runningActions.map(describe),
      holds: (this.lastPlan?.holds ?? []).map((h) => (h.subject ? `${h.subject}: ${h.reason}` : h.reason)),
      ...(halted ? { halted: `${halted.action.type} of ${halted.action.machine} failed at ${halted.step}: ${halted.message}` } : {}),
      ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}),
    };
  }

  /** Waits for the actions in flight (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running;
  }

  private async loadSecrets(cluster: Cluster): Promise<void> {
    const secrets: ClusterSecrets = (await this.options.secrets.get(cluster.metadata.name)) ?? {};
    if (cluster.spec.controlPlane.replicas > 1 && !secrets.vrrpPassword) {
      secrets.vrrpPassword = newVrrpPassword();
      await this.options.secrets.put(cluster.metadata.name, secrets);
    }
    this.secrets = secrets;
    if (secrets.kubeconfig && secrets.kubeconfig !== this.kubeconfigText) {
      const config = parseKubeconfig(secrets.kubeconfig);
      this.kube = (this.options.kubeClient ?? ((c) => new KubeClient(c, { logger: this.options.logger })))(config);
      this.kubeconfigText = secrets.kubeconfig;
    }
  }

  /**
   * The API server's stable address: Git's controlPlaneEndpoint when given; with several
   * control planes a virtual IP the provider reserves (haproxy on 8443 in front of every API
   * server); with one, the first control plane's address. Once initialized, the kubeconfig's.
   */
  private async resolveEndpoint(cluster: Cluster, provider: Provider, machines: Machine[]): Promise<void> {
    const controlPlanes = machines.filter((m) => m.labels[LABEL.role] === 'control-plane')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
    const replicas = cluster.spec.controlPlane.replicas;
    let address = cluster.spec.kubernetes.controlPlaneEndpoint;
    let vip: ControlPlaneEndpoint | undefined;
    if (replicas > 1 && provider.kubernetes) {
      const ip = await provider.kubernetes.virtualAddress();
      address ??= `${ip}:8443`;
      vip = {
        vip: ip, port: 8443, apiServerPort: 6443, interface: provider.kubernetes.interface,
        routerId: 1 + (createHash('sha256').update(cluster.metadata.name).digest()[0]! % 254),
        controlPlanes: controlPlanes.map((m) => ({ name: m.name, address: m.addresses[0] ?? '' })),
        password: this.secrets?.vrrpPassword ?? '',
      };
    }
    if (this.kube) address = this.kubeEndpoint() ?? address;
    address ??= controlPlanes[0]?.addresses[0] ? `${controlPlanes[0].addresses[0]}:6443` : undefined;
    this.endpoint = address ? { address, ...(vip ? { vip } : {}) } : undefined;
  }

  private kubeEndpoint(): string | undefined {
    return this.kubeconfigText ? new URL(parseKubeconfig(this.kubeconfigText).server).host : undefined;
  }

  /**
   * etcd's members, asked of a Ready control plane's agent (at most every 15 s: an agent in
   * the middle of a converge round answers only after it); undefined when none answers.
   */
  private async etcdMembers(cluster: Cluster, machines: Machine[]): Promise<string[] | undefined> {
    if (!this.kube) return undefined;
    if (this.etcd && this.options.clock.now() - this.etcd.at < 15_000) return this.etcd.members;
    for (const node of this.view.nodes.filter((n) => n.ready && isControlPlane(n))) {
      if (!machines.some((m) => m.name === node.name)) continue;
      const outcome = await this.operate(cluster.metadata.name, node.name, 'etcd-members', {}).catch(() => undefined);
      if (!outcome?.ok) continue;
      const members = outcome.outputs.members.map((m) => m.name);
      this.etcd = { members, at: this.options.clock.now() };
      return members;
    }
    return this.etcd?.members;
  }

  private async execute(cluster: Cluster, machines: Machine[], observation: ClusterObservation, action: ClusterAction): Promise<void> {
    const log = this.options.logger.child({ action: action.type, ...('machine' in action ? { machine: action.machine } : {}) });
    log.info({ reason: action.reason }, `${action.type} starts`);
    const started = this.options.clock.now();
    const what = `${action.type} ${'machine' in action ? action.machine : 'node' in action ? action.node : ''}`.trim();
    this.emit('action', 'started', `${what} (${action.reason})`, 0, action.type);
    try {
      switch (action.type) {
        case 'create': return; // the reconciler creates machines within its round
        case 'init': await this.init(cluster, action.machine, machines); break;
        case 'join': await this.join(cluster, action.machine, action.role, machines); break;
        case 'uncordon': await this.kube?.uncordon(action.machine); break;
        case 'forget': await this.forget(cluster, action.node, action.role); break;
        default: await this.withLease(action, () => this.disrupt(cluster, action, observation));
      }
      log.info({ durationMs: this.options.clock.now() - started }, `${action.type} done`);
      this.emit('action', 'done', what, this.options.clock.now() - started, action.type);
      if (isDisruptive(action)) this.lastFailure = undefined;
    } catch (e) {
      const step = e instanceof StepFailed ? e.step : action.type;
      const message = (e as Error).message;
      log.error({ err: e, step }, `${action.type} failed`);
      this.lastFailure = `${action.type} ${'machine' in action ? action.machine : ''} failed at ${step}: ${message}`;
      if (isDisruptive(action)) this.failedAt = this.options.clock.now();
      this.emit('action', 'failed', `${what} at ${step}: ${message}`, this.options.clock.now() - started, action.type);
    }
  }

  private async init(cluster: Cluster, machine: string, machines: Machine[]): Promise<void> {
    const address = addressOf(machines, machine);
    if (!this.endpoint) throw new StepFailed('endpoint', 'no control-plane endpoint yet');
    const config = initConfiguration({ cluster: this.clusterConfig(cluster), node: { name: machine, address }, certificateKey: newCertificateKey(), platform: this.platform });
    const { kubeconfig } = await this.must(cluster.metadata.name, machine, 'kubeadm-init', { config }, 'kubeadm init');
    // Kept before anything else happens: without it the cluster could not be managed.
    await this.options.secrets.put(cluster.metadata.name, { ...this.secrets, kubeconfig });
    await this.loadSecrets(cluster);
  }

  /** What kubeadm's ClusterConfiguration says of this cluster. */
  private clusterConfig(cluster: Cluster): ClusterConfig {
    const { networking } = cluster.spec.kubernetes;
    return {
      name: cluster.metadata.name, version: this.apiVersion ?? this.desired, controlPlaneEndpoint: this.endpoint?.address ?? '',
      podSubnet: networking.podCIDR, serviceSubnet: networking.serviceCIDR, dnsDomain: networking.dnsDomain,
    };
  }

  private async join(cluster: Cluster, machine: string, role: 'control-plane' | 'worker', machines: Machine[]): Promise<void> {
    const kube = this.requireKube();
    const name = cluster.metadata.name;
    const token = await kube.createBootstrapToken({ ttlMs: 15 * MINUTE, description: `herd: join of ${machine}` });
    let controlPlane: { certificateKey: string } | undefined;
    if (role === 'control-plane') {
      // The control-plane certificates travel encrypted in the cluster (kubeadm-certs, 2 h), under a key made for this join.
      const certificateKey = newCertificateKey();
      const source = this.view.nodes.find((n) => n.ready && isControlPlane(n) && n.name !== machine);
      if (!source) throw new StepFailed('upload-certs', 'no Ready control plane to upload the certificates from');
      const config = initConfiguration({ cluster: this.clusterConfig(cluster), node: { name: source.name, address: addressOf(machines, source.name) }, certificateKey, platform: this.platform });
      await this.must(name, source.name, 'kubeadm-upload-certs', { config }, 'upload-certs');
      controlPlane = { certificateKey };
    }
    const config = joinConfiguration({
      node: { name: machine, address: addressOf(machines, machine) }, apiServerEndpoint: this.endpoint?.address ?? '',
      token, caCertHash: caCertHash(parseKubeconfig(this.kubeconfigText!).caPem), ...(controlPlane ? { controlPlane } : {}), platform: this.platform,
    });
    await this.must(name, machine, 'kubeadm-join', { config }, 'kubeadm join');
  }

  /** Upgrade, reboot or remove: cordon and drain first (when the node can still be drained), then the cause's own steps. */
  private async disrupt(cluster: Cluster, action: DisruptiveAction, observation: ClusterObservation): Promise<void> {
    const kube = this.kube;
    const member = observation.members.find((m) => m.machine === action.machine);
    if (kube && drainable(action, member, true)) {
      await this.step('cordon', () => kube.cordon(action.machine));
      const timeoutMs = parseDuration(cluster.spec.upgrade.drainTimeout) ?? 10 * MINUTE;
      await this.step('drain', () => kube.drain(action.machine, { timeoutMs }));
    }
    switch (action.type) {
      case 'upgrade': return this.upgrade(cluster, action);
      case 'reboot': return this.reboot(cluster, action.machine);
      case 'remove': return this.remove(cluster, action.machine, action.role, Boolean(member?.agent?.connected));
    }
  }

  private async upgrade(cluster: Cluster, action: Extract<DisruptiveAction, { type: 'upgrade' }>): Promise<void> {
    const name = cluster.metadata.name;
    const version = kubeVersion(action.version);
    const kube = this.requireKube();
    // kubeadm first; the kubelet only after `kubeadm upgrade`, so it is never newer than the API server.
    this.pins.set(action.machine, { kubeadm: version, kubelet: this.versions(action.machine).kubelet });
    await this.step('kubeadm package', () => this.converge(name, action.machine));
    const config = upgradeConfiguration({ version, node: action.machine, platform: this.platform });
    await this.must(name, action.machine, 'kubeadm-upgrade', { mode: action.mode, config }, `kubeadm upgrade ${action.mode}`);
    this.pins.set(action.machine, same(version));
    await this.step('kubelet package', () => this.converge(name, action.machine));
    await this.must(name, action.machine, 'restart-kubelet', {}, 'kubelet restart');
    await this.step('ready', () => this.until(`node ${action.machine} Ready at ${version}`, 10 * MINUTE, async () => {
      const node = await kube.node(action.machine);
      return Boolean(node?.ready && kubeVersion(node.kubeletVersion) === version);
    }));
    // The API healthy twice in a row before the next node (DESIGN §7).
    await this.step('api healthy', async () => {
      let streak = 0;
      await this.until('the API server healthy twice in a row', 5 * MINUTE, async () => {
        streak = (await kube.healthy().catch(() => false)) ? streak + 1 : 0;
        return streak >= 2;
      });
    });
    await this.step('uncordon', () => kube.uncordon(action.machine));
  }

  private async reboot(cluster: Cluster, machine: string): Promise<void> {
    const kube = this.requireKube();
    const name = cluster.metadata.name;
    const before = this.session(name, machine)?.connectedSince ?? '';
    await this.must(name, machine, 'reboot', {}, 'reboot');
    await this.step('back', () => this.until(`${machine} back after its reboot`, 15 * MINUTE, async () => {
      const session = this.session(name, machine);
      const node = await kube.node(machine);
      return Boolean(session?.connected && session.connectedSince !== before && !session.status?.rebootRequired && node?.ready);
    }));
    await this.step('uncordon', () => kube.uncordon(machine));
  }

  /** kubeadm reset, the etcd member (removed before the machine), the Node, the machine. */
  private async remove(cluster: Cluster, machine: string, role: 'control-plane' | 'worker', reachable: boolean): Promise<void> {
    const name = cluster.metadata.name;
    if (reachable) {
      await this.operate(name, machine, 'kubeadm-reset', {}).then(
        (o) => { if (!o.ok) this.options.logger.warn({ machine, message: o.message }, 'kubeadm reset failed; going on (the machine is deleted)'); },
        (e: unknown) => this.options.logger.warn({ machine, err: e }, 'kubeadm reset did not answer; going on'),
      );
    }
    if (this.kube) await this.forget(cluster, machine, role);
    await this.step('delete machine', () => this.options.deleteMachine(machine));
  }

  /** Removes a node from the cluster's records: its etcd member (control plane) and its Node. */
  private async forget(cluster: Cluster, node: string, role: 'control-plane' | 'worker'): Promise<void> {
    const kube = this.requireKube();
    if (role === 'control-plane') {
      const peer = this.view.nodes.find((n) => n.ready && isControlPlane(n) && n.name !== node);
      if (!peer) throw new StepFailed('etcd member', `no other Ready control plane to remove ${node}'s etcd member through`);
      await this.must(cluster.metadata.name, peer.name, 'etcd-member-remove', { name: node }, 'etcd member');
      this.etcd = undefined;
    }
    await this.step('delete node', () => kube.deleteNode(node));
  }

  /** Holds the cluster's lease for the whole action, recording it, renewed until done. */
  private async withLease(action: DisruptiveAction, fn: () => Promise<void>): Promise<void> {
    const kube = this.kube;
    if (!kube) return fn();
    const inProgress = JSON.stringify({ action, since: new Date(this.options.clock.now()).toISOString() });
    const take = () => kube.lease.acquire(LEASE.name, this.options.holder, LEASE_TTL_MS, { [LEASE.inProgress]: inProgress, ...this.haltedAnnotation() });
    if (!(await take())) throw new StepFailed('lease', 'another coordinator holds the cluster\'s lease');
    const renew = setInterval(() => { void take().catch((e: unknown) => this.options.logger.warn({ err: e }, 'cannot renew the lease')); }, LEASE_TTL_MS / 3);
    try {
      await fn();
    } catch (e) {
      // A failed upgrade stops the rollout until Git asks for another version; the node stays
      // cordoned. Recorded in the same write that ends the action, so no restart can lose it.
      if (action.type === 'upgrade') {
        const step = e instanceof StepFailed ? e.step : action.type;
        this.view = { ...this.view, halted: { action, step, message: (e as Error).message, version: this.desired } };
      }
      throw e;
    } finally {
      clearInterval(renew);
      // The action is over (done or halted): the lease no longer names it.
      await kube.lease.acquire(LEASE.name, this.options.holder, LEASE_TTL_MS, this.haltedAnnotation()).catch(() => false);
      this.view = { ...this.view };
      delete this.view.inProgress;
    }
  }

  private haltedAnnotation(): Record<string, string> {
    return this.view.halted && this.view.halted.version === this.desired ? { [LEASE.halted]: JSON.stringify(this.view.halted) } : {};
  }

  /** Assigns the machine's spec as it is now and waits until its agent converged it. */
  private async converge(cluster: string, machine: string): Promise<void> {
    const generation = this.options.assign(machine);
    await this.until(`${machine}'s agent to converge generation ${generation}`, 15 * MINUTE, async () => {
      const session = this.session(cluster, machine);
      return Number(session?.observedGeneration ?? 0) >= generation && agentConverged(session);
    });
  }

  private session(cluster: string, machine: string): NodeSession | undefined {
    return this.options.agents.sessions(cluster).find((s) => s.nodeName === machine);
  }

  /** An operation by its entry in OPERATIONS: arguments encoded, outputs decoded, waited for as long as the agent may run it. */
  private async operate<K extends OperationKind>(cluster: string, node: string, kind: K, args: OperationArgs<K>): Promise<TypedOutcome<K>> {
    const outcome = await this.options.agents.operate({ cluster, node }, { kind, args: encodeArgs(kind, args) }, { timeoutMs: operationDeadlineMs(kind) });
    return outcome.ok ? { ok: true, message: outcome.message, outputs: decodeOutputs(kind, outcome.outputs) } : { ok: false, message: outcome.message };
  }

  /** An operation that must succeed; its failure names the step. Returns its outputs. */
  private async must<K extends OperationKind>(cluster: string, node: string, kind: K, args: OperationArgs<K>, step: string): Promise<OperationOutputs<K>> {
    const outcome = await this.step(step, () => this.operate(cluster, node, kind, args));
    if (!outcome.ok) throw new StepFailed(step, outcome.message);
    return outcome.outputs;
  }

  private async step<T>(step: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof StepFailed) throw e;
      const message = e instanceof DrainBlockedError ? `drain blocked: ${e.message}` : (e as Error).message;
      throw new StepFailed(step, message);
    }
  }

  private async until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = this.options.clock.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (this.options.clock.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
      await this.options.clock.sleep(2000);
    }
  }

  private requireKube(): KubeClient {
    if (!this.kube) throw new StepFailed('credentials', 'the coordinator holds no admin credentials for this cluster');
    return this.kube;
  }
}

/**
 * The Kubernetes version a machine's assignment installs when no upgrade is under way on it:
 * its node's; for a new node the version the control plane runs, never newer (the skew policy).
 */
export function assignedVersion(machine: string, nodes: readonly KubeNode[], apiVersion: string | undefined, desired: string): string {
  const node = nodes.find((n) => n.name === machine && n.kubeletVersion);
  return node ? kubeVersion(node.kubeletVersion) : apiVersion ?? desired;
}

/**
 * The steps of an action in the order the executor runs them (disrupt, upgrade, reboot,
 * remove, forget above): what `herd plan` lists. `drained`: the node is cordoned and drained
 * first; `reachable`: a removed machine's agent answers (kubeadm reset).
 */
export function stepsOf(action: ClusterAction, drained: boolean, reachable: boolean): string[] {
  const drain = drained ? ['cordon', 'drain'] : [];
  const controlPlane = 'role' in action && action.role === 'control-plane';
  switch (action.type) {
    case 'create': return ['create machine', 'install agent'];
    case 'init': return ['kubeadm init'];
    case 'join': return [...(controlPlane ? ['upload-certs'] : []), 'kubeadm join'];
    case 'uncordon': return ['uncordon'];
    case 'forget': return [...(controlPlane ? ['etcd member'] : []), 'delete node'];
    case 'upgrade':
      return [...drain, 'kubeadm package', `kubeadm upgrade ${action.mode}`, 'kubelet package', 'kubelet restart', 'ready', 'api healthy', 'uncordon'];
    case 'reboot': return [...drain, 'reboot', 'back', 'uncordon'];
    case 'remove': return [...drain, ...(reachable ? ['kubeadm reset'] : []), ...(controlPlane ? ['etcd member'] : []), 'delete node', 'delete machine'];
  }
}

/** A node the executor drains before it disrupts it: one that exists, and is Ready unless it is being removed. */
export function drainable(action: DisruptiveAction, member: MemberObservation | undefined, hasApi: boolean): boolean {
  return Boolean(hasApi && member?.node && (member.node.ready || action.type !== 'remove'));
}

function same(version: string): NodeVersions {
  return { kubeadm: version, kubelet: version };
}

function addressOf(machines: Machine[], name: string): string {
  const address = machines.find((m) => m.name === name)?.addresses[0];
  if (!address) throw new StepFailed('address', `machine ${name} has no address`);
  return address;
}

