import { isConflict, isNotFound } from './errors.js';
import type { List, NodeObject } from './resources.js';
import type { KubeRequester } from './transport.js';

/** Set by herd when it cordons a node, so it only ever uncordons nodes it cordoned itself. */
export const CORDONED_ANNOTATION = 'herd.dev/cordoned';

export interface KubeNode {
  name: string;
  ready: boolean;
  /** When the Ready condition last changed (RFC 3339), '' when the node never reported. */
  readySince: string;
  /** e.g. v1.34.4; '' before the kubelet reported. */
  kubeletVersion: string;
  unschedulable: boolean;
  cordonedByHerd: boolean;
  podCIDR?: string;
  addresses: string[];
  labels: Record<string, string>;
}

export function toKubeNode(o: NodeObject): KubeNode {
  const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
  const node: KubeNode = {
    name: o.metadata.name,
    ready: ready?.status === 'True',
    readySince: ready?.lastTransitionTime ?? '',
    kubeletVersion: o.status?.nodeInfo?.kubeletVersion ?? '',
    unschedulable: o.spec?.unschedulable === true,
    cordonedByHerd: o.metadata.annotations?.[CORDONED_ANNOTATION] !== undefined,
    addresses: (o.status?.addresses ?? []).map((a) => a.address),
    labels: o.metadata.labels ?? {},
  };
  if (o.spec?.podCIDR) node.podCIDR = o.spec.podCIDR;
  return node;
}

const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

export async function listNodes(api: KubeRequester): Promise<KubeNode[]> {
  const list = await api.request<List<NodeObject>>('GET', '/api/v1/nodes');
  return list.items.map(toKubeNode);
}

export async function getNodeObject(api: KubeRequester, name: string): Promise<NodeObject | undefined> {
  try {
    return await api.request<NodeObject>('GET', nodePath(name));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function deleteNode(api: KubeRequester, name: string): Promise<void> {
  try {
    await api.request('DELETE', nodePath(name));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

const MERGE_PATCH = { contentType: 'application/merge-patch+json' };
const CONFLICT_RETRIES = 5;

/**
 * Marks the node unschedulable. A node someone else already cordoned is left as it is,
 * without herd's annotation, so herd never uncordons it. The patch carries the
 * resourceVersion read, so a concurrent change makes it fail (409) and we look again.
 */
export async function cordon(api: KubeRequester, name: string): Promise<void> {
  await withConflictRetry(async () => {
    const node = await mustGet(api, name);
    if (node.spec?.unschedulable) return;
    await api.request('PATCH', nodePath(name), {
      metadata: { resourceVersion: node.metadata.resourceVersion, annotations: { [CORDONED_ANNOTATION]: 'true' } },
      spec: { unschedulable: true },
    }, MERGE_PATCH);
  });
}

/** Makes the node schedulable again, only if herd cordoned it (its annotation is there). */
export async function uncordon(api: KubeRequester, name: string): Promise<void> {
  await withConflictRetry(async () => {
    const node = await mustGet(api, name);
    if (node.metadata.annotations?.[CORDONED_ANNOTATION] === undefined) return;
    await api.request('PATCH', nodePath(name), {
      metadata: { resourceVersion: node.metadata.resourceVersion, annotations: { [CORDONED_ANNOTATION]: null } },
      spec: { unschedulable: null },
    }, MERGE_PATCH);
  });
}

async function mustGet(api: KubeRequester, name: string): Promise<NodeObject> {
  return api.request<NodeObject>('GET', nodePath(name));
}

async function withConflictRetry(fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isConflict(e) || attempt >= CONFLICT_RETRIES) throw e;
    }
  }
}
