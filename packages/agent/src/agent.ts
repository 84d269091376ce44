import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import type { ConvergeEngine, RoundReport } from '@herd/converge';
import { COORDINATOR_CHANNEL_OPTIONS, formatHostPort, herdProto, PROTOCOL_VERSION } from '@herd/proto';
import type { AgentMessage, AgentSessionClient, CoordinatorMessage__Output, Facts, NodeStatus, Operation__Output } from '@herd/proto';
import { backoffDelay, type BackoffOptions, type Clock, type Logger } from '@herd/sys';
import type { AgentMetrics } from './metrics.js';
import { coordinatorAddress } from './coordinator-address.js';
import type { OperationEnvironment } from './operation-kinds.js';
import { Mutex, OperationRunner } from './operations.js';
import type { AgentState, Credentials, HeldAssignment } from './state.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  credentials: Credentials;
  state: AgentState;
  engine: ConvergeEngine;
  logger: Logger;
  clock: Clock;
  facts: () => Promise<Facts>;
  /** Converge rounds this often even without a new assignment (drift correction). Default 30 s. */
  intervalMs?: number;
  heartbeatMs?: number;
  dryRun?: boolean;
  backoff?: BackoffOptions;
  /** Overrides the coordinator address stored at enrollment. */
  coordinator?: string;
  /** Counts rounds, steps, drift and the stream for /metrics; none when not given. */
  metrics?: AgentMetrics;
  /** What operations (kubeadm, etcd, reboot) run with; without it every operation is refused. */
  operations?: OperationEnvironment;
}

/** How long the agent waits for the transport to take an operation's result before going on. */
const RESULT_SEND_WAIT_MS = 5_000;

/**
 * The agent's two loops: one keeps a stream to the coordinator open (reconnecting with
 * jittered backoff), one converges the held assignment on a timer and on every new
 * assignment. They share only the held assignment and the last status, so converging
 * goes on while the coordinator is away.
 */
export class Agent {
  private held?: HeldAssignment;
  private observedGeneration = 0;
  private lastStatus?: NodeStatus;
  private stream?: ClientDuplexStream<AgentMessage, CoordinatorMessage__Output>;
  private wake?: AbortController;
  private facts?: Promise<Facts>;
  /** Assignments are persisted one after the other, so an older one never overwrites a newer. */
  private saving: Promise<void> = Promise.resolve();
  /** Held by a converge round or an operation, never both: kubeadm must not race apt-get. */
  private readonly lock = new Mutex();
  private readonly runner?: OperationRunner;
  /** Operations received and not finished; a stop waits for them (a half-run kubeadm init is worse). */
  private readonly operating = new Set<Promise<void>>();
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;

  constructor(private readonly options: AgentOptions) {
    this.intervalMs = options.intervalMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    if (options.operations) {
      this.runner = new OperationRunner({
        env: options.operations, store: options.state, lock: this.lock, logger: options.logger, clock: options.clock, dryRun: options.dryRun,
      });
    }
  }

  /**
   * Runs until `signal` aborts; then lets the round in progress finish or abort (the engine
   * gets the signal), reports it, and only then closes the stream.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.held = await this.options.state.assignment();
    const connection = new AbortController();
    const connected = this.connectLoop(connection.signal);
    try {
      await this.convergeLoop(signal);
    } finally {
      connection.abort();
      await connected;
      // Results finished from now on are persisted and answered when the coordinator re-sends.
      await Promise.all(this.operating);
    }
  }

  /** Starts a round now (after the one in progress, if any). */
  private requestRound(): void {
    this.wake?.abort();
  }

