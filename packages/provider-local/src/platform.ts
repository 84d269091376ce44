/**
 * The `local` provider's machines as Kubernetes nodes: systemd-nspawn machines on a cgroup
 * v1 host, whose only registry is the provider's own on their bridge. Each setting exists
 * only because of that; the proven recipe and the longer story are in test/kubernetes/ and
 * docs/test-world.md ("Kubernetes in the test world").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '@herd/kubeadm';
import type { File, Package } from '@herd/proto';

export const CGROUP_ROOT_SCRIPT = '/usr/local/sbin/herd-cgroup-root';
export const KUBELET_DROP_IN = '/etc/systemd/system/kubelet.service.d/20-herd-cgroup-root.conf';
/**
 * The registries whose images local nodes pull from the provider's registry instead (the
 * ones Kubernetes, its add-ons and most public images are named by); nothing else is in reach.
 */
export const MIRRORED_REGISTRIES: readonly string[] = ['registry.k8s.io', 'docker.io', 'quay.io', 'ghcr.io'];

/**
 * The kubelet's cgroup root on node NODE. The machines of a host see the same cgroup v1
 * hierarchies (nspawn gives each only a cgroup namespace rooted where it sits, and for most
 * controllers that is the host's root), so two kubelets with the default root would both
 * own /kubepods and remove each other's pod cgroups as orphans.
 */
export function kubeletCgroupRoot(node: string): string {
  return `/herd-${node}`;
}

/** Errors of kubeadm's preflight that are true of every local machine, each with why; never `all`. */
export const IGNORED_PREFLIGHT: Readonly<Record<string, string>> = {
  // Cgroup v1 controllers only on this host; kubeadm 1.35's system verification fails on
  // cgroup v1 unless skipped explicitly (1.34 only warns).
  SystemVerification: 'cgroup v1 host; kubeadm 1.35 requires skipping the check explicitly',
};

/**
 * Makes the kubelet's cgroup root exist in every v1 hierarchy of the machine, writable:
 * systemd-nspawn mounts the controllers read-only (the kubelet and runc write them), and a
 * new cpuset cgroup starts without CPUs or memory nodes (it gets its parent's). Idempotent;
 * run before every kubelet start, because the root does not stay in systemd's own hierarchy:
 * every machine's systemd sits in the same name=systemd subtree and removes the empty
 * cgroups it finds there when it starts.
 */
export function cgroupRootScript(cgroupRoot: string): string {
  return `#!/bin/sh
# Written by herd (the local provider's platform): the kubelet's cgroup root, ${cgroupRoot}.
set -eu
for d in /sys/fs/cgroup/*/; do
  c=$(basename "$d")
  [ "$c" = unified ] && continue
  if [ "$c" != systemd ] && grep -q " /sys/fs/cgroup/$c ro," /proc/self/mountinfo; then
    # In place: an unmount fails while a Go program (kubeadm 1.35, during its join) keeps
    # its cgroup's CPU quota file open, and the kubelet it waits for would never start.
    mount -o remount,bind,rw "/sys/fs/cgroup/$c"
  fi
  mkdir -p "/sys/fs/cgroup/$c${cgroupRoot}"
done
if [ -d /sys/fs/cgroup/cpuset${cgroupRoot} ] && [ -z "$(cat /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.cpus)" ]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.mems
fi
`;
}

/** The kubelet's drop-in: its cgroup root exists before every start (cgroupRootScript says why each time). */
export function kubeletDropIn(): string {
  return `# Written by herd (the local provider's platform): see ${CGROUP_ROOT_SCRIPT}.
[Service]
ExecStartPre=${CGROUP_ROOT_SCRIPT}
`;
}

/** "v1.34.4" → "1.34.4-1.1", the Debian revision scripts/build-kubernetes.sh gives its packages. */
export function debianRevision(version: string): string {
  const m = /^v?(\d+\.\d+\.\d+)$/.exec(version);
  if (!m) throw new RangeError(`"${version}" is not an exact Kubernetes version like v1.34.4`);
  return `${m[1]}-1.1`;
}

