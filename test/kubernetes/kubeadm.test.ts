/**
 * Real Kubernetes in the test world: two systemd-nspawn machines become nodes with the
 * kubeadm, kubelet, kubectl and control-plane images scripts/build-kubernetes.sh builds from
 * the Go module proxy; real `kubeadm init`, real `kubeadm join` with a fresh token, both nodes
 * Ready and a pod running on the worker, seen through the API server from the host; then
 * `kubeadm upgrade apply` to the next minor version on the control plane and `kubeadm
 * upgrade node` on the worker, each followed by its kubelet.
 *
 * Needs root, the host packages of scripts/host-packages.txt, and the artifacts: the first
 * run builds them (tens of minutes on 2 cores, docs/test-world.md), later runs find them in
 * the cache. Everything is torn down afterwards, also on failure: machines, bridge, the
 * kubelets' cgroup subtrees, and the host kernel settings the kubelet changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createExecutor, type ExecOptions } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { buildArtifacts, containerdImages, importImages, installKubernetes, kubernetesCacheDir, prepareNode, saveHostSysctls } from './node.js';
import { initConfiguration, joinConfiguration, upgradeConfiguration } from './profile.js';

/** One minor apart, the newest patches the module proxy serves (docs/test-world.md). */
const FROM = 'v1.34.4';
const TO = 'v1.35.4';
const LONG: ExecOptions = { timeoutMs: 20 * 60_000 };

interface NodeJson { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string } } }

