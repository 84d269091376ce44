/**
 * kubeadm's configuration files (API kubeadm.k8s.io/v1beta4, read by kubeadm 1.31 and
 * later) for `kubeadm init`, `kubeadm join` and `kubeadm upgrade apply|node`, per platform.
 * Pure: the same input gives the same text, so the coordinator can compare and log them.
 */
import { stringify } from 'yaml';
import type { Platform } from './platform.js';
import { kubeVersion } from './version.js';
import * as valid from './validate.js';

/** The kubeadm configuration API every supported version (1.34, 1.35) reads. */
export const KUBEADM_API = 'kubeadm.k8s.io/v1beta4';
export const KUBELET_API = 'kubelet.config.k8s.io/v1beta1';
export const KUBE_PROXY_API = 'kubeproxy.config.k8s.io/v1alpha1';
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
/** Where a node keeps its kubeadm patches (its own kubelet settings), when its platform has any. */
export const PATCHES_DIR = '/etc/kubernetes/herd-patches';
/** The API server's own port on every control-plane machine. */
export const API_SERVER_PORT = 6443;

/**
 * kubeadm's waits, longer than its defaults (4-5 minutes): a control plane starting on a
 * loaded or small machine is slow (seen in the test world: two shared cores). An upper
 * bound, not an expectation; the coordinator's own startupTimeout still applies.
 */
export const KUBEADM_TIMEOUTS = {
  controlPlaneComponentHealthCheck: '15m0s',
  kubeletHealthCheck: '10m0s',
  tlsBootstrap: '10m0s',
  discovery: '10m0s',
  upgradeManifests: '15m0s',
} as const;

export interface ClusterConfig {
  name: string;
  version: string;
  /** host:port every client and node uses: the VIP and haproxy's port, or the only control plane's address:6443. */
  controlPlaneEndpoint: string;
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
}

export interface NodeIdentity {
  name: string;
  address: string;
}

type Yaml = Record<string, unknown>;

