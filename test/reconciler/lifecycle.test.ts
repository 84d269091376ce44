// The Kubernetes lifecycle executor (ClusterLifecycle) driven as the reconciler drives it:
// round() observes and plans, start() runs the plan's actions. Real planner, kubeadm
// configurations, kubeconfig parsing and encrypted secret store; fakes for the agents, the
// API server and time (lifecycle-fakes.ts). Each test asserts the exact order of what the
// executor did, as one log of API calls, agent operations and assignments.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRepository, type Cluster } from '@herd/api';
import { SecretStore } from '@herd/coordinator';
import type { KubeClient } from '@herd/kube';
import { DEFAULT_PLATFORM } from '@herd/kubeadm';
import { machineLabels, poolsOf, type ClusterAction, type ClusterPlan } from '@herd/planner';
import { OPERATIONS, ROUND_TRIP_MARGIN_MS } from '@herd/proto';
import type { Machine, Provider } from '@herd/provider';
import { nodeFileSystem, silentLogger } from '@herd/sys';
import { ClusterLifecycle } from '@herd/reconciler';
import { FakeClock, tempDir } from '../support.js';
import { adminKubeconfig, caPin, FakeAgents, FakeKube, kubeNode } from './lifecycle-fakes.js';

const NAME = 'shop';

interface Shape {
  /** Git's Kubernetes version. */
  version: string;
  workers: number;
  /** More of the spec (YAML lines under spec:). */
  extra?: string;
  /** Machines in creation order; cpN are control planes, the rest workers. */
  machines: string[];
  /** Nodes in the API, name → kubelet version; none: the cluster is not initialized yet. */
  nodes?: Record<string, string>;
  /** Agents connected and converged unless named here. */
  gone?: string[];
}

function clusterOf(s: Shape): Cluster {
  const text = `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: ${NAME} }\nspec:\n  kubernetes: { version: ${s.version} }\n`
    + `  controlPlane: { replicas: 1 }\n  pools: [{ name: workers, replicas: ${s.workers} }]\n${s.extra ?? ''}`;
  const repo = loadRepository([{ path: `clusters/${NAME}.yaml`, text }]);
  assert.deepEqual(repo.errors, []);
  return repo.clusters[0]!.cluster;
}

/** A cluster, its machines and agents, its API (when initialized), and a real ClusterLifecycle over them. */
async function world(t: TestContext, s: Shape) {
  const log: string[] = [];
  const clock = new FakeClock({ start: Date.parse('2026-03-01T12:00:00Z'), sleep: 'advances' });
  const cluster = clusterOf(s);
  const pools = poolsOf(cluster);
  const machines: Machine[] = s.machines.map((name, i) => ({
    name, addresses: [`10.0.0.${i + 1}`], state: 'running', createdAt: new Date(clock.now() - 3_600_000 + i * 1000).toISOString(),
    labels: machineLabels(cluster, pools.find((p) => p.name === (name.startsWith('cp') ? 'control-plane' : 'workers'))!),
  }));
  const kube = new FakeKube(log, clock, () => kube.nodeMap.get('cp1')!.kubeletVersion);
  const agents = new FakeAgents(log);
  for (const m of s.machines) agents.connect(m, s.gone?.includes(m) ? 'gone' : 'converged');
  for (const [name, version] of Object.entries(s.nodes ?? {})) kube.nodeMap.set(name, kubeNode(name, version));

  // The agents' side of kubeadm: init brings up cp1 and hands back the admin kubeconfig; a restarted kubelet runs what was installed.
  const admin = await adminKubeconfig('https://10.0.0.1:6443');
  agents.answers['kubeadm-init'] = (node) => { kube.nodeMap.set(node, kubeNode(node, `v${s.version}`)); return { outputs: { kubeconfig: admin.text } }; };
  agents.answers['etcd-members'] = () => ({ outputs: { members: JSON.stringify([...kube.nodeMap.keys()].filter((n) => n.startsWith('cp')).map((name) => ({ name }))) } });
  agents.answers['restart-kubelet'] = (node) => { kube.set(node, { kubeletVersion: agents.installed.get(node)!.kubelet }); kube.restarting.add(node); return {}; };

  const dir = tempDir(t);
  const secrets = new SecretStore(dir, nodeFileSystem(), {});
  if (s.nodes) await secrets.put(NAME, { kubeconfig: admin.text });
  const prepared: string[] = [];
  const provider = {
    kind: 'fake',
    kubernetes: { platform: () => DEFAULT_PLATFORM, prepare: async (v: string) => { prepared.push(v); }, virtualAddress: async () => '10.0.0.100', interface: 'host0' },
  } as unknown as Provider;

  const lifecycle: ClusterLifecycle = new ClusterLifecycle({
    cluster: NAME, agents, secrets, holder: 'coordinator-a', logger: silentLogger(), clock,
    assign: (machine) => agents.assigned(machine, lifecycle.versions(machine)),
    deleteMachine: async (machine) => { log.push(`deleteMachine ${machine}`); },
    kubeClient: (config) => { log.push(`kube client for ${config.server}`); return kube as unknown as KubeClient; },
  });
  return {
    cluster, machines, kube, agents, log, lifecycle, secrets, dir, admin, prepared, provider,
    round: () => lifecycle.round(cluster, provider, machines),
    /** Starts the plan's actions, waits for them, and returns what they did. */
    async run(plan: ClusterPlan): Promise<string[]> {
      log.length = 0;
      lifecycle.start(cluster, machines, plan);
      await lifecycle.idle();
      return [...log];
    },
  };
}

