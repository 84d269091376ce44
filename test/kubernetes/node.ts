/**
 * Turning test-world machines into Kubernetes nodes with the offline Kubernetes that
 * scripts/build-kubernetes.sh builds: the artifacts, the node's preparation (cgroups,
 * network, containerd, CNI), packages and images. The settings themselves are in
 * profile.ts; docs/test-world.md says why each exists.
 */
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CNI_CONFIG_PATH, CONTAINERD_CONFIG_PATH, KUBELET_PATCH_PATH, NODE_DEBIAN_PACKAGES, debianVersion } from '@herd/kubeadm';
import type { Executor } from '@herd/sys';
import type { Machine } from '../world/index.js';
import { CGROUP_ROOT_SCRIPT, cgroupRootOf, cniBridgeConfig, containerdConfig, TEST_WORLD } from './profile.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const APT = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends'];
const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

/** What the node needs from Debian (scripts/build-kubernetes.sh fetches them and their dependencies). */
export const NODE_PACKAGES: string[] = [...NODE_DEBIAN_PACKAGES];

export function kubernetesCacheDir(): string {
  return join(process.env.HERD_CACHE_DIR || '/var/cache/herd', 'kubernetes');
}

export interface Artifacts {
  version: string;
  /** kubeadm, kubelet and kubectl .debs. */
  debs: string[];
  /** Debian's container runtime, CNI plugins and tools, with their dependencies. */
  debianDebs: string[];
  /** OCI archives, one per image kubeadm expects. */
  images: string[];
  /** The image references kubeadm lists for this version (kube-proxy and CoreDNS left out). */
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

/**
 * The host directories of a machine's cgroup subtree (`cgroupRoot` inside it), one per v1
 * hierarchy. The machine has its own cgroup namespace; its root in each hierarchy is where
 * the machine's init sits as the host sees it (/proc/LEADER/cgroup) minus where it sits as
 * the machine sees it (/proc/1/cgroup inside: `/init.scope` in systemd's own hierarchy).
 */
function hostCgroupDirs(leader: number, inside: string, cgroupRoot: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => {
    const [pre, post] = l.split(' - ');
    const fields = pre?.split(' ') ?? [];
    const [fstype, , superOptions] = post?.split(' ') ?? [];
    return { mountPoint: fields[4] ?? '', root: fields[3] ?? '', fstype, options: (superOptions ?? '').split(',') };
  }).filter((m) => (m.fstype === 'cgroup' || m.fstype === 'cgroup2') && m.root === '/');
  // `ID:CONTROLLERS:PATH`; the unified (v2) hierarchy, which runc uses too, has no controllers.
  const parse = (text: string) => new Map(text.split('\n').map((l) => l.split(':'))
    .filter((f) => f.length === 3).map((f) => [f[1]!, f[2]!]));
  const insidePaths = parse(inside);
  const dirs: string[] = [];
  for (const [controllers, hostPath] of parse(readFileSync(`/proc/${leader}/cgroup`, 'utf8'))) {
    const insidePath = insidePaths.get(controllers) ?? '/';
    if (insidePath !== '/' && !hostPath.endsWith(insidePath)) continue;
    const nsRoot = insidePath === '/' ? hostPath : hostPath.slice(0, -insidePath.length);
    const mount = controllers === ''
      ? mounts.find((m) => m.fstype === 'cgroup2')
      : mounts.find((m) => m.fstype === 'cgroup' && controllers.split(',').every((c) => m.options.includes(c)));
    if (mount) dirs.push(join(mount.mountPoint, nsRoot, cgroupRoot));
  }
  return dirs;
}

