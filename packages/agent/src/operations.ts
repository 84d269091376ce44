// Runs the coordinator's one-shot operations: one at a time, never beside a converge round,
// each id at most once (results are persisted before they are sent).
import { decodeArgs, encodeOutputs, isOperationKind, type Operation__Output, type OperationKind, type OperationResult } from '@herd/proto';
import type { Clock, Logger } from '@herd/sys';
import { OPERATION_KINDS, operationBudget, type OperationDone, type OperationEnvironment, type OperationHandler, type OperationHandlers } from './operation-kinds.js';
import type { StoredOperationResult } from './state.js';

/** A FIFO lock: kubeadm must not race apt-get or the units step of a round. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier holder is done; gives up waiting (AbortError) when `signal` aborts. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    // Whoever comes next waits for the previous holder too, even if this one gives up early.
    this.tail = previous.then(() => mine);
    try {
      await abortable(previous, signal);
      return await fn();
    } finally {
      release();
    }
  }
}

function abortable(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => { signal.removeEventListener('abort', onAbort); resolve(); });
  });
}

/** Where results are kept (the agent's state directory). */
export interface OperationStore {
  operationResults(): Promise<StoredOperationResult[]>;
  saveOperationResults(results: readonly StoredOperationResult[]): Promise<void>;
}

export interface OperationRunnerOptions {
  env: OperationEnvironment;
  store: OperationStore;
  /** Shared with the converge loop. */
  lock: Mutex;
  logger: Logger;
  clock: Clock;
  /** A dry-run agent answers every operation ok=false and runs nothing. */
  dryRun?: boolean;
  /** Default OPERATION_KINDS. */
  kinds?: OperationHandlers;
  /** How many results are kept. Default 100. */
  keep?: number;
}

const SECRET_PATTERNS = [
  /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g, // PEM blocks (keys, certificates)
  /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g, // bootstrap tokens
  /\b[0-9a-f]{64}\b/g, // certificate keys
  /(?<![\w/.-])[A-Za-z0-9+/]{60,}={0,2}/g, // base64 blobs (kubeconfig data), not paths
];

/**
 * Removes secrets from a message meant for the coordinator and the logs: the operation's
 * own argument values, and anything shaped like a token, key or certificate (kubeadm prints
 * the join command with its token and certificate key on stdout).
 */
export function redactSecrets(text: string, args: Readonly<Record<string, string>>): string {
  let out = text;
  for (const value of Object.values(args)) {
    if (value.length >= 6) out = out.split(value).join('[redacted]');
  }
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]');
  return out;
}

type Send = (result: OperationResult) => Promise<unknown>;

export class OperationRunner {
  private results?: StoredOperationResult[];
  private readonly running = new Set<string>();
  private readonly kinds: OperationHandlers;

  constructor(private readonly options: OperationRunnerOptions) {
    this.kinds = options.kinds ?? OPERATION_KINDS;
  }

  /**
   * Answers an operation through `send`: from the stored result when this id ran before,
   * else by running it. An id arriving again while it runs is ignored (its result follows).
   * Never rejects.
   */
  async handle(operation: Operation__Output, send: Send): Promise<void> {
    const { id, kind } = operation;
    const { logger, lock } = this.options;
    if (this.running.has(id)) {
      logger.info({ id, kind }, 'operation already running; its result follows');
      return;
    }
    this.running.add(id);
    try {
      await lock.run(async () => {
        const { result, afterSent } = await this.resultOf(operation);
        await send(result);
        await afterSent?.();
      });
    } catch (error) {
      logger.error({ id, kind, err: redactSecrets(String((error as Error)?.message ?? error), operation.args) }, 'operation could not be answered');
    } finally {
      this.running.delete(id);
    }
  }

  private async resultOf(operation: Operation__Output): Promise<{ result: OperationResult; afterSent?: () => Promise<void> }> {
    const { id, kind } = operation;
    const { logger, clock } = this.options;
    const stored = (await this.load()).find((r) => r.id === id);
    if (stored) {
      logger.info({ id, kind, ok: stored.ok }, 'operation ran before: answering with the stored result');
      return { result: { id, ok: stored.ok, message: stored.message, outputs: stored.outputs } };
    }
    if (this.options.dryRun) return { result: { id, ok: false, message: `dry run: operation ${kind} not run`, outputs: {} } };
    const started = clock.now();
    logger.info({ id, kind }, 'operation started');
    const { ok, message, outputs, afterSent } = await this.run(operation);
    // Persisted before it is sent: a re-sent id finds it even if the agent dies right now.
    await this.save({ id, kind, ok, message, outputs, finished: new Date(clock.now()).toISOString() });
    const durationMs = clock.now() - started;
    if (ok) logger.info({ id, kind, ok, durationMs }, 'operation done');
    else logger.warn({ id, kind, ok, durationMs, reason: message }, 'operation failed');
    return { result: { id, ok, message, outputs }, afterSent };
  }

  private async run(operation: Operation__Output) {
    const { kind, args } = operation;
    if (!isOperationKind(kind)) return { ok: false, message: `unknown operation kind ${kind}`, outputs: {} };
    try {
      const { message, outputs, afterSent } = await this.runKind(kind, args);
      return { ok: true, message, outputs, afterSent };
    } catch (error) {
      // ExecError's message has the command and its stderr tail; secrets are cut out of it.
      return { ok: false, message: redactSecrets(`${kind} failed: ${(error as Error)?.message ?? String(error)}`, args), outputs: {} };
    }
  }

  /** Arguments decoded (an OperationArgumentError runs nothing), outputs encoded, by the kind's entry in OPERATIONS. */
  private async runKind<K extends OperationKind>(kind: K, wire: Readonly<Record<string, string>>): Promise<OperationDone<Record<string, string>>> {
    const handler = this.kinds[kind] as OperationHandler<K>;
    const { clock, logger, env } = this.options;
    const done = await handler(decodeArgs(kind, wire), { ...env, logger, clock, budget: operationBudget(kind, clock) });
    return { ...done, outputs: encodeOutputs(kind, done.outputs) };
  }

  private async load(): Promise<StoredOperationResult[]> {
    return (this.results ??= await this.options.store.operationResults());
  }

  private async save(result: StoredOperationResult): Promise<void> {
    const results = [...(await this.load()), result].slice(-(this.options.keep ?? 100));
    await this.options.store.saveOperationResults(results);
    this.results = results;
  }
}
