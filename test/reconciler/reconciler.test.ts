// The coordinator loop from Git to agents: a real Git repository, the real coordinator on
// loopback, real agents enrolling and holding streams. Only the cloud is a fake (FakeCloud).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GitSource } from '@herd/source';
import { Reconciler, type FleetStatus, type ReconcilerOptions } from '@herd/reconciler';
import { LABEL, ProviderError, ProviderUnavailableError, QuotaExceededError, TransientProviderError, type Provider } from '@herd/provider';
import { SecretStore } from '@herd/coordinator';
import { MetricsRegistry, nodeFileSystem, silentLogger } from '@herd/sys';
import { FakeCloud } from '../providers/fake-cloud.js';
import { startTestCoordinator } from '../coordinator/harness.js';
import { commit, eventually, FakeClock, git, tempDir } from '../support.js';

// A cloud's machines pull what they run, so Git pins the runtime's Debian packages too.
const CLUSTER = (workers: number, sysctl = '1', version = '1.34.4') => `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: shop }
spec:
  kubernetes: { version: ${version} }
  os:
    sysctls: { vm.swappiness: ${sysctl} }
    packages:
      jq: 1.6-2.1
      containerd: 1.6.20~ds1-1+deb12u2
      runc: 1.1.5+ds1-1+deb12u1
      containernetworking-plugins: 1.1.1+ds1-3+b17
      conntrack: 1:1.4.7-1+b2
      iptables: 1.8.9-2
      ethtool: 1:6.1-1
      socat: 1.7.4.4-2
      ebtables: 2.0.11-5
  pools:
    - { name: web, replicas: ${workers} }
`;

/**
 * Every pool has its machines and every agent converged its spec. The fake cloud's agents run
 * no operations (no kubeadm), so the Kubernetes side never starts: that is the e2e tests' part.
 */
const machinesConverged = (status: FleetStatus) => status.clusters.every((c) =>
  c.pools.every((p) => p.machines === p.desired) && c.machines.every((m) => m.converged));

async function world(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const repo = join(root, 'fleet');
  git(root, 'init', '-q', repo);
  commit(repo, { 'clusters/shop.yaml': CLUSTER(2) });
  const coordinator = await startTestCoordinator({ heartbeatTimeoutMs: 60_000 });
  const cloud = new FakeCloud();
  t.after(async () => { await cloud.close(); await coordinator.close(); });
  const source = new GitSource({ url: repo, cacheDir: join(root, 'cache') });
  const makeReconciler = (overrides: Partial<ReconcilerOptions> = {}) => new Reconciler({
    read: () => source.read(),
    coordinator: coordinator.coordinator,
    secrets: new SecretStore(join(root, 'state'), nodeFileSystem()),
    holder: 'herd-test',
    provider: async () => cloud.provider(),
    agentArtifact: () => '/not-used-by-the-fake-cloud',
    logger: silentLogger(),
    ...overrides,
  });
  const metrics = new MetricsRegistry();
  const reconciler = makeReconciler({ metrics });
  /** Rounds until converged (agents answer asynchronously); the last status. */
  const converge = async () => {
    let status: FleetStatus | undefined;
    await eventually(async () => {
      await reconciler.idle();
      return machinesConverged(status = await reconciler.round());
    }, 'the machines to converge');
    return status!;
  };
  return { repo, cloud, coordinator, reconciler, makeReconciler, converge, metrics };
}

const names = (cloud: FakeCloud, pool: string) => [...cloud.machines.values()].filter((m) => m.machine.labels[LABEL.pool] === pool).map((m) => m.machine.name).sort();

test('a commit becomes machines with enrolled agents converged to their spec', async (t) => {
  const { repo, cloud, converge } = await world(t);
  const status = await converge();
  const head = git(repo, 'rev-parse', 'HEAD');
  assert.equal(status.commit, head);
  assert.deepEqual(status.clusters[0]!.pools, [
    { name: 'control-plane', role: 'control-plane', desired: 1, machines: 1 },
    { name: 'web', role: 'worker', desired: 2, machines: 2 },
  ]);
  // The fake cloud's agents run no operations, so kubeadm init is tried and fails; status says so.
  assert.match(status.clusters[0]!.reason, /^Kubernetes not initialized yet; /);
  for (const name of [...names(cloud, 'control-plane'), ...names(cloud, 'web')]) {
    const spec = cloud.engine(name)!.last!;
    assert.equal(spec.hostname, name);
    assert.equal(spec.commit, head);
    assert.equal(spec.sysctls['vm.swappiness'], '1');
    const versions = Object.fromEntries(spec.packages.map((p) => [p.name, p.version]));
    assert.equal(versions.jq, '1.6-2.1', 'Git\'s packages');
    assert.equal(versions.kubelet, '1.34.4-1.1', 'the Kubernetes node profile\'s');
  }
  assert.ok(status.clusters[0]!.machines.every((m) => m.agent?.connected && m.converged));
});

