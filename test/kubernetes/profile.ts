/**
 * The Kubernetes node profile of the test world, as text: containerd's configuration, the
 * CNI bridge, kubeadm's init/join/upgrade configurations and the per-node kubelet patch.
 * Pure functions, no I/O, so the lifecycle code can generate the same files. Every
 * setting that exists only because nodes are systemd-nspawn machines on a cgroup v1 host
 * says so; docs/test-world.md ("Kubernetes in the test world") has the longer story.
 */

/** The kubeadm configuration API every supported version (1.34, 1.35) reads. */
export const KUBEADM_API = 'kubeadm.k8s.io/v1beta4';
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
/** Where each node keeps its kubeadm patches (the per-node kubelet settings). */
export const PATCHES_DIR = '/etc/kubernetes/herd-patches';
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

/**
 * kubeadm's waits, longer than its defaults (4-5 minutes): the test world's machines share
 * two cores with everything else on the host, and a control plane starting there is slow.
 * An upper bound, not an expectation.
 */
const TIMEOUTS = `timeouts:
  controlPlaneComponentHealthCheck: 15m0s
  kubeletHealthCheck: 10m0s
  tlsBootstrap: 10m0s
  discovery: 10m0s
  upgradeManifests: 15m0s
`;

export function ignoredPreflight(): string[] {
  return Object.keys(IGNORED_PREFLIGHT);
}

/** `ignorePreflightErrors:` with the list, or nothing when it is empty. */
function ignoreList(indent: string): string {
  const names = ignoredPreflight();
  return names.length ? `${indent}ignorePreflightErrors:\n${names.map((n) => `${indent}  - ${n}`).join('\n')}\n` : '';
}

/**
 * containerd 1.6 (Debian bookworm) for the kubelet:
 * - `snapshotter = "native"`: the machine's root is an overlayfs, and an overlayfs upper
 *   directory cannot sit on another overlayfs (mount fails with EINVAL), so image layers are
 *   unpacked as plain copies;
 * - `SystemdCgroup = false`: the kubelet uses the cgroupfs driver (see kubeletPatch);
 * - `restrict_oom_score_adj = true`: the kubelet asks for oom_score_adj -998 for pod
 *   sandboxes, and lowering a score needs CAP_SYS_RESOURCE, which this host's own bounding set
 *   lacks (so no machine has it): runc's init would fail (`can't get final child's PID from
 *   pipe: EOF`). With this, containerd never asks for less than its own score;
 * - `NoNewKeyring = true`: systemd-nspawn's seccomp filter refuses the keyring calls runc
 *   makes to give each container its own session keyring (`unable to join session keyring:
 *   operation not permitted`); the container keeps the machine's keyring instead;
 * - `sandbox_image`: the pause image kubeadm lists for this version (containerd 1.6's
 *   default, pause:3.6, is not in the bundle and could not be pulled);
 * - CNI binaries where Debian's containernetworking-plugins installs them.
 */
export function containerdConfig(options: { pauseImage: string }): string {
  return `# Written by herd's test world (test/kubernetes/profile.ts)
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${options.pauseImage}"
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        NoNewKeyring = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`;
}

/** A bridge network for the node's pods, one /24 of POD_SUBNET per node, from Debian's CNI plugins. */
export function cniBridgeConfig(options: { podCidr: string }): string {
  return `${JSON.stringify({
    cniVersion: '1.0.0',
    name: 'herd-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: options.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2)}\n`;
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

/**
 * The cluster-wide KubeletConfiguration: the cgroupfs driver (the machine's systemd does
 * not own the cgroup controllers it would have to delegate — they are the host's, shared by
 * every machine — so the kubelet manages its own subtree directly), and `failCgroupV1: false`
 * because this host has cgroup v1 controllers only and kubelet 1.35 refuses them by default.
 */
function kubeletConfiguration(): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
`;
}

export interface InitOptions {
  version: string;
  nodeName: string;
  address: string;
  clusterName?: string;
}

/** What init and join configurations say alike about the node: its name, the runtime, no pulls, the ignored checks, the patches. */
function nodeRegistration(name: string): string {
  return `nodeRegistration:
  name: ${name}
  criSocket: ${CRI_SOCKET}
  imagePullPolicy: Never
${ignoreList('  ')}patches:
  directory: ${PATCHES_DIR}
`;
}

/**
 * `kubeadm init --config`: one control plane at the machine's address. The kube-proxy and
 * CoreDNS addons are disabled (their images are not built; docs/test-world.md), which also
 * keeps kubeadm from listing, checking or pulling them.
 */
export function initConfiguration(o: InitOptions): string {
  return `apiVersion: ${KUBEADM_API}
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${o.address}
  bindPort: 6443
${nodeRegistration(o.nodeName)}${TIMEOUTS}---
apiVersion: ${KUBEADM_API}
kind: ClusterConfiguration
clusterName: ${o.clusterName ?? 'herd-test'}
kubernetesVersion: ${o.version}
controlPlaneEndpoint: ${o.address}:6443
networking:
  podSubnet: ${POD_SUBNET}
  serviceSubnet: ${SERVICE_SUBNET}
dns:
  disabled: true
proxy:
  disabled: true
---
${kubeletConfiguration()}`;
}

export interface JoinOptions {
  nodeName: string;
  apiServerEndpoint: string;
  token: string;
  caCertHash: string;
}

/** `kubeadm join --config` for a worker, with a bootstrap token and the CA's public key hash. */
export function joinConfiguration(o: JoinOptions): string {
  return `apiVersion: ${KUBEADM_API}
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: ${o.apiServerEndpoint}
    token: ${o.token}
    caCertHashes:
      - ${o.caCertHash}
${nodeRegistration(o.nodeName)}${TIMEOUTS}`;
}

/**
 * `kubeadm upgrade apply --config`: the new version, the node's patches again (the upgrade
 * rewrites the kubelet's configuration from the cluster's, and without the patch the node
 * would lose its cgroupRoot), no image pulls, no prompt.
 */
export function upgradeConfiguration(o: { version: string }): string {
  return `apiVersion: ${KUBEADM_API}
kind: UpgradeConfiguration
apply:
  kubernetesVersion: ${o.version}
  forceUpgrade: false
  imagePullPolicy: Never
${ignoreList('  ')}  patches:
    directory: ${PATCHES_DIR}
node:
  imagePullPolicy: Never
${ignoreList('  ')}  patches:
    directory: ${PATCHES_DIR}
${TIMEOUTS}`;
}
