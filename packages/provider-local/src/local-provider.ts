import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalProviderSpec } from '@herd/api';
import { AptRepository } from '@herd/aptrepo';
import { freePort, ImageRegistry } from '@herd/image-registry';
import { Bridge, Machine, NETWORK_PREFIX, ensureImage, HostNotReadyError } from '@herd/nspawn';
import type { Platform } from '@herd/kubeadm';
import type { AptSource } from '@herd/proto';
import {
  MachineNotFoundError, ProviderError, ProviderUnavailableError, QuotaExceededError,
  type AgentInstall, type Machine as ProviderMachine, type MachineRequest, type Provider, type ProviderContext,
} from '@herd/provider';
import { createExecutor, herdCacheDir, type Executor, type Logger } from '@herd/sys';
import { buildRecipe, kubernetesCacheDir, prepareKubernetes, scriptBuildRunner, type BuildRunner } from './kubernetes.js';
import { cachedArtifacts, kubeletCgroupRoot, localPlatform } from './platform.js';

/** What the provider records of a machine, beside its overlay: enough to find and describe it after a restart. */
interface MachineRecord {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
  cluster: string;
  /** The nspawn machine name (and network interface suffix): short, derived from the name. */
  nspawnName: string;
  /** Host number on the cluster's network. */
  host: number;
}

export interface LocalProviderOptions {
  /** Where machines and the apt repository live; the provider's own directory in herd's state. */
  dir: string;
  cluster: string;
  /** `spec.provider.subnet`, when the cluster fixes its network (10.213.N.0/24). */
  subnet?: string;
  cacheDir?: string;
  exec?: Executor;
  logger: Logger;
  /** How a Kubernetes version is built when the cache lacks it; scripts/build-kubernetes.sh by default. */
  buildKubernetes?: BuildRunner;
}

/**
 * The host number on a cluster's network kept for the control plane's virtual IP: machines
 * get 2..253 (1 is the host).
 */
export const VIRTUAL_IP_HOST = 254;

/**
 * `local`: machines are systemd-nspawn Debian machines on this host, one bridge per
 * cluster with no route beyond it, an apt repository served on the bridge for packages.
 * Machines outlive the process that made them; their records on disk and their nspawn
 * PIDs are the inventory, so a restarted coordinator lists what runs.
 */
export class LocalProvider implements Provider {
  readonly kind = 'local';
  private bridge?: Bridge;
  private repoUrl?: string;
  private repoReady?: Promise<AptRepository>;
  private registryReady?: Promise<ImageRegistry>;
  /** HOST:PORT of the registry once it serves: the platform's mirror for every node. */
  private registryAddress?: string;
  private allocating: Promise<unknown> = Promise.resolve();
  private readonly exec: Executor;
  private readonly cacheDir: string;

  /**
   * Every machine is a Kubernetes node machine (docs/test-world.md); the versions' packages are
   * built on this host and served from the provider's apt repository.
   */
  readonly kubernetes: NonNullable<Provider['kubernetes']>;

  private readonly options: LocalProviderOptions;

  constructor(options: LocalProviderOptions) {
    // Absolute: the directory names the cluster's network lock, so `--state state` and
    // `--state /abs/state` must be the same holder.
    this.options = { ...options, dir: resolve(options.dir) };
    this.exec = options.exec ?? createExecutor({ logger: options.logger });
    this.cacheDir = options.cacheDir ?? herdCacheDir();
    const kubernetesCache = kubernetesCacheDir(this.cacheDir);
    const platform = localPlatform(cachedArtifacts(kubernetesCache), () => this.registryAddress);
    const build = options.buildKubernetes ?? scriptBuildRunner(this.cacheDir, options.logger);
    const recipe = buildRecipe();
    this.kubernetes = {
      platform: (): Platform => platform,
      prepare: async (version, progress, signal) => {
        const starting = !this.registryReady;
        const sources = { repository: () => this.repository(), registry: () => this.imageRegistry() };
        await prepareKubernetes(version, { kubernetesCache, ...sources, build, recipe, logger: options.logger }, progress, signal);
        // Where a user pushes their own images (docs/providers.md), shown once per coordinator start.
        if (starting && this.registryAddress) progress?.(`image registry http://${this.registryAddress} (push your own images there: docs/providers.md)`);
      },
      virtualAddress: async () => (await this.network()).address(VIRTUAL_IP_HOST),
      interface: 'host0',
    };
  }

