/**
 * Everything a machine needs to become a Kubernetes node through kubeadm, as parts of its
 * NodeSpec (the agent converges them): packages at exact versions, files, units, sysctls and
 * kernel modules, per role and platform. Pure. The kubelet's own unit is not among them:
 * the kubelet package enables it, kubeadm starts it at init/join, and the coordinator
 * restarts it by an operation after an upgrade.
 */
import type { File, Package, Unit } from '@herd/proto';
import { PATCHES_DIR } from './config.js';
import { CONTAINERD_CONFIG_PATH, containerdConfig, registryHostsFiles } from './containerd.js';
import { ENDPOINT_PACKAGES, HAPROXY_CONFIG_PATH, KEEPALIVED_CHECK_PATH, KEEPALIVED_CONFIG_PATH, endpointFiles, type ControlPlaneEndpoint } from './endpoint.js';
import { InvalidProfileInput } from './errors.js';
import { addonParts } from './network.js';
import type { Platform } from './platform.js';
import * as valid from './validate.js';
import { debianVersion } from './version.js';

/** Kubernetes' own packages, at the cluster's version (pkgs.k8s.io's names; ours are built the same way). */
export const KUBERNETES_PACKAGES = ['kubeadm', 'kubelet', 'kubectl'] as const;
/** What every node needs from Debian: the runtime, the CNI plugins, and the tools kubeadm's preflight checks ask for. */
export const NODE_DEBIAN_PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'conntrack', 'iptables', 'ethtool', 'socat', 'ebtables'] as const;
export const KUBELET_PATCH_PATH = `${PATCHES_DIR}/kubeletconfiguration+strategic.yaml`;

export interface NodeProfileInput {
  role: 'control-plane' | 'worker';
  node: string;
  address: string;
  version: string;
  platform: Platform;
  /** The pause image kubeadm lists for `version` (`kubeadm config images list`), containerd's sandbox image. */
  pauseImage: string;
  /**
   * Exact Debian versions (NodeSpec packages have no "any version") for every name
   * requiredDebianPackages() lists; other entries are ignored. Typically the profile's os.packages.
   */
  debianPackages: Readonly<Record<string, string>>;
  /** The cluster's pod network (networking.podCIDR): flannel's Network; nodes get their ranges from it. */
  podSubnet: string;
  /** The cluster's Service network (networking.serviceCIDR): routed where the platform says so. */
  serviceSubnet: string;
  /** host:port of the cluster's API (controlPlaneEndpoint), once known: flannel talks to it directly. */
  apiServerEndpoint?: string;
  /** The VIP endpoint, for control planes when there is more than one; ignored on workers. */
  endpoint?: ControlPlaneEndpoint;
}

export interface NodeParts {
  packages: Package[];
  files: File[];
  units: Unit[];
  sysctls: Record<string, string>;
  kernelModules: string[];
}

function servesEndpoint(o: Pick<NodeProfileInput, 'role' | 'endpoint'>): o is { role: 'control-plane'; endpoint: ControlPlaneEndpoint } {
  return o.role === 'control-plane' && o.endpoint !== undefined;
}

/** The Debian packages (besides Kubernetes' own) whose exact versions nodeParts needs in debianPackages. */
export function requiredDebianPackages(o: Pick<NodeProfileInput, 'role' | 'endpoint'>): string[] {
  return [...NODE_DEBIAN_PACKAGES, ...(servesEndpoint(o) ? ENDPOINT_PACKAGES : [])];
}

/** Entries with the same key later in the list replace earlier ones (the platform's own override ours). */
function byKey<T>(key: (item: T) => string, ...lists: T[][]): T[] {
  const merged = new Map<string, T>();
  for (const item of lists.flat()) {
    merged.delete(key(item));
    merged.set(key(item), item);
  }
  return [...merged.values()];
}

function packages(o: NodeProfileInput): Package[] {
  const names = requiredDebianPackages(o);
  const missing = names.filter((n) => !o.debianPackages[n]);
  if (missing.length) {
    throw new InvalidProfileInput('debianPackages', `no exact version for ${missing.join(', ')} (a ${o.role}${servesEndpoint(o) ? ' serving the VIP' : ''} needs ${names.join(', ')})`);
  }
  const kubernetesVersion = debianVersion(o.version);
  return [
    // Held: an unattended upgrade must never move the kubelet or the runtime under a running node.
    ...KUBERNETES_PACKAGES.map((name) => ({ name, version: kubernetesVersion, hold: true, allowDowngrade: false })),
    ...names.map((name) => ({ name, version: o.debianPackages[name]!, hold: true, allowDowngrade: false })),
  ];
}

