/**
 * Kubernetes for the `local` provider's machines, which reach nothing beyond their bridge:
 * scripts/build-kubernetes.sh builds a version from the Go module proxy into herd's cache
 * (tens of minutes cold, seconds warm), its packages go into the provider's apt
 * repository, which aptSources() serves the machines, and its images into the provider's
 * registry, which the nodes' containerd pulls from.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AptRepository } from '@herd/aptrepo';
import type { ImageRegistry, PushResult } from '@herd/image-registry';
import { ProviderError } from '@herd/provider';
import type { Logger } from '@herd/sys';
import { debianRevision } from './platform.js';

/** scripts/build-kubernetes.sh, found from this file (dist/ or src/ of packages/provider-local). */
export const BUILD_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/build-kubernetes.sh');
/** A cold build of one version takes 15-25 minutes on 2 cores; far more means it hangs. */
const BUILD_TIMEOUT_MS = 3 * 3600_000;

export function kubernetesCacheDir(herdCacheDir: string): string {
  return join(herdCacheDir, 'kubernetes');
}

/**
 * What a version's build was made by: a sha256sum list of the build script and everything in
 * scripts/kubernetes/ (paths relative to scripts/, in byte order). The script writes it to
 * VERSION/.recipe when it ends; a cache built by an older script is built again (the script's
 * own steps then redo only what changed), so a warm cache never lacks what a newer script adds.
 */
