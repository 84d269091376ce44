import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADDONS_UNIT, APPLY_ADDONS_SCRIPT, CONTAINERD_CERTS_DIR, CONTAINERD_CONFIG_PATH, DEFAULT_PLATFORM, FLANNEL_MANIFEST_PATH, HAPROXY_CONFIG_PATH,
    InvalidProfileInput,
  KEEPALIVED_CHECK_PATH, KEEPALIVED_CONFIG_PATH,
  KUBELET_PATCH_PATH, nodeParts, SERVICE_ROUTE_UNIT, requiredDebianPackages, type NodeProfileInput, type Platform,
} from '@herd/kubeadm';
import { CP1, DEBIAN, ENDPOINT, PAUSE, WORKER, LOCAL_PLATFORM } from './fixtures.js';

const worker = (over: Partial<NodeProfileInput> = {}): NodeProfileInput => ({
  role: 'worker', node: WORKER.name, address: WORKER.address, version: 'v1.34.4', platform: DEFAULT_PLATFORM, pauseImage: PAUSE,
    debianPackages: DEBIAN, podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', ...over,
});
const controlPlane = (over: Partial<NodeProfileInput> = {}): NodeProfileInput =>
  worker({ role: 'control-plane', node: CP1.name, address: CP1.address, ...over });
const file = (parts: ReturnType<typeof nodeParts>, path: string) => parts.files.find((f) => f.path === path);

