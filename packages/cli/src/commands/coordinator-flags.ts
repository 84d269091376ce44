import { resolve } from 'node:path';
import { directoryStore, type CoordinatorStore } from '@herd/coordinator';
import { parseHostPort, type HostPort } from '@herd/proto';
import { stateRefProblem } from '@herd/state-git';
import { nodeFileSystem, UsageError } from '@herd/sys';

/** `--coordinator HOST:PORT --state DIR`, shared by the commands that call the admin API. */
export const adminOptions = {
  coordinator: { type: 'string' },
  state: { type: 'string' },
} as const;

export function hostPortFlag(flag: string, value: unknown, usage: string, allowPortZero = false): HostPort {
  const parsed = typeof value === 'string' ? parseHostPort(value) : undefined;
  if (!parsed || (!allowPortZero && parsed.port === 0)) {
    throw new UsageError(`--${flag} ${value === undefined ? 'is required' : `must be HOST:PORT, got "${String(value)}"`}\nusage: ${usage}`);
  }
  return parsed;
}

export function stateFlag(value: unknown, usage: string): CoordinatorStore {
  if (typeof value !== 'string' || !value) throw new UsageError(`--state DIR is required\nusage: ${usage}`);
  return directoryStore(value, nodeFileSystem());
}

/** The coordinator's metrics address: loopback by default, as the agent's; `off` serves none. */
export const DEFAULT_COORDINATOR_METRICS = '127.0.0.1:9464';

/** `--metrics HOST:PORT|off`: where GET /metrics is served, or undefined for off. */
export function metricsFlag(value: unknown, usage: string): HostPort | undefined {
  if (value === 'off') return undefined;
  const parsed = typeof value === 'string' ? parseHostPort(value) : undefined;
  if (!parsed) throw new UsageError(`--metrics must be HOST:PORT or off, got "${String(value)}"\nusage: ${usage}`);
  return parsed;
}

/** The status page's address: loopback by default, beside the metrics (docs/status-page.md). */
export const DEFAULT_STATUS_PAGE = '127.0.0.1:9465';

/** `--status-page HOST:PORT|off`: where the read-only web page is served, or undefined for off. */
export function statusPageFlag(value: unknown, usage: string): HostPort | undefined {
  if (value === 'off') return undefined;
  const parsed = typeof value === 'string' ? parseHostPort(value) : undefined;
  if (!parsed) throw new UsageError(`--status-page must be HOST:PORT or off, got "${String(value)}"\nusage: ${usage}`);
  return parsed;
}

/** `--state-ref REF --age-identity FILE`: the state directory kept in Git (docs/operations.md, "State in Git"); off by default. */
export const stateRefOptions = {
  'state-ref': { type: 'string' },
  'age-identity': { type: 'string' },
} as const;

export const STATE_REF_USAGE = '[--state-ref refs/herd/state --age-identity FILE]';

export function stateRefFlags(values: Record<string, unknown>, usage: string): { ref: string; identityFile: string } | undefined {
  const ref = values['state-ref'];
  const identity = values['age-identity'];
  if (ref === undefined) {
    if (identity !== undefined) throw new UsageError(`--age-identity goes with --state-ref\nusage: ${usage}`);
    return undefined;
  }
  const problem = stateRefProblem(String(ref));
  if (problem) throw new UsageError(`--state-ref: ${problem}`);
  if (typeof identity !== 'string' || !identity) throw new UsageError(`--state-ref needs --age-identity FILE, the coordinator's age identity\nusage: ${usage}`);
  return { ref: String(ref), identityFile: resolve(identity) };
}