  private get machinesDir(): string { return join(this.options.dir, 'machines'); }
  private machineDir(name: string): string { return join(this.machinesDir, name); }

  async list(selector: Record<string, string>): Promise<ProviderMachine[]> {
    const out: ProviderMachine[] = [];
    // Listing an empty cluster must not make its network, so nothing is touched without records.
    for (const record of await this.records()) {
      if (!Object.entries(selector).every(([k, v]) => record.labels[k] === v)) continue;
      const machine = await this.attach(record);
      out.push(this.describe(record, machine?.running ? 'running' : 'stopped'));
    }
    return out;
  }

  newMachineName(cluster: string, pool: string, taken: ReadonlySet<string>): string {
    for (;;) {
      const name = `${cluster}-${pool === 'control-plane' ? 'cp' : pool}-${randomBytes(3).toString('hex').slice(0, 5)}`.slice(-63).replace(/^-+/, '');
      if (!taken.has(name)) return name;
    }
  }

  async create(request: MachineRequest): Promise<ProviderMachine> {
    checkRoot();
    const existing = await this.record(request.name);
    if (existing) {
      const machine = await this.attach(existing);
      if (machine && !machine.running) await machine.start();
      return this.describe(existing, 'running');
    }
    const bridge = await this.network();
    const { path: image } = await ensureImage({ cacheDir: this.cacheDir, logger: this.options.logger, exec: this.exec });
    const record = await this.allocate(request);
    try {
      await Machine.create({ ...this.machineOptions(record, bridge, image), persistent: true });
    } catch (e) {
      throw new ProviderError(`machine ${request.name} did not boot: ${(e as Error).message}`, { cause: e });
    }
    this.options.logger.info({ machine: request.name, address: bridge.address(record.host) }, 'local machine running');
    return this.describe(record, 'running');
  }

  /**
   * Picks the machine's address and records it. One at a time: machines are created in
   * parallel, and two that read the records before either wrote its own would share an address.
   */
  private allocate(request: MachineRequest): Promise<MachineRecord> {
    const run = this.allocating.then(async () => {
      const used = new Set((await this.records()).map((r) => r.host));
      const host = Array.from({ length: VIRTUAL_IP_HOST - 2 }, (_, i) => i + 2).find((n) => !used.has(n));
      if (host === undefined) throw new QuotaExceededError(`the network of cluster ${this.options.cluster} has no free address (${VIRTUAL_IP_HOST - 2} machines)`);
      const record: MachineRecord = {
        name: request.name,
        labels: { ...request.labels },
        createdAt: new Date().toISOString(),
        cluster: this.options.cluster,
        nspawnName: `h${createHash('sha256').update(request.name).digest('hex').slice(0, 11)}`,
        host,
      };
      // Recorded before anything is made, so a crash half-way leaves a machine list() and delete() know.
      await fs.mkdir(this.machineDir(request.name), { recursive: true });
      await fs.writeFile(join(this.machineDir(request.name), 'machine.json'), JSON.stringify(record, null, 2));
      return record;
    });
    this.allocating = run.catch(() => undefined);
    return run;
  }

  async delete(name: string): Promise<void> {
    const record = await this.record(name);
    if (!record) return;
    const machine = await this.attach(record);
    // Stopping in order first: systemd inside stops the agent, which finishes its round.
    await machine?.destroy();
    await fs.rm(this.machineDir(name), { recursive: true, force: true });
    if (!(await this.records()).some((r) => r.cluster === record.cluster)) await this.releaseNetwork();
  }

