/**
 * The offline Kubernetes scripts/build-kubernetes.sh builds for the test world (found in the
 * cache, or built), and the host kernel settings a kubelet changes, to put back after a
 * test. Turning machines into nodes is the local provider's and the agents' job
 * (packages/provider-local, packages/kubeadm): the tests drive it through herd.
 */
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianVersion } from '@herd/kubeadm';
import { kubernetesCacheDir as kubernetesCacheIn } from '@herd/provider-local';
import { herdCacheDir, type Executor } from '@herd/sys';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The Kubernetes cache herd itself uses ($HERD_CACHE_DIR honoured), never a fixed path. */
export function kubernetesCacheDir(): string {
  return kubernetesCacheIn(herdCacheDir());
}

/**
 * The cached kubectl of `version` (1.34.4 or v1.34.4). It exists once herd prepared that
 * version for a cluster; asking earlier is a test's bug, said as such rather than an ENOENT.
 */
export function kubectlOf(version: string): string {
  const path = join(kubernetesCacheDir(), version.startsWith('v') ? version : `v${version}`, 'bin', 'kubectl');
  if (!existsSync(path)) throw new Error(`${path} does not exist: Kubernetes ${version} is not built yet (herd builds a version when a cluster first asks for it)`);
  return path;
}

export interface Artifacts {
  version: string;
  /** kubeadm, kubelet and kubectl .debs. */
  debs: string[];
  /** Debian's container runtime, CNI plugins and tools, with their dependencies. */
  debianDebs: string[];
  /** OCI archives, one per image kubeadm expects. */
  images: string[];
  /** The image references of this version: kubeadm's list, the pod network's, busybox (images.txt). */
  imageRefs: string[];
  pauseImage: string;
  /** The Debian package version, like 1.34.4-1.1. */
  debVersion: string;
}

/**
 * Builds (or finds in the cache, in seconds) the offline Kubernetes for `version`. A cold
 * build compiles Kubernetes from the Go module proxy: tens of minutes on 2 cores.
 */
export async function buildArtifacts(version: string, exec: Executor): Promise<Artifacts> {
  await exec.run('bash', [join(ROOT, 'scripts/build-kubernetes.sh'), version], { timeoutMs: 3 * 3600_000 });
  const dir = join(kubernetesCacheDir(), version);
  const list = (d: string, ext: string) => readdirSync(d).filter((f) => f.endsWith(ext)).sort().map((f) => join(d, f));
  const imageRefs = readFileSync(join(dir, 'images', 'images.txt'), 'utf8').split('\n').filter(Boolean);
  const pauseImage = imageRefs.find((r) => /\/pause:/.test(r));
  if (!pauseImage) throw new Error(`no pause image among ${imageRefs.join(', ')}`);
  return {
    version,
    debs: list(join(dir, 'debs'), '.deb'),
    debianDebs: list(join(kubernetesCacheDir(), 'debian'), '.deb'),
    images: list(join(dir, 'images'), '.tar'),
    imageRefs,
    pauseImage,
    debVersion: debianVersion(version),
  };
}

/** The host's kernel settings the kubelet changes (they are not namespaced), to put back after a test. */
export const KUBELET_HOST_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'];

export async function saveHostSysctls(): Promise<() => Promise<void>> {
  const saved = new Map<string, string>();
  for (const key of KUBELET_HOST_SYSCTLS) saved.set(key, await fs.readFile(`/proc/sys/${key}`, 'utf8'));
  return async () => {
    for (const [key, value] of saved) await fs.writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
  };
}
