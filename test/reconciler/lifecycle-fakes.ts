// What lies outside ClusterLifecycle, faked for its unit tests: the agents (sessions and
// one-shot operations), the Kubernetes API, and time. Each fake writes what it is asked to do
// into one shared log, so a test asserts the exact order of everything the executor did.
import { X509Certificate, createHash } from 'node:crypto';
import type { KubeNode, Lease } from '@herd/kube';
import { renderKubeconfig } from '@herd/kube';
import { createCA, issueClientCert } from '@herd/pki';
import type { NodeSession } from '@herd/proto';
import type { Clock } from '@herd/sys';
import type { AgentChannel, NodeVersions, OperationOutcome } from '@herd/reconciler';

/** An admin kubeconfig as `kubeadm init` writes it, signed by a real self-signed CA. */
export async function adminKubeconfig(server: string): Promise<{ text: string; caPem: string }> {
  const ca = await createCA('kubernetes');
  const admin = await issueClientCert(ca, { role: 'admin', name: 'kubernetes-admin' });
  const text = renderKubeconfig({ server, caPem: ca.certPem, ...admin }, { cluster: 'kubernetes', user: 'kubernetes-admin' });
  return { text, caPem: ca.certPem };
}

/** kubeadm's --discovery-token-ca-cert-hash, computed here independently of @herd/kube. */
export function caPin(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export function kubeNode(name: string, version: string, o: { ready?: boolean; readySince?: string } = {}): KubeNode {
  return {
    name, ready: o.ready ?? true, readySince: o.readySince ?? '2026-03-01T10:00:00Z', kubeletVersion: version,
    unschedulable: false, cordonedByHerd: false, addresses: [],
    labels: name.startsWith('cp') ? { 'node-role.kubernetes.io/control-plane': '' } : {},
  };
}

/** The annotations of a lease write, short: which action is in progress, which step halted. */
function describeAnnotations(annotations: Record<string, string>): string {
  const parts: string[] = [];
  const progress = annotations['herd.dev/in-progress'];
  if (progress) {
    const { action } = JSON.parse(progress) as { action: { type: string; machine: string } };
    parts.push(`in-progress=${action.type} ${action.machine}`);
  }
  const halted = annotations['herd.dev/halted'];
  if (halted) parts.push(`halted=${(JSON.parse(halted) as { step: string }).step}`);
  return ['lease.acquire', ...parts].join(' ');
}

/** The KubeClient methods the lifecycle calls, on nodes and a lease kept in memory. */
export class FakeKube {
  readonly nodeMap = new Map<string, KubeNode>();
  /** The cluster's lease (kube-system/herd-lifecycle): who holds it, until when, with what. */
  held?: { holder: string; expiresAt: number; annotations: Record<string, string> };
  /** Nodes whose kubelet restarts: NotReady when next asked, Ready after. */
  readonly restarting = new Set<string>();
  /** When set, drain waits for it (a drain that takes a while). */
  drainGate?: Promise<void>;
  readonly token = 'abcdef.0123456789abcdef';

  constructor(private readonly log: string[], private readonly clock: Clock, readonly apiVersion: () => string) {}

  async version(): Promise<string> { return this.apiVersion(); }
  async healthy(): Promise<boolean> { this.log.push('healthy'); return true; }
  async nodes(): Promise<KubeNode[]> { return [...this.nodeMap.values()].map((n) => ({ ...n })); }

  async node(name: string): Promise<KubeNode | undefined> {
    this.log.push(`node ${name}`);
    const node = this.nodeMap.get(name);
    if (!node) return undefined;
    const ready = !this.restarting.delete(name) && node.ready;
    return { ...node, ready };
  }

  async cordon(name: string): Promise<void> { this.log.push(`cordon ${name}`); this.set(name, { unschedulable: true, cordonedByHerd: true }); }
  async uncordon(name: string): Promise<void> { this.log.push(`uncordon ${name}`); this.set(name, { unschedulable: false, cordonedByHerd: false }); }
  async drain(name: string, o: { timeoutMs: number }): Promise<void> { this.log.push(`drain ${name} ${o.timeoutMs}`); await this.drainGate; }
  async deleteNode(name: string): Promise<void> { this.log.push(`deleteNode ${name}`); this.nodeMap.delete(name); }
  async createBootstrapToken(o: { ttlMs: number }): Promise<string> { this.log.push(`createBootstrapToken ${o.ttlMs}`); return this.token; }

  set(name: string, change: Partial<KubeNode>): void {
    const node = this.nodeMap.get(name);
    if (node) this.nodeMap.set(name, { ...node, ...change });
  }

  readonly lease = {
    get: async (name: string): Promise<Lease | undefined> => {
      const l = this.held;
      return l && { name, namespace: 'kube-system', holder: l.holder, ttlMs: 60_000, expiresAt: l.expiresAt, expired: l.expiresAt <= this.clock.now(), annotations: l.annotations, resourceVersion: '1' };
    },
    acquire: async (_name: string, holder: string, ttlMs: number, annotations: Record<string, string> = {}): Promise<boolean> => {
      const l = this.held;
      if (l && l.holder !== holder && l.expiresAt > this.clock.now()) { this.log.push('lease.acquire refused'); return false; }
      this.log.push(describeAnnotations(annotations));
      this.held = { holder, expiresAt: this.clock.now() + ttlMs, annotations };
      return true;
    },
  };
}

type Answer = (node: string, args: Record<string, string>) => Partial<OperationOutcome> | undefined;

/** The coordinator's agents: sessions the test controls, operations answered per kind. */
export class FakeAgents implements AgentChannel {
  readonly sessionMap = new Map<string, NodeSession>();
  readonly ops: { node: string; kind: string; args: Record<string, string>; timeoutMs: number }[] = [];
  /** The versions each machine's latest assignment installs. */
  readonly installed = new Map<string, NodeVersions>();
  readonly answers: Record<string, Answer> = {};

  constructor(private readonly log: string[]) {}

  /** A connected agent that converged its assignment (or, `gone`, one that lost its connection). */
  connect(node: string, state: 'converged' | 'gone' = 'converged'): void {
    this.sessionMap.set(node, {
      nodeName: node, connected: state === 'converged', unreachable: false, desiredGeneration: 1, observedGeneration: 1,
      status: { conditions: [{ type: 'Converged', status: 'True' }] },
    });
  }

  /** What `assign` does: a new generation, which the agent converges at once. */
  assigned(node: string, versions: NodeVersions): number {
    const session = this.sessionMap.get(node)!;
    const generation = Number(session.desiredGeneration) + 1;
    this.sessionMap.set(node, { ...session, desiredGeneration: generation, observedGeneration: generation });
    this.installed.set(node, versions);
    this.log.push(`assign ${node} kubeadm=${versions.kubeadm} kubelet=${versions.kubelet}`);
    return generation;
  }

  sessions(): NodeSession[] {
    return [...this.sessionMap.values()];
  }

  async operate(ref: { node: string }, op: { kind: string; args?: Record<string, string> }, options: { timeoutMs: number }): Promise<OperationOutcome> {
    const args = op.args ?? {};
    // etcd-members is asked in every round (observation), not as a step: it stays out of the log.
    if (op.kind !== 'etcd-members') {
      const short = Object.entries(args).filter(([, v]) => !v.includes('\n')).map(([k, v]) => ` ${k}=${v}`).join('');
      this.log.push(`op ${ref.node} ${op.kind}${short}`);
    }
    this.ops.push({ node: ref.node, kind: op.kind, args, timeoutMs: options.timeoutMs });
    const answer = this.answers[op.kind]?.(ref.node, args) ?? {};
    return { ok: true, message: '', outputs: {}, ...answer };
  }
}