const describe = (a: ClusterAction) => `${a.type} ${'machine' in a ? a.machine : 'node' in a ? a.node : a.pool}`;
const actions = (plan: ClusterPlan) => plan.actions.map(describe);
const holds = (plan: ClusterPlan) => plan.holds.map((h) => (h.subject ? `${h.subject}: ${h.reason}` : h.reason));

const upgradeWorld = (t: TestContext, workers = ['w1']) => world(t, {
  version: '1.35.4', workers: workers.length, extra: '  upgrade: { drainTimeout: 7m }\n',
  machines: ['cp1', ...workers], nodes: { cp1: 'v1.35.4', ...Object.fromEntries(workers.map((w) => [w, 'v1.34.4'])) },
});

test('bootstrap: kubeadm init on the converged control plane; its admin kubeconfig is kept encrypted; the next round sees the cluster', async (t) => {
  const w = await world(t, { version: '1.34.4', workers: 1, machines: ['cp1', 'w1'] });
  const plan = await w.round();
  assert.deepEqual(actions(plan), ['init cp1']);
  assert.equal(w.lifecycle.status().initialized, false);

  assert.deepEqual(await w.run(plan), ['op cp1 kubeadm-init', 'kube client for https://10.0.0.1:6443']);
  const init = w.agents.ops.find((o) => o.kind === 'kubeadm-init')!;
  assert.equal(init.timeoutMs, OPERATIONS['kubeadm-init'].timeoutMs + ROUND_TRIP_MARGIN_MS, "the agent's timeout for the kind and the round trip");
  const config = init.args.config!;
  assert.match(config, /kind: InitConfiguration/);
  assert.match(config, /controlPlaneEndpoint: 10\.0\.0\.1:6443/);

  const stored = await new SecretStore(w.dir, nodeFileSystem(), {}).get(NAME);
  assert.equal(stored?.kubeconfig, w.admin.text);
  const onDisk = readFileSync(join(w.dir, 'secrets', `${NAME}.json`), 'utf8');
  for (const clear of ['certificate-authority-data', 'kubernetes-admin', Buffer.from(w.admin.caPem).toString('base64').slice(0, 40)]) {
    assert.ok(!onDisk.includes(clear), `the kubeconfig is not on disk in clear (${clear})`);
  }

  const next = await w.round();
  assert.equal(w.lifecycle.status().initialized, true);
  assert.equal(w.lifecycle.status().apiVersion, 'v1.34.4');
  assert.deepEqual(actions(next), ['join w1'], 'initialized: no second init, the worker joins');
  assert.deepEqual(w.prepared, ['v1.34.4'], "the provider prepared the version's packages once");
  // A provider made again (its settings changed) serves its own repository and registry: prepared again, once.
  const remade = { ...w.provider } as Provider;
  await w.lifecycle.round(w.cluster, remade, w.machines);
  await w.lifecycle.round(w.cluster, remade, w.machines);
  assert.deepEqual(w.prepared, ['v1.34.4', 'v1.34.4']);
});

