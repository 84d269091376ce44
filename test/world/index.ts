/**
 * The test world: real Debian machines (systemd-nspawn) on a private bridge, with a local
 * apt repository served on that bridge. Needs root and the host packages in
 * scripts/host-packages.txt. Everything is removed after the test, also when it fails or
 * the process is interrupted. See docs/test-world.md.
 *
 *   import { test } from 'node:test';
 *   import assert from 'node:assert/strict';
 *   import { TestWorld } from '../world/index.js';
 *
 *   test('a pinned package installs', async (t) => {
 *     const world = await TestWorld.start(t, { machines: 1 });
 *     const [machine] = world.machines;             // .exec (Executor), .address, .rootfs, .name
 *     await world.repo.add(await world.repo.buildPackage({ name: 'herd-test-a', version: '1.0' }));
 *     await machine.exec.run('apt-get', ['update']);  // the repo's source line is already on every machine
 *     await machine.exec.run('apt-get', ['install', '-y', 'herd-test-a=1.0']);
 *     const { stdout } = await machine.exec.run('dpkg-query', ['-W', '-f=${Version}', 'herd-test-a']);
 *     assert.equal(stdout, '1.0');
 *   });
 *
 * In a describe() suite, start it in `before` with a hook of the suite's own: `after()` called
 * inside a hook belongs to that hook, so it would tear the world down as soon as `before` ends.
 *   const teardown: (() => Promise<void>)[] = [];
 *   before(async () => { world = await TestWorld.start({ after: (fn) => teardown.push(fn) }, …); });
 *   after(async () => { for (const fn of teardown.reverse()) await fn(); });
 * The agent on a machine, installed the real way against a coordinator on the bridge: ./agent.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecutor, createLogger, herdCacheDir, type Executor, type Logger } from '@herd/sys';
import { BASE_PACKAGES, Bridge, Machine, ensureImage, registerTeardown } from '@herd/nspawn';
import { AptRepository, downloadDebs } from '@herd/aptrepo';
import { mountsUnder, sweepAbandonedWorlds, NETWORK_FILE, OWNER_FILE, WORLD_PREFIX } from './sweep.js';

export { Machine, Bridge, AptRepository };
export { sweepAbandonedWorlds };

/** Where a test registers teardown: a node:test TestContext, or `{ after }` from node:test. */
export interface AfterHook {
  after(fn: () => Promise<void>): void;
}

export interface WorldOptions {
  /** Machines booted at start (in parallel). Default 1; more can come with addMachine(). */
  machines?: number;
  /** Boot them as Kubernetes nodes (all capabilities, /dev/kmsg, writable /proc/sys). */
  kubernetesNode?: boolean;
  /** Lines for root's authorized_keys on every machine (for ssh tests). */
  authorizedKeys?: readonly string[];
  /** Debian packages the machines' image has besides BASE_PACKAGES (another image, cached the same way). */
  extraImagePackages?: readonly string[];
}

export class TestWorld {
  readonly machines: Machine[] = [];
  private nextHost = 2;
  private unregister: () => void = () => {};

  private constructor(
    readonly dir: string,
    readonly image: string,
    readonly bridge: Bridge,
    readonly repo: AptRepository,
    readonly exec: Executor,
    readonly logger: Logger,
    private readonly options: WorldOptions,
  ) {}

  static async start(hook: AfterHook | undefined, options: WorldOptions = {}): Promise<TestWorld> {
    const logger = createLogger({ name: 'test-world', level: process.env.HERD_LOG_LEVEL ?? 'warn' });
    const exec = createExecutor({ logger });
    const extra = options.extraImagePackages ?? [];
    const image = await ensureImage({ exec, logger, ...(extra.length ? { include: [...BASE_PACKAGES, ...extra] } : {}) });
    for (const dir of await sweepAbandonedWorlds()) logger.warn({ dir }, 'removed a world its test process left behind');
    const dir = await mkdtemp(join(tmpdir(), WORLD_PREFIX));
    await writeFile(join(dir, OWNER_FILE), String(process.pid));
    const bridge = await Bridge.create({ exec, logger }).catch(async (e) => { await rm(dir, { recursive: true, force: true }); throw e; });
    await writeFile(join(dir, NETWORK_FILE), String(bridge.index));
    const repo = await AptRepository.create({ dir: join(dir, 'repo'), exec, logger });
    const world = new TestWorld(dir, image.path, bridge, repo, exec, logger, options);
    world.unregister = registerTeardown({ label: `test world ${dir}`, run: () => world.destroy(), runSync: () => { if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true }); } });
    hook?.after(() => world.destroy());
    try {
      await repo.serve(bridge.hostAddress);
      await Promise.all(Array.from({ length: options.machines ?? 1 }, () => world.addMachine()));
    } catch (e) {
      await world.destroy();
      throw e;
    }
    return world;
  }

  /** Boots one more machine on the bridge, with the world's apt repository as its source. */
  async addMachine(): Promise<Machine> {
    const host = this.nextHost++;
    const name = `herd${this.bridge.index}-${host}`;
    const machine = await Machine.create({
      name,
      image: this.image,
      dir: join(this.dir, 'machines', name),
      bridge: this.bridge,
      host,
      kubernetesNode: this.options.kubernetesNode,
      authorizedKeys: this.options.authorizedKeys,
      exec: this.exec,
      logger: this.logger,
    });
    this.machines.push(machine);
    await writeFile(join(machine.rootfs, 'etc/apt/sources.list.d/herd-world.list'), `${this.repo.sourceLine}\n`);
    return machine;
  }

  /** Real Debian packages (`name` or `name=version`) fetched on the host into the cache, for repo.add(). */
  debianPackages(packages: readonly string[]): Promise<string[]> {
    return downloadDebs(packages, join(herdCacheDir(), 'debs'), this.exec);
  }

  /** Removes machines, the repository server, the bridge and the world's directory. Safe to call twice. */
  async destroy(): Promise<void> {
    const failed = (await Promise.allSettled(this.machines.map((m) => m.destroy())))
      .flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    await this.repo.close();
    await this.bridge.destroy();
    // Never delete below a machine that may still be mounted: rm would walk into its root.
    if (failed.length) throw new AggregateError(failed, `could not destroy every machine; ${this.dir} left in place`);
    await rm(this.dir, { recursive: true, force: true });
    this.unregister();
  }
}
