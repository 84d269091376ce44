import type { StepContext } from './step.js';

/** One package as the package database has it. */
export interface InstalledPackage {
  name: string;
  /** Undefined when not installed (config files left behind count as not installed). */
  version: string | undefined;
  held: boolean;
  /** Set when a transaction stopped half-way (unpacked, half-configured...): the state's name. */
  broken: string | undefined;
}

export interface PackageRequest {
  name: string;
  version: string;
}

/**
 * What the packages step needs from apt (and later dnf). Queries run even in dry run;
 * changes go through the context, so dry run records them instead.
 */
export interface PackageManager {
  /** Every name in one query: a no-op round must stay cheap. */
  query(names: readonly string[], ctx: StepContext): Promise<Map<string, InstalledPackage>>;
  /** Describes a transaction that was interrupted (killed mid-install), or undefined. */
  interrupted(ctx: StepContext): Promise<string | undefined>;
  /** Finishes or rolls back an interrupted transaction. */
  recover(ctx: StepContext): Promise<void>;
  /** Installs exact versions; refreshes the package index first when it does not know one of them. */
  install(packages: readonly PackageRequest[], options: { allowDowngrade: boolean }, ctx: StepContext): Promise<void>;
  remove(names: readonly string[], ctx: StepContext): Promise<void>;
  setHeld(names: readonly string[], held: boolean, ctx: StepContext): Promise<void>;
}