test('worker join: a bootstrap token made through the API, and the CA pin of the admin kubeconfig', async (t) => {
  const w = await world(t, { version: '1.34.4', workers: 1, machines: ['cp1', 'w1'], nodes: { cp1: 'v1.34.4' } });
  const plan = await w.round();
  assert.deepEqual(actions(plan), ['join w1']);
  assert.deepEqual(await w.run(plan), ['createBootstrapToken 900000', 'op w1 kubeadm-join']);
  const config = w.agents.ops.find((o) => o.kind === 'kubeadm-join')!.args.config!;
  assert.match(config, /kind: JoinConfiguration/);
  assert.ok(config.includes(`token: ${w.kube.token}`), config);
  assert.match(caPin(w.admin.caPem), /^sha256:[0-9a-f]{64}$/);
  assert.ok(config.includes(caPin(w.admin.caPem)), config);
  assert.ok(config.includes('apiServerEndpoint: 10.0.0.1:6443'), config);
});

test('worker upgrade 1.34.4 → 1.35.4: lease, cordon, drain, kubeadm then kubelet, Ready at the version, healthy twice, uncordon', async (t) => {
  const w = await upgradeWorld(t);
  const plan = await w.round();
  assert.deepEqual(actions(plan), ['upgrade w1']);
  assert.deepEqual(await w.run(plan), [
    'lease.acquire in-progress=upgrade w1',
    'cordon w1',
    'drain w1 420000',
    'assign w1 kubeadm=v1.35.4 kubelet=v1.34.4',
    'op w1 kubeadm-upgrade mode=node',
    'assign w1 kubeadm=v1.35.4 kubelet=v1.35.4',
    'op w1 restart-kubelet',
    'node w1', // NotReady while the kubelet restarts
    'node w1',
    'healthy',
    'healthy',
    'uncordon w1',
    'lease.acquire',
  ]);
  assert.match(w.agents.ops.find((o) => o.kind === 'kubeadm-upgrade')!.args.config!, /kind: UpgradeConfiguration/);
  assert.deepEqual(w.kube.held?.annotations, {}, 'the lease no longer names the action');
  assert.deepEqual({ ...w.kube.nodeMap.get('w1'), readySince: '' }, { ...kubeNode('w1', 'v1.35.4'), readySince: '' });
  // What the reconciler hands out before its next round reads the API (which it read before the upgrade).
  assert.deepEqual(w.lifecycle.versions('w1'), { kubeadm: 'v1.35.4', kubelet: 'v1.35.4' });
  const status = w.lifecycle.status();
  assert.deepEqual([status.running, status.halted, status.lastFailure], [[], undefined, undefined]);
  assert.deepEqual(actions(await w.round()), [], 'converged at v1.35.4');
});

test('a failed upgrade step halts the rollout: the node stays cordoned, the lease and status say which step failed', async (t) => {
  const w = await upgradeWorld(t);
  w.agents.answers['kubeadm-upgrade'] = () => ({ ok: false, message: 'preflight: etcd unhealthy' });
  const events: string[] = [];
  w.lifecycle.on('action', (phase, _description, _ms, kind) => events.push(`${phase} ${kind}`));
  assert.deepEqual(await w.run(await w.round()), [
    'lease.acquire in-progress=upgrade w1',
    'cordon w1',
    'drain w1 420000',
    'assign w1 kubeadm=v1.35.4 kubelet=v1.34.4',
    'op w1 kubeadm-upgrade mode=node',
    'lease.acquire halted=kubeadm upgrade node',
  ]);
  assert.equal(w.kube.nodeMap.get('w1')!.unschedulable, true, 'no uncordon');
  assert.deepEqual(JSON.parse(w.kube.held!.annotations['herd.dev/halted']!).message, 'preflight: etcd unhealthy');
  assert.equal(w.lifecycle.status().halted, 'upgrade of w1 failed at kubeadm upgrade node: preflight: etcd unhealthy');
  assert.deepEqual(events, ['started upgrade', 'failed upgrade'], 'the kind metrics count it by');

  const next = await w.round();
  assert.deepEqual(actions(next), []);
  assert.deepEqual(holds(next), ['w1: rollout halted: upgrade on w1 failed at kubeadm upgrade node: preflight: etcd unhealthy']);
  assert.deepEqual(await w.run(next), [], 'nothing runs while halted');
});

