/**
 * What a kind of machine needs beyond a plain Debian host to run a kubelet: real VMs need
 * nothing (DEFAULT_PLATFORM); systemd-nspawn machines on a cgroup v1 host (the `local`
 * provider) need the settings its provider describes here. A provider hands its platform
 * to the coordinator, which puts it into every kubeadm configuration and node spec, so the
 * exceptions live with the machines that need them and nowhere else.
 */
import type { File, Package, Unit } from '@herd/proto';

export interface Platform {
  /** For logs and docs: which kind of machine this is. */
  name: string;
  /** The kubelet's and runc's cgroup driver. */
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** Kubelet 1.35 refuses cgroup v1 hosts unless told otherwise. */
  allowCgroupV1: boolean;
  /** kubeadm preflight checks ignored by name, each with why; never `all`. */
  ignorePreflightErrors: Readonly<Record<string, string>>;
  /** Never: images come with the machine (an air-gapped platform); IfNotPresent: pulled from the registry. */
  imagePullPolicy: 'Never' | 'IfNotPresent';
  /**
   * kube-proxy's conntrack.maxPerCore, where kubeadm's default (32768, which makes kube-proxy
   * raise nf_conntrack_max) cannot work: 0 leaves the table size alone (a container's network
   * namespace cannot change it; it is the host's).
   */
  conntrackMaxPerCore?: number;
  containerd: {
    snapshotter?: string;
    /** Containers cannot lower their OOM score below their parent's (unprivileged user namespaces, nspawn). */
    restrictOomScoreAdj: boolean;
    /** The kernel keyring is not namespaced (nspawn machines share the host's). */
    noNewKeyring: boolean;
  };
  /** Extra packages for a node at a Kubernetes version (for example the version's images as a package). */
  packages(version: string): Package[];
  /** Extra files for a node (scripts, drop-ins). */
  files(node: string): File[];
  /** Extra or overriding units for a node. */
  units(node: string): Unit[];
  /** A per-node KubeletConfiguration patch (kubeadm patches, strategic merge); undefined for every node or for none. */
  kubeletPatch(node: string): string | undefined;
  /**
   * Whether the node may load kernel modules (overlay, br_netfilter) and set the bridge
   * netfilter sysctl that needs br_netfilter; default true. Containers such as nspawn
   * machines share the host's kernel and cannot.
   */
  loadKernelModules?: boolean;
  /**
   * The interface a node reaches the cluster's Service network through, for machines without
   * a default route (nothing outside their network in reach): host-network processes such as
   * the API server calling a webhook or an aggregated API need a route to a ClusterIP before
   * kube-proxy's rules translate it. Undefined where nodes have a default route.
   */
  serviceRouteInterface?: string;
  /** containerd's sandbox image for a Kubernetes version, when the platform knows it (its images are bundled). */
  pauseImage?(version: string): string | undefined;
  /** Exact versions of the Debian packages nodes need (containerd, runc, …) that the platform serves; Git's os.packages win. */
  debianVersions?(): Record<string, string>;
  /**
   * The registry every node's containerd pulls the usual registries' images from (an
   * air-gapped platform's own), once it is known; undefined: pull from the registries themselves.
   */
  registryMirror?(): RegistryMirror | undefined;
}

/** A registry that stands in for others: containerd's hosts.toml for each of `registries` points to `endpoint`. */
export interface RegistryMirror {
  /** http://HOST:PORT or https://HOST:PORT of a registry serving the distribution API. */
  endpoint: string;
  /** The registries' names as images name them: registry.k8s.io, docker.io, quay.io, … */
  registries: readonly string[];
}

/** A VM or bare-metal machine with cgroup v2 and a registry in reach: nothing special. */
export const DEFAULT_PLATFORM: Platform = {
  name: 'default',
  cgroupDriver: 'systemd',
  allowCgroupV1: false,
  ignorePreflightErrors: {},
  imagePullPolicy: 'IfNotPresent',
  containerd: { restrictOomScoreAdj: false, noNewKeyring: false },
  packages: () => [],
  files: () => [],
  units: () => [],
  kubeletPatch: () => undefined,
};
