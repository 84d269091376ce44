/**
 * The coordinator process as `herd up` and `herd coordinator` run it: the Git source, one
 * provider per cluster, the agent artifact, the gRPC coordinator and the reconcile loop,
 * wired together over one state directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProviderSpec } from '@herd/api';
import { directoryStore, SecretStore, startCoordinator, type Coordinator } from '@herd/coordinator';
import { createProvider, providerCapacity, type Provider } from '@herd/provider';
import '@herd/provider-local';
import '@herd/provider-static';
import { fleetView, Reconciler, type FleetStatus } from '@herd/reconciler';
import { newToken, serveStatusPage, writeTokenFile, type StatusPage } from '@herd/status-page';
import { GitSource, isRemoteUrl, readRepositoryFile, readWorkingTree, type Snapshot } from '@herd/source';
import { herdCacheDir, MetricsRegistry, nodeFileSystem, processAlive, serveMetrics, UserError, type Logger, type MetricsServer } from '@herd/sys';
import type { HostPort } from '@herd/proto';
import { stateInGit } from './state-in-git.js';

/** The checkout this CLI runs from (packages/cli/dist/ → the root): where scripts/ are. */
export const HERD_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The state directory `herd up`, `herd status` and `herd down` share for a repository:
 * $HERD_STATE_DIR, else /var/lib/herd (root) or $XDG_STATE_HOME/herd, then one folder per
 * repository (its name and a hash of its absolute path or URL).
 */
export function defaultStateDir(repo: string): string {
  const id = isRemoteUrl(repo) ? repo : resolve(repo);
  const base = process.env.HERD_STATE_DIR
    || (process.getuid?.() === 0 ? '/var/lib/herd' : join(process.env.XDG_STATE_HOME || join(process.env.HOME ?? '/tmp', '.local/state'), 'herd'));
  const name = basename(id.replace(/\.git$/, '').replace(/\/+$/, '')).replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
  return join(base, `${name}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`);
}

/** How a repository argument is read: a URL (or a path with --ref) through Git at a pinned commit, a directory as it is. */
export interface RepositoryReader {
  read(inForce?: Snapshot): Promise<Snapshot>;
  readFile(path: string, commit: string | undefined): Promise<string>;
  /**
   * The last good state the state directory records: the commit in force of the last status
   * (Git), or the last working tree that validated, as it resolved. Undefined when none is
   * recorded or it no longer validates.
   */
  lastGood(stateDir: string): Promise<Snapshot | undefined>;
  /** Records a snapshot that validated as the last good state (a working tree's; a commit is in the status already). */
  recordGood(stateDir: string, snapshot: Snapshot): Promise<void>;
}

/**
 * What the state directory keeps of a working tree that validated: the snapshot itself (a
 * directory has no commit to read again), so a restart on a broken tree keeps it in force.
 */
interface RecordedTree {
  time: string;
  clusters: Snapshot['clusters'];
  profiles: Snapshot['profiles'];
}

export function repositoryReader(repo: string, ref: string | undefined, logger: Logger): RepositoryReader {
  if (isRemoteUrl(repo) || ref !== undefined) {
    const source = new GitSource({ url: repo, logger });
    return {
      read: (inForce) => source.read(ref, { providerCapacity, ...(inForce ? { previous: inForce } : {}) }),
      readFile: (path, commit) => {
        if (!commit) throw new UserError(`cannot read ${path}: no commit in force`);
        return source.readFile(path, commit);
      },
      async lastGood(stateDir) {
        const commit = (await readStatusFile(stateDir))?.commit;
        const snapshot = commit ? await source.read(commit, { providerCapacity }) : undefined;
        return snapshot && !snapshot.errors.length ? snapshot : undefined;
      },
      recordGood: async () => {},
    };
  }
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new UserError(`${repo}: no such directory`);
  let recorded: string | undefined;
  return {
    read: (inForce) => readWorkingTree(repo, { providerCapacity, ...(inForce ? { previous: inForce } : {}) }),
    // The same checks as validation's (no links, no special files, inside the repository).
    readFile: (path) => readRepositoryFile(repo, path),
    async lastGood(stateDir) {
      // The last coordinator read this directory through Git (`herd up DIR --ref main`): its commit.
      const commit = (await readStatusFile(stateDir))?.commit;
      if (commit) {
        const snapshot = await new GitSource({ url: repo, logger }).read(commit, { providerCapacity }).catch(() => undefined);
        return snapshot && !snapshot.errors.length ? snapshot : undefined;
      }
      const tree = await readJson<RecordedTree>(join(stateDir, STATE_FILES.workingTree)).catch(() => undefined);
      return tree && { source: repo, clusters: tree.clusters, profiles: tree.profiles, errors: [] };
    },
    async recordGood(stateDir, snapshot) {
      if (snapshot.errors.length) return;
      const text = JSON.stringify({ clusters: snapshot.clusters, profiles: snapshot.profiles });
      if (text === recorded) return;
      const record: RecordedTree = { time: new Date().toISOString(), clusters: snapshot.clusters, profiles: snapshot.profiles };
      await writeFileAtomic(join(stateDir, STATE_FILES.workingTree), JSON.stringify(record));
      recorded = text;
    },
  };
}

