import type { Operation, OperationResult__Output } from '@herd/proto';
import type { Clock } from '@herd/sys';

/** A one-shot action for one agent. Kinds and their args: docs/agent-operations.md. */
export interface OperationRequest {
  kind: string;
  /** May hold secrets (join tokens, certificate keys): never logged. */
  args?: Record<string, string>;
  /**
   * Reuse the id of an operation sent before (by this or an earlier coordinator process):
   * the agent answers an id it already ran with the result it stored, without running it
   * again. A new uuid when absent.
   */
  id?: string;
}

export interface OperateOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface OperationOutcome {
  ok: boolean;
  message: string;
  /** Results such as the admin kubeconfig: secrets, never logged. */
  outputs: Record<string, string>;
}

/** No result came back in time. The agent may still run it: re-send the same id to learn how it ended. */
export class OperationTimeoutError extends Error {
  override readonly name = 'OperationTimeoutError';
  constructor(readonly node: string, readonly kind: string, readonly id: string, readonly timeoutMs: number) {
    super(`operation ${kind} (${id}) on node ${node} got no result within ${timeoutMs} ms`);
  }
}

/** One operation sent (or waiting to be) and not answered yet. */
export class PendingOperation {
  readonly started: number;
  readonly outcome: Promise<OperationOutcome>;
  private settle!: { resolve: (o: OperationOutcome) => void; reject: (e: unknown) => void };
  /** Stops the timeout wait once settled. */
  private readonly stopWaiting = new AbortController();

  constructor(readonly message: Operation & { id: string; kind: string }, clock: Clock) {
    this.started = clock.now();
    this.outcome = new Promise((resolve, reject) => { this.settle = { resolve, reject }; });
  }

  get id() { return this.message.id; }
  get kind() { return this.message.kind; }
  get waiting(): AbortSignal { return this.stopWaiting.signal; }

  answer(result: OperationResult__Output): void {
    this.stopWaiting.abort();
    this.settle.resolve({ ok: result.ok, message: result.message, outputs: { ...result.outputs } });
  }

  fail(error: unknown): void {
    this.stopWaiting.abort();
    this.settle.reject(error);
  }
}

/**
 * Resolves true when `ms` passed on the clock, false when `signal` aborted first. Sleeps
 * again until the clock really reached the deadline, so a test clock moved by hand decides.
 */
export async function deadlineReached(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  const end = clock.now() + ms;
  while (!signal.aborted && clock.now() < end) await clock.sleep(end - clock.now(), signal);
  return !signal.aborted;
}
