import type { Clock, Logger } from '@herd/sys';
import { DrainBlockedError, DrainTimeoutError, KubeError } from './errors.js';
import type { List, PodDisruptionBudgetObject, PodObject } from './resources.js';
import { selectorMatches } from './selector.js';
import type { KubeRequester } from './transport.js';

export interface DrainOptions {
  /** For the whole drain: evictions, their retries and waiting for the pods to be gone. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called after each round with the pods (namespace/name) still to go. */
  onProgress?(remaining: string[]): void;
  /** Pause between eviction retries while budgets refuse (429) and between checks; default 5 s. */
  retryIntervalMs?: number;
}

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const DEFAULT_RETRY_INTERVAL_MS = 5_000;

/**
 * Empties a node the way `kubectl drain` does, without cordoning it (the caller cordons
 * first): evicts every pod but DaemonSet and static (mirror) pods through the Eviction
 * API, so PodDisruptionBudgets are respected, and waits until those pods are deleted.
 * A budget that can never allow the eviction fails fast with DrainBlockedError; running
 * out of time fails with DrainTimeoutError naming the pods left.
 */
export async function drain(api: KubeRequester, node: string, o: DrainOptions, clock: Clock, logger: Logger): Promise<void> {
  const deadline = clock.now() + o.timeoutMs;
  const interval = o.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
  const pods = await podsToEvict(api, node);
  const waiting = new Map(pods.map((p) => [key(p), p]));
  const refusals = new Map<string, string>();
  const timedOut = (left: Iterable<string>) =>
    new DrainTimeoutError(node, [...left], o.timeoutMs, [...refusals].filter(([k]) => waiting.has(k)).map(([k, m]) => `${k}: ${m}`));

  let toEvict = pods;
  while (toEvict.length > 0) {
    await checkBudgets(api, node, toEvict);
    const refused: PodObject[] = [];
    for (const pod of toEvict) {
      const refusal = await evict(api, pod);
      if (refusal === undefined) {
        refusals.delete(key(pod));
        logger.info({ node, pod: key(pod) }, 'evicted');
      } else {
        refusals.set(key(pod), refusal);
        refused.push(pod);
      }
    }
    toEvict = refused;
    if (toEvict.length === 0) break;
    o.onProgress?.([...waiting.keys()]);
    if (clock.now() >= deadline) throw timedOut(waiting.keys());
    logger.info({ node, refused: toEvict.map(key) }, 'eviction refused by a disruption budget; retrying');
    await pause(clock, Math.min(interval, deadline - clock.now()), o.signal);
  }

  // Eviction only starts a graceful deletion: wait, as kubectl does, until the pods are gone.
  for (;;) {
    const present = new Set((await listPodsOn(api, node)).map((p) => p.metadata.uid));
    for (const [k, pod] of waiting) if (!present.has(pod.metadata.uid)) waiting.delete(k);
    o.onProgress?.([...waiting.keys()]);
    if (waiting.size === 0) return;
    if (clock.now() >= deadline) throw timedOut(waiting.keys());
    await pause(clock, Math.min(interval, 1_000, deadline - clock.now()), o.signal);
  }
}

/** What a drain of a node would do now, found without evicting anything (`herd plan`). */
export interface DrainPreview {
  /** namespace/name of each pod the drain evicts. */
  pods: string[];
  /** The budget that refuses an eviction now: for good (`never`), or until it allows a disruption again. */
  blockedBy?: { budget: string; never: boolean; message: string };
}

export async function previewDrain(api: KubeRequester, node: string): Promise<DrainPreview> {
  const pods = await podsToEvict(api, node);
  const preview: DrainPreview = { pods: pods.map(key) };
  try {
    await checkBudgets(api, node, pods);
  } catch (e) {
    if (!(e instanceof DrainBlockedError)) throw e;
    return { ...preview, blockedBy: { budget: e.budget, never: true, message: e.message } };
  }
  // A budget that allows no disruption now makes the drain wait for it (an eviction answers 429).
  const budgets = (await api.request<List<PodDisruptionBudgetObject>>('GET', '/apis/policy/v1/poddisruptionbudgets')).items;
  for (const pod of pods.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)) {
    const budget = budgets.find((b) => b.metadata.namespace === pod.metadata.namespace && b.spec?.selector !== undefined
      && selectorMatches(b.spec.selector, pod.metadata.labels ?? {}));
    if (budget && (budget.status?.disruptionsAllowed ?? 0) === 0) {
      return { ...preview, blockedBy: { budget: budgetKey(budget), never: false, message: `PodDisruptionBudget ${budgetKey(budget)} allows no disruption now (protects ${key(pod)}): the drain waits until it does` } };
    }
  }
  return preview;
}

