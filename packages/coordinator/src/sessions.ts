import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock, Histogram, Logger, MetricsRegistry } from '@herd/sys';
import { PROTOCOL_VERSION } from '@herd/proto';
import type {
  AgentMessage__Output, CoordinatorMessage, Facts__Output, Hello__Output, NodeAssignment, NodeSession__Output,
  NodeSpec, NodeStatus__Output, Operation, OperationResult__Output,
} from '@herd/proto';
import { deadlineReached, OperationTimeoutError, PendingOperation, type OperateOptions, type OperationOutcome, type OperationRequest } from './operations.js';

/** A node as the coordinator addresses it. Node names are unique within a cluster. */
export interface NodeRef {
  cluster: string;
  node: string;
}

export const nodeKey = (ref: NodeRef) => `${ref.cluster}/${ref.node}`;

/**
 * Where a session's messages go (the gRPC stream, or a test's recorder). `done` runs when
 * the transport has taken the message, so the session sends one at a time and a stalled
 * stream holds at most one message in flight plus the newest pending assignment.
 */
export interface SessionSink {
  write(message: CoordinatorMessage, done: () => void): void;
}

/** Why a stream was refused (protocol version, identity mismatch, protocol violation). */
export class SessionRefused extends Error {
  override readonly name = 'SessionRefused';
  constructor(readonly reason: 'unsupported-protocol' | 'identity-mismatch' | 'protocol-violation' | 'generation-out-of-range', message: string) {
    super(message);
  }
}

interface NodeRecord extends NodeRef {
  /** The last generation issued to this node; assignments only ever go up. */
  generation: number;
  desired?: NodeAssignment & { generation: number };
  /** When the desired assignment was made, until the agent acknowledges it (for the fan-out latency). */
  assignedAt?: number;
  ackedGeneration: number;
  observedGeneration: number;
  session?: Session;
  connectedSince?: number;
  /** Last message of any kind from the agent. */
  lastSeen?: number;
  agentVersion: string;
  facts?: Facts__Output;
  status?: NodeStatus__Output;
  /** Operations sent (or to send) and not answered, by id, in the order they were made. */
  operations: Map<string, PendingOperation>;
}

/**
 * One stream's outbox: one message in flight at a time. Assignments replace each other
 * (only the newest matters) and go first; operations queue behind in order and are never
 * replaced, so neither kind can push the other out.
 */
class Session {
  private pending?: NodeAssignment;
  private readonly operations: Operation[] = [];
  private inFlight = false;

  constructor(readonly sink: SessionSink) {}

  /** Queues an assignment, replacing any not yet sent: only the newest matters. */
  offer(assignment: NodeAssignment): void {
    this.pending = assignment;
    this.flush();
  }

  /** Queues an operation behind those not yet sent. */
  send(operation: Operation): void {
    this.operations.push(operation);
    this.flush();
  }

  /** Drops an operation not yet sent (it was answered, timed out or aborted meanwhile). */
  withdraw(id: string): void {
    const index = this.operations.findIndex((o) => o.id === id);
    if (index >= 0) this.operations.splice(index, 1);
  }

  private next(): CoordinatorMessage | undefined {
    if (this.pending) {
      const assignment = this.pending;
      this.pending = undefined;
      return { assignment };
    }
    const operation = this.operations.shift();
    return operation && { operation };
  }

  private flush(): void {
    if (this.inFlight) return;
    const message = this.next();
    if (!message) return;
    this.inFlight = true;
    this.sink.write(message, () => {
      this.inFlight = false;
      this.flush();
    });
  }
}

/** Refuses an agent that speaks another protocol version (on Enroll and on Hello). */
export function checkProtocolVersion(version: number): void {
  if (version !== PROTOCOL_VERSION) {
    throw new SessionRefused('unsupported-protocol', `agent speaks protocol version ${version}; this coordinator speaks ${PROTOCOL_VERSION}`);
  }
}

/**
 * The largest generation taken from an agent that held its assignment from an earlier
 * coordinator (one this process cannot check): beyond it a JavaScript number loses integers.
 */
export const MAX_GENERATION = Number.MAX_SAFE_INTEGER;

/** An agent claimed a generation it was never assigned: refused, never stored. */
function claimed(what: string, generation: number, assigned: number): SessionRefused {
  return new SessionRefused('generation-out-of-range', `${what} ${generation} is above the generation ${assigned} this node was assigned`);
}

/** What a stream handler holds after a successful Hello. */
export interface SessionHandle {
  receive(message: AgentMessage__Output): void;
  /** The stream ended (any reason). Safe to call more than once. */
  close(reason: string): void;
}

export interface SessionRegistryOptions {
  clock: Clock;
  logger: Logger;
  /** A node not heard from for this long is reported unreachable. */
  heartbeatTimeoutMs: number;
  /** Where agents connected and the assignment fan-out latency are counted (docs/metrics.md). */
  metrics?: MetricsRegistry;
}

/** From a few milliseconds on loopback to minutes for an agent that was away when assigned. */
const FANOUT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface SessionEvents {
  hello: [NodeRef, Hello__Output];
  status: [NodeRef, NodeStatus__Output];
  ack: [NodeRef, number];
  disconnect: [NodeRef, string];
}

