import type { Clock } from '@herd/sys';
import { isConflict, isNotFound } from './errors.js';
import type { LeaseObject } from './resources.js';
import type { KubeRequester } from './transport.js';

export const DEFAULT_LEASE_NAMESPACE = 'kube-system';

/** A coordination.k8s.io/v1 Lease as herd uses it: who holds a disruptive step, until when, doing what. */
export interface Lease {
  name: string;
  namespace: string;
  /** '' when nobody holds it. */
  holder: string;
  ttlMs: number;
  acquireTime?: string;
  renewTime?: string;
  /** Epoch ms after which another holder may take it. */
  expiresAt: number;
  /** Nobody holds it, or its holder stopped renewing it (as of the client's clock when read). */
  expired: boolean;
  annotations: Record<string, string>;
  resourceVersion: string;
}

const leasesPath = (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/leases`;
const leasePath = (ns: string, name: string) => `${leasesPath(ns)}/${encodeURIComponent(name)}`;

/** MicroTime as the API writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

export function toLease(o: LeaseObject, now: number): Lease {
  const spec = o.spec ?? {};
  const ttlMs = (spec.leaseDurationSeconds ?? 0) * 1000;
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  const holder = spec.holderIdentity ?? '';
  const expiresAt = Number.isNaN(renewed) ? 0 : renewed + ttlMs;
  const lease: Lease = {
    name: o.metadata.name,
    namespace: o.metadata.namespace ?? DEFAULT_LEASE_NAMESPACE,
    holder,
    ttlMs,
    expiresAt,
    expired: holder === '' || expiresAt <= now,
    annotations: o.metadata.annotations ?? {},
    resourceVersion: o.metadata.resourceVersion ?? '',
  };
  if (spec.acquireTime) lease.acquireTime = spec.acquireTime;
  if (spec.renewTime) lease.renewTime = spec.renewTime;
  return lease;
}

export class Leases {
  constructor(private readonly api: KubeRequester, private readonly clock: Clock) {}

  async get(name: string, namespace = DEFAULT_LEASE_NAMESPACE): Promise<Lease | undefined> {
    const o = await this.getObject(name, namespace);
    return o && toLease(o, this.clock.now());
  }

  /**
   * Takes the lease for `holder`, or renews it when `holder` already has it, storing
   * `annotations` (replacing the previous ones). False when someone else holds an unexpired
   * lease or wins the race (409 on create or on the resourceVersion-guarded update).
   */
  async acquire(name: string, holder: string, ttlMs: number, annotations: Record<string, string> = {}, namespace = DEFAULT_LEASE_NAMESPACE): Promise<boolean> {
    if (!holder) throw new Error('lease holder must not be empty');
    if (!(ttlMs > 0)) throw new Error(`lease ttlMs must be positive, got ${ttlMs}`);
    const now = this.clock.now();
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const current = await this.getObject(name, namespace);
    try {
      if (!current) {
        await this.api.request('POST', leasesPath(namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace, annotations },
          spec: { holderIdentity: holder, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      }
      const lease = toLease(current, now);
      const renewing = lease.holder === holder;
      if (!renewing && !lease.expired) return false;
      const spec = current.spec ?? {};
      await this.api.request('PUT', leasePath(namespace, name), {
        ...current,
        metadata: { ...current.metadata, annotations },
        spec: {
          ...spec,
          holderIdentity: holder,
          leaseDurationSeconds: seconds,
          acquireTime: renewing && spec.acquireTime ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
        },
      });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Deletes the lease if `holder` holds it (guarded by resourceVersion); false otherwise. */
  async release(name: string, holder: string, namespace = DEFAULT_LEASE_NAMESPACE): Promise<boolean> {
    const current = await this.getObject(name, namespace);
    if (!current || current.spec?.holderIdentity !== holder) return false;
    try {
      await this.api.request('DELETE', leasePath(namespace, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { resourceVersion: current.metadata.resourceVersion },
      });
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  private async getObject(name: string, namespace: string): Promise<LeaseObject | undefined> {
    try {
      return await this.api.request<LeaseObject>('GET', leasePath(namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}