  async installAgent(name: string, install: AgentInstall): Promise<void> {
    const record = await this.record(name);
    if (!record) throw new MachineNotFoundError(name);
    const machine = await this.attach(record);
    if (!machine?.running) throw new ProviderError(`machine ${name} is not running`);
    // The same script as over SSH or from cloud-init, run inside the machine. The staging copy
    // is this install's alone, so the script moves its files into place (--move).
    const staging = '/var/tmp/herd-agent-artifact';
    await fs.rm(join(machine.rootfs, staging), { recursive: true, force: true });
    await fs.cp(install.artifactDir, join(machine.rootfs, staging), { recursive: true });
    try {
      // The token goes in a root-only file, written from here: it is in no command line, inside or out.
      await fs.writeFile(join(machine.rootfs, staging, 'token'), `${install.token}\n`, { mode: 0o600 });
      await machine.exec.run('bash', [`${staging}/install-agent.sh`, '--coordinator', install.coordinator, '--ca-hash', install.caHash,
        '--token-file', `${staging}/token`, '--node', name, '--move'], { timeoutMs: 120_000 });
    } finally {
      await fs.rm(join(machine.rootfs, staging), { recursive: true, force: true });
    }
  }

  async coordinatorHost(): Promise<string> {
    return (await this.network()).hostAddress;
  }

  /** The local apt repository (PROVIDER_DIR/apt/published), served on the bridge while the coordinator runs. */
  async aptSources(): Promise<AptSource[]> {
    const fresh = !this.repoReady;
    const repo = await this.repository();
    if (!fresh) await repo.index();
    return [{ name: 'herd-local', line: `deb [trusted=yes] ${this.repoUrl} ./`, key: '' }];
  }

  /** The repository, served on the bridge from the first use until close(); one, also when asked for twice at once. */
  private repository(): Promise<AptRepository> {
    this.repoReady ??= (async () => {
      const bridge = await this.network();
      const repo = await AptRepository.create({ dir: join(this.options.dir, 'apt'), exec: this.exec, logger: this.options.logger });
      this.repoUrl = await repo.serve(bridge.hostAddress);
      return repo;
    })().catch((e: unknown) => { this.repoReady = undefined; throw e; });
    return this.repoReady;
  }

  /**
   * The cluster's image registry (docker-registry on the bridge), started on first use and
   * stopped by close(); its port is recorded, so the nodes' mirror configuration stays the
   * same across coordinator restarts, and its storage stays until the cluster's network goes.
   */
  imageRegistry(): Promise<ImageRegistry> {
    this.registryReady ??= (async () => {
      const bridge = await this.network();
      const dir = this.registryDir;
      const record = join(dir, 'registry.json');
      let port: number | undefined;
      try { port = (JSON.parse(await fs.readFile(record, 'utf8')) as { port: number }).port; } catch { /* first use */ }
      const start = async (at: number) => ImageRegistry.start({ dir, host: bridge.hostAddress, port: at, exec: this.exec, logger: this.options.logger });
      let registry: ImageRegistry;
      if (port === undefined) {
        registry = await start(await freePort(bridge.hostAddress));
      } else {
        // The recorded port taken by something else meanwhile: another one (the nodes' mirror files follow).
        registry = await start(port).catch(async (e: unknown) => {
          this.options.logger.warn({ err: e, port }, 'the image registry cannot use its recorded port; choosing another');
          return start(await freePort(bridge.hostAddress));
        });
      }
      // What a user reads to push their own images (docs/providers.md, "Your own images in a local cluster").
      await fs.writeFile(record, `${JSON.stringify({ port: registry.port, address: registry.address, url: registry.url }, null, 2)}\n`);
      this.registryAddress = registry.address;
      return registry;
    })().catch((e: unknown) => { this.registryReady = undefined; throw e; });
    return this.registryReady;
  }

  private get registryDir(): string { return join(this.options.dir, 'registry', this.options.cluster); }

  async close(): Promise<void> {
    const ready = this.repoReady;
    this.repoReady = undefined;
    await (await ready?.catch(() => undefined))?.close();
    const registry = this.registryReady;
    this.registryReady = undefined;
    this.registryAddress = undefined;
    await (await registry?.catch(() => undefined))?.stop();
  }