function documents(...docs: Yaml[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

function ignored(platform: Platform): Yaml {
  const names = Object.keys(platform.ignorePreflightErrors);
  if (names.includes('all')) throw new Error(`platform ${platform.name}: ignorePreflightErrors must name checks, never "all"`);
  return names.length ? { ignorePreflightErrors: names } : {};
}

/** `patches:` when this node has a kubelet patch (nodeParts writes it into PATCHES_DIR). */
function patches(platform: Platform, node: string): Yaml {
  return platform.kubeletPatch(node) === undefined ? {} : { patches: { directory: PATCHES_DIR } };
}

/** What init and join say alike about the node: its name, the runtime, the pull policy, the ignored checks. */
function nodeRegistration(node: { name: string; address: string }, platform: Platform): Yaml {
  return {
    name: node.name, criSocket: CRI_SOCKET, imagePullPolicy: platform.imagePullPolicy,
    // The address the machine is reached on: without a default route (machines behind a
    // bridge) the kubelet finds none and the Node has no InternalIP, so no logs or exec.
    kubeletExtraArgs: [{ name: 'node-ip', value: node.address }],
    ...ignored(platform),
  };
}

/**
 * The cluster-wide KubeletConfiguration: the platform's cgroup driver (containerd's
 * SystemdCgroup matches it), and `failCgroupV1: false` only where the platform has no
 * cgroup v2 (kubelet 1.35 refuses cgroup v1 otherwise).
 */
function kubeletConfiguration(platform: Platform): Yaml {
  return {
    apiVersion: KUBELET_API,
    kind: 'KubeletConfiguration',
    cgroupDriver: platform.cgroupDriver,
    ...(platform.allowCgroupV1 ? { failCgroupV1: false } : {}),
  };
}

/** kube-proxy's configuration where the platform needs one (kubeadm's defaults otherwise); the upgrade keeps it (kube-proxy's ConfigMap). */
function kubeProxyConfiguration(platform: Platform): Yaml[] {
  if (platform.conntrackMaxPerCore === undefined) return [];
  return [{ apiVersion: KUBE_PROXY_API, kind: 'KubeProxyConfiguration', conntrack: { maxPerCore: platform.conntrackMaxPerCore } }];
}

function localAPIEndpoint(address: string): Yaml {
  return { advertiseAddress: address, bindPort: API_SERVER_PORT };
}

/**
 * `kubeadm init --config` on the first control plane. With `certificateKey`, run it with
 * `--upload-certs` so further control planes can join with that key (the uploaded
 * certificates expire after two hours; `kubeadm init phase upload-certs` renews them).
 */
export function initConfiguration(o: { cluster: ClusterConfig; node: NodeIdentity; certificateKey?: string; platform: Platform }): string {
  const { cluster, node, platform } = o;
  valid.nodeName('node.name', node.name);
  valid.address('node.address', node.address);
  valid.endpoint('cluster.controlPlaneEndpoint', cluster.controlPlaneEndpoint);
  valid.cidr('cluster.podSubnet', cluster.podSubnet);
  valid.cidr('cluster.serviceSubnet', cluster.serviceSubnet);
  if (o.certificateKey !== undefined) valid.certificateKey('certificateKey', o.certificateKey);
  const init: Yaml = {
    apiVersion: KUBEADM_API,
    kind: 'InitConfiguration',
    localAPIEndpoint: localAPIEndpoint(node.address),
    nodeRegistration: nodeRegistration(node, platform),
    ...(o.certificateKey ? { certificateKey: o.certificateKey } : {}),
    ...patches(platform, node.name),
    timeouts: KUBEADM_TIMEOUTS,
  };
  const clusterConfiguration: Yaml = {
    apiVersion: KUBEADM_API,
    kind: 'ClusterConfiguration',
    clusterName: valid.word('cluster.name', cluster.name),
    kubernetesVersion: kubeVersion(cluster.version),
    controlPlaneEndpoint: cluster.controlPlaneEndpoint,
    networking: { podSubnet: cluster.podSubnet, serviceSubnet: cluster.serviceSubnet, dnsDomain: cluster.dnsDomain },
  };
  // kube-proxy and CoreDNS are kubeadm's add-ons, at its defaults for the version.
  return documents(init, clusterConfiguration, kubeletConfiguration(platform), ...kubeProxyConfiguration(platform));
}

/**
 * `kubeadm join --config`: a worker with a bootstrap token and the CA's public key hash,
 * or, with `controlPlane`, a further control plane that fetches the uploaded certificates
 * with the certificate key and serves the API on its own address.
 */
export function joinConfiguration(o: {
  node: NodeIdentity;
  apiServerEndpoint: string;
  token: string;
  caCertHash: string;
  controlPlane?: { certificateKey: string };
  platform: Platform;
}): string {
  const { node, platform } = o;
  valid.nodeName('node.name', node.name);
  valid.address('node.address', node.address);
  const controlPlane = o.controlPlane
    ? { controlPlane: { localAPIEndpoint: localAPIEndpoint(node.address), certificateKey: valid.certificateKey('controlPlane.certificateKey', o.controlPlane.certificateKey) } }
    : {};
  return documents({
    apiVersion: KUBEADM_API,
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: valid.endpoint('apiServerEndpoint', o.apiServerEndpoint),
        token: valid.token('token', o.token),
        caCertHashes: [valid.caCertHash('caCertHash', o.caCertHash)],
      },
    },
    nodeRegistration: nodeRegistration(node, platform),
    ...controlPlane,
    ...patches(platform, node.name),
    timeouts: KUBEADM_TIMEOUTS,
  });
}

/**
 * `kubeadm upgrade apply --config` (the first control plane) and `kubeadm upgrade node
 * --config` (every other node) read the same file. The node's patches are given again: the
 * upgrade rewrites the kubelet's configuration from the cluster's, and a node would lose
 * its own settings without them. `node`: the node the file is for (a platform patches
 * every node or none, so without it the answer for any node is taken).
 */
export function upgradeConfiguration(o: { version: string; node?: string; platform: Platform }): string {
  const { platform } = o;
  const node = o.node === undefined ? '' : valid.nodeName('node', o.node);
  const common = { imagePullPolicy: platform.imagePullPolicy, ...ignored(platform), ...patches(platform, node) };
  return documents({
    apiVersion: KUBEADM_API,
    kind: 'UpgradeConfiguration',
    apply: { kubernetesVersion: kubeVersion(o.version), forceUpgrade: false, ...common },
    node: common,
    timeouts: KUBEADM_TIMEOUTS,
  });
}