test(`kubeadm ${FROM}: init, join with a fresh token, a pod on the worker, upgrade to ${TO}`, { timeout: 4 * 3600_000 }, async (t) => {
  const exec = createExecutor();
  const from = await buildArtifacts(FROM, exec);
  const to = await buildArtifacts(TO, exec);

  const world = await TestWorld.start(t, { machines: 2, kubernetesNode: true });
  // After the machines are gone (hooks run in the order they were added): the kubelets set
  // host-wide kernel settings and left cgroup directories in the host's hierarchies.
  const restoreSysctls = await saveHostSysctls();
  t.after(restoreSysctls);
  const [cp, worker] = world.machines as [Machine, Machine];
  await world.repo.add(...from.debianDebs, ...from.debs, ...to.debs);
  await Promise.all([cp, worker].map(async (machine, i) => {
    await prepareNode(machine, { podCidr: `10.244.${i + 1}.0/24`, pauseImage: from.pauseImage, after: (fn) => t.after(fn) });
    await installKubernetes(machine, from);
    await importImages(machine, from);
  }));

  const kubectl = (...args: string[]) => cp.exec.run('kubectl', ['--kubeconfig', '/etc/kubernetes/admin.conf', ...args], LONG);
  // The built kubectl on the host, against the API server's address on the world's bridge.
  const hostKubeconfig = join(world.dir, 'admin.conf');
  const hostKubectl = (...args: string[]) =>
    exec.run(join(kubernetesCacheDir(), TO, 'bin', 'kubectl'), ['--kubeconfig', hostKubeconfig, ...args], LONG);
  const nodes = async () => JSON.parse((await hostKubectl('get', 'nodes', '-o', 'json')).stdout).items as NodeJson[];
  const ready = (n: NodeJson) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

  await t.test('the images kubeadm expects are in containerd, so nothing is pulled', async () => {
    for (const machine of [cp, worker]) {
      const images = await containerdImages(machine);
      for (const ref of from.imageRefs) assert.ok(images.includes(ref), `${machine.name} has ${ref}: ${images.join(', ')}`);
    }
  });

  await t.test('kubeadm init on the control plane', async () => {
    await fs.writeFile(join(cp.rootfs, 'root/kubeadm-init.yaml'),
      initConfiguration({ version: FROM, nodeName: cp.name, address: cp.address }));
    await cp.exec.run('kubeadm', ['config', 'validate', '--config', '/root/kubeadm-init.yaml']);
    await cp.exec.run('kubeadm', ['init', '--config', '/root/kubeadm-init.yaml'], LONG);
    await fs.copyFile(join(cp.rootfs, 'etc/kubernetes/admin.conf'), hostKubeconfig);
    const version = JSON.parse((await hostKubectl('version', '-o', 'json')).stdout);
    assert.equal(version.serverVersion.gitVersion, FROM);
  });

  await t.test('kubeadm join of the worker with a fresh token', async () => {
    const before = (await cp.exec.run('kubeadm', ['token', 'list', '-o', 'jsonpath={.token}{"\\n"}'])).stdout;
    const command = (await cp.exec.run('kubeadm', ['token', 'create', '--ttl', '15m', '--print-join-command'])).stdout;
    const token = /--token (\S+)/.exec(command)?.[1];
    const hash = /--discovery-token-ca-cert-hash (\S+)/.exec(command)?.[1];
    const endpoint = /kubeadm join (\S+)/.exec(command)?.[1];
    assert.ok(token && hash && endpoint, `a join command: ${command}`);
    assert.ok(!before.includes(token), 'the token is new');
    await fs.writeFile(join(worker.rootfs, 'root/kubeadm-join.yaml'),
      joinConfiguration({ nodeName: worker.name, address: worker.address, apiServerEndpoint: endpoint, token, caCertHash: hash }));
    await worker.exec.run('kubeadm', ['config', 'validate', '--config', '/root/kubeadm-join.yaml']);
    await worker.exec.run('kubeadm', ['join', '--config', '/root/kubeadm-join.yaml'], LONG);
  });

  await t.test('both nodes become Ready', async () => {
    await hostKubectl('wait', '--for=condition=Ready', 'node', '--all', '--timeout=15m');
    const all = await nodes();
    assert.deepEqual(all.map((n) => n.metadata.name).sort(), [cp.name, worker.name].sort());
    for (const n of all) {
      assert.ok(ready(n), `${n.metadata.name} is Ready`);
      assert.equal(n.status.nodeInfo.kubeletVersion, FROM);
    }
  });

  await t.test('a pod runs on the worker', async () => {
    // The namespace's default ServiceAccount, which admission requires, appears shortly after init.
    await kubectl('wait', '--for=create', 'serviceaccount/default', '--timeout=10m');
    await cp.exec.run('kubectl', ['--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', '-'], {
      ...LONG,
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'herd-probe', namespace: 'default' },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': worker.name },
          containers: [{ name: 'pause', image: from.pauseImage, imagePullPolicy: 'Never' }],
        },
      }),
    });
    await hostKubectl('wait', '--for=condition=Ready', 'pod/herd-probe', '--timeout=10m');
    const pod = JSON.parse((await hostKubectl('get', 'pod', 'herd-probe', '-o', 'json')).stdout);
    assert.equal(pod.spec.nodeName, worker.name);
    assert.equal(pod.status.phase, 'Running');
    assert.match(pod.status.podIP, /^10\.244\.2\./, 'an address from the worker\'s pod network');
  });

  await t.test(`kubeadm upgrade apply ${TO} on the control plane`, async () => {
    await importImages(cp, to);
    await installKubernetes(cp, to, ['kubeadm']);
    assert.equal((await cp.exec.run('kubeadm', ['version', '-o', 'short'])).stdout.trim(), TO);
    await fs.writeFile(join(cp.rootfs, 'root/kubeadm-upgrade.yaml'), upgradeConfiguration({ version: TO, nodeName: cp.name }));
    await cp.exec.run('kubeadm', ['config', 'validate', '--config', '/root/kubeadm-upgrade.yaml']);
    await cp.exec.run('kubeadm', ['upgrade', 'apply', '--config', '/root/kubeadm-upgrade.yaml', '--yes'], LONG);
    const version = JSON.parse((await hostKubectl('version', '-o', 'json')).stdout);
    assert.equal(version.serverVersion.gitVersion, TO);

    // Then the control plane's kubelet, as the upgrade procedure goes on.
    await installKubernetes(cp, to, ['kubelet', 'kubectl']);
    await cp.exec.run('systemctl', ['daemon-reload']);
    await cp.exec.run('systemctl', ['restart', 'kubelet']);
    await hostKubectl('wait', '--for=jsonpath={.status.nodeInfo.kubeletVersion}=' + TO, `node/${cp.name}`, '--timeout=10m');
    await hostKubectl('wait', '--for=condition=Ready', `node/${cp.name}`, '--timeout=10m');
    const byName = new Map((await nodes()).map((n) => [n.metadata.name, n]));
    assert.equal(byName.get(cp.name)?.status.nodeInfo.kubeletVersion, TO);
    assert.equal(byName.get(worker.name)?.status.nodeInfo.kubeletVersion, FROM, 'the worker is one minor behind, within the skew policy');
    const pod = JSON.parse((await hostKubectl('get', 'pod', 'herd-probe', '-o', 'json')).stdout);
    assert.equal(pod.status.phase, 'Running', 'the worker\'s pod kept running');
  });

  await t.test(`kubeadm upgrade node ${TO} on the worker`, async () => {
    // The worker's pod stays (no drain here: draining is the lifecycle's job, not kubeadm's).
    await importImages(worker, to);
    await installKubernetes(worker, to, ['kubeadm']);
    await fs.writeFile(join(worker.rootfs, 'root/kubeadm-upgrade.yaml'), upgradeConfiguration({ version: TO, nodeName: worker.name }));
    await worker.exec.run('kubeadm', ['upgrade', 'node', '--config', '/root/kubeadm-upgrade.yaml'], LONG);
    await installKubernetes(worker, to, ['kubelet', 'kubectl']);
    await worker.exec.run('systemctl', ['daemon-reload']);
    await worker.exec.run('systemctl', ['restart', 'kubelet']);
    await hostKubectl('wait', '--for=jsonpath={.status.nodeInfo.kubeletVersion}=' + TO, `node/${worker.name}`, '--timeout=10m');
    await hostKubectl('wait', '--for=condition=Ready', 'node', '--all', '--timeout=10m');
    for (const n of await nodes()) assert.equal(n.status.nodeInfo.kubeletVersion, TO, `${n.metadata.name} at ${TO}`);
    await hostKubectl('wait', '--for=condition=Ready', 'pod/herd-probe', '--timeout=10m');
  });
});