/** Writes a state file whole or not at all: a reader never sees half of it. */
async function writeFileAtomic(path: string, text: string): Promise<void> {
  await fs.writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await fs.rename(`${path}.tmp`, path);
}

/** One provider per cluster, made on first use and made again when the cluster's provider settings change. */
export class ProviderPool {
  private readonly providers = new Map<string, { key: string; provider: Provider }>();
  constructor(private readonly stateDir: string, private readonly reader: RepositoryReader, private readonly logger: Logger, private commit: () => string | undefined) {}

  /** The provider of cluster `name`, configured by `spec` (its `spec.provider`). */
  async get(name: string, spec: ProviderSpec): Promise<Provider> {
    const key = JSON.stringify(spec);
    const held = this.providers.get(name);
    if (held?.key === key) return held.provider;
    await held?.provider.close();
    const provider = await createProvider(spec, {
      cluster: name,
      stateDir: join(this.stateDir, 'providers', spec.kind),
      readRepositoryFile: (path) => this.reader.readFile(path, this.commit()),
      logger: this.logger.child({ cluster: name, provider: spec.kind }),
    });
    this.providers.set(name, { key, provider });
    return provider;
  }

  async close(): Promise<void> {
    for (const { provider } of this.providers.values()) await provider.close();
    this.providers.clear();
  }
}

/**
 * The agent artifact new machines get: the one shipped beside a bundled CLI (the coordinator
 * image, which has no sources to build from), else built from this checkout into the cache
 * when it is missing or older than the agent's build (scripts/build-agent.mjs).
 */