test('scale-down: a Ready worker is drained and reset before its Node and machine go; an unreachable NotReady one is not', async (t) => {
  const ready = await world(t, { version: '1.34.4', workers: 1, machines: ['cp1', 'w1', 'w2'], nodes: { cp1: 'v1.34.4', w1: 'v1.34.4', w2: 'v1.34.4' } });
  const plan = await ready.round();
  assert.deepEqual(actions(plan), ['remove w2']);
  assert.deepEqual(await ready.run(plan), [
    'lease.acquire in-progress=remove w2', 'cordon w2', 'drain w2 600000', 'op w2 kubeadm-reset', 'deleteNode w2', 'deleteMachine w2', 'lease.acquire',
  ]);

  const lost = await world(t, { version: '1.34.4', workers: 1, machines: ['cp1', 'w1', 'w2'], nodes: { cp1: 'v1.34.4', w1: 'v1.34.4', w2: 'v1.34.4' }, gone: ['w2'] });
  lost.kube.set('w2', { ready: false, readySince: '2026-03-01T11:59:00Z' });
  const lostPlan = await lost.round();
  assert.deepEqual(actions(lostPlan), ['remove w2']);
  assert.deepEqual(await lost.run(lostPlan), ['lease.acquire in-progress=remove w2', 'deleteNode w2', 'deleteMachine w2', 'lease.acquire']);
});

test('a plan made while actions ran is not acted on once they finished; the next round plans again', async (t) => {
  const w = await upgradeWorld(t, ['w1', 'w2']);
  let release!: () => void;
  w.kube.drainGate = new Promise((resolve) => { release = resolve; });
  const first = await w.round();
  assert.deepEqual(actions(first), ['upgrade w1'], 'the canary first');
  w.lifecycle.start(w.cluster, w.machines, first);
  const during = await w.round();
  assert.deepEqual(actions(during), ['upgrade w1'], 'planned while w1 upgrades: acting on it would upgrade w1 again');
  release();
  await w.lifecycle.idle();
  // That round read w1 at v1.34.4; its assignments (made after the upgrade ended) must not take w1 back.
  assert.deepEqual(w.lifecycle.versions('w1'), { kubeadm: 'v1.35.4', kubelet: 'v1.35.4' });

  w.log.length = 0;
  w.lifecycle.start(w.cluster, w.machines, during);
  assert.deepEqual(w.lifecycle.status().running, [], 'stale plan: nothing starts');
  await w.lifecycle.idle();
  assert.deepEqual(w.log, []);
  const fresh = await w.round();
  assert.deepEqual(actions(fresh), ['upgrade w2']);
  assert.deepEqual((await w.run(fresh)).slice(0, 2), ['lease.acquire in-progress=upgrade w2', 'cordon w2']);
});

test("another coordinator's unexpired lease holds everything", async (t) => {
  const w = await upgradeWorld(t);
  w.kube.held = { holder: 'coordinator-b', expiresAt: Date.parse('2026-03-01T12:00:30Z'), annotations: {} };
  const plan = await w.round();
  assert.deepEqual(actions(plan), [], 'the planner starts nothing while another coordinator holds the lease');
  assert.equal(holds(plan)[0], "another coordinator (coordinator-b) holds the cluster's lease: 1 action(s) wait");
  w.log.length = 0;
  w.lifecycle.start(w.cluster, w.machines, plan);
  assert.deepEqual(w.lifecycle.status().running, []);
  await w.lifecycle.idle();
  assert.deepEqual(w.log, [], 'no lease taken, no node touched');
});

test('an API server that does not answer changes no node\'s versions (specs keep what the last answer said)', async (t) => {
  const w = await upgradeWorld(t);
  await w.round();
  assert.deepEqual(w.lifecycle.versions('w1'), { kubeadm: 'v1.34.4', kubelet: 'v1.34.4' });
  // The control plane's API server restarts (its own upgrade): no answer for a while.
  w.kube.version = async () => { throw new Error('connect ECONNREFUSED 10.0.0.1:6443'); };
  const plan = await w.round();
  assert.deepEqual(actions(plan), [], 'nothing Kubernetes-side while the API does not answer');
  assert.deepEqual(w.lifecycle.versions('w1'), { kubeadm: 'v1.34.4', kubelet: 'v1.34.4' }, 'not Git\'s v1.35.4');
  assert.deepEqual(w.lifecycle.versions('w9'), { kubeadm: 'v1.35.4', kubelet: 'v1.35.4' }, 'a new machine joins at the version the API server last reported');
});