test('a changed sysctl reaches every agent; an unchanged commit assigns nothing new', async (t) => {
  const { repo, cloud, coordinator, converge } = await world(t);
  await converge();
  const generations = () => coordinator.coordinator.nodes.sessions().map((s) => s.desiredGeneration).join(',');
  const before = generations();
  await converge();
  assert.equal(generations(), before, 'nothing changed, so no new generation');
  const next = commit(repo, { 'clusters/shop.yaml': CLUSTER(2, '10') });
  await converge();
  for (const m of cloud.machines.values()) {
    assert.equal(cloud.engine(m.machine.name)!.last!.sysctls['vm.swappiness'], '10');
    assert.equal(cloud.engine(m.machine.name)!.last!.commit, next);
  }
});

test('scaling a pool up and down creates and deletes machines, newest first', async (t) => {
  const { repo, cloud, converge } = await world(t);
  await converge();
  const original = names(cloud, 'web');
  commit(repo, { 'clusters/shop.yaml': CLUSTER(4) });
  await converge();
  assert.equal(names(cloud, 'web').length, 4);
  commit(repo, { 'clusters/shop.yaml': CLUSTER(1) });
  const status = await converge();
  assert.equal(names(cloud, 'web').length, 1);
  assert.ok(original.includes(names(cloud, 'web')[0]!), 'the oldest machine stays');
  assert.equal(status.clusters[0]!.machines.length, 2);
});

