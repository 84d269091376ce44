// Issue 7 end to end: herd makes, upgrades, heals and shrinks a real Kubernetes cluster from
// Git. The real CLI (`herd up` as a long-running coordinator), a real Git repository, the
// local provider's nspawn machines, real agents driving real kubeadm, kubelets and an API
// server built from the Go module proxy (scripts/build-kubernetes.sh; cached after the first
// build). The cluster is watched from the host through `herd kubeconfig` and kubectl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { commit, git } from '../support.js';
import { kubectlOf, kubernetesCacheDir, saveHostSysctls } from '../kubernetes/node.js';
import { Coordinator, deleteBehindHerdsBack, herd, inside, machinesOf, until, type FleetStatus } from './herd.js';

const FROM = '1.34.4';
const TO = '1.35.4';
const MINUTES = 60_000;

const cluster = (o: { version: string; workers: number }) => `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: kube }
spec:
  provider: { kind: local }
  kubernetes: { version: ${o.version} }
  upgrade: { maxUnavailable: 1, drainTimeout: 5m }
  health: { startupTimeout: 10m, unhealthyTimeout: 1m, maxUnhealthy: 40% }
  pools:
    - { name: workers, replicas: ${o.workers} }
`;

interface NodeJson { metadata: { name: string }; spec: { unschedulable?: boolean }; status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[] } }
interface PdbJson { status: { currentHealthy: number; desiredHealthy: number } }

const workload = (pauseImage: string) => JSON.stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 2, selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'pause', image: pauseImage, imagePullPolicy: 'Never' }] },
        },
      },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'default' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } },
  ],
});

const ready = (n: NodeJson) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const kube = (s: FleetStatus) => s.clusters[0]?.kubernetes;
const workersOf = (s: FleetStatus) => machinesOf(s).filter((m) => m.pool === 'workers').map((m) => m.name);
/** Every machine has a Ready, schedulable node at `version`, and no node lacks a machine. */
const settled = (s: FleetStatus, version: string, machines: number) => {
  const k = kube(s);
  return machinesOf(s).length === machines && k?.nodes.length === machines
    && k.nodes.every((n) => n.ready && !n.unschedulable && n.version === `v${version}`) && k.running.length === 0;
};