/**
 * Every node the coordinator knows: its session if connected, what it was assigned and
 * what it reports. Transport-free, so the rules are tested without sockets.
 */
export class SessionRegistry extends EventEmitter<SessionEvents> {
  private readonly nodes = new Map<string, NodeRecord>();
  /** This coordinator process's epoch, carried by every assignment it issues. */
  readonly epoch = randomUUID();
  private readonly fanout?: Histogram;

  constructor(private readonly options: SessionRegistryOptions) {
    super();
    const { metrics } = options;
    metrics?.gauge('herd_agents_connected', 'Agents holding a stream to this coordinator, by cluster.', ['cluster'], (gauge) => {
      const byCluster = new Map<string, number>();
      for (const r of this.nodes.values()) byCluster.set(r.cluster, (byCluster.get(r.cluster) ?? 0) + (r.session ? 1 : 0));
      for (const [cluster, n] of byCluster) gauge.set({ cluster }, n);
    });
    this.fanout = metrics?.histogram('herd_assignment_fanout_seconds',
      'Time from an assignment being made to its agent acknowledging it (sent, held on disk), disconnected time included.', FANOUT_BUCKETS);
  }

  private record(ref: NodeRef): NodeRecord {
    const key = nodeKey(ref);
    let record = this.nodes.get(key);
    if (!record) {
      record = { cluster: ref.cluster, node: ref.node, generation: 0, ackedGeneration: 0, observedGeneration: 0, agentVersion: '', operations: new Map() };
      this.nodes.set(key, record);
    }
    return record;
  }

  /**
   * Starts a session for the node named by the caller's certificate. The Hello's own
   * claims are checked against that identity, never trusted instead of it.
   */
  open(identity: NodeRef, hello: Hello__Output, sink: SessionSink): SessionHandle {
    checkProtocolVersion(hello.protocolVersion);
    if (hello.nodeName !== identity.node) {
      throw new SessionRefused('identity-mismatch',
        `the certificate is for node ${identity.node} but the agent says it is "${hello.nodeName}"`);
    }
    const earlier = hello.heldEpoch !== this.epoch;
    const known = this.nodes.get(nodeKey(identity))?.generation ?? 0;
    if (!earlier && hello.heldGeneration > known) throw claimed('held generation', hello.heldGeneration, known);
    if (hello.heldGeneration > MAX_GENERATION) throw claimed('held generation', hello.heldGeneration, MAX_GENERATION);
    const record = this.record(identity);
    if (record.session) this.options.logger.info({ node: nodeKey(identity) }, 'agent reconnected; replacing its previous stream');
    const session = new Session(sink);
    const now = this.options.clock.now();
    Object.assign(record, {
      session, connectedSince: now, lastSeen: now, agentVersion: hello.agentVersion, facts: hello.facts ?? undefined,
    });
    // Generations never go backwards for an agent: continue above what it holds. What it holds
    // from an earlier coordinator (another epoch) may carry the same number as our assignment
    // for another spec, so ours is renumbered above it and sent, never taken as already held.
    if (hello.heldGeneration > record.generation || (earlier && record.desired && hello.heldGeneration >= record.desired.generation)) {
      record.generation = Math.max(record.generation, hello.heldGeneration);
      if (earlier) record.ackedGeneration = Math.max(record.ackedGeneration, hello.heldGeneration);
      if (record.desired) record.desired = { ...record.desired, generation: ++record.generation };
    }
    if (record.desired && record.desired.generation > hello.heldGeneration) session.offer(record.desired);
    // Unanswered operations go again: the agent runs an id once and answers repeats from its store.
    for (const pending of record.operations.values()) session.send(pending.message);
    this.options.logger.info({ node: nodeKey(identity), agentVersion: hello.agentVersion, heldGeneration: hello.heldGeneration }, 'agent connected');
    this.emit('hello', identity, hello);

    let closed = false;
    return {
      receive: (message) => {
        if (closed) return;
        record.lastSeen = this.options.clock.now();
        switch (message.body) {
          case 'heartbeat':
            if (message.heartbeat!.observedGeneration > record.generation) {
              throw claimed('observed generation', message.heartbeat!.observedGeneration, record.generation);
            }
            record.observedGeneration = Math.max(record.observedGeneration, message.heartbeat!.observedGeneration);
            break;
          case 'ack':
            if (message.ack!.generation > record.generation) throw claimed('acknowledged generation', message.ack!.generation, record.generation);
            record.ackedGeneration = Math.max(record.ackedGeneration, message.ack!.generation);
            if (record.assignedAt !== undefined && record.desired && message.ack!.generation >= record.desired.generation) {
              this.fanout?.observe(undefined, (this.options.clock.now() - record.assignedAt) / 1000);
              record.assignedAt = undefined;
            }
            this.emit('ack', identity, message.ack!.generation);
            break;
          case 'status':
            if (message.status!.observedGeneration > record.generation) {
              throw claimed('observed generation', message.status!.observedGeneration, record.generation);
            }
            record.status = message.status!;
            record.observedGeneration = Math.max(record.observedGeneration, message.status!.observedGeneration);
            this.emit('status', identity, message.status!);
            break;
          case 'operationResult':
            this.answer(record, message.operationResult!);
            break;
          default:
            throw new SessionRefused('protocol-violation', `unexpected message "${message.body ?? 'empty'}" after hello`);
        }
      },
      close: (reason) => {
        if (closed) return;
        closed = true;
        if (record.session === session) {
          record.session = undefined;
          record.connectedSince = undefined;
        }
        this.options.logger.info({ node: nodeKey(identity), reason }, 'agent disconnected');
        this.emit('disconnect', identity, reason);
      },
    };
  }

