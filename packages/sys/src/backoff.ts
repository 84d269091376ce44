/**
 * Retry delays: exponential from `initialMs` to `maxMs`, each drawn from its upper half (equal
 * jitter), so a fleet that lost its coordinator does not return in lockstep. `random: () => 1`
 * gives the cap itself, for a single retrier that needs no jitter.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Injected for tests; Math.random otherwise. */
  random?: () => number;
}

export function backoffDelay(attempt: number, { initialMs = 500, maxMs = 60_000, random = Math.random }: BackoffOptions = {}): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}
