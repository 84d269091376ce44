import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fs, existsSync, openSync, closeSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createExecutor, silentLogger, type Executor, type Logger } from '@herd/sys';
import { MachineBootError } from './errors.js';
import { registerTeardown } from './cleanup.js';
import { checkHost } from './host.js';
import { PREFIX_LENGTH, type Bridge } from './bridge.js';
import { defaultKubeletCgroupRoot, hostCgroupDirs, removeCgroupTree, writeKubernetesNodeBootFiles } from './kubernetes-node.js';

export interface MachineOptions {
  /** Machine name and hostname: letters, digits and dashes, short enough for `vb-NAME` (≤ 12). */
  name: string;
  /** The image directory (from ensureImage) this machine's overlay sits on. */
  image: string;
  /** This machine's own directory: overlay upper/work layers, the merged root, the console log. */
  dir: string;
  bridge: Bridge;
  /** Host number on the bridge's network (2..254; 1 is the host). */
  host: number;
  /** Lines for /root/.ssh/authorized_keys. */
  authorizedKeys?: readonly string[];
  /**
   * Run a Kubernetes node: all capabilities, /dev/kmsg, writable /proc/sys and /sys
   * (docs/test-world.md, "Kubernetes in the test world"); host0's address set at every boot and systemd-networkd-wait-online
   * masked (kubernetes-node.ts); the kubelet's cgroup subtree removed from the host's
   * hierarchies when the machine is destroyed. The cgroup v1 remount inside is left to the
   * node's own setup.
   */
  kubernetesNode?: boolean;
  /** The kubelet's `cgroupRoot` on a kubernetesNode, like `/herd-NODE`. Default `/herd-NAME`. */
  kubeletCgroupRoot?: string;
  /**
   * Outlive this process (the `local` provider): no teardown at exit, nspawn detached with
   * its PID recorded in the machine directory, so `Machine.attach` finds it again.
   */
  persistent?: boolean;
  /** How long to wait for `systemctl is-system-running` to settle. Default 90 s. */
  bootTimeoutMs?: number;
  exec?: Executor;
  logger?: Logger;
}

/** How systemd inside reported itself once booted: `degraded` means some unit failed (see `failedUnits`). */
export type BootState = 'running' | 'degraded';

const STOP_TIMEOUT_MS = 30_000;
/**
 * What commands inside start with, like a root shell on the machine: not the calling
 * process's environment, which nsenter would pass through (a test runner's PATH,
 * NODE_OPTIONS or locale has no business inside).
 */
const MACHINE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];
const POLL_MS = 250;

/**
 * A Debian machine: an overlay on the shared image, booted by systemd-nspawn as our child
 * process (no host systemd needed), with a static address on a bridge. `exec` runs
 * commands inside through nsenter.
 */
export class Machine {
  private child: ChildProcess | undefined;
  /** The nspawn process: our child, or (attached) one a previous process started. */
  private nspawnPid = 0;
  private exited: Promise<unknown> = Promise.resolve();
  private leaderPid = 0;
  private mounted = false;
  private unregister: () => void = () => {};
  private readonly host: Executor;
  private readonly logger: Logger;
  bootState: BootState | undefined;