export function ensureAgentArtifact(logger: Logger): string {
  if (existsSync(join(SHIPPED_AGENT_ARTIFACT, 'VERSION'))) return SHIPPED_AGENT_ARTIFACT;
  const out = join(herdCacheDir(), 'agent-artifact');
  const built = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : 0);
  // The agent bundles its own package and those it imports: the newest of their builds counts.
  const sources = Math.max(...AGENT_PACKAGES.map((p) => newestFile(join(HERD_ROOT, 'packages', p, 'dist'))));
  if (built(join(out, 'VERSION')) >= sources && sources > 0) return out;
  logger.info({ out }, 'building the agent artifact');
  const result = spawnSync(process.execPath, [join(HERD_ROOT, 'scripts/build-agent.mjs'), out], { cwd: HERD_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new UserError(`cannot build the agent artifact: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n')}`);
  return out;
}

/** Where scripts/build-coordinator-image.sh puts the agent artifact: beside the bundle (this file, once bundled). */
const SHIPPED_AGENT_ARTIFACT = fileURLToPath(new URL('agent-artifact', import.meta.url));

/** The packages the agent artifact bundles (scripts/build-agent.mjs follows the agent's imports). */
const AGENT_PACKAGES = ['agent', 'converge', 'pki', 'proto', 'sys'];

/** The newest modification time of the JavaScript below `dir`, 0 when there is none. */
function newestFile(dir: string): number {
  if (!existsSync(dir)) return 0;
  return Math.max(0, ...readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/** What `herd status` and `herd down` find of a running coordinator in the state directory. */
export interface CoordinatorRecord {
  pid: number;
  address: string;
  port: number;
  repo: string;
  /** Its name in each cluster's lease (absent in a record written before it was kept). */
  holder?: string;
}

export const STATE_FILES = {
  coordinator: 'coordinator.json',
  status: 'status.json',
  /** The last working tree that validated, resolved (RecordedTree). */
  workingTree: 'working-tree.json',
} as const;

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The coordinator recorded in `stateDir`, when its process is alive. */
export async function runningCoordinator(stateDir: string): Promise<CoordinatorRecord | undefined> {
  const record = await readJson<CoordinatorRecord>(join(stateDir, STATE_FILES.coordinator));
  return record && processAlive(record.pid) ? record : undefined;
}

export interface FleetOptions {
  repo: string;
  ref?: string;
  stateDir: string;
  cluster?: string;
  /** Address to listen on; the port is kept in the state directory so agents find it again after a restart. */
  listenHost: string;
  port?: number;
  advertise?: readonly string[];
  heartbeatTimeoutMs?: number;
  /** Where GET /metrics, /livez and /readyz are served (docs/metrics.md); none when undefined. */
  metrics?: HostPort;
  /** Where the read-only web status page is served (docs/status-page.md); none when undefined. */
  statusPage?: HostPort;
  /** Keep the state directory in this ref of `repo`, encrypted with age (docs/operations.md, "State in Git"); off when undefined. */
  stateRef?: { ref: string; identityFile: string };
  logger: Logger;
}

export interface Fleet {
  coordinator: Coordinator;
  reconciler: Reconciler;
  /** The status page's address (without its token) and the 0600 file holding the token, when one is served. */
  statusPage?: { url: string; tokenFile: string };
  /** Runs rounds until `signal` aborts: after every round wait `intervalMs`, or less when an agent reports. */
  run(signal: AbortSignal, intervalMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const { stateDir, logger } = options;
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const other = await runningCoordinator(stateDir);
  if (other && other.pid !== process.pid) {
    throw new UserError(`a coordinator (pid ${other.pid}, ${other.address}) already runs for this state directory (${stateDir}); stop it first`);
  }
  // Served from the start, so a container's probes see "not ready, and why" while a clone
  // takes its time; undefined once the repository was read and the agent listener is up.
  let notReady: string | undefined = 'reading the repository';
  const metrics = new MetricsRegistry();
  const served: MetricsServer | undefined = options.metrics
    && await serveMetrics(metrics, options.metrics.host, options.metrics.port, logger, () => notReady);
  try {
    return await fleetOn(options, metrics, served, (reason) => { notReady = reason; });
  } catch (error) {
    await served?.close();
    throw error;
  }
}

async function fleetOn(options: FleetOptions, metrics: MetricsRegistry, served: MetricsServer | undefined,
  setNotReady: (reason: string | undefined) => void): Promise<Fleet> {
  const { stateDir, logger } = options;
  const reader = repositoryReader(options.repo, options.ref, logger);
  let inForce: string | undefined;
  const providers = new ProviderPool(stateDir, reader, logger, () => inForce);
  let artifact: string | undefined;

  // Before anything reads the state directory: an empty one is first restored from Git.
  const { stateRef } = options;
  const state = stateRef && await stateInGit({ repo: options.repo, ...stateRef, stateDir, readFile: (path, commit) => reader.readFile(path, commit), logger });
  if (state) {
    setNotReady(`restoring the state from ${stateRef.ref}`);
    logger.info({ ref: stateRef.ref, found: await state.start() }, 'state in Git');
    setNotReady('reading the repository');
  }

  // Machines must reach the coordinator: its certificate names every provider's address for it.
  // On a broken commit, the last good state's clusters are the ones the coordinator will act on.
  const first = await reader.read();
  setNotReady('starting the agent listener');
  const good = first.errors.length ? await reader.lastGood(stateDir) : undefined;
  await state?.checkRecipients((good ?? first).commit);
  const hosts = new Set(options.advertise ?? []);
  const known = new Map([...(good?.clusters ?? []), ...first.clusters].map((c) => [c.cluster.metadata.name, c.cluster]));
  for (const cluster of [...known.values()].filter((c) => !options.cluster || c.metadata.name === options.cluster)) {
    hosts.add(await (await providers.get(cluster.metadata.name, cluster.spec.provider)).coordinatorHost());
  }
  const previous = await readJson<CoordinatorRecord>(join(stateDir, STATE_FILES.coordinator));
  const coordinator = await startCoordinator({
    metrics,
    store: directoryStore(stateDir, nodeFileSystem()),
    host: options.listenHost,
    port: options.port ?? previous?.port ?? 0,
    advertise: [...hosts],
    logger: logger.child({ component: 'coordinator' }),
    ...(options.heartbeatTimeoutMs ? { heartbeatTimeoutMs: options.heartbeatTimeoutMs } : {}),
  });
  // The CA identifies this coordinator across restarts: it resumes what it started at once,
  // while another coordinator waits for the lease to expire.
  const holder = `herd-${coordinator.caHash.replace(/^sha256:/, '').slice(0, 16)}`;
  const record: CoordinatorRecord = { pid: process.pid, address: `127.0.0.1:${coordinator.port}`, port: coordinator.port, repo: options.repo, holder };
  // Whole or not at all: `herd coordinator` exits at once on a signal while it starts.
  await writeFileAtomic(join(stateDir, STATE_FILES.coordinator), JSON.stringify(record, null, 2));
  // A new CA is in Git before the first round makes a token for it; a ref this coordinator must not write stops it here.
  await state?.publishNow(await readStatusFile(stateDir), (good ?? first).commit).catch(async (e: unknown) => {
    await coordinator.close();
    await providers.close();
    throw e;
  });
  setNotReady(undefined);

  const reconciler = new Reconciler({
    lastGood: () => reader.lastGood(stateDir),
    read: async (previous) => {
      const snapshot = await reader.read(previous);
      if (!snapshot.errors.length) {
        inForce = snapshot.commit;
        await reader.recordGood(stateDir, snapshot).catch((e: unknown) => logger.warn({ err: e }, 'cannot record the working tree in force'));
      }
      return snapshot;
    },
    coordinator,
    secrets: new SecretStore(stateDir, nodeFileSystem()),
    holder,
    measured: (await readStatusFile(stateDir))?.measured ?? {},
    provider: (cluster) => providers.get(cluster.metadata.name, cluster.spec.provider),
    agentArtifact: () => (artifact ??= ensureAgentArtifact(logger)),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    logger: logger.child({ component: 'reconciler' }),
    metrics,
  });
  reconciler.on('round', (status: FleetStatus) => {
    // The last status, for `herd status` when no coordinator runs.
    void fs.writeFile(join(stateDir, STATE_FILES.status), JSON.stringify(status, null, 2)).catch((e) => logger.warn({ err: e }, 'cannot record status'));
    // A round is when enrollments, tokens and a kubeadm init's secrets have landed on disk.
    state?.afterRound(status, inForce);
  });
  const page = options.statusPage && await startStatusPage(options.statusPage, stateDir, coordinator, reconciler, options.cluster, logger);

  return {
    coordinator,
    reconciler,
    ...(page ? { statusPage: { url: page.url, tokenFile: page.tokenFile } } : {}),
    async run(signal, intervalMs) {
      let wake: (() => void) | undefined;
      const poke = () => wake?.();
      for (const event of ['status', 'hello', 'disconnect'] as const) coordinator.nodes.on(event, poke);
      reconciler.on('actions-done', poke);
      try {
        while (!signal.aborted) {
          try {
            await reconciler.round(signal);
          } catch (e) {
            logger.error({ err: e }, 'reconcile round failed; trying again');
          }
          await new Promise<void>((resolve) => {
            // Aborted during the round: its listener would never fire, and the stop would wait out the interval.
            if (signal.aborted) { resolve(); return; }
            const done = () => { signal.removeEventListener('abort', onAbort); resolve(); };
            const timer = setTimeout(done, intervalMs);
            const onAbort = () => { clearTimeout(timer); done(); };
            // An agent's news shortens the wait, but never below half a second between rounds.
            wake = () => { clearTimeout(timer); setTimeout(done, 500); wake = undefined; };
            signal.addEventListener('abort', onAbort, { once: true });
          });
        }
      } finally {
        for (const event of ['status', 'hello', 'disconnect'] as const) coordinator.nodes.off(event, poke);
        reconciler.off('actions-done', poke);
      }
    },
    // The record stays: its port is where the agents will look for the next coordinator.
    // Actions in flight are not awaited: the lease records a disruptive one, and the next
    // coordinator resumes it.
    async close() {
      setNotReady('stopping');
      await page?.close();
      await served?.close();
      await coordinator.close();
      // What changed since the last round (a token made just now) goes out before the process does.
      await state?.close(reconciler.status, inForce);
      await providers.close();
    },
  };
}

/**
 * The status page over this process's reconciler and sessions: the same fleetView `herd
 * status` prints, pushed again when a round ends or an agent says something. A fresh token
 * for every run, in a 0600 file of the state directory (never in the log), removed on close.
 */
async function startStatusPage(at: HostPort, stateDir: string, coordinator: Coordinator, reconciler: Reconciler, cluster: string | undefined, logger: Logger):
  Promise<(StatusPage & { tokenFile: string }) | undefined> {
  const token = newToken();
  const page = await serveStatusPage({
    host: at.host, port: at.port, token, logger: logger.child({ component: 'status-page' }),
    view: () => fleetView({
      status: reconciler.status, sessions: coordinator.nodes.sessions(cluster), coordinator: { pid: process.pid, port: coordinator.port },
      ...(cluster ? { cluster } : {}),
    }),
  });
  if (!page) return undefined;
  const tokenFile = await writeTokenFile(nodeFileSystem(), stateDir, token);
  const changed = () => page.changed();
  const agentEvents = ['hello', 'status', 'ack', 'disconnect'] as const;
  reconciler.on('round', changed);
  for (const event of agentEvents) coordinator.nodes.on(event, changed);
  logger.info({ url: page.url, tokenFile }, 'serving the status page');
  return {
    ...page,
    tokenFile,
    async close() {
      reconciler.off('round', changed);
      for (const event of agentEvents) coordinator.nodes.off(event, changed);
      await page.close();
      await fs.rm(tokenFile, { force: true });
    },
  };
}

/** The last status a coordinator recorded; undefined when there is none (or it cannot be read). */
export function readStatusFile(stateDir: string): Promise<FleetStatus | undefined> {
  return readJson<FleetStatus>(join(stateDir, STATE_FILES.status)).catch(() => undefined);
}
