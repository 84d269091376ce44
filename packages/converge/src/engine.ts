import type { Condition, Drift, NodeSpec__Output } from '@herd/proto';

/** What one converge round found and did. The agent turns it into a NodeStatus. */
export interface RoundReport {
  /** One condition per step, in step order (Cluster API style: type, status, reason, message). */
  conditions: Condition[];
  /** Corrections made because the machine had moved away from the spec. */
  drift: Drift[];
  /** True when every step ended ok or changed (nothing failed, nothing skipped). */
  converged: boolean;
  /** True when anything on the machine was changed (always false in dry run). */
  changed: boolean;
  rebootRequired: boolean;
  /** The first failure, for NodeStatus.last_error. */
  error?: string;
  durationMs: number;
}

export interface RoundOptions {
  /** Observe and report what would change; change nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** The agent's view of the converge engine: one round brings the machine towards `spec`. */
export interface ConvergeEngine {
  round(spec: NodeSpec__Output, options?: RoundOptions): Promise<RoundReport>;
}
