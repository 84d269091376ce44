// Issue 7 end to end: herd makes, upgrades, heals and shrinks a real Kubernetes cluster from
// Git. The real CLI (`herd up` as a long-running coordinator), a real Git repository, the
// local provider's nspawn machines, real agents driving real kubeadm, kubelets and an API
// server built from the Go module proxy (scripts/build-kubernetes.sh; cached after the first
// build). The cluster is watched from the host through `herd kubeconfig` and kubectl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { commit, git } from '../support.js';
import { CONFORMANCE_SUBSET, focusOf, runConformance } from '../kubernetes/conformance.js';
import { kubectlOf, kubernetesCacheDir, saveHostSysctls } from '../kubernetes/node.js';
import { Coordinator, deleteBehindHerdsBack, herd, inside, machinesOf, plan, plannedOrder, until, type FleetStatus } from './herd.js';

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

interface NodeJson {
  metadata: { name: string };
  spec: { unschedulable?: boolean };
  status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] };
}
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
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'default' }, spec: { minAvailable: 1,
      selector: { matchLabels: { app: 'web' } } } },
  ],
});

/** The images a version's build made (images.txt): what every local node has. */
const imagesOf = (version: string) => readFileSync(join(kubernetesCacheDir(), `v${version}`, 'images', 'images.txt'), 'utf8').split('\n').filter(Boolean);
const imageNamed = (version: string, name: string) => {
  const ref = imagesOf(version).find((r) => r.slice(0, r.lastIndexOf(':')).endsWith(`/${name}`));
  assert.ok(ref, `v${version} has a ${name} image: ${imagesOf(version).join(', ')}`);
  return ref;
};

/**
 * The network's workload: `echo`, two busybox httpd replicas spread over the workers (each
 * answers with its pod's name) behind a ClusterIP Service, and `probe`, a DaemonSet on the
 * workers that fetches the Service by its DNS name every second and logs each answer with the
 * time: a DaemonSet's pods are not drained, so its logs cover a whole upgrade.
 */
/**
 * A shell pipeline fetching http://HOST:PORT/ with busybox's nc, printing the body's last line.
 * Not busybox's wget: Debian's static busybox wget crashed (SIGSEGV) in these pods, its nc does not.
 */
const get = (host: string, port: number) => `printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | nc -w 5 ${host} ${port} | tail -n 1`;

const network = (busybox: string) => {
  const pod = (name: string, command: string) => ({
    terminationGracePeriodSeconds: 1,
    containers: [{ name, image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', command] }],
  });
  return JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'echo', namespace: 'default' },
        spec: {
          replicas: 2, selector: { matchLabels: { app: 'echo' } },
          template: {
            metadata: { labels: { app: 'echo' } },
            spec: {
              ...pod('httpd', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'),
              // One per worker while there are two; cordoned and tainted nodes (the control plane) are no domain (nodeTaintsPolicy).
              topologySpreadConstraints: [{
                maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor',
                labelSelector: { matchLabels: { app: 'echo' } },
              }],
            },
          },
        },
      },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'echo', namespace: 'default' }, spec: { minAvailable: 1,
        selector: { matchLabels: { app: 'echo' } } } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'default' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80,
        targetPort: 8080 }] } },
      {
        apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'probe', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'probe' } },
          template: {
            metadata: { labels: { app: 'probe' } },
            spec: pod('probe',
              `while :; do if ${get('echo.default.svc.cluster.local', 80)} | grep -q echo-; `
              + 'then echo "$(date +%s) ok"; else echo "$(date +%s) fail"; fi; sleep 1; done'),
          },
        },
      },
    ],
  });
};

interface PodJson { metadata: { name: string; labels?: Record<string,
  string> }; spec: { nodeName?: string; containers: { image: string }[] }; status: { phase: string; podIP?: string } }

/** The longest time, in seconds, between two successful probes in `log` (lines "EPOCH ok|fail"), and how many succeeded. */
function longestOutage(log: string): { longest: number; ok: number; fail: number } {
  let last: number | undefined;
  let longest = 0;
  let ok = 0;
  let fail = 0;
  for (const line of log.split('\n')) {
    const m = /^(\d+) (ok|fail)$/.exec(line.trim());
    if (!m) continue;
    if (m[2] === 'fail') { fail++; continue; }
    ok++;
    const t = Number(m[1]);
    if (last !== undefined) longest = Math.max(longest, t - last - 1);
    last = t;
  }
  return { longest, ok, fail };
}

