import { ExecError, type ExecOptions, type ExecResult, type FileSystem, type Logger } from '@herd/sys';
import type { NodeSpec__Output } from '@herd/proto';

/**
 * One thing a step manages and how it stands: `found` on the machine, `set` by the spec.
 * Both are short, comparable descriptions (a version, "enabled active", a content hash):
 * the engine treats an item whose `found` differs from `set` as a change, and reports
 * `found`/`set` as they are in drift entries and dry-run output.
 */
export interface Item {
  item: string;
  found: string;
  set: string;
}

/** Files the machine only reads through the step context: every write is a change. */
export type FileReader = Pick<FileSystem, 'read' | 'stat' | 'list'>;

/** What steps learn from each other within one round. */
export interface RoundState {
  /** Paths written (or that would be written, in dry run) this round: units restart on them. */
  changedPaths: Set<string>;
  /** An apt source or key changed this round: the package index must be refreshed. */
  aptSourcesChanged: boolean;
}

export interface StepContext {
  files: FileReader;
  /** Runs a command that only looks: it runs in dry run too. */
  inspect(command: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs a command that changes the machine; in dry run it is recorded instead. */
  execute(command: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Writes a file atomically (and remembers its path in `round.changedPaths`); recorded in dry run. */
  writeFile(path: string, content: string, options?: { mode?: number; uid?: number; gid?: number }): Promise<void>;
  /** Any other change (chmod, chown, remove): `fn` runs for real, or `what` is recorded in dry run. */
  change(what: string, fn: (fs: FileSystem) => Promise<void>): Promise<void>;
  /**
   * Something that could not be done but is not a failure (a module the kernel refuses to
   * load in a container). The item is then not counted as changed nor remembered as converged.
   */
  warn(item: string, message: string): void;
  round: RoundState;
  dryRun: boolean;
  logger: Logger;
}

/**
 * A step (k0sctl's phase, herd-sized): look at the machine, then change only what differs.
 * `observe` must not change anything; `apply` receives only the items that differ.
 */
export interface Step<I extends Item = Item> {
  /** The condition type this step reports, for example "Packages". */
  readonly name: string;
  /** Steps whose failure makes this one pointless: it is skipped with DependencyFailed. */
  readonly dependsOn?: readonly string[];
  observe(spec: NodeSpec__Output, ctx: StepContext): Promise<I[]>;
  apply(changes: I[], ctx: StepContext): Promise<void>;
}

/** A step that can find and repair a broken state left by an earlier, interrupted run. */
export interface Repairing {
  /** Returns what it repaired (for the condition's message), or undefined when nothing was broken. */
  repair(spec: NodeSpec__Output, ctx: StepContext): Promise<string | undefined>;
}

export function canRepair(step: Step): step is Step & Repairing {
  return typeof (step as Partial<Repairing>).repair === 'function';
}

/** A failure a step detected itself (not a failed command): a condition reason and a message. */
export class StepFailed extends Error {
  override readonly name = 'StepFailed';
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

/** Timeouts for the commands steps run: every command has one. */
export const TIMEOUTS = {
  /** Queries: dpkg-query, systemctl show, sysctl. */
  inspect: 30_000,
  /** Small changes: systemctl, sysctl -w, modprobe, apt-mark. */
  change: 120_000,
  /** Package transactions and index updates. */
  packages: 20 * 60_000,
} as const;

/** Condition reasons the engine sets (a step may add its own through StepFailed). */
export const Reason = {
  Converged: 'Converged',
  DriftCorrected: 'DriftCorrected',
  Applied: 'Applied',
  WouldChange: 'WouldChange',
  CommandFailed: 'CommandFailed',
  DependencyFailed: 'DependencyFailed',
  Failed: 'Failed',
  Aborted: 'Aborted',
} as const;

/** The condition reason for an error a step threw. */
export function reasonFor(error: unknown): string {
  if (error instanceof ExecError) return Reason.CommandFailed;
  if (error instanceof StepFailed) return error.reason;
  return Reason.Failed;
}