/** Removes a cgroup v1 subtree: rmdir from the leaves up (cgroup directories cannot be deleted recursively). */
async function removeCgroupTree(dir: string): Promise<void> {
  let entries: string[];
  try { entries = await fs.readdir(dir); } catch { return; }
  for (const entry of entries) {
    const child = join(dir, entry);
    if ((await fs.stat(child).catch(() => undefined))?.isDirectory()) await removeCgroupTree(child);
  }
  for (let attempt = 0; ; attempt++) {
    try { await fs.rmdir(dir); return; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while the last processes of a stopped machine are still being reaped.
      if (attempt >= 50) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface NodeOptions {
  /** This node's pod network, a /24 of profile.POD_SUBNET. */
  podCidr: string;
  /** The pause image the runtime uses for pod sandboxes. */
  pauseImage: string;
  /**
   * Registers teardown (t.after): the machine's cgroup subtree lives in the host's
   * hierarchies and outlives the machine; it is removed after the machine is stopped.
   */
  after(fn: () => Promise<void>): void;
}

/**
 * Prepares a booted machine (kubernetesNode) to run a kubelet, from the world's apt
 * repository (which must hold the Debian packages: Artifacts.debianDebs).
 */
export async function prepareNode(machine: Machine, options: NodeOptions): Promise<void> {
  const run = (command: string, args: string[]) => machine.exec.run(command, args, { env: APT_ENV, timeoutMs: 10 * 60_000 });
  const sh = (script: string) => run('sh', ['-euc', script]);
  const cgroupRoot = cgroupRootOf(machine.name);

  // Network. With /sys writable (SYSTEMD_NSPAWN_API_VFS_WRITABLE=1) systemd-networkd in the
  // machine believes udev manages devices and waits for it to initialise host0, forever:
  // the minbase image has no udev. So the address networkd was given is set here.
  // For the same reason systemd-networkd-wait-online would wait its full two minutes before
  // network-online.target, which kubelet.service is ordered after: masked.
  const address = `${machine.address}/24`;
  await sh(`ip -4 addr show dev host0 | grep -q 'inet ${machine.address}/' || ip addr add ${address} dev host0; ip link set host0 up
    systemctl mask --now systemd-networkd-wait-online.service >/dev/null 2>&1`);

  // cgroups: a script (TEST_WORLD's files: profile.ts says why), run now and before every kubelet start (a drop-in).
  await writeFiles(machine, TEST_WORLD.files(machine.name));
  await run(CGROUP_ROOT_SCRIPT, []);
  const inside = (await machine.exec.run('cat', ['/proc/1/cgroup'])).stdout;
  const cgroupDirs = hostCgroupDirs(machine.leader, inside, cgroupRoot);
  options.after(async () => { for (const dir of cgroupDirs) await removeCgroupTree(dir); });

  // Routing for pods (the machine's own network namespace; kubeadm's preflight checks it).
  await sh(`mkdir -p /etc/sysctl.d; echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-herd-kubernetes.conf; sysctl -q -w net.ipv4.ip_forward=1`);
  await run('apt-get', [...APT, 'update']);
  await run('apt-get', [...APT, 'install', ...NODE_PACKAGES]);

  await writeFiles(machine, [{ path: CONTAINERD_CONFIG_PATH, content: containerdConfig({ pauseImage: options.pauseImage }) }]);
  await run('systemctl', ['restart', 'containerd']);
  await writeFiles(machine, [
    { path: CNI_CONFIG_PATH, content: cniBridgeConfig({ podCidr: options.podCidr }) },
    { path: KUBELET_PATCH_PATH, content: TEST_WORLD.kubeletPatch(machine.name)! },
  ]);
}

/** Writes files into the machine's root, with their directories (the agent's Files step does this on a real node). */
async function writeFiles(machine: Machine, files: { path?: string; content?: string; mode?: number }[]): Promise<void> {
  for (const file of files) {
    const target = join(machine.rootfs, file.path!.slice(1));
    await fs.mkdir(dirname(target), { recursive: true });
    await fs.writeFile(target, file.content ?? '', { mode: file.mode || 0o644 });
  }
}

/** Installs kubeadm, kubelet and kubectl at the artifacts' version from the world's repository, and holds them. */
export async function installKubernetes(machine: Machine, artifacts: Artifacts, packages = ['kubeadm', 'kubelet', 'kubectl']): Promise<void> {
  const run = (command: string, args: string[]) => machine.exec.run(command, args, { env: APT_ENV, timeoutMs: 10 * 60_000 });
  await run('apt-get', [...APT, 'update']);
  await run('apt-get', [...APT, 'install', '--allow-change-held-packages', ...packages.map((p) => `${p}=${artifacts.debVersion}`)]);
  await run('apt-mark', ['hold', ...packages]);
}

/** Imports the version's images into containerd's k8s.io namespace (the one the kubelet uses). */
export async function importImages(machine: Machine, artifacts: Artifacts): Promise<void> {
  const dir = 'var/lib/herd/images';
  await fs.mkdir(join(machine.rootfs, dir), { recursive: true });
  for (const image of artifacts.images) {
    const inside = `/${dir}/${artifacts.version}-${image.split('/').pop()}`;
    await fs.copyFile(image, join(machine.rootfs, inside.slice(1)));
    await machine.exec.run('ctr', ['-n', 'k8s.io', 'images', 'import', '--snapshotter', 'native', inside], { timeoutMs: 5 * 60_000 });
    await fs.rm(join(machine.rootfs, inside.slice(1)));
  }
}

/** The image references containerd's k8s.io namespace holds. */
export async function containerdImages(machine: Machine): Promise<string[]> {
  const { stdout } = await machine.exec.run('ctr', ['-n', 'k8s.io', 'images', 'ls', '-q']);
  return stdout.split('\n').filter((l) => l && !l.startsWith('sha256:'));
}