  /**
   * Gives a node a new desired spec and returns its generation. Sent at once if the node
   * is connected, on its next Hello otherwise; never waits for the agent.
   */
  assign(ref: NodeRef, spec: NodeSpec): number {
    const record = this.record(ref);
    const assignment = { generation: ++record.generation, spec, epoch: this.epoch };
    record.desired = assignment;
    // Only the newest assignment is measured: one it replaced before the ack was never delivered as such.
    record.assignedAt = this.options.clock.now();
    record.session?.offer(assignment);
    return assignment.generation;
  }

  /**
   * Sends a one-shot operation to a node (now if connected, else on its next Hello; again
   * after every reconnect until answered) and resolves with the agent's result. Rejects with
   * OperationTimeoutError after `timeoutMs`, or with the signal's reason when it aborts.
   * Args and outputs carry secrets and are never logged.
   */
  operate(ref: NodeRef, request: OperationRequest, options: OperateOptions): Promise<OperationOutcome> {
    const record = this.record(ref);
    const { logger, clock } = this.options;
    const id = request.id ?? randomUUID();
    if (record.operations.has(id)) return Promise.reject(new Error(`operation ${id} is already pending on node ${nodeKey(ref)}`));
    const pending = new PendingOperation({ id, kind: request.kind, args: request.args ?? {} }, clock);
    const log = { node: nodeKey(ref), id, kind: request.kind };
    const forget = () => {
      record.operations.delete(id);
      record.session?.withdraw(id);
    };
    record.operations.set(id, pending);
    const { signal } = options;
    const abort = () => {
      forget();
      logger.warn(log, 'operation abandoned');
      pending.fail(signal!.reason);
    };
    if (signal?.aborted) abort();
    else {
      signal?.addEventListener('abort', abort, { once: true });
      void deadlineReached(clock, options.timeoutMs, pending.waiting).then((reached) => {
        if (!reached) return;
        forget();
        logger.warn({ ...log, timeoutMs: options.timeoutMs }, 'operation timed out');
        pending.fail(new OperationTimeoutError(nodeKey(ref), request.kind, id, options.timeoutMs));
      });
      void pending.outcome.catch(() => {}).finally(() => signal?.removeEventListener('abort', abort));
      logger.info({ ...log, connected: Boolean(record.session) }, 'operation requested');
      record.session?.send(pending.message);
    }
    return pending.outcome;
  }

  private answer(record: NodeRecord, result: OperationResult__Output): void {
    const pending = record.operations.get(result.id);
    const log = { node: nodeKey(record), id: result.id };
    if (!pending) {
      this.options.logger.warn(log, 'result for an operation not pending here ignored');
      return;
    }
    record.operations.delete(result.id);
    this.options.logger.info({ ...log, kind: pending.kind, ok: result.ok, durationMs: this.options.clock.now() - pending.started }, 'operation done');
    pending.answer(result);
  }

  /** The generation a node last acknowledged holding. */
  ackedGeneration(ref: NodeRef): number {
    return this.nodes.get(nodeKey(ref))?.ackedGeneration ?? 0;
  }

  isConnected(ref: NodeRef): boolean {
    return Boolean(this.nodes.get(nodeKey(ref))?.session);
  }

  /** Every known node, sorted by cluster and name; unreachable is computed from the clock now. */
  sessions(cluster?: string): NodeSession__Output[] {
    const now = this.options.clock.now();
    const iso = (t?: number) => (t === undefined ? '' : new Date(t).toISOString());
    return [...this.nodes.values()]
      .filter((r) => !cluster || r.cluster === cluster)
      .sort((a, b) => nodeKey(a).localeCompare(nodeKey(b)))
      .map((r) => ({
        nodeName: r.node,
        cluster: r.cluster,
        connected: Boolean(r.session),
        unreachable: r.lastSeen === undefined || now - r.lastSeen > this.options.heartbeatTimeoutMs,
        connectedSince: iso(r.connectedSince),
        lastHeartbeat: iso(r.lastSeen),
        desiredGeneration: r.desired?.generation ?? 0,
        observedGeneration: r.observedGeneration,
        agentVersion: r.agentVersion,
        status: r.status ?? null,
        addresses: r.facts?.addresses ?? [],
        // Filled in by the server from its IdentityRegistry.
        identityGeneration: 0,
        identityReplacedAt: '',
      }));
  }
}
