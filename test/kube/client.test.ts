// @herd/kube against a real kube-apiserver and etcd on loopback (see apiserver.ts). With no
// kubelet, scheduler or controllers, the tests write what those would: node and pod status,
// PodDisruptionBudget status, and the final deletion of evicted pods.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { createServer, type Socket } from 'node:net';
import {
  BOOTSTRAP_TOKEN_PATTERN, CORDONED_ANNOTATION, DrainBlockedError, DrainTimeoutError, KubeClient, KubeError, type Kubeconfig,
} from '@herd/kube';
import { startApiServer } from './apiserver.js';
import { FakeClock } from '../support.js';

const MERGE = { contentType: 'application/merge-patch+json' };
const NS = 'herd-test';

test('KubeClient against a real kube-apiserver', async (t) => {
  const { client: kube, config } = await startApiServer(t);
  await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  // The ServiceAccount admission plugin wants the namespace's default account (a controller's job).
  await kube.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });

  await t.test('version and health', async () => {
    assert.equal(await kube.version(), 'v1.34.4');
    assert.equal(await kube.healthy(), true);
  });

  await t.test('API refusals become KubeErrors with the Status reason and message', async () => {
    await assert.rejects(kube.request('GET', `/api/v1/namespaces/${NS}/pods/nope`), (e: unknown) => {
      assert.ok(e instanceof KubeError);
      assert.equal(e.status, 404);
      assert.equal(e.reason, 'NotFound');
      assert.match(e.message, /pods "nope" not found/);
      return true;
    });
    await assert.rejects(kube.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'Not_A_Name' } }),
      (e: unknown) => e instanceof KubeError && e.status === 422 && e.reason === 'Invalid' && /Not_A_Name/.test(e.message));
  });

  await t.test('nodes are read with readiness, version, addresses, labels and pod CIDR', async () => {
    await createNode(kube, 'cp-1', { ready: true, version: 'v1.34.4', labels: { 'node-role.kubernetes.io/control-plane': '' }, podCIDR: '10.244.0.0/24', address: '10.0.0.11' });
    await createNode(kube, 'w-1', { ready: false, version: 'v1.33.9', address: '10.0.0.21' });
    const nodes = await kube.nodes();
    assert.deepEqual(nodes.map((n) => n.name).sort(), ['cp-1', 'w-1']);
    const cp = await kube.node('cp-1');
    assert.ok(cp);
    assert.equal(cp.ready, true);
    assert.equal(cp.kubeletVersion, 'v1.34.4');
    assert.equal(cp.podCIDR, '10.244.0.0/24');
    assert.deepEqual(cp.addresses, ['10.0.0.11', 'cp-1']);
    assert.equal(cp.labels['node-role.kubernetes.io/control-plane'], '');
    assert.match(cp.readySince, /^\d{4}-\d\d-\d\dT/);
    assert.equal(cp.unschedulable, false);
    assert.equal(cp.cordonedByHerd, false);
    const w = await kube.node('w-1');
    assert.equal(w?.ready, false);
    assert.equal(w?.kubeletVersion, 'v1.33.9');
    assert.equal(await kube.node('nope'), undefined);
  });

  await t.test('deleteNode deletes, and a node already gone is fine', async () => {
    await createNode(kube, 'gone', { ready: true });
    await kube.deleteNode('gone');
    assert.equal(await kube.node('gone'), undefined);
    await kube.deleteNode('gone');
  });

  await t.test('cordon marks the node as herd-cordoned; uncordon undoes only that', async () => {
    await createNode(kube, 'c-1', { ready: true });
    await kube.cordon('c-1');
    let n = await kube.node('c-1');
    assert.equal(n?.unschedulable, true);
    assert.equal(n?.cordonedByHerd, true);
    await kube.cordon('c-1'); // idempotent
    await kube.uncordon('c-1');
    n = await kube.node('c-1');
    assert.equal(n?.unschedulable, false);
    assert.equal(n?.cordonedByHerd, false);
    const raw = await kube.request<{ metadata: { annotations?: Record<string, string> } }>('GET', '/api/v1/nodes/c-1');
    assert.equal(raw.metadata.annotations?.[CORDONED_ANNOTATION], undefined);
    await kube.uncordon('c-1'); // nothing to undo
  });

  await t.test('a node someone else cordoned is never uncordoned by herd', async () => {
    await createNode(kube, 'c-2', { ready: true });
    await kube.request('PATCH', '/api/v1/nodes/c-2', { spec: { unschedulable: true } }, MERGE); // an operator's kubectl cordon
    await kube.cordon('c-2');
    let n = await kube.node('c-2');
    assert.equal(n?.unschedulable, true);
    assert.equal(n?.cordonedByHerd, false);
    await kube.uncordon('c-2');
    n = await kube.node('c-2');
    assert.equal(n?.unschedulable, true, 'still cordoned: herd did not cordon it');
  });

  await t.test('drain evicts all but DaemonSet and mirror pods and waits until they are deleted', async (t) => {
    await createNode(kube, 'd-1', { ready: true });
    await createNode(kube, 'd-2', { ready: true });
    await createPod(kube, 'web-1', 'd-1', { app: 'web' });
    await createPod(kube, 'web-2', 'd-1', { app: 'web' });
    await createPod(kube, 'ds-1', 'd-1', { app: 'agent' }, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: '6a1c1c4e-0000-4000-8000-000000000001', controller: true }] });
    await createPod(kube, 'static-1', 'd-1', { app: 'static' }, { annotations: { 'kubernetes.io/config.mirror': 'abc' } });
    await createPod(kube, 'web-3', 'd-2', { app: 'web' });
    const kubelet = fakeKubelet(t, kube);
    const progress: string[][] = [];
    await kube.drain('d-1', { timeoutMs: 30_000, retryIntervalMs: 200, onProgress: (r) => progress.push(r) });
    assert.deepEqual(await podNames(kube, 'd-1'), ['ds-1', 'static-1']);
    assert.deepEqual(await podNames(kube, 'd-2'), ['web-3']);
    assert.deepEqual(progress.at(-1), []);
    assert.ok(progress.some((r) => r.includes(`${NS}/web-1`)), 'progress reported the pods while they were terminating');
    assert.ok(kubelet.deleted.includes('web-1') && kubelet.deleted.includes('web-2'));
  });

  await t.test('drain waits for evicted pods to be deleted, like kubectl drain, and times out naming them', async () => {
    await createNode(kube, 'd-3', { ready: true });
    await createPod(kube, 'stuck-1', 'd-3', { app: 'stuck' });
    // no fake kubelet: the evicted pod keeps its deletionTimestamp and stays
    const started = Date.now();
    await assert.rejects(kube.drain('d-3', { timeoutMs: 1_500, retryIntervalMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof DrainTimeoutError, String(e));
      assert.deepEqual(e.pods, [`${NS}/stuck-1`]);
      assert.match(e.message, /draining node d-3 timed out after 1500 ms; still there: herd-test\/stuck-1/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
    const pod = await kube.request<{ metadata: { deletionTimestamp?: string } }>('GET', `/api/v1/namespaces/${NS}/pods/stuck-1`);
    assert.ok(pod.metadata.deletionTimestamp, 'it was evicted');
  });

  await t.test('a PodDisruptionBudget that can never allow the eviction fails the drain at once (DrainBlockedError)', async () => {
    await createNode(kube, 'd-4', { ready: true });
    await createPod(kube, 'db-0', 'd-4', { app: 'db' });
    await createBudget(kube, 'db', { app: 'db' }, { minAvailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 });
    const started = Date.now();
    await assert.rejects(kube.drain('d-4', { timeoutMs: 60_000, retryIntervalMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof DrainBlockedError, String(e));
      assert.equal(e.budget, `${NS}/db`);
      assert.deepEqual(e.pods, [`${NS}/db-0`]);
      assert.match(e.message, /PodDisruptionBudget herd-test\/db needs 1 healthy of 1 expected pods, so it can never allow a disruption/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, 'did not wait for the timeout');
    const pod = await kube.request<{ metadata: { deletionTimestamp?: string } }>('GET', `/api/v1/namespaces/${NS}/pods/db-0`);
    assert.equal(pod.metadata.deletionTimestamp, undefined, 'nothing was evicted');
  });

  await t.test('previewDrain names the pods a drain evicts and the budget that refuses, for good or for now, evicting nothing', async () => {
    await createNode(kube, 'p-1', { ready: true });
    await createPod(kube, 'pv-0', 'p-1', { app: 'pv' });
    await createPod(kube, 'free-0', 'p-1', { app: 'free' });
    assert.deepEqual(await kube.previewDrain('p-1'), { pods: [`${NS}/pv-0`, `${NS}/free-0`].sort() });
    await createBudget(kube, 'pv', { app: 'pv' }, { maxUnavailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    const forNow = await kube.previewDrain('p-1');
    assert.equal(forNow.blockedBy?.budget, `${NS}/pv`);
    assert.equal(forNow.blockedBy?.never, false);
    assert.match(forNow.blockedBy!.message, /allows no disruption now \(protects herd-test\/pv-0\)/);
    await setBudgetStatus(kube, 'pv', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 });
    const never = await kube.previewDrain('p-1');
    assert.equal(never.blockedBy?.never, true);
    assert.match(never.blockedBy!.message, /can never allow a disruption/);
    assert.deepEqual((await podNames(kube, 'p-1')).sort(), ['free-0', 'pv-0'], 'nothing was evicted');
  });

  await t.test('a budget that refuses for now (429) is retried until it allows the eviction', async (t) => {
    await createNode(kube, 'd-5', { ready: true });
    await createPod(kube, 'api-0', 'd-5', { app: 'api' });
    // one of two replicas is unhealthy elsewhere: no disruption allowed now, but later
    await createBudget(kube, 'api', { app: 'api' }, { maxUnavailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    fakeKubelet(t, kube);
    const progress: string[][] = [];
    const drained = kube.drain('d-5', { timeoutMs: 30_000, retryIntervalMs: 200, onProgress: (r) => progress.push(r) });
    await new Promise((r) => setTimeout(r, 1_500));
    const before = await kube.request<{ metadata: { deletionTimestamp?: string } }>('GET', `/api/v1/namespaces/${NS}/pods/api-0`);
    assert.equal(before.metadata.deletionTimestamp, undefined, 'the budget held the eviction back');
    assert.ok(progress.length >= 3, `retried (${progress.length} rounds)`);
    await setBudgetStatus(kube, 'api', { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 });
    await drained;
    assert.deepEqual(await podNames(kube, 'd-5'), []);
    const budget = await kube.request<{ status: { disruptionsAllowed: number } }>('GET', `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/api`);
    assert.equal(budget.status.disruptionsAllowed, 0, 'the Eviction API counted the disruption against the budget');
  });

  await t.test('a drain refused past its timeout names the pods and the refusal', async () => {
    await createNode(kube, 'd-6', { ready: true });
    await createPod(kube, 'q-0', 'd-6', { app: 'q' });
    await createBudget(kube, 'q', { app: 'q' }, { maxUnavailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    await assert.rejects(kube.drain('d-6', { timeoutMs: 1_000, retryIntervalMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof DrainTimeoutError, String(e));
      assert.deepEqual(e.pods, [`${NS}/q-0`]);
      assert.match(e.refusals.join('\n'), /herd-test\/q-0: .*disruption budget/);
      return true;
    });
  });

  await t.test('drain stops when its signal aborts', async () => {
    await createNode(kube, 'd-7', { ready: true });
    await createPod(kube, 'r-0', 'd-7', { app: 'r' });
    await createBudget(kube, 'r', { app: 'r' }, { maxUnavailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('coordinator shutting down')), 500);
    await assert.rejects(kube.drain('d-7', { timeoutMs: 60_000, retryIntervalMs: 200, signal: controller.signal }), /coordinator shutting down/);
  });

  await t.test('a bootstrap token is the Secret kubeadm makes, and the API server accepts it', async () => {
    const before = Date.now();
    const token = await kube.createBootstrapToken({ ttlMs: 15 * 60_000, description: 'herd: join of w-1' });
    const [, id, secret] = BOOTSTRAP_TOKEN_PATTERN.exec(token) ?? [];
    assert.ok(id && secret, token);
    const s = await kube.request<{ type: string; data: Record<string, string> }>('GET', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`);
    const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    assert.equal(s.type, 'bootstrap.kubernetes.io/token');
    assert.equal(data['token-id'], id);
    assert.equal(data['token-secret'], secret);
    assert.equal(data['auth-extra-groups'], 'system:bootstrappers:kubeadm:default-node-token');
    assert.equal(data['usage-bootstrap-authentication'], 'true');
    assert.equal(data['usage-bootstrap-signing'], 'true');
    assert.equal(data['description'], 'herd: join of w-1');
    const expires = Date.parse(data['expiration'] ?? '');
    assert.ok(Math.abs(expires - (before + 15 * 60_000)) < 5_000, data['expiration']);

    // What kubeadm join does first with it: authenticate as system:bootstrap:<id>.
    const review = await whoAmI(config, token);
    assert.equal(review.status, 201);
    assert.equal(review.body.status.userInfo.username, `system:bootstrap:${id}`);
    assert.ok(review.body.status.userInfo.groups.includes('system:bootstrappers:kubeadm:default-node-token'));

    const expired = await kube.createBootstrapToken({ ttlMs: 60_000, description: 'old', now: Date.now() - 120_000 });
    assert.equal((await whoAmI(config, expired)).status, 401, 'an expired token is refused');
  });

  await t.test('leases: one holder at a time, renewal, expiry and takeover', async () => {
    const clockA = new FakeClock({ sleep: 'real' });
    const clockB = new FakeClock({ sleep: 'real' });
    const a = new KubeClient(config, { clock: clockA });
    const b = new KubeClient(config, { clock: clockB });
    t.after(() => { a.close(); b.close(); });

    assert.equal(await a.lease.get('rollout'), undefined);
    assert.equal(await a.lease.acquire('rollout', 'coordinator-a', 10_000, { 'herd.dev/step': '{"drain":"w-1"}' }), true);
    let lease = await b.lease.get('rollout');
    assert.equal(lease?.holder, 'coordinator-a');
    assert.equal(lease?.expired, false);
    assert.equal(lease?.ttlMs, 10_000);
    assert.deepEqual(lease?.annotations, { 'herd.dev/step': '{"drain":"w-1"}' });
    const acquired = lease?.acquireTime;

    assert.equal(await b.lease.acquire('rollout', 'coordinator-b', 10_000, {}), false, 'held by a, not expired');
    clockA.advance(5_000);
    assert.equal(await a.lease.acquire('rollout', 'coordinator-a', 10_000, { 'herd.dev/step': '{"uncordon":"w-1"}' }), true, 'a renews');
    lease = await a.lease.get('rollout');
    assert.deepEqual(lease?.annotations, { 'herd.dev/step': '{"uncordon":"w-1"}' }, 'annotations replaced');
    assert.equal(lease?.acquireTime, acquired, 'a renewal keeps the acquire time');

    clockB.advance(16_000); // a stopped renewing 11 s ago in b's view
    assert.equal((await b.lease.get('rollout'))?.expired, true);
    assert.equal(await b.lease.acquire('rollout', 'coordinator-b', 10_000, { 'herd.dev/step': 'resume' }), true, 'b takes over an expired lease');
    lease = await a.lease.get('rollout');
    assert.equal(lease?.holder, 'coordinator-b');
    assert.equal(await a.lease.acquire('rollout', 'coordinator-a', 10_000, {}), false, 'a lost it');

    assert.equal(await a.lease.release('rollout', 'coordinator-a'), false, 'only the holder releases');
    assert.equal(await b.lease.release('rollout', 'coordinator-b'), true);
    assert.equal(await a.lease.get('rollout'), undefined);
  });

  await t.test('leases: of two coordinators racing, exactly one wins (409 on create and on update)', async () => {
    const clock = new FakeClock({ sleep: 'real' });
    const a = new KubeClient(config, { clock });
    const b = new KubeClient(config, { clock });
    t.after(() => { a.close(); b.close(); });
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const created = await Promise.all([a.lease.acquire(name, 'a', 5_000, {}), b.lease.acquire(name, 'b', 5_000, {})]);
      assert.equal(created.filter(Boolean).length, 1, `create round ${round}: ${created}`);
      clock.advance(10_000); // expired for both: both try to take it over
      const taken = await Promise.all([a.lease.acquire(name, 'c', 5_000, {}), b.lease.acquire(name, 'd', 5_000, {})]);
      assert.equal(taken.filter(Boolean).length, 1, `takeover round ${round}: ${taken}`);
    }
  });
});

test('a server that never answers is a Timeout KubeError; a closed port is Unreachable and not healthy', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => { sockets.forEach((s) => s.destroy()); silent.close(); });
  const port = (silent.address() as { port: number }).port;
  const base: Kubeconfig = { server: `https://127.0.0.1:${port}`, caPem: '', certPem: '', keyPem: '' };
  const slow = new KubeClient(base, { timeoutMs: 300 });
  t.after(() => slow.close());
  await assert.rejects(slow.version(), (e: unknown) => e instanceof KubeError && e.status === 0 && e.reason === 'Timeout' && /within 300 ms/.test(e.message));

  const closedPort = await new Promise<number>((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
  const down = new KubeClient({ ...base, server: `https://127.0.0.1:${closedPort}` }, { timeoutMs: 2_000 });
  t.after(() => down.close());
  await assert.rejects(down.nodes(), (e: unknown) => e instanceof KubeError && e.status === 0 && e.reason === 'Unreachable');
  assert.equal(await down.healthy(), false);
});

// --- what a kubelet and the controllers would do ---------------------------------------

async function createNode(kube: KubeClient, name: string, o: { ready: boolean; version?: string; labels?: Record<string, string>; podCIDR?: string; address?: string }) {
  await kube.request('POST', '/api/v1/nodes', {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: o.labels ?? {} }, spec: o.podCIDR ? { podCIDR: o.podCIDR } : {},
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await kube.request('PATCH', `/api/v1/nodes/${name}/status`, {
    status: {
      conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', reason: o.ready ? 'KubeletReady' : 'KubeletNotReady', lastHeartbeatTime: now, lastTransitionTime: now }],
      addresses: [...(o.address ? [{ type: 'InternalIP', address: o.address }] : []), { type: 'Hostname', address: name }],
      nodeInfo: { kubeletVersion: o.version ?? 'v1.34.4' },
    },
  }, MERGE);
}

/** A pod bound to `node`, reported Running and Ready (so budgets count it). */
async function createPod(kube: KubeClient, name: string, node: string, labels: Record<string, string>, meta: Record<string, unknown> = {}) {
  await kube.request('POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels, ...meta },
    spec: { nodeName: node, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await kube.request('PATCH', `/api/v1/namespaces/${NS}/pods/${name}/status`, {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] },
  }, MERGE);
}

type BudgetStatus = { disruptionsAllowed: number; currentHealthy: number; desiredHealthy: number; expectedPods: number };

/** A budget and the status the disruption controller would compute for it. */
async function createBudget(kube: KubeClient, name: string, matchLabels: Record<string, string>, spec: Record<string, unknown>, status: BudgetStatus) {
  await kube.request('POST', `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`, {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name }, spec: { ...spec, selector: { matchLabels } },
  });
  await setBudgetStatus(kube, name, status);
}

async function setBudgetStatus(kube: KubeClient, name: string, status: BudgetStatus) {
  const path = `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/${name}`;
  const current = await kube.request<{ metadata: { generation: number } }>('GET', path);
  await kube.request('PATCH', `${path}/status`, { status: { ...status, observedGeneration: current.metadata.generation } }, MERGE);
}

async function podNames(kube: KubeClient, node: string): Promise<string[]> {
  const list = await kube.request<{ items: { metadata: { name: string } }[] }>('GET', `/api/v1/namespaces/${NS}/pods?fieldSelector=spec.nodeName%3D${node}`);
  return list.items.map((p) => p.metadata.name).sort();
}

/** Finishes what a kubelet finishes: deletes terminating pods for good, until the test ends. */
function fakeKubelet(t: TestContext, kube: KubeClient): { deleted: string[] } {
  const deleted: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const list = await kube.request<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>('GET', `/api/v1/namespaces/${NS}/pods`);
      for (const p of list.items.filter((p) => p.metadata.deletionTimestamp)) {
        await kube.request('DELETE', `/api/v1/namespaces/${NS}/pods/${p.metadata.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }).catch(() => {});
        deleted.push(p.metadata.name);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  t.after(async () => { running = false; await loop; });
  return { deleted };
}

/** POST a SelfSubjectReview with a bearer token: who the API server takes the token for. */
function whoAmI(config: Kubeconfig, token: string): Promise<{ status: number; body: { status: { userInfo: { username: string; groups: string[] } } } }> {
  const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${config.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST', ca: config.caPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, timeout: 10_000,
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
