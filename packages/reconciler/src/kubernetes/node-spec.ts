import type { Cluster } from '@herd/api';
import { debianVersion, nodeParts, type ControlPlaneEndpoint, type Platform } from '@herd/kubeadm';
import { buildNodeSpec, type NodeSpecContext, type PoolPlan } from '@herd/planner';
import type { NodeSpec } from '@herd/proto';
import type { NodeVersions } from './lifecycle.js';

/** The sandbox image of Kubernetes 1.34 and 1.35, from registry.k8s.io, for platforms that pull. */
const DEFAULT_PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';

export interface KubernetesNodeContext extends NodeSpecContext {
  address: string;
  versions: NodeVersions;
  platform: Platform;
  endpoint?: ControlPlaneEndpoint;
  /** The cluster's controlPlaneEndpoint (host:port), once known. */
  apiServerEndpoint?: string;
}

/**
 * A machine's whole spec: the OS from Git (buildNodeSpec) and what makes it a Kubernetes
 * node of its role (the kubeadm package's profile for its platform). Git's own packages,
 * sysctls and files win over the profile's where both name the same thing: the repository
 * is the last word.
 */
export function kubernetesNodeSpec(cluster: Cluster, pool: PoolPlan, machine: string, context: KubernetesNodeContext): NodeSpec {
  const os = buildNodeSpec(cluster, pool, machine, context);
  // The node's parts at kubeadm's version (the images `kubeadm upgrade` deploys come with it);
  // in an upgrade the kubelet and kubectl stay behind until `kubeadm upgrade` has run.
  const version = context.versions.kubeadm;
  const parts = nodeParts({
    role: pool.role, node: machine, address: context.address, version, platform: context.platform,
    pauseImage: context.platform.pauseImage?.(version) ?? DEFAULT_PAUSE_IMAGE,
    // Git's exact versions first, else what the platform serves.
    debianPackages: { ...context.platform.debianVersions?.(), ...cluster.spec.os.packages },
    podSubnet: cluster.spec.kubernetes.networking.podCIDR,
    serviceSubnet: cluster.spec.kubernetes.networking.serviceCIDR,
    ...(context.apiServerEndpoint ? { apiServerEndpoint: context.apiServerEndpoint } : {}),
    ...(context.endpoint && pool.role === 'control-plane' ? { endpoint: context.endpoint } : {}),
  });
  const packages = parts.packages.map((p) => (p.name === 'kubelet' || p.name === 'kubectl' ? { ...p, version: debianVersion(context.versions.kubelet) } : p));
  const named = <T extends { name?: string; path?: string }>(mine: T[], theirs: T[], key: (t: T) => string) => {
    const taken = new Set(mine.map(key));
    return [...theirs.filter((t) => !taken.has(key(t))), ...mine];
  };
  return {
    ...os,
    kernelModules: [...new Set([...parts.kernelModules, ...(os.kernelModules ?? [])])],
    sysctls: { ...parts.sysctls, ...os.sysctls },
    packages: named(os.packages ?? [], packages, (p) => p.name ?? ''),
    files: named(os.files ?? [], parts.files, (f) => f.path ?? ''),
    units: named(os.units ?? [], parts.units, (u) => u.name ?? ''),
  };
}
