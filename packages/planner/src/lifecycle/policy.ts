/**
 * The numbers the lifecycle rules work with, resolved once from a cluster's spec: versions in
 * one form, int-or-percent settings against a pool's size, durations in milliseconds.
 */
import type { Cluster } from '@herd/api';
import { parseDuration } from '@herd/sys';

/** Kubernetes versions compared in one form: a leading "v" (Git may omit it, the API never does). */
export function normaliseVersion(version: string): string {
  return version.startsWith('v') ? version : `v${version}`;
}

export interface Version { major: number; minor: number; patch: number }

/** Reads vMAJOR.MINOR.PATCH (anything after it, like +build, is ignored); undefined when it is not one. */
export function parseVersion(version: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** A whole number as it is; a percentage of `size`, rounded as asked. */
export function scaled(value: number | string, size: number, round: 'down' | 'up'): number {
  if (typeof value === 'number') return value;
  const exact = (size * Number(value.replace(/%$/, ''))) / 100;
  return round === 'up' ? Math.ceil(exact) : Math.floor(exact);
}

/** Members etcd needs healthy to keep quorum. */
export const majority = (members: number): number => Math.floor(members / 2) + 1;

/** One pool's limits, resolved against its replicas. */
export interface PoolLimits {
  /** Nodes disrupted at once, for any cause: percentages round down but allow at least one. */
  maxUnavailable: number;
  /** Extra machines during a replacement of outdated machines: percentages round up (as Deployments do). */
  maxSurge: number;
  /** More unhealthy members than this pauses remediation: percentages round down. */
  maxUnhealthy: number;
}

export interface LifecyclePolicy {
  /** spec.kubernetes.version as vX.Y.Z. */
  desiredVersion: string;
  startupTimeout: number;
  unhealthyTimeout: number;
  limits(replicas: number): PoolLimits;
}

function durationOf(text: string, field: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`${field}: "${text}" is not a duration such as 90s, 15m or 1h30m`);
  return ms;
}

export function policyOf(cluster: Cluster): LifecyclePolicy {
  const { upgrade, health } = cluster.spec;
  return {
    desiredVersion: normaliseVersion(cluster.spec.kubernetes.version),
    startupTimeout: durationOf(health.startupTimeout, 'spec.health.startupTimeout'),
    unhealthyTimeout: durationOf(health.unhealthyTimeout, 'spec.health.unhealthyTimeout'),
    limits: (replicas) => ({
      maxUnavailable: typeof upgrade.maxUnavailable === 'number' ? upgrade.maxUnavailable : Math.max(1, scaled(upgrade.maxUnavailable, replicas, 'down')),
      maxSurge: scaled(upgrade.maxSurge, replicas, 'up'),
      maxUnhealthy: scaled(health.maxUnhealthy, replicas, 'down'),
    }),
  };
}
