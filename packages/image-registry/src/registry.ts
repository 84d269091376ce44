import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createExecutor, processAlive, silentLogger, type Executor, type Logger } from '@herd/sys';
import { mirrorPath } from './reference.js';

/** Debian's docker-registry: the reference implementation of the distribution protocol (github.com/distribution/distribution). */
export const REGISTRY_COMMAND = 'docker-registry';
export const SKOPEO_COMMAND = 'skopeo';
/** Manifest types a HEAD asks for: OCI (what scripts/kubernetes/oci-image.mjs writes) and docker's schema 2. */
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
/** The annotation containerd's import and export use for an archive's full reference. */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';

export type ImageRegistryErrorCode = 'start-failed' | 'bad-archive' | 'push-failed';

export class ImageRegistryError extends Error {
  override readonly name = 'ImageRegistryError';
  constructor(readonly code: ImageRegistryErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface ImageRegistryOptions {
  /** The registry's own directory: config.yml, registry.pid, storage/ (created if missing, kept across restarts). */
  dir: string;
  /** The address it listens on (the bridge's host address, so machines reach it). */
  host: string;
  port: number;
  exec?: Executor;
  logger?: Logger;
  /** How long the registry may take to answer /v2/ after it starts. */
  startTimeoutMs?: number;
}

export interface PushResult {
  /** The archive's own reference (its io.containerd.image.name). */
  reference: string;
  /** Where it is in this registry: HOST:PORT/PATH:TAG. */
  target: string;
  /** The manifest's digest, the same in the archive and the registry (pushed with --preserve-digests). */
  digest: string;
  /** False when the registry already had that manifest under that tag. */
  pushed: boolean;
}

/**
 * A container image registry on `host:port`: docker-registry as a child process of this
 * one, its storage on disk. No authentication and plain HTTP: it listens only on an address
 * of a bridge with no route beyond this host, like the apt repository beside it. A registry
 * whose parent died without stop() is found by its PID file and stopped on the next start.
 */
export class ImageRegistry {
  readonly address: string;
  private readonly stderrTail: string[] = [];
  private exited?: Promise<void>;
  private readonly onExit = () => { this.child?.kill('SIGTERM'); };

  private constructor(private readonly options: ImageRegistryOptions, private child: ChildProcess | undefined, private readonly exec: Executor) {
    this.address = `${options.host}:${options.port}`;
  }

  get url(): string { return `http://${this.address}`; }
  get port(): number { return this.options.port; }

  static async start(options: ImageRegistryOptions): Promise<ImageRegistry> {
    const logger = options.logger ?? silentLogger();
    const exec = options.exec ?? createExecutor({ logger });
    await stopOrphan(options.dir);
    await fs.mkdir(join(options.dir, 'storage'), { recursive: true });
    const config = join(options.dir, 'config.yml');
    await fs.writeFile(config, registryConfig(options));
    const child = spawn(REGISTRY_COMMAND, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    const registry = new ImageRegistry(options, child, exec);
    registry.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        registry.stderrTail.push(line);
        if (registry.stderrTail.length > 10) registry.stderrTail.shift();
        logger.debug({ line }, 'docker-registry');
      }
    });
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (e) => resolve(e));
    });
    if (spawned) {
      const why = `cannot run ${REGISTRY_COMMAND} (Debian's docker-registry package; scripts/setup.sh installs it): ${spawned.message}`;
      throw new ImageRegistryError('start-failed', why, { cause: spawned });
    }
    process.on('exit', registry.onExit);
    await fs.writeFile(join(options.dir, 'registry.pid'), `${child.pid}\n`);
    try {
      await registry.waitReady(options.startTimeoutMs ?? 15_000);
    } catch (e) {
      await registry.stop();
      throw e;
    }
    logger.info({ address: registry.address, storage: join(options.dir, 'storage') }, 'image registry serving');
    return registry;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited?.then(() => { exited = true; });
    for (;;) {
      if (exited) throw new ImageRegistryError('start-failed', `${REGISTRY_COMMAND} on ${this.address} exited: ${this.stderrTail.join('\n') || 'no output'}`);
      const status = await fetch(`${this.url}/v2/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 200) return;
      if (Date.now() > deadline) {
        const output = this.stderrTail.join('\n') || 'no output';
        throw new ImageRegistryError('start-failed', `${REGISTRY_COMMAND} on ${this.address} did not answer /v2/ within ${timeoutMs} ms: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Pushes an OCI archive (one image, named by its io.containerd.image.name annotation) to
   * its mirror path here, unless the registry already has that manifest under that tag.
   */
  async push(archive: string): Promise<PushResult> {
    const { reference, digest } = await archiveImage(archive, this.exec);
    let path: string;
    try {
      path = mirrorPath(reference);
    } catch (e) {
      throw new ImageRegistryError('bad-archive', `${archive}: ${(e as Error).message}`, { cause: e });
    }
    const target = `${this.address}/${path}`;
    if (await this.manifestDigest(path) === digest) return { reference, target, digest, pushed: false };
    try {
      // --preserve-digests: the layers stay uncompressed as in the archive (no CPU spent
      // compressing on the host), and the registry's digest equals the archive's, so the
      // check above recognises the image next time.
      const args = ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${target}`];
      await this.exec.run(SKOPEO_COMMAND, args, { timeoutMs: 10 * 60_000 });
    } catch (e) {
      throw new ImageRegistryError('push-failed', `pushing ${archive} to ${target} failed: ${(e as Error).message}`, { cause: e });
    }
    const pushed = await this.manifestDigest(path);
    if (pushed !== digest) {
      throw new ImageRegistryError('push-failed', `${target} has manifest ${pushed ?? 'none'} after the push, not the archive's ${digest}`);
    }
    return { reference, target, digest, pushed: true };
  }

  /** The digest of the manifest tagged PATH:TAG here, or undefined when there is none. */
  async manifestDigest(pathAndTag: string): Promise<string | undefined> {
    const at = pathAndTag.lastIndexOf(':');
    const response = await fetch(`${this.url}/v2/${pathAndTag.slice(0, at)}/manifests/${pathAndTag.slice(at + 1)}`, {
      method: 'HEAD', headers: { accept: MANIFEST_TYPES }, signal: AbortSignal.timeout(10_000),
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new ImageRegistryError('push-failed', `HEAD ${pathAndTag} on ${this.address}: HTTP ${response.status}`);
    return response.headers.get('docker-content-digest') ?? undefined;
  }

  /** Stops the registry (SIGTERM, then SIGKILL after 10 s); its storage stays. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    process.off('exit', this.onExit);
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    // Only its own: a later registry of the same directory may have replaced this one's file.
    const pidFile = join(this.options.dir, 'registry.pid');
    if (Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim()) === child.pid) await fs.rm(pidFile, { force: true });
  }

  /** Stops a registry of `dir` left running and removes the directory with its storage. */
  static async remove(dir: string): Promise<void> {
    await stopOrphan(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A port free on `host` now, for a registry that needs its port before it starts. */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error(`no TCP port on ${host}`))));
    });
  });
}