test('a worker on the default platform: Kubernetes at the Debian revision, the runtime pinned, all held, no downgrades', () => {
  const parts = nodeParts(worker());
  assert.deepEqual(parts.packages.map((p) => `${p.name}=${p.version}`), [
    'kubeadm=1.34.4-1.1', 'kubelet=1.34.4-1.1', 'kubectl=1.34.4-1.1',
    'containerd=1.6.20~ds1-1+deb12u2', 'runc=1.1.5+ds1-1+deb12u1', 'containernetworking-plugins=1.1.1+ds1-3+b11', 'conntrack=1:1.4.7-1+b2',
    'iptables=1.8.9-2', 'ethtool=1:6.1-1', 'socat=1.7.4.4-2', 'ebtables=2.0.11-5',
  ]);
  assert.ok(parts.packages.every((p) => p.hold === true && p.allowDowngrade === false));
  assert.deepEqual(parts.files.map((f) => f.path), [CONTAINERD_CONFIG_PATH], 'no CNI file (flannel writes it), no patch, no add-ons on a worker');
  assert.deepEqual(parts.units, [{ name: 'containerd.service', content: '', enabled: true, running: true, restartOn: [CONTAINERD_CONFIG_PATH] }]);
  assert.ok(!parts.units.some((u) => u.name === 'kubelet.service'), 'kubeadm starts the kubelet');
  assert.deepEqual(parts.sysctls, { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' });
  assert.deepEqual(parts.kernelModules, ['overlay', 'br_netfilter']);
});

test('containerd on the default platform: systemd cgroups, the pause image, Debian\'s CNI path, no nspawn settings', () => {
  const config = file(nodeParts(worker()), CONTAINERD_CONFIG_PATH)!.content!;
  assert.match(config, /^version = 2$/m);
  assert.match(config, /^ {2}sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"$/m);
  assert.match(config, /^ {8}SystemdCgroup = true$/m);
  assert.match(config, /^ {4}bin_dir = "\/usr\/lib\/cni"$/m);
  assert.match(config, /^ {4}conf_dir = "\/etc\/cni\/net\.d"$/m);
  for (const absent of ['snapshotter', 'restrict_oom_score_adj', 'NoNewKeyring']) assert.doesNotMatch(config, new RegExp(absent));
});

test('a local worker: nspawn\'s containerd settings, its kubelet patch and files, no kernel modules', () => {
  const parts = nodeParts(worker({ platform: LOCAL_PLATFORM }));
  const config = file(parts, CONTAINERD_CONFIG_PATH)!.content!;
  assert.match(config, /^ {8}SystemdCgroup = false$/m);
  assert.match(config, /^ {4}snapshotter = "native"$/m);
  assert.match(config, /^ {2}restrict_oom_score_adj = true$/m);
  assert.match(config, /^ {8}NoNewKeyring = true$/m);
  // Absolute eviction floors: the host's disk is every machine's, so percentages of it mislead.
  assert.equal(file(parts, KUBELET_PATCH_PATH)?.content, [
    'apiVersion: kubelet.config.k8s.io/v1beta1', 'kind: KubeletConfiguration', 'cgroupRoot: /herd-w-1', 'evictionHard:',
    '  memory.available: 100Mi', '  nodefs.available: 1Gi', '  nodefs.inodesFree: 5%', '  imagefs.available: 1Gi', '  imagefs.inodesFree: 5%', '',
  ].join('\n'));
  assert.equal(file(parts, '/usr/local/sbin/herd-cgroup-root')?.mode, 0o755, 'the platform\'s own files');
  assert.deepEqual(parts.kernelModules, []);
  assert.deepEqual(parts.sysctls, { 'net.ipv4.ip_forward': '1' });
  // No default route on these machines: the Service network is routed through host0, before the kubelet starts.
  const route = parts.units.find((u) => u.name === SERVICE_ROUTE_UNIT);
  assert.match(route?.content ?? '', /^ExecStart=\/sbin\/ip route replace 10\.96\.0\.0\/12 dev host0$/m);
  assert.match(route?.content ?? '', /^Before=kubelet\.service$/m);
  assert.equal(route?.enabled && route.running, true);
  assert.equal(nodeParts(worker()).units.find((u) => u.name === SERVICE_ROUTE_UNIT), undefined, 'none where nodes have a default route');
});

test('a registry mirror: containerd reads certs.d, and each mirrored registry\'s hosts.toml points to it; none without one', () => {
  const mirror = { endpoint: 'http://10.213.7.1:40123', registries: ['registry.k8s.io', 'docker.io'] };
  const parts = nodeParts(worker({ platform: { ...LOCAL_PLATFORM, registryMirror: () => mirror } }));
  const registrySection = /^ {2}\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]\n {4}config_path = "\/etc\/containerd\/certs\.d"$/m;
  assert.match(file(parts, CONTAINERD_CONFIG_PATH)!.content!, registrySection);
  const hosts = parts.files.filter((f) => f.path!.startsWith(`${CONTAINERD_CERTS_DIR}/`)).map((f) => f.path);
  assert.deepEqual(hosts, ['registry.k8s.io', 'docker.io', '10.213.7.1:40123'].map((h) => `${CONTAINERD_CERTS_DIR}/${h}/hosts.toml`));
  const k8s = file(parts, `${CONTAINERD_CERTS_DIR}/registry.k8s.io/hosts.toml`)!.content!;
  assert.match(k8s, /^server = "https:\/\/registry\.k8s\.io"$/m);
  assert.match(k8s, /^\[host\."http:\/\/10\.213\.7\.1:40123"\]\n {2}capabilities = \["pull", "resolve"\]$/m);
  assert.match(file(parts, `${CONTAINERD_CERTS_DIR}/docker.io/hosts.toml`)!.content!, /^server = "https:\/\/registry-1\.docker\.io"$/m);
  const own = file(parts, `${CONTAINERD_CERTS_DIR}/10.213.7.1:40123/hosts.toml`)!.content!;
  assert.match(own, /^server = "http:\/\/10\.213\.7\.1:40123"$/m);
  assert.match(own, /^\[host\."http:\/\/10\.213\.7\.1:40123"\]$/m, 'containerd 1.6 refuses a hosts.toml without a host table');

  const none = nodeParts(worker({ platform: LOCAL_PLATFORM }));
  assert.doesNotMatch(file(none, CONTAINERD_CONFIG_PATH)!.content!, /config_path/, 'no registry yet: containerd as before');
  assert.equal(none.files.some((f) => f.path!.startsWith(CONTAINERD_CERTS_DIR)), false);
  for (const endpoint of ['10.213.7.1:40123', 'http://10.213.7.1', 'ftp://10.213.7.1:1']) {
    assert.throws(() => nodeParts(worker({ platform: { ...LOCAL_PLATFORM, registryMirror: () => ({ endpoint, registries: [] }) } })),
      (e: unknown) => e instanceof InvalidProfileInput && e.field === 'registryMirror.endpoint', endpoint);
  }
});

test('a control plane with the VIP endpoint: keepalived, haproxy and curl pinned, their files, units restarted on them', () => {
  const parts = nodeParts(controlPlane({ endpoint: ENDPOINT }));
  for (const name of ['keepalived', 'haproxy', 'curl']) assert.equal(parts.packages.find((p) => p.name === name)?.version, DEBIAN[name]);
  assert.equal(file(parts, KEEPALIVED_CONFIG_PATH)?.mode, 0o600, 'the VRRP password is root\'s only');
  assert.equal(file(parts, KEEPALIVED_CHECK_PATH)?.mode, 0o755);
  assert.ok(file(parts, HAPROXY_CONFIG_PATH));
  assert.deepEqual(parts.units.map((u) => [u.name, u.restartOn]), [
    ['containerd.service', [CONTAINERD_CONFIG_PATH]],
    ['haproxy.service', [HAPROXY_CONFIG_PATH]],
    ['keepalived.service', [KEEPALIVED_CONFIG_PATH, KEEPALIVED_CHECK_PATH]],
    [ADDONS_UNIT, [FLANNEL_MANIFEST_PATH, APPLY_ADDONS_SCRIPT]],
  ]);
  assert.ok(parts.units.every((u) => u.enabled && u.running));
});

test('the endpoint is a control plane\'s business: a worker given one, and a single control plane without one, get none of it', () => {
  for (const input of [worker({ endpoint: ENDPOINT }), controlPlane()]) {
    const parts = nodeParts(input);
    assert.ok(!parts.packages.some((p) => p.name === 'keepalived' || p.name === 'haproxy'));
    assert.ok(!file(parts, KEEPALIVED_CONFIG_PATH));
  }
  assert.deepEqual(requiredDebianPackages({ role: 'worker', endpoint: ENDPOINT }), requiredDebianPackages({ role: 'control-plane' }));
  assert.deepEqual(requiredDebianPackages({ role: 'control-plane', endpoint: ENDPOINT }).slice(-3), ['keepalived', 'haproxy', 'curl']);
});

test('a missing Debian version is refused, naming every missing package', () => {
  const { containerd: _c, socat: _s, ...partial } = DEBIAN;
  assert.throws(() => nodeParts(worker({ debianPackages: partial })),
    (e: unknown) => e instanceof InvalidProfileInput && e.field === 'debianPackages' && /containerd, socat/.test(e.message));
  const { haproxy: _h, ...noHaproxy } = DEBIAN;
  assert.doesNotThrow(() => nodeParts(worker({ debianPackages: noHaproxy })));
  assert.throws(() => nodeParts(controlPlane({ endpoint: ENDPOINT, debianPackages: noHaproxy })), /no exact version for haproxy/);
});

test('the platform\'s packages, files and units are added, and replace ours of the same name', () => {
  const platform: Platform = {
    ...DEFAULT_PLATFORM,
    name: 'custom',
    packages: (version) => [{ name: 'kubernetes-images', version: `${version}-1`, hold: true }, { name: 'runc', version: '1.1.12-1', hold: true }],
    files: (node) => [{ path: '/etc/custom', content: node }],
    units: () => [{ name: 'containerd.service', enabled: true, running: true, restartOn: [CONTAINERD_CONFIG_PATH, '/etc/custom'] }],
  };
  const parts = nodeParts(worker({ platform }));
  assert.equal(parts.packages.filter((p) => p.name === 'runc').length, 1);
  assert.equal(parts.packages.find((p) => p.name === 'runc')?.version, '1.1.12-1');
  assert.equal(parts.packages.find((p) => p.name === 'kubernetes-images')?.version, 'v1.34.4-1');
  assert.equal(file(parts, '/etc/custom')?.content, 'w-1');
  assert.deepEqual(parts.units.map((u) => u.restartOn), [[CONTAINERD_CONFIG_PATH, '/etc/custom']]);
});

test('bad node input is refused by field', () => {
  const refused = (input: NodeProfileInput, field: string) =>
    assert.throws(() => nodeParts(input), (e: unknown) => e instanceof InvalidProfileInput && e.field === field, field);
  refused(worker({ node: 'W 1' }), 'node');
  refused(worker({ address: '10.0.0' }), 'address');
  refused(worker({ version: '1.34' }), 'version');
  refused(worker({ podSubnet: '10.244.0.0' }), 'podSubnet');
  refused(worker({ pauseImage: 'pause" evil' }), 'pauseImage');
});
