/**
 * The Kubernetes node profile of the test world: the TEST_WORLD platform (what a
 * systemd-nspawn machine on this cgroup v1 host needs beyond a plain Debian node) and thin
 * wrappers over @herd/kubeadm with the test's defaults. Every setting that exists only
 * because nodes are such machines says so; docs/test-world.md ("Kubernetes in the test
 * world") has the longer story, docs/kubeadm-profile.md the node profile itself.
 */
import * as kubeadm from '@herd/kubeadm';
import type { Platform } from '@herd/kubeadm';
import type { File } from '@herd/proto';

export const { KUBEADM_API, CRI_SOCKET, PATCHES_DIR } = kubeadm;
export const POD_SUBNET = '10.244.0.0/16';
export const SERVICE_SUBNET = '10.96.0.0/12';

/**
 * kubeadm preflight errors that are true only of the test world, ignored by name, each with
 * the reason; everything else kubeadm checks must pass. Never `all`.
 */
export const IGNORED_PREFLIGHT: Readonly<Record<string, string>> = {
  // This host has cgroup v1 controllers only (no cgroup v2 to migrate to). kubeadm 1.35's
  // system verification fails on cgroup v1 unless told to skip it — its own message says
  // that, besides the kubelet's `failCgroupV1: false`, the check must be skipped explicitly
  // (kubeadm 1.34 only warns). Seen as an error in `kubeadm upgrade apply v1.35.4`.
  // Warnings seen and left alone: ContainerRuntimeVersion on 1.35 (containerd 1.6 lacks the
  // RuntimeConfig CRI call; the kubelet falls back to its configured cgroup driver, which
  // 1.36 will no longer do).
  SystemVerification: 'cgroup v1 host; kubeadm 1.35 requires skipping the check explicitly',
  // `kubeadm upgrade apply` reads the running CoreDNS version from its Deployment to check
  // its Corefile plugins and its migration; the test world does not deploy CoreDNS (the
  // image is not built, `dns.disabled: true`), so both fail with "start version '' not
  // supported". kubeadm skips the CoreDNS upgrade itself when DNS is disabled.
  CoreDNSUnsupportedPlugins: 'no CoreDNS in the test world (dns.disabled)',
  CoreDNSMigration: 'no CoreDNS in the test world (dns.disabled)',
};

export function ignoredPreflight(): string[] {
  return Object.keys(IGNORED_PREFLIGHT);
}

/** The kubelet's own cgroup subtree on a test-world node (see kubeletPatch). */
export function cgroupRootOf(node: string): string {
  return `/herd-${node}`;
}

/**
 * The per-node KubeletConfiguration patch (kubeadm `patches`, target kubeletconfiguration):
 * `cgroupRoot` gives each node its own cgroup subtree. The machines of one host see the same
 * cgroup v1 hierarchies (systemd-nspawn gives each only a cgroup namespace rooted where it
 * sits, and for most controllers that is the host's root), so two kubelets with the default
 * root would both own /kubepods, and each would remove the other's pod cgroups as orphans.
 */
export function kubeletPatch(options: { cgroupRoot: string }): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupRoot: ${options.cgroupRoot}
`;
}

export const CGROUP_ROOT_SCRIPT = '/usr/local/sbin/herd-cgroup-root';

/**
 * Makes the kubelet's cgroup root exist in every v1 hierarchy of the machine, writable:
 * systemd-nspawn mounts the controllers read-only (the kubelet and runc write them), and a
 * new cpuset cgroup starts without CPUs or memory nodes (it gets its parent's). Idempotent.
 * Run before every kubelet start (a drop-in), because the root in systemd's own hierarchy
 * does not stay: every machine of the host has its systemd in the same name=systemd subtree
 * (nspawn's `payload`), and each machine's systemd removes the empty cgroups it finds there
 * when it starts.
 */
export function cgroupRootScript(cgroupRoot: string): string {
  return `#!/bin/sh