function registryConfig(o: ImageRegistryOptions): string {
  // Only errors on stderr (each request would log otherwise); an http secret of its own, so
  // it does not warn that it made one.
  return `# Written by herd (@herd/image-registry)
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(join(o.dir, 'storage'))}
  delete:
    enabled: true
http:
  addr: ${JSON.stringify(`${o.host}:${o.port}`)}
  secret: ${randomBytes(16).toString('hex')}
`;
}

/** The one image in an OCI archive: its reference and its manifest's digest, from index.json. */
async function archiveImage(archive: string, exec: Executor): Promise<{ reference: string; digest: string }> {
  let index: { manifests?: Array<{ digest?: string; annotations?: Record<string, string> }> };
  try {
    index = JSON.parse((await exec.run('tar', ['-xOf', archive, 'index.json'], { timeoutMs: 60_000 })).stdout) as typeof index;
  } catch (e) {
    throw new ImageRegistryError('bad-archive', `${archive}: no OCI index.json: ${(e as Error).message}`, { cause: e });
  }
  const manifests = index.manifests ?? [];
  const reference = manifests[0]?.annotations?.[IMAGE_NAME_ANNOTATION];
  const digest = manifests[0]?.digest;
  if (manifests.length !== 1 || !reference || !digest) {
    const found = `found ${manifests.length}`;
    throw new ImageRegistryError('bad-archive', `${archive}: expected one manifest with an ${IMAGE_NAME_ANNOTATION} annotation in index.json, ${found}`);
  }
  return { reference, digest };
}

/** Stops the registry whose PID file is in `dir`, if that process is still docker-registry serving this directory's config. */
async function stopOrphan(dir: string): Promise<void> {
  const pidFile = join(dir, 'registry.pid');
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (pid > 0 && isRegistryOf(pid, dir)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await fs.rm(pidFile, { force: true });
}

function isRegistryOf(pid: number, dir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0]?.endsWith(REGISTRY_COMMAND) === true && argv.includes(join(dir, 'config.yml'));
  } catch {
    return false;
  }
}