/** The value of one series of the registry's text, e.g. `herd_nodes{cluster="shop",state="converged"}`. */
const sample = (metrics: MetricsRegistry, series: string) => {
  const line = metrics.render().split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('a broken commit changes nothing; status names the error; the fix is picked up', async (t) => {
  const { repo, cloud, converge, reconciler, metrics } = await world(t);
  const good = (await converge()).commit;
  // The machines the reconciler made are counted as create actions; every node is converged.
  assert.equal(sample(metrics, 'herd_lifecycle_action_duration_seconds_count{cluster="shop",kind="create",result="done"}'), 3);
  assert.equal(sample(metrics, 'herd_lifecycle_action_failures_total{cluster="shop",kind="create"}'), 0);
  assert.equal(sample(metrics, 'herd_nodes{cluster="shop",state="converged"}'), 3);
  assert.equal(sample(metrics, 'herd_nodes{cluster="shop",state="disconnected"}'), 0);
  assert.equal(sample(metrics, 'herd_desired_state_refused'), 0);
  // The machines are, but Kubernetes is not (the fake cloud's agents run no kubeadm).
  assert.equal(sample(metrics, 'herd_cluster_converged{cluster="shop"}'), 0);
  const machines = [...cloud.machines.keys()].sort();
  const broken = commit(repo, { 'clusters/shop.yaml': CLUSTER(3).replace('replicas: 3', 'replicas: three') });
  const status = await reconciler.round();
  assert.equal(status.commit, good, 'the last good commit stays in force');
  assert.equal(status.rejected?.commit, broken);
  assert.deepEqual(status.rejected?.errors.map((e) => `${e.file}:${e.line} ${e.field}`), ['clusters/shop.yaml:19 spec.pools[0].replicas']);
  assert.equal(status.converged, false);
  assert.equal(sample(metrics, 'herd_desired_state_refused'), 1);
  assert.deepEqual([...cloud.machines.keys()].sort(), machines, 'no machine was created or deleted');
  commit(repo, { 'clusters/shop.yaml': CLUSTER(3) });
  const fixed = await converge();
  assert.equal(fixed.rejected, undefined);
  assert.equal(names(cloud, 'web').length, 3);
  assert.equal(sample(metrics, 'herd_desired_state_refused'), 0);
  assert.equal(sample(metrics, 'herd_nodes{cluster="shop",state="converged"}'), 4);
});

test('a restarted coordinator adopts the machines that exist and creates nothing', async (t) => {
  const { cloud, coordinator, converge, makeReconciler } = await world(t);
  await converge();
  const machines = [...cloud.machines.keys()].sort();
  await coordinator.stop();
  await coordinator.restart();
  const again = makeReconciler({ coordinator: coordinator.coordinator });
  await eventually(async () => machinesConverged(await again.round()), 'the restarted coordinator to see the fleet converged');
  assert.deepEqual([...cloud.machines.keys()].sort(), machines);
});

test('a provider failure is reported on its cluster and does not stop the loop', async (t) => {
  const { cloud, makeReconciler } = await world(t);
  const small = new FakeCloud(2);
  t.after(() => small.close());
  const limited = makeReconciler({ provider: async () => small.provider() });
  const status = await limited.round();
  assert.match(status.clusters[0]!.error ?? '', /quota of 2 machines reached/);
  assert.equal(status.clusters[0]!.converged, false);
  assert.equal(small.machines.size, 2);
  assert.equal(cloud.machines.size, 0);
});

/** The fake cloud's provider with `list` failing as told; `lists` counts the rounds' first call, list({}). */
function failingList(cloud: FakeCloud) {
  const provider = cloud.provider();
  const state = { lists: 0, error: undefined as Error | undefined };
  const failing: Provider = {
    ...provider,
    list: async (selector) => {
      if (Object.keys(selector).length === 0) state.lists++;
      if (state.error) throw state.error;
      return provider.list(selector);
    },
  };
  return { state, provider: async () => failing };
}

for (const error of [new TransientProviderError('the API is busy'), new QuotaExceededError('no room left'), new ProviderUnavailableError('not root')]) {
  test(`a ${error.name} is waited out: the cluster is left alone for a back-off that doubles up to its cap, and its status says why`, async (t) => {
    const { cloud, makeReconciler } = await world(t);
    const clock = new FakeClock({ start: Date.parse('2026-03-01T12:00:00Z') });
    const { state, provider } = failingList(cloud);
    const reconciler = makeReconciler({ provider, clock, providerBackoff: { initialMs: 30_000, maxMs: 60_000 } });
    state.error = error;
    const first = (await reconciler.round()).clusters[0]!;
    assert.equal(state.lists, 1);
    assert.deepEqual(first.backoff, { until: '2026-03-01T12:00:30.000Z', failures: 1, reason: `${error.name}: ${error.message}`, error: `cannot list machines: ${error.message}` });
    assert.equal(first.converged, false);
    assert.match(first.reason, new RegExp(`provider backing off until 2026-03-01T12:00:30.000Z \\(1 failed round\\): ${error.name}: ${error.message}`));

    clock.advance(29_999);
    const waiting = (await reconciler.round()).clusters[0]!;
    assert.equal(state.lists, 1, 'not asked again before the back-off ends');
    assert.deepEqual(waiting.backoff, first.backoff);
    assert.match(waiting.reason, /provider backing off until 2026-03-01T12:00:30\.000Z/);
    assert.match(waiting.error ?? '', /cannot list machines/, "the failure that started the wait stays in the status");

    const waits: string[] = [];
    for (let round = 0; round < 3; round++) {
      clock.time = Date.parse(reconciler.status!.clusters[0]!.backoff!.until);
      await reconciler.round();
      waits.push(reconciler.status!.clusters[0]!.backoff!.until);
    }
    assert.equal(state.lists, 4);
    assert.deepEqual(waits, ['2026-03-01T12:01:30.000Z', '2026-03-01T12:02:30.000Z', '2026-03-01T12:03:30.000Z'], 'doubled once (60 s), then held at the cap');
    assert.equal(reconciler.status!.clusters[0]!.backoff!.failures, 4);

    state.error = undefined;
    clock.time = Date.parse(waits.at(-1)!);
    const recovered = (await reconciler.round()).clusters[0]!;
    assert.equal(state.lists, 5);
    assert.equal(recovered.backoff, undefined);
    assert.doesNotMatch(recovered.reason, /backing off/);
    await reconciler.round();
    assert.equal(state.lists, 6, 'asked every round again');
  });
}

test('a quota reached while creating backs off too: the next round creates nothing until the wait is over', async (t) => {
  const { makeReconciler } = await world(t);
  const small = new FakeCloud(2);
  t.after(() => small.close());
  const clock = new FakeClock({ start: Date.parse('2026-03-01T12:00:00Z') });
  const limited = makeReconciler({ provider: async () => small.provider(), clock });
  const first = (await limited.round()).clusters[0]!;
  assert.match(first.error ?? '', /quota of 2 machines reached/);
  assert.equal(first.backoff?.until, '2026-03-01T12:00:10.000Z', 'the default back-off starts at 10 s');
  assert.equal(first.machines.length, 2);
  const second = (await limited.round()).clusters[0]!;
  assert.equal(second.backoff?.failures, 1);
  assert.equal(second.machines.length, 2, 'the machines as last listed');
});

test('any other error is tried again the next round, with no back-off', async (t) => {
  const { cloud, makeReconciler } = await world(t);
  const { state, provider } = failingList(cloud);
  const reconciler = makeReconciler({ provider, clock: new FakeClock() });
  state.error = new ProviderError('something else');
  for (let round = 1; round <= 3; round++) {
    const status = (await reconciler.round()).clusters[0]!;
    assert.equal(state.lists, round);
    assert.equal(status.backoff, undefined);
    assert.equal(status.error, 'cannot list machines: something else');
  }
});

test('a coordinator that starts on a broken commit keeps the last good one it recorded in force', async (t) => {
  const { repo, cloud, makeReconciler, converge } = await world(t);
  const good = (await converge()).commit!;
  const machines = [...cloud.machines.keys()].sort();
  commit(repo, { 'clusters/shop.yaml': 'not: [valid' });
  const source = new GitSource({ url: repo, cacheDir: join(tempDir(t), 'cache') });
  const fresh = makeReconciler({ read: () => source.read(), lastGood: () => source.read(good) });
  const status = await fresh.round();
  assert.equal(status.commit, good);
  assert.ok(status.rejected);
  assert.deepEqual([...cloud.machines.keys()].sort(), machines, 'nothing created or deleted');
  const without = await makeReconciler({ read: () => source.read() }).round();
  assert.equal(without.commit, undefined, 'without the record, nothing is in force (and nothing is done)');
  assert.deepEqual([...cloud.machines.keys()].sort(), machines);
});