/** Reads what scripts/build-kubernetes.sh left in the cache (`CACHE/kubernetes`). */
export interface KubernetesArtifacts {
  /** The image references of a version (its images.txt), or undefined when it was not built. */
  imageRefs(version: string): string[] | undefined;
  /** The Debian runtime packages and their exact versions. */
  debianVersions(): Record<string, string>;
}

export function cachedArtifacts(kubernetesCacheDir: string): KubernetesArtifacts {
  return {
    imageRefs(version) {
      try {
        return readFileSync(join(kubernetesCacheDir, version, 'images', 'images.txt'), 'utf8').split('\n').filter(Boolean);
      } catch { return undefined; }
    },
    debianVersions() {
      const versions: Record<string, string> = {};
      let names: string[] = [];
      try { names = readdirSync(join(kubernetesCacheDir, 'debian')); } catch { /* not built yet */ }
      for (const name of names) {
        // NAME_VERSION_ARCH.deb, the epoch's colon URL-encoded as apt-get download writes it.
        const m = /^([^_]+)_([^_]+)_[^_]+\.deb$/.exec(name);
        if (m) versions[m[1]!] = decodeURIComponent(m[2]!);
      }
      return versions;
    },
  };
}

/**
 * The platform of the `local` provider's machines; `registry` is the provider's registry
 * (HOST:PORT on the bridge) once it serves, undefined before.
 */
export function localPlatform(artifacts: KubernetesArtifacts, registry: () => string | undefined = () => undefined): Platform {
  return {
    name: 'local (systemd-nspawn, cgroup v1)',
    // The machine's systemd does not own the controllers it would have to delegate: they are the host's, shared.
    cgroupDriver: 'cgroupfs',
    allowCgroupV1: true,
    ignorePreflightErrors: IGNORED_PREFLIGHT,
    // Pulled from the provider's registry (registryMirror), as on any node; only what is missing.
    imagePullPolicy: 'IfNotPresent',
    // The machines' network namespaces cannot raise the host's nf_conntrack_max (what kind does too).
    conntrackMaxPerCore: 0,
    containerd: {
      // The machine's root is an overlayfs; an overlayfs upper directory cannot sit on another.
      snapshotter: 'native',
      // Lowering an OOM score needs CAP_SYS_RESOURCE, which this host's bounding set lacks.
      restrictOomScoreAdj: true,
      // nspawn's seccomp filter refuses the keyring calls runc makes for a container's own keyring.
      noNewKeyring: true,
    },
    // The machines reach nothing beyond their bridge, so they have no default route (the VIP's interface too).
    serviceRouteInterface: 'host0',
    // Containers share the host's kernel: no modules to load, no br_netfilter sysctl to set.
    loadKernelModules: false,
    packages: (): Package[] => [],
    files: (node): File[] => [
      { path: CGROUP_ROOT_SCRIPT, content: cgroupRootScript(kubeletCgroupRoot(node)), mode: 0o755 },
      { path: KUBELET_DROP_IN, content: kubeletDropIn(), mode: 0o644 },
    ],
    units: () => [],
    // evictionHard: a machine's disk is the host's, shared with every other machine and the
    // host's own work, so the kubelet's default floors (10 % and 15 % of the file system) say
    // nothing about the node: a busy host at 16 % free tainted every node with disk-pressure.
    // Absolute floors instead, every signal named (a partial list leaves the others unset).
    kubeletPatch: (node) => `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupRoot: ${kubeletCgroupRoot(node)}
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1Gi
  nodefs.inodesFree: 5%
  imagefs.available: 1Gi
  imagefs.inodesFree: 5%
`,
    pauseImage: (version) => artifacts.imageRefs(version)?.find((ref) => /\/pause:/.test(ref)),
    debianVersions: () => artifacts.debianVersions(),
    registryMirror: () => {
      const address = registry();
      return address === undefined ? undefined : { endpoint: `http://${address}`, registries: MIRRORED_REGISTRIES };
    },
  };
}