export function buildRecipe(script = BUILD_SCRIPT): string {
  const scripts = dirname(script);
  const files = [basename(script), ...readdirSync(join(scripts, 'kubernetes'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(scripts.length + 1))].sort();
  return files.map((f) => `${createHash('sha256').update(readFileSync(join(scripts, f))).digest('hex')}  ${f}\n`).join('');
}

/** The recipe a cached version was built by ('' when none is recorded). */
export function builtRecipe(kubernetesCache: string, version: string): string {
  try {
    return readFileSync(join(kubernetesCache, version, '.recipe'), 'utf8');
  } catch {
    return '';
  }
}

/** Runs the build script for a version; every line it prints goes to `progress`; an aborted `signal` ends it. */
export type BuildRunner = (version: string, progress: (line: string) => void, signal?: AbortSignal) => Promise<void>;

/** The .debs a node of `version` installs, from the cache; undefined while any is missing. */
export function versionDebs(kubernetesCache: string, version: string): string[] | undefined {
  const revision = debianRevision(version);
  const own = ['kubeadm', 'kubelet', 'kubectl'].map((p) => join(kubernetesCache, version, 'debs', `${p}_${revision}_amd64.deb`));
  let runtime: string[] = [];
  try {
    runtime = readdirSync(join(kubernetesCache, 'debian')).filter((f) => f.endsWith('.deb')).sort().map((f) => join(kubernetesCache, 'debian', f));
  } catch { /* not built yet */ }
  if (!runtime.length || !own.every((f) => existsSync(f))) return undefined;
  return [...own, ...runtime];
}

export interface PrepareOptions {
  kubernetesCache: string;
  repository(): Promise<AptRepository>;
  registry(): Promise<ImageRegistry>;
  build: BuildRunner;
  /** What the build is made by (buildRecipe()); a cached version built otherwise is built again. */
  recipe: string;
  logger: Logger;
}

/** What prepareKubernetes did: packages added to the repository, images pushed to the registry (others were there). */
export interface Prepared {
  added: number;
  images: PushResult[];
}

/** Builds the version when the cache lacks it or an older build script made it, then publishes its packages and pushes its images; idempotent. */
export async function prepareKubernetes(version: string, options: PrepareOptions, progress: (message: string) => void = () => {},
  signal?: AbortSignal): Promise<Prepared> {
  debianRevision(version); // a bad version is refused before anything runs
  version = version.startsWith('v') ? version : `v${version}`;
  let debs = versionDebs(options.kubernetesCache, version);
  if (!debs || builtRecipe(options.kubernetesCache, version) !== options.recipe) {
    progress(debs ? `Kubernetes ${version} was built by an older scripts/build-kubernetes.sh: bringing it up to date`
      : `building Kubernetes ${version} (scripts/build-kubernetes.sh; tens of minutes the first time)`);
    try {
      await options.build(version, progress, signal);
    } catch (e) {
      throw new ProviderError(`building Kubernetes ${version} failed: ${(e as Error).message}`, { cause: e });
    }
    debs = versionDebs(options.kubernetesCache, version);
    if (!debs) throw new ProviderError(`scripts/build-kubernetes.sh ${version} finished without the packages in ${join(options.kubernetesCache, version)}`);
    if (builtRecipe(options.kubernetesCache, version) !== options.recipe) {
      throw new ProviderError(`scripts/build-kubernetes.sh ${version} finished without recording ${join(options.kubernetesCache, version, '.recipe')}`);
    }
  }
  // Only what is not published yet (the images package alone is ~150 MB); add() re-indexes once.
  const repo = await options.repository();
  const size = (file: string) => { try { return statSync(file).size; } catch { return -1; } };
  const fresh = debs.filter((deb) => size(join(repo.published, basename(deb))) !== size(deb));
  if (fresh.length) await repo.add(...fresh);
  options.logger.info({ version, packages: debs.length, added: fresh.length }, 'Kubernetes packages published to the local apt repository');
  const images = await pushImages(options.kubernetesCache, version, await options.registry());
  const pushed = images.filter((i) => i.pushed).length;
  if (pushed) progress(`pushed ${pushed} of ${images.length} images of Kubernetes ${version} to the cluster's registry`);
  options.logger.info({ version, images: images.length, pushed }, 'Kubernetes images in the cluster\'s registry');
  return { added: fresh.length, images };
}

/**
 * Pushes every OCI archive of VERSION/images/ (each names its image) to the registry, and
 * checks that each reference images.txt lists is among them: that list is what nodes pull.
 */
export async function pushImages(kubernetesCache: string, version: string, registry: ImageRegistry): Promise<PushResult[]> {
  const dir = join(kubernetesCache, version, 'images');
  let listed: string[];
  try {
    listed = readFileSync(join(dir, 'images.txt'), 'utf8').split('\n').filter(Boolean);
  } catch (e) {
    throw new ProviderError(`Kubernetes ${version} has no ${join(dir, 'images.txt')}: run scripts/build-kubernetes.sh ${version}`, { cause: e });
  }
  const archives = readdirSync(dir).filter((f) => f.endsWith('.tar')).sort();
  const results: PushResult[] = [];
  // One at a time: each push reads hundreds of megabytes, and the host has few cores.
  for (const archive of archives) results.push(await registry.push(join(dir, archive)));
  const missing = listed.filter((ref) => !results.some((r) => r.reference === ref));
  if (missing.length) throw new ProviderError(`${dir} has no OCI archive for ${missing.join(', ')} (listed in images.txt)`);
  return results;
}

/**
 * The real build: bash scripts/build-kubernetes.sh VERSION --cache DIR, its output streamed line
 * by line. It runs in a process group of its own, ended whole on abort or timeout: a signal to
 * the script alone would leave its `go build` running for minutes after herd stopped.
 */
export function scriptBuildRunner(herdCacheDir: string, logger: Logger): BuildRunner {
  return (version, progress, signal) => new Promise<void>((resolvePromise, reject) => {
    if (signal?.aborted) return reject(new Error('stopped before it began'));
    const child = spawn('bash', [BUILD_SCRIPT, version, '--cache', herdCacheDir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const end = () => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ } };
    signal?.addEventListener('abort', end, { once: true });
    process.once('exit', end); // herd exiting at once (a second Ctrl-C) takes its build with it
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      logger.debug({ line }, 'build-kubernetes');
      // The script's own step lines; the Go toolchain's hundreds of lines stay in the debug log.
      if (line.startsWith('[build-kubernetes')) progress(line);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    const timer = setTimeout(end, BUILD_TIMEOUT_MS);
    const settle = () => { clearTimeout(timer); signal?.removeEventListener('abort', end); process.off('exit', end); };
    child.once('error', (e) => { settle(); reject(e); });
    child.once('exit', (code, killedBy) => {
      settle();
      if (code === 0) resolvePromise();
      else if (signal?.aborted) reject(new Error('stopped: herd is shutting down'));
      else reject(new Error(`exit ${code ?? killedBy}:\n${tail.join('\n')}`));
    });
  });
}