# Written by herd's test world (test/kubernetes/profile.ts): the kubelet's cgroup root, ${cgroupRoot}.
set -eu
for d in /sys/fs/cgroup/*/; do
  c=$(basename "$d")
  [ "$c" = unified ] && continue
  if [ "$c" != systemd ] && grep -q " /sys/fs/cgroup/$c ro," /proc/self/mountinfo; then
    umount "/sys/fs/cgroup/$c"
    mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  fi
  mkdir -p "/sys/fs/cgroup/$c${cgroupRoot}"
done
if [ -d /sys/fs/cgroup/cpuset${cgroupRoot} ] && [ -z "$(cat /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.cpus)" ]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset${cgroupRoot}/cpuset.mems
fi
`;
}

/** The test world's own files on a node: the cgroup-root script and the kubelet drop-in that runs it. */
function testWorldFiles(node: string): File[] {
  return [
    { path: CGROUP_ROOT_SCRIPT, content: cgroupRootScript(cgroupRootOf(node)), mode: 0o755 },
    {
      path: '/etc/systemd/system/kubelet.service.d/20-herd-cgroup-root.conf',
      content: `# herd test world: see ${CGROUP_ROOT_SCRIPT}\n[Service]\nExecStartPre=${CGROUP_ROOT_SCRIPT}\n`,
      mode: 0o644,
    },
  ];
}

/**
 * A systemd-nspawn machine of the test world as a Kubernetes node:
 * - cgroup driver cgroupfs (kubelet `cgroupDriver: cgroupfs`, containerd `SystemdCgroup =
 *   false`): the machine's systemd does not own the cgroup controllers it would have to
 *   delegate — they are the host's, shared by every machine — so the kubelet manages its own
 *   subtree (kubeletPatch) directly; `failCgroupV1: false`, the host has cgroup v1 only;
 * - images preloaded (`imagePullPolicy: Never`), kube-proxy and CoreDNS disabled (their
 *   images are not built);
 * - containerd: `snapshotter = "native"` (the machine's root is an overlayfs, and an overlayfs
 *   upper directory cannot sit on another overlayfs), `restrict_oom_score_adj` (this host's
 *   bounding set lacks CAP_SYS_RESOURCE, so runc could not lower a sandbox's OOM score),
 *   `NoNewKeyring` (nspawn's seccomp filter refuses runc's keyring calls);
 * - no kernel modules (the machine shares the host's kernel).
 */
export const TEST_WORLD: Platform = {
  name: 'test-world',
  cgroupDriver: 'cgroupfs',
  allowCgroupV1: true,
  ignorePreflightErrors: IGNORED_PREFLIGHT,
  imagePullPolicy: 'Never',
  disableAddons: { kubeProxy: true, coreDNS: true },
  containerd: { snapshotter: 'native', restrictOomScoreAdj: true, noNewKeyring: true },
  packages: () => [],
  files: testWorldFiles,
  units: () => [],
  kubeletPatch: (node) => kubeletPatch({ cgroupRoot: cgroupRootOf(node) }),
  loadKernelModules: false,
};

/** containerd's configuration for a test-world node (kubeadm.containerdConfig with TEST_WORLD). */
export function containerdConfig(options: { pauseImage: string }): string {
  return kubeadm.containerdConfig({ platform: TEST_WORLD, pauseImage: options.pauseImage });
}

/** A bridge network for the node's pods, one /24 of POD_SUBNET per node, from Debian's CNI plugins. */
export function cniBridgeConfig(options: { podCidr: string }): string {
  return kubeadm.cniBridgeConfig(options);
}

export interface InitOptions {
  version: string;
  nodeName: string;
  address: string;
  clusterName?: string;
}

/** `kubeadm init --config`: one control plane at the machine's address. */
export function initConfiguration(o: InitOptions): string {
  return kubeadm.initConfiguration({
    cluster: {
      name: o.clusterName ?? 'herd-test',
      version: o.version,
      controlPlaneEndpoint: `${o.address}:${kubeadm.API_SERVER_PORT}`,
      podSubnet: POD_SUBNET,
      serviceSubnet: SERVICE_SUBNET,
      dnsDomain: 'cluster.local',
    },
    node: { name: o.nodeName, address: o.address },
    platform: TEST_WORLD,
  });
}

export interface JoinOptions {
  nodeName: string;
  address: string;
  apiServerEndpoint: string;
  token: string;
  caCertHash: string;
}

/** `kubeadm join --config` for a worker, with a bootstrap token and the CA's public key hash. */
export function joinConfiguration(o: JoinOptions): string {
  return kubeadm.joinConfiguration({
    node: { name: o.nodeName, address: o.address },
    apiServerEndpoint: o.apiServerEndpoint,
    token: o.token,
    caCertHash: o.caCertHash,
    platform: TEST_WORLD,
  });
}

/** `kubeadm upgrade apply|node --config` for a test-world node: the new version, the node's patches again, no pulls. */
export function upgradeConfiguration(o: { version: string; nodeName: string }): string {
  return kubeadm.upgradeConfiguration({ version: o.version, node: o.nodeName, platform: TEST_WORLD });
}