/** A control plane's add-ons (the pod network's manifest and the manager that applies it); none on workers. */
function addonsOf(o: NodeProfileInput): { files: File[]; units: Unit[] } {
  if (o.role !== 'control-plane') return { files: [], units: [] };
  return addonParts({ podSubnet: o.podSubnet, ...(o.apiServerEndpoint ? { apiServerEndpoint: o.apiServerEndpoint } : {}) });
}

function units(o: NodeProfileInput, addons: Unit[]): Unit[] {
  const running = (name: string, restartOn: string[]): Unit => ({ name, content: '', enabled: true, running: true, restartOn });
  return [
    running('containerd.service', [CONTAINERD_CONFIG_PATH]),
    ...(servesEndpoint(o)
      ? [running('haproxy.service', [HAPROXY_CONFIG_PATH]), running('keepalived.service', [KEEPALIVED_CONFIG_PATH, KEEPALIVED_CHECK_PATH])]
      : []),
    ...addons,
    ...(o.platform.serviceRouteInterface ? [serviceRouteUnit(o.serviceSubnet, o.platform.serviceRouteInterface)] : []),
  ];
}

export const SERVICE_ROUTE_UNIT = 'herd-service-route.service';

/** A route to the Service network through `device`, at every boot, before the kubelet (Platform.serviceRouteInterface says why). */
function serviceRouteUnit(serviceSubnet: string, device: string): Unit {
  const content = `# Written by herd: this node has no default route, and host-network processes (the API
# server calling a webhook) need a route to a ClusterIP before kube-proxy translates it.
[Unit]
Description=herd: a route to the cluster's Service network
Wants=network-online.target
After=network-online.target
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip route replace ${serviceSubnet} dev ${device}

[Install]
WantedBy=multi-user.target
`;
  return { name: SERVICE_ROUTE_UNIT, content, enabled: true, running: true, restartOn: [] };
}

function files(o: NodeProfileInput, addons: File[]): File[] {
  const patch = o.platform.kubeletPatch(o.node);
  const mirror = o.platform.registryMirror?.();
  return [
    { path: CONTAINERD_CONFIG_PATH, content: containerdConfig({ platform: o.platform, pauseImage: o.pauseImage, ...(mirror ? { mirror } : {}) }), mode: 0o644 },
    ...(mirror ? registryHostsFiles(mirror) : []),
    ...(patch === undefined ? [] : [{ path: KUBELET_PATCH_PATH, content: patch, mode: 0o644 }]),
    ...(servesEndpoint(o) ? endpointFiles(o.endpoint, { name: o.node, address: o.address }) : []),
    // The CNI configuration itself comes from flannel's DaemonSet.
    ...addons,
  ];
}

/**
 * The node's parts for its NodeSpec. Kernel modules and the bridge sysctl only where the
 * platform can load modules (br_netfilter makes bridged pod traffic pass iptables, which
 * kube-proxy relies on); IP forwarding everywhere (kubeadm's preflight checks it).
 */
export function nodeParts(o: NodeProfileInput): NodeParts {
  valid.nodeName('node', o.node);
  valid.address('address', o.address);
  valid.cidr('podSubnet', o.podSubnet);
  valid.cidr('serviceSubnet', o.serviceSubnet);
  if (o.platform.serviceRouteInterface !== undefined) valid.word('platform.serviceRouteInterface', o.platform.serviceRouteInterface);
  const modules = o.platform.loadKernelModules !== false;
  const addons = addonsOf(o);
  return {
    packages: byKey((p) => p.name ?? '', packages(o), o.platform.packages(o.version)),
    files: byKey((f) => f.path ?? '', files(o, addons.files), o.platform.files(o.node)),
    units: byKey((u) => u.name ?? '', units(o, addons.units), o.platform.units(o.node)),
    sysctls: { 'net.ipv4.ip_forward': '1', ...(modules ? { 'net.bridge.bridge-nf-call-iptables': '1' } : {}) },
    kernelModules: modules ? ['overlay', 'br_netfilter'] : [],
  };
}
