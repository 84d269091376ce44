import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PLATFORM, InvalidProfileInput, KUBEADM_API, PATCHES_DIR, initConfiguration, joinConfiguration, newCertificateKey, upgradeConfiguration,
} from '@herd/kubeadm';
import { byKind, CA_HASH, CERT_KEY, CLUSTER, CP1, CP2, TOKEN, WORKER, LOCAL_PLATFORM } from './fixtures.js';

test('init on the default platform: the node, the cluster, the systemd driver, nothing ignored or patched', () => {
  const docs = byKind(initConfiguration({ cluster: CLUSTER, node: CP1, certificateKey: CERT_KEY, platform: DEFAULT_PLATFORM }));
  assert.deepEqual(Object.keys(docs), ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration']);
  const init = docs.InitConfiguration!;
  assert.equal(init.apiVersion, KUBEADM_API);
  assert.deepEqual(init.localAPIEndpoint, { advertiseAddress: '10.0.0.11', bindPort: 6443 });
  assert.deepEqual(init.nodeRegistration, { name: 'cp-1', criSocket: 'unix:///run/containerd/containerd.sock', imagePullPolicy: 'IfNotPresent',
    kubeletExtraArgs: [{ name: 'node-ip', value: '10.0.0.11' }] });
  assert.equal(init.certificateKey, CERT_KEY);
  assert.equal(init.patches, undefined);
  assert.equal(init.timeouts.controlPlaneComponentHealthCheck, '15m0s');
  assert.deepEqual(docs.ClusterConfiguration, {
    apiVersion: KUBEADM_API,
    kind: 'ClusterConfiguration',
    clusterName: 'prod-eu',
    kubernetesVersion: 'v1.34.4',
    controlPlaneEndpoint: '10.0.0.100:8443',
    networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
  });
  assert.deepEqual(docs.KubeletConfiguration, { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd' });
  assert.equal(docs.KubeProxyConfiguration, undefined, 'kube-proxy at kubeadm\'s defaults');
});

test('init on the local platform: cgroupfs, cgroup v1 allowed, images pulled, checks ignored by name, patches, kubeadm\'s add-ons on', () => {
  const docs = byKind(initConfiguration({ cluster: CLUSTER, node: CP1, platform: LOCAL_PLATFORM }));
  const init = docs.InitConfiguration!;
  assert.equal(init.nodeRegistration.imagePullPolicy, 'IfNotPresent', 'pulled from the provider\'s registry');
  assert.deepEqual(init.nodeRegistration.ignorePreflightErrors, ['SystemVerification']);
  assert.deepEqual(init.patches, { directory: PATCHES_DIR });
  assert.equal(init.certificateKey, undefined, 'no key unless given');
  assert.equal(docs.ClusterConfiguration!.dns, undefined, 'CoreDNS at kubeadm\'s default');
  assert.equal(docs.ClusterConfiguration!.proxy, undefined, 'kube-proxy at kubeadm\'s default');
  assert.deepEqual(docs.KubeProxyConfiguration, { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration',
    conntrack: { maxPerCore: 0 } });
  assert.equal(docs.KubeletConfiguration!.cgroupDriver, 'cgroupfs');
  assert.equal(docs.KubeletConfiguration!.failCgroupV1, false);
});

test('join: a worker has no controlPlane block; a control plane advertises its address with the certificate key', () => {
  const worker = byKind(joinConfiguration({ node: WORKER, apiServerEndpoint: '10.0.0.100:8443', token: TOKEN, caCertHash: CA_HASH,
    platform: DEFAULT_PLATFORM }));
  const join = worker.JoinConfiguration!;
  assert.deepEqual(join.discovery, { bootstrapToken: { apiServerEndpoint: '10.0.0.100:8443', token: TOKEN, caCertHashes: [CA_HASH] } });
  assert.equal(join.nodeRegistration.name, 'w-1');
  assert.equal(join.controlPlane, undefined);

  const cp = byKind(joinConfiguration({
    node: CP2, apiServerEndpoint: '10.0.0.100:8443', token: TOKEN, caCertHash: CA_HASH, controlPlane: { certificateKey: CERT_KEY }, platform: LOCAL_PLATFORM,
  })).JoinConfiguration!;
  assert.deepEqual(cp.controlPlane, { localAPIEndpoint: { advertiseAddress: '10.0.0.12', bindPort: 6443 }, certificateKey: CERT_KEY });
  assert.deepEqual(cp.patches, { directory: PATCHES_DIR });
  assert.equal(cp.nodeRegistration.imagePullPolicy, 'IfNotPresent');
});

test('upgrade: the new version for apply, the same pull policy, checks and patches for apply and node', () => {
  const world = byKind(upgradeConfiguration({ version: '1.35.4', node: 'cp-1', platform: LOCAL_PLATFORM })).UpgradeConfiguration!;
  assert.equal(world.apply.kubernetesVersion, 'v1.35.4');
  assert.equal(world.apply.forceUpgrade, false);
  for (const part of [world.apply, world.node]) {
    assert.equal(part.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(part.ignorePreflightErrors, ['SystemVerification']);
    assert.deepEqual(part.patches, { directory: PATCHES_DIR });
  }
  const plain = byKind(upgradeConfiguration({ version: 'v1.35.4', platform: DEFAULT_PLATFORM })).UpgradeConfiguration!;
  assert.deepEqual(plain.node, { imagePullPolicy: 'IfNotPresent' });
  assert.equal(plain.apply.patches, undefined);
});

test('the same input gives the same text (no anchors, no randomness)', () => {
  const a = upgradeConfiguration({ version: '1.35.4', node: 'cp-1', platform: LOCAL_PLATFORM });
  assert.equal(a, upgradeConfiguration({ version: '1.35.4', node: 'cp-1', platform: LOCAL_PLATFORM }));
  assert.doesNotMatch(a, /[&*]a\d/);
});

test('bad input is refused by field before kubeadm sees it', () => {
  const refused = (fn: () => unknown, field: string) => assert.throws(fn, (e: unknown) => e instanceof InvalidProfileInput && e.field === field, field);
  refused(() => initConfiguration({ cluster: CLUSTER, node: { name: 'CP_1', address: '10.0.0.11' }, platform: DEFAULT_PLATFORM }), 'node.name');
  refused(() => initConfiguration({ cluster: CLUSTER, node: { name: 'cp-1', address: 'cp-1.example' }, platform: DEFAULT_PLATFORM }), 'node.address');
  refused(() => initConfiguration({ cluster: { ...CLUSTER, controlPlaneEndpoint: '10.0.0.100' }, node: CP1, platform: DEFAULT_PLATFORM }),
    'cluster.controlPlaneEndpoint');
  refused(() => initConfiguration({ cluster: { ...CLUSTER, podSubnet: '10.244.0.0/33' }, node: CP1, platform: DEFAULT_PLATFORM }), 'cluster.podSubnet');
  refused(() => initConfiguration({ cluster: CLUSTER, node: CP1, certificateKey: 'abc', platform: DEFAULT_PLATFORM }), 'certificateKey');
  refused(() => initConfiguration({ cluster: { ...CLUSTER, version: '1.34' }, node: CP1, platform: DEFAULT_PLATFORM }), 'version');
  refused(() => joinConfiguration({ node: WORKER, apiServerEndpoint: '10.0.0.100:8443', token: 'abcdef0123456789abcdef', caCertHash: CA_HASH,
    platform: DEFAULT_PLATFORM }), 'token');
  refused(() => joinConfiguration({ node: WORKER, apiServerEndpoint: '10.0.0.100:8443', token: TOKEN, caCertHash: 'ab'.repeat(32),
    platform: DEFAULT_PLATFORM }), 'caCertHash');
  refused(() => upgradeConfiguration({ version: 'latest', platform: DEFAULT_PLATFORM }), 'version');
  assert.throws(() => initConfiguration({ cluster: CLUSTER, node: CP1, platform: { ...DEFAULT_PLATFORM, ignorePreflightErrors: { all: 'lazy' } } }),
    /never "all"/);
});

test('newCertificateKey: 64 hex digits, a new one each time, accepted by init', () => {
  const a = newCertificateKey();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, newCertificateKey());
  assert.equal(byKind(initConfiguration({ cluster: CLUSTER, node: CP1, certificateKey: a, platform: DEFAULT_PLATFORM })).InitConfiguration!.certificateKey, a);
});
