/**
 * A request the Kubernetes API refused (status and reason from its Status object), or one
 * that never got an answer (status 0: reason `Timeout` or `Unreachable`).
 */
export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
    /** The Status object's details.causes messages, when the API gave any. */
    readonly causes: string[] = [],
  ) {
    super(message);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeError && e.status === 404;
}

export function isConflict(e: unknown): boolean {
  return e instanceof KubeError && e.status === 409;
}

/** A PodDisruptionBudget can never allow evicting a pod on the node: waiting would not help. */
export class DrainBlockedError extends Error {
  override name = 'DrainBlockedError';
  constructor(
    readonly node: string,
    /** namespace/name of the budget. */
    readonly budget: string,
    /** namespace/name of the pods it protects on the node. */
    readonly pods: string[],
    why: string,
  ) {
    super(`cannot drain node ${node}: PodDisruptionBudget ${budget} ${why} (protects ${pods.join(', ')})`);
  }
}

/** The drain's time ran out; `pods` (namespace/name) were still on the node. */
export class DrainTimeoutError extends Error {
  override name = 'DrainTimeoutError';
  constructor(
    readonly node: string,
    readonly pods: string[],
    timeoutMs: number,
    /** The last refusal seen for each pod still there, when eviction was refused. */
    readonly refusals: string[] = [],
  ) {
    super(
      `draining node ${node} timed out after ${timeoutMs} ms; still there: ${pods.join(', ')}` +
        (refusals.length ? `; last refusals: ${refusals.join('; ')}` : ''),
    );
  }
}