  private machineOptions(record: MachineRecord, bridge: Bridge, image: string) {
    return {
      name: record.nspawnName, image, dir: this.machineDir(record.name), bridge, host: record.host,
      kubernetesNode: true, kubeletCgroupRoot: kubeletCgroupRoot(record.name), exec: this.exec, logger: this.options.logger,
    };
  }

  private async attach(record: MachineRecord): Promise<Machine | undefined> {
    const bridge = await this.network();
    return Machine.attach(this.machineOptions(record, bridge, ''));
  }

  private describe(record: MachineRecord, state: ProviderMachine['state']): ProviderMachine {
    return {
      name: record.name,
      labels: { ...record.labels },
      addresses: [`${NETWORK_PREFIX}.${this.bridgeIndexOf(record)}.${record.host}`],
      state,
      createdAt: record.createdAt,
    };
  }

  private bridgeIndexOf(record: MachineRecord): number {
    if (record.cluster !== this.options.cluster || !this.bridge) throw new ProviderError(`machine ${record.name} is not of cluster ${this.options.cluster}`);
    return this.bridge.index;
  }

  private async record(name: string): Promise<MachineRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(join(this.machineDir(name), 'machine.json'), 'utf8')) as MachineRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** This cluster's machines (one provider per cluster; each cluster has its own network). */
  private async records(): Promise<MachineRecord[]> {
    const names = await fs.readdir(this.machinesDir).catch(() => [] as string[]);
    const records = await Promise.all(names.sort().map((n) => this.record(n)));
    return records.filter((r): r is MachineRecord => r !== undefined && r.cluster === this.options.cluster);
  }

  /** The cluster's bridge, made (or found) on first use, its index recorded so it survives restarts. */
  private async network(): Promise<Bridge> {
    if (this.bridge) return this.bridge;
    checkRoot();
    const file = join(this.options.dir, 'networks', `${this.options.cluster}.json`);
    let index: number | undefined = subnetIndex(this.options.subnet);
    if (index === undefined) {
      try { index = (JSON.parse(await fs.readFile(file, 'utf8')) as { index: number }).index; } catch { /* first use */ }
    }
    try {
      this.bridge = await Bridge.persistent(`${this.options.dir}:${this.options.cluster}`, { index, exec: this.exec, logger: this.options.logger });
    } catch (e) {
      if (e instanceof HostNotReadyError) throw new ProviderUnavailableError(e.message, { cause: e });
      throw e;
    }
    await fs.mkdir(join(this.options.dir, 'networks'), { recursive: true });
    await fs.writeFile(file, JSON.stringify({ index: this.bridge.index }));
    return this.bridge;
  }

  private async releaseNetwork(): Promise<void> {
    await this.close();
    await this.bridge?.release();
    this.bridge = undefined;
    await fs.rm(join(this.options.dir, 'networks', `${this.options.cluster}.json`), { force: true });
    await ImageRegistry.remove(this.registryDir);
  }
}

function checkRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new ProviderUnavailableError('the local provider boots machines with systemd-nspawn, which needs root: run herd as root (sudo)');
  }
}

/** `10.213.N.0/24` → N; other subnets are not herd's local networks. */
function subnetIndex(subnet: string | undefined): number | undefined {
  if (!subnet) return undefined;
  const m = new RegExp(`^${NETWORK_PREFIX.replace('.', '\\.')}\\.(\\d{1,3})\\.0/24$`).exec(subnet);
  const index = m ? Number(m[1]) : NaN;
  if (!(index >= 1 && index <= 254)) throw new ProviderUnavailableError(`the local provider's networks are ${NETWORK_PREFIX}.N.0/24 (N from 1 to 254); ${subnet} is not one`);
  return index;
}

/** The factory the registry calls for `spec.provider.kind: local`. */
export async function createLocalProvider(spec: LocalProviderSpec, context: ProviderContext): Promise<LocalProvider> {
  return new LocalProvider({ dir: context.stateDir, cluster: context.cluster, ...(spec.subnet ? { subnet: spec.subnet } : {}), logger: context.logger });
}
