import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createExecutor, silentLogger, type Executor, type Logger } from '@herd/sys';
import { NetworkExhaustedError } from './errors.js';
import { lockHolder, tryLock, unlock } from './lock.js';
import { registerTeardown } from './cleanup.js';
import { checkHost } from './host.js';

/**
 * herd's local networks are 10.213.N.0/24, N = 1..254, one per bridge `herd-brN`; the
 * host holds 10.213.N.1, machines take the addresses after it. 10.213/16 is private
 * (RFC 1918) and rarely used by Docker, libvirt or VPNs.
 */
export const NETWORK_PREFIX = '10.213';
export const PREFIX_LENGTH = 24;

export function defaultRunDir(): string {
  return process.env.HERD_RUN_DIR || '/run/herd';
}

export interface BridgeOptions {
  /** A fixed network index (1..254); by default the first one no live process holds. */
  index?: number;
  exec?: Executor;
  logger?: Logger;
  /** Where network locks live; defaults to $HERD_RUN_DIR or /run/herd. */
  runDir?: string;
}

/**
 * A Linux bridge only machines and the host sit on. No NAT, no forwarding, no default
 * route in the machines: what they reach is the bridge.
 */
export class Bridge {
  private unregister: () => void = () => {};

  private constructor(
    readonly index: number,
    private readonly exec: Executor,
    private readonly lock: string,
  ) {}

  get name(): string { return `herd-br${this.index}`; }
  get hostAddress(): string { return this.address(1); }
  /** The address of host number `n` on this network (1 is the host). */
  address(n: number): string {
    if (!Number.isInteger(n) || n < 1 || n > 254) throw new RangeError(`host number ${n} is outside 1..254`);
    return `${NETWORK_PREFIX}.${this.index}.${n}`;
  }

  /**
   * A bridge that outlives this process (a `local` cluster's network), held by `holder`:
   * its index comes from `index` when given (the one recorded for the cluster), else the
   * first free one. Finds the bridge when it exists already; release() deletes it.
   */
  static async persistent(holder: string, options: BridgeOptions = {}): Promise<Bridge> {
    checkHost(['ip']);
    const exec = options.exec ?? createExecutor({ logger: options.logger ?? silentLogger() });
    const locks = join(options.runDir ?? defaultRunDir(), 'networks');
    const mine = `persistent ${holder}`;
    const candidates = options.index ? [options.index] : Array.from({ length: 254 }, (_, i) => i + 1);
    for (const index of candidates) {
      const lock = join(locks, String(index));
      if (lockHolder(lock) !== mine && !tryLock(lock, holder)) continue;
      const bridge = new Bridge(index, exec, lock);
      const exists = (await exec.run('ip', ['link', 'show', bridge.name], { allowFailure: true })).exitCode === 0;
      if (!exists) {
        try {
          await exec.run('ip', ['link', 'add', bridge.name, 'type', 'bridge']);
          await exec.run('ip', ['addr', 'add', `${bridge.hostAddress}/${PREFIX_LENGTH}`, 'dev', bridge.name]);
          await exec.run('ip', ['link', 'set', bridge.name, 'up']);
        } catch (e) {
          await bridge.release();
          throw e;
        }
      }
      return bridge;
    }
    throw new NetworkExhaustedError(options.index ? `network ${options.index} is held by someone else` : 'all herd networks 1..254 are in use');
  }

  /** Deletes a persistent bridge and frees its index. */
  async release(): Promise<void> {
    await this.destroy();
  }

  /** Takes a free network index (locked against other processes) and creates its bridge. */
  static async create(options: BridgeOptions = {}): Promise<Bridge> {
    checkHost(['ip']);
    const exec = options.exec ?? createExecutor({ logger: options.logger ?? silentLogger() });
    const locks = join(options.runDir ?? defaultRunDir(), 'networks');
    const candidates = options.index ? [options.index] : Array.from({ length: 254 }, (_, i) => i + 1);
    for (const index of candidates) {
      const lock = join(locks, String(index));
      if (!tryLock(lock)) continue;
      const bridge = new Bridge(index, exec, lock);
      try {
        await bridge.setUp();
      } catch (e) {
        unlock(lock);
        throw e;
      }
      return bridge;
    }
    throw new NetworkExhaustedError(options.index ? `network ${options.index} is held by another process` : 'all herd networks 1..254 are in use');
  }

  private async setUp(): Promise<void> {
    // A bridge left by a process that died holding this index: ours now, start clean.
    await this.exec.run('ip', ['link', 'del', this.name], { allowFailure: true });
    await this.exec.run('ip', ['link', 'add', this.name, 'type', 'bridge']);
    this.unregister = registerTeardown({ label: `bridge ${this.name}`, run: () => this.destroy(), runSync: () => this.destroySync() });
    await this.exec.run('ip', ['addr', 'add', `${this.hostAddress}/${PREFIX_LENGTH}`, 'dev', this.name]);
    await this.exec.run('ip', ['link', 'set', this.name, 'up']);
  }

  /** Deletes the bridge and frees its index. Safe to call twice. */
  async destroy(): Promise<void> {
    await this.exec.run('ip', ['link', 'del', this.name], { allowFailure: true });
    unlock(this.lock);
    this.unregister();
  }

  private destroySync(): void {
    spawnSync('ip', ['link', 'del', this.name]);
    unlock(this.lock);
  }
}