test('herd makes, upgrades, heals and shrinks a Kubernetes cluster from Git', { timeout: 120 * MINUTES }, async (t) => {
  // Removed last, after the machines living in it (hooks run in the order they were added).
  const root = mkdtempSync(join(tmpdir(), 'herd-kube-'));
  const repo = join(root, 'fleet');
  const state = join(root, 'state');
  git(root, 'init', '-q', repo);
  commit(repo, { 'clusters/kube.yaml': cluster({ version: FROM, workers: 2 }) });

  const up = new Coordinator([repo, '--ref', 'main', '--state', state, '--interval', '3s']);
  const restoreSysctls = await saveHostSysctls();
  t.after(async () => {
    await up.stop();
    const down = herd(['down', repo, '--state', state]);
    assert.equal(down.code, 0, down.stderr);
  });
  // The host kernel settings the kubelets changed go back once the machines are gone.
  t.after(restoreSysctls);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  up.start();
  // What each action took, for docs/benchmarks.md: the coordinator's own progress lines.
  t.after(() => { for (const line of up.log.join('').split('\n').filter((l) => /: done /.test(l))) t.diagnostic(line); });
  const wait = (what: string, check: (s: FleetStatus) => boolean, timeoutMs = 20 * MINUTES) =>
    until(repo, state, what, check, timeoutMs).catch((e: Error) => { throw new Error(`${e.message}\ncoordinator log:\n${up.tail()}`); });

  const kubeconfig = join(root, 'admin.conf');
  // The kubectl of the version herd builds first (the one the cluster starts at); kubectl
  // supports an API server one minor newer, so it serves through the upgrade too.
  const kubectl = async (...args: string[]) => (await promisify(execFile)(kubectlOf(FROM), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 32 << 20 })).stdout;
  const nodes = async () => (JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as { items: NodeJson[] }).items;

  await t.test(`herd up: 1 control plane and 2 workers Ready at v${FROM}, a Deployment with a PodDisruptionBudget running`, async () => {
    await wait('three Ready nodes', (s) => settled(s, FROM, 3));
    const config = herd(['kubeconfig', 'kube', repo, '--state', state]);
    assert.equal(config.code, 0, config.stderr);
    writeFileSync(kubeconfig, config.stdout, { mode: 0o600 });
    const all = await nodes();
    assert.equal(all.length, 3);
    for (const n of all) {
      assert.ok(ready(n), `${n.metadata.name} Ready`);
      assert.equal(n.status.nodeInfo.kubeletVersion, `v${FROM}`);
    }
    const pause = inside(state, machinesOf(await wait('status', () => true))[0]!.name, 'sh', '-c', "grep sandbox_image /etc/containerd/config.toml | cut -d'\"' -f2");
    const apply = spawnSync(kubectlOf(FROM), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: workload(pause), encoding: 'utf8' });
    assert.equal(apply.status, 0, apply.stderr);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=10m');
  });

  await t.test('images come from the cluster\'s registry: the nodes run its digests, and a user\'s own image pushed there runs as a pod', async () => {
    const { address } = JSON.parse(readFileSync(join(state, 'providers/local/registry/kube/registry.json'), 'utf8')) as { address: string };
    const cache = join(kubernetesCacheDir(), `v${FROM}`);
    const worker = workersOf(await wait('status', () => true))[0]!;
    // Nothing preloads images any more: what a node has, it pulled, and the registry is all it reaches.
    const listed = inside(state, worker, 'ctr', '-n', 'k8s.io', 'images', 'ls').split('\n').slice(1).map((l) => l.split(/\s+/));
    const onNode = new Map(listed.map((c) => [c[0]!, c[2]!]));
    const pause = readFileSync(join(cache, 'images/images.txt'), 'utf8').split('\n').find((r) => /\/pause:/.test(r))!;
    const digest = (await fetch(`http://${address}/v2/${pause.slice(pause.indexOf('/') + 1).replace(':', '/manifests/')}`, {
      method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })).headers.get('docker-content-digest');
    assert.equal(onNode.get(pause), digest, `${worker} pulled ${pause} from ${address}`);
    // As docs/providers.md tells a user: an image (here one from oci-image.mjs), skopeo copy, then the usual name in a pod.
    const archive = join(root, 'hello.tar');
    spawnSync('node', [fileURLToPath(new URL('../../scripts/kubernetes/oci-image.mjs', import.meta.url)), '--ref', 'herd-test/hello:v1',
      '--file', `${join(cache, 'bin/pause')}:/hello`, '--entrypoint', '/hello', '--out', archive], { stdio: 'inherit' });
    const digestFile = join(root, 'hello.digest');
    const target = `docker://${address}/herd-test/hello:v1`;
    const push = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', '--digestfile', digestFile, `oci-archive:${archive}`, target], { encoding: 'utf8' });
    assert.equal(push.status, 0, push.stderr);
    await kubectl('run', 'hello', '--image=docker.io/herd-test/hello:v1', '--image-pull-policy=Always', '--restart=Never');
    await kubectl('wait', 'pod/hello', '--for=condition=Ready', '--timeout=5m');
    const pod = JSON.parse(await kubectl('get', 'pod', 'hello', '-o', 'json')) as { status: { containerStatuses: { imageID: string }[] } };
    // skopeo compresses the layers on the way (no --preserve-digests here, as a user would run it): the registry's digest counts.
    const pushed = readFileSync(digestFile, 'utf8').trim();
    assert.equal(pod.status.containerStatuses[0]!.imageID, `docker.io/herd-test/hello@${pushed}`, 'the pod runs the pushed image');
    await kubectl('delete', 'pod', 'hello', '--wait=false');
  });

  await t.test(`a commit with v${TO} upgrades every node; never more than 1 unschedulable, the PDB never violated`, async () => {
    let maxUnschedulable = 0;
    const violations: string[] = [];
    let samples = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          const unschedulable = (await nodes()).filter((n) => n.spec.unschedulable || !ready(n)).length;
          maxUnschedulable = Math.max(maxUnschedulable, unschedulable);
          const pdb = JSON.parse(await kubectl('get', 'pdb', 'web', '-o', 'json')) as PdbJson;
          if (pdb.status.currentHealthy < pdb.status.desiredHealthy) violations.push(`${new Date().toISOString()}: ${pdb.status.currentHealthy} healthy < ${pdb.status.desiredHealthy}`);
          samples++;
        } catch { /* the API server restarts during its own upgrade */ }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 2 }) });
    await wait(`every node at v${TO}`, (s) => settled(s, TO, 3));
    watching = false;
    await watcher;
    assert.ok(samples > 30, `the watcher sampled throughout (${samples} samples)`);
    assert.ok(maxUnschedulable <= 1, `at most 1 node unschedulable or NotReady at once (saw ${maxUnschedulable})`);
    assert.deepEqual(violations, [], 'the PodDisruptionBudget held');
    for (const n of await nodes()) assert.equal(n.status.nodeInfo.kubeletVersion, `v${TO}`);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=5m');
  });

  await t.test('a worker machine deleted behind herd\'s back is replaced, its Node forgotten', async () => {
    const before = await wait('status', () => true);
    const victim = workersOf(before)[0]!;
    // As a cloud console would: the provider deletes the machine, herd's coordinator and the cluster are not told.
    await deleteBehindHerdsBack(state, 'kube', victim);
    const after = await wait('a replacement Ready and the old Node gone', (s) => settled(s, TO, 3) && !workersOf(s).includes(victim));
    assert.ok(!(await nodes()).some((n) => n.metadata.name === victim));
    assert.equal(workersOf(after).length, 2);
  });

  await t.test('scale the workers from 2 to 1: the node is drained and removed', async () => {
    commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 1 }) });
    await wait('two nodes', (s) => settled(s, TO, 2));
    assert.equal((await nodes()).length, 2);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=5m');
  });

  await t.test('with 2 of 3 workers stopped remediation pauses (maxUnhealthy 40%); with 1 the stopped worker is replaced', async () => {
    commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 3 }) });
    const s = await wait('four nodes', (s) => settled(s, TO, 4));
    const [a, b] = workersOf(s) as [string, string];
    for (const machine of [a, b]) inside(state, machine, 'systemctl', 'stop', 'herd-agent', 'kubelet');
    await wait('remediation to pause', (s) => (kube(s)?.holds ?? []).some((h) => /remediation paused/.test(h)), 10 * MINUTES);
    assert.ok(workersOf(await wait('status', () => true)).includes(a), 'nothing replaced while paused');
    inside(state, b, 'systemctl', 'start', 'kubelet', 'herd-agent');
    await wait(`${a} replaced`, (st) => settled(st, TO, 4) && !workersOf(st).includes(a) && workersOf(st).includes(b));
  });
});