  /**
   * Runs a command inside the machine (all its namespaces, as root), with the machine's
   * own base environment plus `options.env`, in `options.cwd` inside it. Valid while it runs.
   */
  readonly exec: Executor = {
    // async, so a machine that is not running rejects like any failed command instead of throwing.
    run: async (command, args, options = {}) => {
      const { env, cwd, ...rest } = options;
      return this.inside(Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`), cwd).run(command, args, rest);
    },
  };

  private constructor(private readonly options: MachineOptions) {
    this.logger = (options.logger ?? silentLogger()).child({ machine: options.name });
    this.host = options.exec ?? createExecutor({ logger: this.logger });
  }

  get name(): string { return this.options.name; }
  get address(): string { return this.options.bridge.address(this.options.host); }
  /** The machine's root as the host sees it (the merged overlay). Read it; write only before boot or knowingly. */
  get rootfs(): string { return join(this.options.dir, 'root'); }
  /** PID (in the host's namespace) of the machine's systemd. */
  get leader(): number { return this.leaderPid; }
  get consoleLog(): string { return join(this.options.dir, 'console.log'); }
  get running(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return this.nspawnPid > 0 && isNspawn(this.nspawnPid);
  }
  private get pidFile(): string { return join(this.options.dir, 'nspawn.pid'); }
  /** Where a kubernetesNode records its kubelet's cgroup directories on the host, for destroy() when it no longer runs. */
  private get cgroupsFile(): string { return join(this.options.dir, 'kubelet-cgroups.json'); }

  /** Prepares the overlay and the machine's identity, boots it and waits until systemd runs. */
  static async create(options: MachineOptions): Promise<Machine> {
    checkHost(['systemd-nspawn', 'nsenter', 'mount', 'umount']);
    if (!/^[a-z0-9][a-z0-9-]{0,11}$/.test(options.name)) {
      throw new RangeError(`machine name "${options.name}" must be 1-12 lower-case letters, digits or dashes`);
    }
    checkCgroupRoot(options.kubeletCgroupRoot);
    const machine = new Machine(options);
    if (!options.persistent) {
      machine.unregister = registerTeardown({ label: `machine ${options.name}`, run: () => machine.destroy(), runSync: () => machine.destroySync() });
    }
    try {
      await machine.mount();
      await machine.writeIdentity();
      await machine.start();
    } catch (e) {
      await machine.destroy();
      throw e;
    }
    return machine;
  }

  /**
   * A persistent machine created by an earlier process, found by its directory: running
   * (its nspawn PID is alive) or not. Undefined when the directory holds no machine.
   */
  static async attach(options: MachineOptions): Promise<Machine | undefined> {
    let pid = 0;
    try { pid = Number(readFileSync(join(options.dir, 'nspawn.pid'), 'utf8').trim()); } catch { return undefined; }
    checkCgroupRoot(options.kubeletCgroupRoot);
    const machine = new Machine({ ...options, persistent: true });
    machine.mounted = isMountPoint(machine.rootfs);
    if (pid && isNspawn(pid)) {
      machine.nspawnPid = pid;
      machine.leaderPid = nspawnChild(pid);
      machine.exited = waitForExit(pid);
    }
    return machine;
  }

  private async mount(): Promise<void> {
    const { dir, image } = this.options;
    for (const d of ['upper', 'work', 'root']) await fs.mkdir(join(dir, d), { recursive: true });
    await this.host.run('mount', ['-t', 'overlay', 'overlay', '-o',
      `lowerdir=${image},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, this.rootfs]);
    this.mounted = true;
  }

