/**
 * Rules that span fields, checked on a resolved cluster (profile and defaults applied).
 * Each returns issues with the path of the field to change.
 */
import { cidrsOverlap, durationMs, parseCidr } from './formats.js';
import { LIMITS } from './limits.js';
import type { ClusterSpec } from './schema.js';
import type { Issue } from './validate.js';
import { isSupportedKubernetes, supportedKubernetesText } from './versions.js';

/** The most machines one cluster of a provider kind can hold, when the provider says (see @herd/provider's registry). */
export type ProviderCapacity = (kind: string) => number | undefined;

const RESERVED_POOL_NAMES = new Set(['control-plane']);

export function clusterRules(spec: ClusterSpec, capacity?: ProviderCapacity): Issue[] {
  return [
    ...versionRules(spec), ...poolRules(spec), ...sizeRules(spec, capacity), ...networkRules(spec),
    ...upgradeRules(spec), ...timeoutRules(spec), ...providerRules(spec),
  ];
}

function versionRules(spec: ClusterSpec): Issue[] {
  const version = spec.kubernetes.version;
  return isSupportedKubernetes(version)
    ? []
    : [{ path: ['spec', 'kubernetes', 'version'], message: `Kubernetes ${version} is not a version herd supports; supported: ${supportedKubernetesText()}` }];
}

function sizeRules(spec: ClusterSpec, capacity?: ProviderCapacity): Issue[] {
  const machines = spec.controlPlane.replicas + spec.pools.reduce((sum, p) => sum + p.replicas, 0);
  const own = capacity?.(spec.provider.kind);
  const limit = own !== undefined && own < LIMITS.machinesPerCluster ? own : LIMITS.machinesPerCluster;
  if (machines <= limit) return [];
  const whose = limit === own ? `the ${spec.provider.kind} provider holds at most ${limit} machines per cluster` : `a cluster has at most ${limit} machines`;
  const needs = `the cluster needs ${machines} machines (control plane ${spec.controlPlane.replicas} + pools ${machines - spec.controlPlane.replicas})`;
  return [{ path: ['spec', 'pools'], message: `${needs}, but ${whose}` }];
}

function timeoutRules(spec: ClusterSpec): Issue[] {
  const fields = [
    ['health', 'startupTimeout', spec.health.startupTimeout],
    ['health', 'unhealthyTimeout', spec.health.unhealthyTimeout],
    ['upgrade', 'drainTimeout', spec.upgrade.drainTimeout],
  ] as const;
  return fields
    .filter(([, , value]) => durationMs(value) === 0)
    .map(([group, field, value]) => ({ path: ['spec', group, field], message: `${field} ${value} is zero; a timeout must be longer than 0s` }));
}

function poolRules(spec: ClusterSpec): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, number>();
  spec.pools.forEach((pool, i) => {
    const path = ['spec', 'pools', i, 'name'];
    if (RESERVED_POOL_NAMES.has(pool.name)) {
      issues.push({ path, message: `pool name "${pool.name}" is reserved for the control plane; choose another` });
    }
    const first = seen.get(pool.name);
    if (first !== undefined) issues.push({ path, message: `pool name "${pool.name}" is already used by spec.pools[${first}]; pool names must be unique` });
    else seen.set(pool.name, i);
  });
  return issues;
}

function networkRules(spec: ClusterSpec): Issue[] {
  const issues: Issue[] = [];
  const net = spec.kubernetes.networking;
  const at = (field: string) => ['spec', 'kubernetes', 'networking', field];
  const pod = parseCidr(net.podCIDR)!;
  const service = parseCidr(net.serviceCIDR)!;
  if (pod.prefix > 24) issues.push({ path: at('podCIDR'), message: `${net.podCIDR} is too small: every node gets a /24 from it, so it must be /24 or larger` });
  if (service.prefix < 12) issues.push({ path: at('serviceCIDR'), message: `${net.serviceCIDR} is too large: Kubernetes allows at most a /12 for services` });
  if (cidrsOverlap(pod, service)) issues.push({ path: at('serviceCIDR'), message: `${net.serviceCIDR} overlaps podCIDR ${net.podCIDR}; pod and service networks must be disjoint` });
  if (spec.provider.kind === 'local' && spec.provider.subnet) {
    const subnet = parseCidr(spec.provider.subnet)!;
    for (const [name, cidr] of [['podCIDR', pod], ['serviceCIDR', service]] as const) {
      if (cidrsOverlap(subnet, cidr)) {
        issues.push({ path: ['spec', 'provider', 'subnet'], message: `${spec.provider.subnet} overlaps ${name} ${net[name]}; the machines' network must be disjoint from it` });
      }
    }
  }
  return issues;
}

function upgradeRules(spec: ClusterSpec): Issue[] {
  const { maxUnavailable, maxSurge } = spec.upgrade;
  const zero = (v: number | string) => v === 0 || v === '0%';
  return zero(maxUnavailable) && zero(maxSurge)
    ? [{ path: ['spec', 'upgrade', 'maxUnavailable'], message: 'maxUnavailable and maxSurge are both 0, so no rollout could ever start; allow at least one of them' }]
    : [];
}

function providerRules(spec: ClusterSpec): Issue[] {
  if (spec.provider.kind !== 'static') return [];
  const issues: Issue[] = [];
  const machines = spec.provider.machines;
  const needed = spec.controlPlane.replicas + spec.pools.reduce((sum, p) => sum + p.replicas, 0);
  if (machines.length < needed) {
    issues.push({
      path: ['spec', 'provider', 'machines'],
      message: `${machines.length} machine${machines.length === 1 ? ' is' : 's are'} listed but the cluster needs ${needed} (control plane ${spec.controlPlane.replicas} + pools ${needed - spec.controlPlane.replicas})`,
    });
  }
  for (const field of ['name', 'address'] as const) {
    const seen = new Map<string, number>();
    machines.forEach((m, i) => {
      const first = seen.get(m[field]);
      if (first !== undefined) issues.push({ path: ['spec', 'provider', 'machines', i, field], message: `${field} "${m[field]}" is already used by spec.provider.machines[${first}]` });
      else seen.set(m[field], i);
    });
  }
  if (spec.controlPlane.replicas > 1 && !spec.kubernetes.controlPlaneEndpoint) {
    issues.push({
      path: ['spec', 'kubernetes'],
      message: 'missing required field "controlPlaneEndpoint": with static machines and more than one control-plane replica, herd needs a free address on their network for the virtual IP',
    });
  }
  return issues;
}

/**
 * Rules between the spec in force and the next one, for changes kubeadm cannot make: a
 * Kubernetes version skipping a minor, or going back. (The planner refuses the same against
 * the version the cluster runs, for a coordinator that starts without a spec in force.)
 */
export function transitionRules(previous: ClusterSpec, next: ClusterSpec): Issue[] {
  const from = previous.kubernetes.version.split('.').map(Number) as [number, number, number];
  const to = next.kubernetes.version.split('.').map(Number) as [number, number, number];
  const path = ['spec', 'kubernetes', 'version'];
  const order = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  if (order(to, from) < 0) {
    return [{ path, message: `${next.kubernetes.version} is older than ${previous.kubernetes.version}, the version in force; kubeadm upgrades, it does not downgrade` }];
  }
  if (to[0] !== from[0] || to[1] - from[1] > 1) {
    const step = `${from[0]}.${from[1] + 1}`;
    return [{ path, message: `${next.kubernetes.version} skips a minor version: ${previous.kubernetes.version} is in force, and Kubernetes upgrades one minor at a time; commit a ${step} version first` }];
  }
  return [];
}
