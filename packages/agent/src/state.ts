import { join } from 'node:path';
import type { FileSystem } from '@herd/sys';
import type { NodeSpec__Output } from '@herd/proto';

/** What enrollment gives an agent, kept in its state directory. */
export interface Credentials {
  node: string;
  cluster: string;
  /** HOST:PORT of the coordinator it enrolled with. */
  coordinator: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface HeldAssignment {
  generation: number;
  spec: NodeSpec__Output;
  /** The epoch of the coordinator that issued it (empty in files written before epochs). */
  epoch?: string;
}

/** An operation's result as the agent keeps it, so a re-sent id is answered without running again. */
export interface StoredOperationResult {
  id: string;
  kind: string;
  ok: boolean;
  message: string;
  /** May hold secrets (the admin kubeconfig): the file is 0600 like the node's key. */
  outputs: Record<string, string>;
  /** ISO time the operation ended. */
  finished: string;
}

/** File names in the agent's state directory (documented in docs/protocol.md). */
export const AGENT_FILES = {
  identity: 'agent.json', caCert: 'ca.crt', cert: 'node.crt', key: 'node.key', assignment: 'assignment.json',
  operations: 'operations.json',
} as const;

/**
 * The agent's state directory: credentials written once at enrollment, the last
 * assignment rewritten (atomically) whenever a newer one arrives. Everything 0600.
 */
export class AgentState {
  constructor(private readonly fs: FileSystem, readonly dir: string) {}

  private path(name: string) {
    return join(this.dir, name);
  }

  private write(name: string, content: string) {
    return this.fs.writeAtomic(this.path(name), content, { mode: 0o600 });
  }

  async credentials(): Promise<Credentials | undefined> {
    const [identity, caPem, certPem, keyPem] = await Promise.all(
      [AGENT_FILES.identity, AGENT_FILES.caCert, AGENT_FILES.cert, AGENT_FILES.key].map((f) => this.fs.read(this.path(f))),
    );
    if (!identity || !caPem || !certPem || !keyPem) return undefined;
    const { node, cluster, coordinator } = JSON.parse(identity) as Pick<Credentials, 'node' | 'cluster' | 'coordinator'>;
    return { node, cluster, coordinator, caPem, certPem, keyPem };
  }

  async saveCredentials(c: Credentials): Promise<void> {
    await this.fs.mkdirp(this.dir, 0o700);
    await this.write(AGENT_FILES.key, c.keyPem);
    await this.write(AGENT_FILES.cert, c.certPem);
    await this.write(AGENT_FILES.caCert, c.caPem);
    // Written last: its presence means the others are complete.
    await this.write(AGENT_FILES.identity, JSON.stringify({ node: c.node, cluster: c.cluster, coordinator: c.coordinator }, null, 2) + '\n');
  }

  async assignment(): Promise<HeldAssignment | undefined> {
    const text = await this.fs.read(this.path(AGENT_FILES.assignment));
    return text ? (JSON.parse(text) as HeldAssignment) : undefined;
  }

  async saveAssignment(a: HeldAssignment): Promise<void> {
    await this.write(AGENT_FILES.assignment, JSON.stringify(a, null, 2) + '\n');
  }

  /** The last operation results, oldest first. */
  async operationResults(): Promise<StoredOperationResult[]> {
    const text = await this.fs.read(this.path(AGENT_FILES.operations));
    return text ? (JSON.parse(text) as { results: StoredOperationResult[] }).results : [];
  }

  async saveOperationResults(results: readonly StoredOperationResult[]): Promise<void> {
    await this.write(AGENT_FILES.operations, JSON.stringify({ results }, null, 2) + '\n');
  }
}
