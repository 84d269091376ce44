import { setTimeout as delay } from 'node:timers/promises';

/** Time, injected: timeouts and backoff are tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    try { await delay(ms, undefined, { signal }); } catch (e) { if (!signal?.aborted) throw e; }
  },
};