  private async writeIdentity(): Promise<void> {
    const at = (p: string) => join(this.rootfs, p);
    await fs.writeFile(at('etc/hostname'), `${this.name}\n`);
    await fs.writeFile(at('etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
    await fs.appendFile(at('etc/hosts'), `${this.address} ${this.name}\n`);
    // Same file name as systemd's DHCP default for host0, so this static address replaces it.
    await fs.mkdir(at('etc/systemd/network'), { recursive: true });
    await fs.writeFile(at('etc/systemd/network/80-container-host0.network'), [
      '[Match]', 'Name=host0', '[Network]', `Address=${this.address}/${PREFIX_LENGTH}`, 'LinkLocalAddressing=no', '',
    ].join('\n'));
    if (this.options.authorizedKeys?.length) {
      await fs.mkdir(at('root/.ssh'), { recursive: true, mode: 0o700 });
      await fs.writeFile(at('root/.ssh/authorized_keys'), `${this.options.authorizedKeys.join('\n')}\n`, { mode: 0o600 });
    }
  }

  private nspawnArgs(): string[] {
    const args = ['--quiet', '--register=no', '--keep-unit', '--boot', '--console=read-only',
      `--network-bridge=${this.options.bridge.name}`, `--directory=${this.rootfs}`, `--machine=${this.name}`];
    if (this.options.kubernetesNode) args.push('--capability=all', '--bind=/dev/kmsg');
    return args;
  }

  /** Boots the machine (again, after stop()) and waits until systemd is running. */
  async start(): Promise<void> {
    if (this.running) return;
    // At every start, not only the first: a machine made before it was a Kubernetes node boots as one too.
    if (this.options.kubernetesNode) await writeKubernetesNodeBootFiles(this.rootfs, this.address, PREFIX_LENGTH);
    const log = openSync(this.consoleLog, 'a');
    const env = { ...process.env, ...(this.options.kubernetesNode ? { SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1' } : {}) };
    // A long-running child, not a command: the Executor runs commands to completion, so nspawn
    // is spawned directly, from a shell that first moves itself into the machine's own cgroup
    // (ownCgroups): nspawn puts the machine's systemd in `payload` below the cgroup it starts
    // in, and machines sharing one payload trim each other's cgroups as they boot (a unit then
    // fails with status 219/CGROUP).
    const enter = ownCgroups(this.name).map((d) => `mkdir -p ${d} && echo $$ > ${d}/cgroup.procs`).join(' && ');
    const child = spawn('sh', ['-c', `${enter ? `${enter} && ` : ''}exec systemd-nspawn "$@"`, 'systemd-nspawn', ...this.nspawnArgs()],
      { stdio: ['ignore', log, log], env, detached: true });
    closeSync(log);
    this.child = child;
    this.nspawnPid = child.pid ?? 0;
    this.exited = once(child, 'exit').catch(() => undefined);
    if (this.options.persistent) {
      // Recorded before waiting for boot, so a crash of ours mid-boot still leaves it findable.
      await fs.writeFile(this.pidFile, `${child.pid}\n`);
      child.unref();
    }
    this.logger.debug({ pid: child.pid }, 'systemd-nspawn started');
    await this.waitForBoot(this.options.bootTimeoutMs ?? 90_000);
    if (this.options.kubernetesNode) await fs.writeFile(this.cgroupsFile, JSON.stringify(await this.kubeletCgroupDirs()));
  }

  /**
   * The host directories of the kubelet's cgroup subtree, computed while the machine runs
   * (they depend on where its cgroup namespace is rooted); recorded at boot for a machine
   * that is found stopped. They outlive the machine unless removed (destroy does).
   */
  async kubeletCgroupDirs(): Promise<string[]> {
    if (!this.running || !this.leaderPid) {
      try { return JSON.parse(await fs.readFile(this.cgroupsFile, 'utf8')) as string[]; } catch { return []; }
    }
    const inside = (await this.exec.run('cat', ['/proc/1/cgroup'])).stdout;
    return hostCgroupDirs(this.leaderPid, inside, this.options.kubeletCgroupRoot ?? defaultKubeletCgroupRoot(this.name));
  }

  private inside(env: readonly string[] = [], cwd?: string): Executor {
    if (!this.running || !this.leaderPid) throw new Error(`machine ${this.name} is not running`);
    // env, not nsenter --wd: nsenter resolves the directory in the host's filesystem.
    const chdir = cwd ? ['-C', cwd] : [];
    return createExecutor({ logger: this.logger, prefix: ['nsenter', '-t', String(this.leaderPid), '-a', 'env', '-i', ...chdir, ...MACHINE_ENV, ...env] });
  }

  private bootFailure(reason: string): MachineBootError {
    let tail = '';
    try { tail = readFileSync(this.consoleLog, 'utf8').split('\n').slice(-30).join('\n'); } catch { /* no log yet */ }
    return new MachineBootError(this.name, reason, tail);
  }

  private async waitForBoot(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pid = this.nspawnPid;
    let state = '';
    while (Date.now() < deadline) {
      if (!this.running) throw this.bootFailure(`systemd-nspawn exited (${this.child?.exitCode ?? this.child?.signalCode ?? 'gone'})`);
      // Re-read each time: during setup nspawn's first child can be a short-lived helper.
      this.leaderPid = nspawnChild(pid);
      if (this.leaderPid) {
        // Fails until systemd inside answers; then reports starting → running or degraded.
        const result = await this.inside().run('systemctl', ['is-system-running'], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
        state = result?.stdout.trim() ?? '';
        if (state === 'running' || state === 'degraded') {
          this.bootState = state;
          if (state === 'degraded') await this.reportDegraded();
          this.logger.info({ leader: this.leaderPid, address: this.address }, 'machine running');
          return;
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    throw this.bootFailure(`systemd not running after ${timeoutMs} ms (last state: ${state || 'no answer'})`);
  }

  private async reportDegraded(): Promise<void> {
    const failed = await this.failedUnits();
    const journal = await this.exec.run('journalctl', ['-b', '--no-pager', '-o', 'short-monotonic', '-n', '30', ...failed.flatMap((u) => ['-u', u])], { allowFailure: true });
    this.logger.warn({ failed, journal: journal.stdout }, 'machine booted degraded');
  }

  /** Units systemd inside reports as failed. */
  async failedUnits(): Promise<string[]> {
    const result = await this.exec.run('systemctl', ['--failed', '--plain', '--no-legend'], { allowFailure: true });
    return result.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
  }

  /** Orderly shutdown (nspawn's SIGTERM halts systemd inside), killed if it takes longer than 30 s. */
  async stop(): Promise<void> {
    if (this.running) {
      // Our own child reports its exit; one an earlier process started is watched by PID.
      const exited = this.child ? this.exited : waitForExit(this.nspawnPid);
      process.kill(this.nspawnPid, 'SIGTERM');
      const timer = new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref());
      if (await Promise.race([exited.then(() => 'exited'), timer]) !== 'exited') {
        this.logger.warn('machine did not halt in time; killing it');
        this.killSync();
        await exited;
      }
    }
    this.leaderPid = 0;
    this.nspawnPid = 0;
  }

  /**
   * Stops the machine, unmounts its overlay and deletes its directory; for a kubernetesNode
   * also its kubelet's cgroup subtree (only empty once the machine stopped). Safe to call twice.
   */
  async destroy(): Promise<void> {
    const cgroupDirs = this.options.kubernetesNode ? await this.kubeletCgroupDirs().catch((e: unknown) => {
      this.logger.warn({ err: e }, 'the kubelet cgroup directories of this machine are unknown; they stay on the host');
      return [];
    }) : [];
    await this.stop();
    for (const dir of [...cgroupDirs, ...ownCgroups(this.name)]) await removeCgroupTree(dir);
    if (this.mounted) {
      const result = await this.host.run('umount', [this.rootfs], { allowFailure: true });
      if (result.exitCode !== 0) await this.host.run('umount', ['-l', this.rootfs]);
      this.mounted = false;
    }
    await fs.rm(this.options.dir, { recursive: true, force: true });
    this.unregister();
  }

  private killSync(): void {
    for (const pid of [this.leaderPid, this.nspawnPid]) {
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }

  private destroySync(): void {
    this.killSync();
    if (this.mounted) spawnSync('umount', ['-l', this.rootfs]);
    rmSync(this.options.dir, { recursive: true, force: true });
  }
}

/** A cgroup root the kubelet may own: one absolute path below the machine's root, never the root itself. */
function checkCgroupRoot(root: string | undefined): void {
  if (root !== undefined && !/^(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+$/.test(root)) {
    throw new RangeError(`kubeletCgroupRoot "${root}" must be an absolute path below the machine's cgroup root, like /herd-node-1`);
  }
}

/** True while `pid` is a systemd-nspawn process (not a recycled PID of something else). */
function isNspawn(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('systemd-nspawn');
  } catch {
    return false;
  }
}

function isMountPoint(path: string): boolean {
  try {
    return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === path);
  } catch {
    return false;
  }
}

/** Resolves when a process that is not our child exits (polled: there is no exit event for it). */
async function waitForExit(pid: number): Promise<void> {
  while (isNspawn(pid)) await new Promise((r) => setTimeout(r, POLL_MS));
}

/** The PID of nspawn's child: the machine's init, whose namespaces nsenter enters (0 until it exists). */
function nspawnChild(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

/**
 * The cgroups a machine's nspawn runs in, one per hierarchy systemd tracks processes in:
 * name=systemd and the unified one on a hybrid host, the unified root on a cgroup v2 host.
 */
export function ownCgroups(machine: string): string[] {
  const root = '/sys/fs/cgroup';
  if (existsSync(join(root, 'cgroup.controllers'))) return [join(root, 'herd', machine)];
  return ['systemd', 'unified'].filter((h) => existsSync(join(root, h, 'cgroup.procs'))).map((h) => join(root, h, 'herd', machine));
}