/** The pods a drain removes: all on the node except DaemonSet-owned and mirror pods. */
export async function podsToEvict(api: KubeRequester, node: string): Promise<PodObject[]> {
  return (await listPodsOn(api, node)).filter((p) => !isDaemonSetPod(p) && !isMirrorPod(p));
}

async function listPodsOn(api: KubeRequester, node: string): Promise<PodObject[]> {
  const selector = encodeURIComponent(`spec.nodeName=${node}`);
  return (await api.request<List<PodObject>>('GET', `/api/v1/pods?fieldSelector=${selector}`)).items;
}

function isDaemonSetPod(p: PodObject): boolean {
  return (p.metadata.ownerReferences ?? []).some((r) => r.controller && r.kind === 'DaemonSet');
}

function isMirrorPod(p: PodObject): boolean {
  return p.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined;
}

/** undefined when the pod is on its way out (or gone); the refusal's message on 429. */
async function evict(api: KubeRequester, pod: PodObject): Promise<string | undefined> {
  const { name, namespace = 'default', uid } = pod.metadata;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`;
  try {
    await api.request('POST', path, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      // Only this pod: not a same-named successor (a StatefulSet's) created meanwhile.
      deleteOptions: { preconditions: { uid } },
    });
    return undefined;
  } catch (e) {
    if (!(e instanceof KubeError)) throw e;
    if (e.status === 404) return undefined;
    // 409: the uid precondition failed, this pod is already gone and a successor has its name.
    if (e.status === 409 && e.reason === 'Conflict') return undefined;
    if (e.status === 429) return [e.message, ...e.causes].join(': ');
    throw e;
  }
}

/**
 * Fails fast when a budget protecting one of `pods` can never allow a disruption: it needs
 * as many healthy pods as it expects and allows none now, so no amount of waiting helps
 * (for example minAvailable equal to the replica count). Pods the Eviction API evicts
 * without consulting budgets (not running, already terminating) are left out.
 */
export async function checkBudgets(api: KubeRequester, node: string, pods: PodObject[]): Promise<void> {
  const protectedPods = pods.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  if (protectedPods.length === 0) return;
  const budgets = (await api.request<List<PodDisruptionBudgetObject>>('GET', '/apis/policy/v1/poddisruptionbudgets')).items;
  for (const pod of protectedPods) {
    const matching = budgets.filter((b) =>
      b.metadata.namespace === pod.metadata.namespace && b.spec?.selector !== undefined && selectorMatches(b.spec.selector, pod.metadata.labels ?? {}));
    if (matching.length > 1) {
      // The Eviction API refuses such pods outright (500), every time.
      throw new DrainBlockedError(node, matching.map(budgetKey).join(' and '), [key(pod)], 'overlap: the Eviction API refuses pods selected by more than one budget');
    }
    const budget = matching[0];
    if (budget && neverAllows(budget, pod)) {
      const s = budget.status ?? {};
      const selector = budget.spec?.selector ?? {};
      const guarded = protectedPods.filter((p) => p.metadata.namespace === pod.metadata.namespace && selectorMatches(selector, p.metadata.labels ?? {}));
      throw new DrainBlockedError(node, budgetKey(budget), guarded.map(key),
        `needs ${s.desiredHealthy} healthy of ${s.expectedPods} expected pods, so it can never allow a disruption (disruptionsAllowed ${s.disruptionsAllowed ?? 0})`);
    }
  }
}

function neverAllows(budget: PodDisruptionBudgetObject, pod: PodObject): boolean {
  const s = budget.status;
  // Not yet computed by the disruption controller: the API answers 429 and we wait.
  if (!s || (s.observedGeneration ?? 0) < (budget.metadata.generation ?? 0)) return false;
  const expected = s.expectedPods ?? 0;
  const desired = s.desiredHealthy ?? 0;
  if ((s.disruptionsAllowed ?? 0) > 0 || expected === 0 || desired < expected) return false;
  // An unready pod under AlwaysAllow is evicted whatever the budget says.
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return ready || budget.spec?.unhealthyPodEvictionPolicy !== 'AlwaysAllow';
}

async function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  await clock.sleep(Math.max(0, ms), signal);
  signal?.throwIfAborted();
}

const key = (p: PodObject) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
const budgetKey = (b: PodDisruptionBudgetObject) => `${b.metadata.namespace ?? 'default'}/${b.metadata.name}`;