const ready = (n: NodeJson) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const kube = (s: FleetStatus) => s.clusters[0]?.kubernetes;
const workersOf = (s: FleetStatus) => machinesOf(s).filter((m) => m.pool === 'workers').map((m) => m.name);
/** Every machine has a Ready, schedulable node at `version`, and no node lacks a machine. */
const settled = (s: FleetStatus, version: string, machines: number) => {
  const k = kube(s);
  return machinesOf(s).length === machines && k?.nodes.length === machines
    && k.nodes.every((n) => n.ready && !n.unschedulable && n.version === `v${version}`) && k.running.length === 0;
};

test('herd makes, upgrades, heals and shrinks a Kubernetes cluster from Git', { timeout: 150 * MINUTES }, async (t) => {
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

  /** Commits on a branch, plans it against the running fleet (exit 2: changes), then fast-forwards main to it. */
  const planThenMerge = (change: () => void) => {
    git(repo, 'checkout', '-q', '-b', 'next');
    change();
    const r = plan(repo, state, 'next');
    assert.equal(r.code, 2, `herd plan exits 2 for changes: ${r.stderr}`);
    // As an operator reads it (the README quotes one).
    for (const line of herd(['plan', repo, '--ref', 'next', '--state', state]).stdout.split('\n')) t.diagnostic(line);
    const mark = up.mark();
    git(repo, 'checkout', '-q', 'main');
    git(repo, 'merge', '-q', '--ff-only', 'next');
    git(repo, 'branch', '-q', '-d', 'next');
    return { document: r.document!, order: plannedOrder(r.document!), mark };
  };

  const kubeconfig = join(root, 'admin.conf');
  // The kubectl of the version herd builds first (the one the cluster starts at); kubectl
  // supports an API server one minor newer, so it serves through the upgrade too.
  const kubectl = async (...args: string[]) => (await promisify(execFile)(kubectlOf(FROM), ['--kubeconfig', kubeconfig, ...args],
    { maxBuffer: 32 << 20 })).stdout;
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
    const pause = inside(state, machinesOf(await wait('status', () => true))[0]!.name, 'sh', '-c',
      "grep sandbox_image /etc/containerd/config.toml | cut -d'\"' -f2");
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

  const pods = async (...selector: string[]) => (JSON.parse(await kubectl('get', 'pods', '-o', 'json', ...selector)) as { items: PodJson[] }).items;
  const httpGet = async (pod: string, host: string, port: number) => (await kubectl('exec', pod, '--', 'sh', '-c', get(host, port))).trim();
  /** Rethrows `e` with what a reader of the failure needs: every pod, and the events (of one node's pods when given). */
  const explain = (node?: string) => async (e: Error): Promise<never> => {
    const show = async (...args: string[]) => kubectl(...args).catch((f: Error) => f.message);
    const selector = node ? ['--field-selector', `spec.nodeName=${node}`] : [];
    const podList = await show('get', 'pods', '-A', '-o', 'wide', ...selector);
    const events = await show('get', 'events', '-A', '--sort-by=.lastTimestamp');
    throw new Error(`${e.message}\npods:\n${podList}\nevents (last 40):\n${events.split('\n').slice(-40).join('\n')}`);
  };

  await t.test('the network: flannel, kube-proxy and CoreDNS on every node; pods reach pods across nodes, a Service by name, the host', async () => {
    await kubectl('rollout', 'status', '-n', 'kube-flannel', 'daemonset/kube-flannel-ds', '--timeout=10m');
    await kubectl('rollout', 'status', '-n', 'kube-system', 'daemonset/kube-proxy', '--timeout=10m');
    await kubectl('rollout', 'status', '-n', 'kube-system', 'deployment/coredns', '--timeout=10m');
    const all = (await nodes()).map((n) => n.metadata.name).sort();
    for (const [namespace, label] of [['kube-flannel', 'app=flannel'], ['kube-system', 'k8s-app=kube-proxy']] as const) {
      const running = (await pods('-n', namespace, '-l', label)).filter((p) => p.status.phase === 'Running').map((p) => p.spec.nodeName).sort();
      assert.deepEqual(running, all, `${label} Running on every node`);
    }
    const dns = await pods('-n', 'kube-system', '-l', 'k8s-app=kube-dns');
    assert.ok(dns.length >= 1 && dns.every((p) => p.status.phase === 'Running'), 'CoreDNS Running');
    assert.equal(dns[0]!.spec.containers[0]!.image, imageNamed(FROM, 'coredns'), 'CoreDNS at kubeadm\'s version');

    const apply = spawnSync(kubectlOf(FROM), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: network(imageNamed(FROM, 'busybox')),
      encoding: 'utf8' });
    assert.equal(apply.status, 0, apply.stderr);
    await kubectl('rollout', 'status', 'deployment/echo', '--timeout=10m');
    await kubectl('rollout', 'status', 'daemonset/probe', '--timeout=10m');
    const echo = await pods('-l', 'app=echo');
    const probes = await pods('-l', 'app=probe');
    assert.equal(new Set(echo.map((p) => p.spec.nodeName)).size, 2, 'one echo pod on each worker');
    assert.equal(probes.length, 2, 'a probe on each worker');

    // Pod to pod by IP, from each worker to the other's echo pod (flannel's VXLAN between nodes).
    for (const probe of probes) {
      const remote = echo.find((e) => e.spec.nodeName !== probe.spec.nodeName)!;
      assert.equal(await httpGet(probe.metadata.name, remote.status.podIP!, 8080), remote.metadata.name,
        `${probe.metadata.name} on ${probe.spec.nodeName} reaches ${remote.metadata.name} on ${remote.spec.nodeName} by its IP`);
      // The Service by its DNS name (CoreDNS), through its ClusterIP (kube-proxy).
      const answer = await httpGet(probe.metadata.name, 'echo.default.svc.cluster.local', 80);
      assert.ok(echo.some((e) => e.metadata.name === answer), `the Service answers from an echo pod: ${answer}`);
    }

    // Pod to the host: the bridge's host address (nspawn's Bridge.hostAddress, .1 of the machines' network) reaches
    // no pod network, so an answer comes back only because flannel masquerades the pod's address as its node's.
    const probe = probes[0]!;
    const node = (await nodes()).find((n) => n.metadata.name === probe.spec.nodeName)!;
    const nodeIp = node.status.addresses.find((a) => a.type === 'InternalIP')!.address;
    const seen: string[] = [];
    const server = createServer((req, res) => { seen.push(req.socket.remoteAddress ?? ''); res.end('host\n'); });
    const hostAddress = nodeIp.replace(/\.\d+$/, '.1');
    await new Promise<void>((resolve) => server.listen(0, hostAddress, resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      assert.equal(await httpGet(probe.metadata.name, hostAddress, port), 'host');
      assert.deepEqual(seen.map((a) => a.replace(/^::ffff:/, '')), [nodeIp], `the host saw the node's address, not the pod's (${probe.status.podIP})`);
    } finally {
      server.close();
    }
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
    // The commit is planned on a branch first, as a pull request's bot would, then merged.
    const planned = planThenMerge(() => commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 2 }) }));
    const actions = planned.document.clusters[0]!.steps.flatMap((s) => s.actions);
    assert.deepEqual(actions.map((a) => `${a.type} ${a.role}`), ['upgrade control-plane', 'upgrade worker', 'upgrade worker'],
      `the control plane first, then each worker: ${planned.order.join(', ')}`);
    assert.deepEqual(planned.document.clusters[0]!.specChanges, [{ path: 'spec.kubernetes.version', from: FROM, to: TO }]);
    const drained = planned.document.clusters[0]!.steps.flatMap((s) => s.actions).find((a) => a.evictions?.some((p) => p.startsWith('default/web-')));
    assert.ok(drained, 'the plan names the web pods a drain evicts');
    assert.equal(drained.disruptionBudgets?.allowed, true, JSON.stringify(drained.disruptionBudgets));
    await wait(`every node at v${TO}`, (s) => settled(s, TO, 3));
    watching = false;
    await watcher;
    assert.deepEqual(up.startedSince(planned.mark, 'kube'), planned.order, 'herd up carried out the plan in its order');
    const after = plan(repo, state, 'main');
    assert.equal(after.code, 0, `no changes once rolled out: ${JSON.stringify(after.document?.clusters[0]?.steps)}`);
    assert.ok(samples > 30, `the watcher sampled throughout (${samples} samples)`);
    assert.ok(maxUnschedulable <= 1, `at most 1 node unschedulable or NotReady at once (saw ${maxUnschedulable})`);
    assert.deepEqual(violations, [], 'the PodDisruptionBudget held');
    for (const n of await nodes()) assert.equal(n.status.nodeInfo.kubeletVersion, `v${TO}`);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=5m');

    // kubeadm moved its add-ons to the new version's defaults.
    await kubectl('rollout', 'status', '-n', 'kube-system', 'daemonset/kube-proxy', '--timeout=10m');
    await kubectl('rollout', 'status', '-n', 'kube-system', 'deployment/coredns', '--timeout=10m');
    for (const [label, name] of [['k8s-app=kube-proxy', 'kube-proxy'], ['k8s-app=kube-dns', 'coredns']] as const) {
      const images = new Set((await pods('-n', 'kube-system', '-l', label)).map((p) => p.spec.containers[0]!.image));
      assert.deepEqual([...images], [imageNamed(TO, name)], `${name} at v${TO}'s default`);
    }
    // The Service kept answering while the nodes rolled: each probe's longest time without an answer.
    const outages: string[] = [];
    for (const probe of await pods('-l', 'app=probe')) {
      const o = longestOutage(await kubectl('logs', probe.metadata.name));
      assert.ok(o.ok > 30, `${probe.metadata.name} got answers throughout (${o.ok} ok, ${o.fail} failed)`);
      outages.push(`${probe.spec.nodeName}: longest outage ${o.longest}s (${o.ok} ok, ${o.fail} failed)`);
    }
    for (const line of outages) console.log(`Service probe through the upgrade, ${line}`);
    await kubectl('rollout', 'status', 'daemonset/kube-flannel-ds', '-n', 'kube-flannel', '--timeout=5m');
  });

  await t.test(`Kubernetes' conformance tests at v${TO}: ${CONFORMANCE_SUBSET.length} [Conformance] specs of e2e.test pass`, async () => {
    // The cluster's registry serves the suite's images under their usual names (containerd mirrors registry.k8s.io to it).
    const { address } = JSON.parse(readFileSync(join(state, 'providers/local/registry/kube/registry.json'), 'utf8')) as { address: string };
    const reportDir = join(root, 'conformance');
    const run = await runConformance({ kubeconfig, version: `v${TO}`, registry: address, focus: focusOf(CONFORMANCE_SUBSET), reportDir });
    // The report lists every spec of the suite; those the focus left out are skipped.
    for (const s of run.specs.filter((r) => r.state !== 'skipped')) {
      t.diagnostic(`${s.state} ${s.seconds}s ${s.name}${s.failure ? `: ${s.failure.split('\n')[0]}` : ''}`);
    }
    const failed = run.specs.filter((s) => s.state !== 'passed' && s.state !== 'skipped');
    assert.deepEqual(failed.map((s) => `${s.name}: ${s.state}: ${s.failure ?? ''}`), [], 'no spec failed');
    assert.equal(run.code, 0, `e2e.test exited ${run.code}:\n${run.tail}`);
    const passed = run.specs.filter((s) => s.state === 'passed').map((s) => s.name).sort();
    assert.ok(passed.length >= 30, `at least 30 specs passed (${passed.length})`);
    assert.deepEqual(passed, [...CONFORMANCE_SUBSET].sort(), 'every spec of the subset ran and passed, no other');
  });

  await t.test('a worker machine deleted behind herd\'s back is replaced, its Node forgotten', async () => {
    const before = await wait('status', () => true);
    const victim = workersOf(before)[0]!;
    // As a cloud console would: the provider deletes the machine, herd's coordinator and the cluster are not told.
    await deleteBehindHerdsBack(state, 'kube', victim);
    const after = await wait('a replacement Ready and the old Node gone', (s) => settled(s, TO, 3) && !workersOf(s).includes(victim));
    assert.ok(!(await nodes()).some((n) => n.metadata.name === victim));
    assert.equal(workersOf(after).length, 2);
    // The new node is on the pod network: its probe pod reaches the Service by name.
    const fresh = workersOf(after).find((w) => !workersOf(before).includes(w))!;
    await kubectl('rollout', 'status', 'daemonset/probe', '--timeout=5m').catch(explain(fresh));
    const probe = (await pods('-l', 'app=probe')).find((p) => p.spec.nodeName === fresh);
    assert.ok(probe, `a probe pod on ${fresh}`);
    const deadline = Date.now() + 2 * MINUTES;
    while (longestOutage(await kubectl('logs', probe.metadata.name)).ok === 0) {
      if (Date.now() > deadline) await explain(fresh)(new Error(`${probe.metadata.name} on ${fresh} never reached the Service`));
      await new Promise((r) => setTimeout(r, 2000));
    }
  });

  await t.test('scale the workers from 2 to 1: the node is drained and removed, as planned; a broken commit has no plan', async () => {
    git(repo, 'checkout', '-q', '-b', 'broken');
    commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 1 }).replace('replicas: 1', 'replicas: one') });
    const broken = plan(repo, state, 'broken');
    assert.equal(broken.code, 1);
    assert.equal(broken.document, null);
    assert.match(broken.stderr, /clusters\/kube\.yaml:\d+:\d+: spec\.pools\[0\]\.replicas/);
    git(repo, 'checkout', '-q', 'main');
    git(repo, 'branch', '-q', '-D', 'broken');

    const planned = planThenMerge(() => commit(repo, { 'clusters/kube.yaml': cluster({ version: TO, workers: 1 }) }));
    assert.equal(planned.order.length, 1, planned.order.join(', '));
    assert.match(planned.order[0]!, /^remove kube-workers-/);
    await wait('two nodes', (s) => settled(s, TO, 2));
    assert.deepEqual(up.startedSince(planned.mark, 'kube'), planned.order, 'herd up carried out the plan');
    assert.ok(!workersOf(await wait('status', () => true)).includes(planned.order[0]!.split(' ')[1]!), 'the planned worker went');
    assert.equal((await nodes()).length, 2);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=5m').catch(explain());
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