  private async convergeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.wake = new AbortController();
      const wake = this.wake.signal;
      if (this.held) await this.round(this.held, signal);
      if (signal.aborted) break;
      if (!wake.aborted) await this.options.clock.sleep(this.intervalMs, AbortSignal.any([signal, wake]));
    }
  }

  private async round(held: HeldAssignment, signal: AbortSignal): Promise<void> {
    const { logger, dryRun = false } = this.options;
    let report: RoundReport;
    try {
      report = await this.lock.run(() => this.options.engine.round(held.spec, { dryRun, signal }), signal);
    } catch (error) {
      if (signal.aborted) return;
      logger.error({ err: error, generation: held.generation }, 'converge round failed');
      report = { conditions: [], drift: [], converged: false, changed: false, rebootRequired: false, error: (error as Error).message, durationMs: 0 };
    }
    // observedGeneration moves only when a real round converged everything.
    if (report.converged && !dryRun) this.observedGeneration = held.generation;
    this.lastStatus = {
      observedGeneration: this.observedGeneration,
      commit: report.converged && !dryRun ? held.spec.commit : (this.lastStatus?.commit ?? ''),
      conditions: report.conditions,
      driftCorrected: report.drift,
      lastError: report.error ?? '',
      rebootRequired: report.rebootRequired,
      lastRoundTime: new Date(this.options.clock.now()).toISOString(),
      dryRun,
      actions: report.actions ?? [],
    };
    this.options.metrics?.recordRound(report, this.observedGeneration, this.options.clock.now());
    logger.info({ generation: held.generation, converged: report.converged, changed: report.changed, durationMs: report.durationMs, dryRun }, 'round done');
    this.send({ status: this.lastStatus });
  }

  private send(message: AgentMessage): void {
    if (this.stream && !this.stream.writableEnded) this.stream.write(message);
  }

  private async connectLoop(signal: AbortSignal): Promise<void> {
    const { logger, clock } = this.options;
    let attempt = 0;
    while (!signal.aborted) {
      const outcome = await this.session(signal, () => { attempt = 0; });
      if (signal.aborted) break;
      const delay = backoffDelay(attempt++, this.options.backoff);
      logger.warn({ reason: outcome, retryInMs: delay }, 'not connected to the coordinator');
      await clock.sleep(delay, signal);
    }
  }

  /** One stream, from connect to its end; returns why it ended. */
  private async session(signal: AbortSignal, onHealthy: () => void): Promise<string> {
    const { credentials: creds, logger, clock } = this.options;
    const facts = await (this.facts ??= this.options.facts());
    const client: AgentSessionClient = new (herdProto().herd.v1.AgentSession)(
      formatHostPort(coordinatorAddress(this.options.coordinator ?? creds.coordinator)),
      credentials.createSsl(Buffer.from(creds.caPem), Buffer.from(creds.keyPem), Buffer.from(creds.certPem)),
      {
        ...COORDINATOR_CHANNEL_OPTIONS,
        'grpc.keepalive_time_ms': 60_000,
        'grpc.keepalive_timeout_ms': 20_000,
        // The channel owns its connection: closing it (each reconnect, and on stop) closes the
        // TCP connection instead of leaving it idle in grpc-js's process-wide pool.
        'grpc.use_local_subchannel_pool': 1,
      },
    );
    // Listeners go on synchronously: an early error must not find the stream without them.
    const stream = client.Connect();
    const ended = new Promise<string>((resolve) => {
      stream.on('data', (message: CoordinatorMessage__Output) => {
        if (message.assignment) this.receiveAssignment(message.assignment.generation, message.assignment.spec, message.assignment.epoch);
        else if (message.operation) this.operate(message.operation);
        else if (message.refusal) logger.error({ reason: message.refusal.reason }, `coordinator refused this agent: ${message.refusal.message}`);
      });
      stream.on('error', (error: Error & { details?: string }) => resolve(error.details ?? error.message));
      stream.on('end', () => resolve('coordinator closed the stream'));
    });
    this.stream = stream;
    stream.write({ hello: { protocolVersion: PROTOCOL_VERSION, agentVersion: AGENT_VERSION, nodeName: creds.node, facts, heldGeneration: this.held?.generation ?? 0, heldEpoch: this.held?.epoch ?? '' } });
    if (this.lastStatus) stream.write({ status: this.lastStatus });
    const stop = new AbortController();
    const stopHeartbeats = AbortSignal.any([signal, stop.signal]);
    const heartbeats = (async () => {
      while (!stopHeartbeats.aborted) {
        await clock.sleep(this.heartbeatMs, stopHeartbeats);
        if (stopHeartbeats.aborted) break;
        stream.write({ heartbeat: { observedGeneration: this.observedGeneration } });
        this.options.metrics?.setConnected(true);
        onHealthy();
      }
    })();
    const onAbort = () => stream.end();
    // The stop may have come while this stream was being set up.
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const reason = await ended;
    this.options.metrics?.setConnected(false);
    signal.removeEventListener('abort', onAbort);
    stop.abort();
    await heartbeats;
    this.stream = undefined;
    client.close();
    return reason;
  }

  private operate(operation: Operation__Output): void {
    const send = (result: AgentMessage['operationResult']) => this.sendAndWait({ operationResult: result });
    const done = this.runner
      ? this.runner.handle(operation, send)
      : send({ id: operation.id, ok: false, message: 'this agent runs no operations', outputs: {} }).then(() => {});
    this.operating.add(done);
    void done.finally(() => this.operating.delete(done));
  }

  /** Writes a message and waits (briefly) until the transport took it; resolves false when not connected. */
  private sendAndWait(message: AgentMessage): Promise<boolean> {
    const stream = this.stream;
    if (!stream || stream.writableEnded) return Promise.resolve(false);
    const giveUp = new AbortController();
    return Promise.race([
      new Promise<boolean>((resolve) => stream.write(message, () => { giveUp.abort(); resolve(true); })),
      this.options.clock.sleep(RESULT_SEND_WAIT_MS, giveUp.signal).then(() => false),
    ]);
  }

  private receiveAssignment(generation: number, spec: HeldAssignment['spec'] | null, epoch: string): void {
    this.saving = this.saving.then(() => this.hold(generation, spec, epoch)).catch((error: unknown) => {
      this.options.logger.error({ err: error, generation }, 'cannot persist the assignment');
    });
  }

  private async hold(generation: number, spec: HeldAssignment['spec'] | null, epoch: string): Promise<void> {
    if (!spec) return;
    if (!this.held || generation > this.held.generation) {
      const held = { generation, spec, epoch };
      // Held means on disk: the agent converges it after a restart even without a coordinator.
      await this.options.state.saveAssignment(held);
      this.held = held;
      this.options.logger.info({ generation, commit: spec.commit }, 'new assignment');
      this.requestRound();
    }
    this.send({ ack: { generation } });
  }
}
