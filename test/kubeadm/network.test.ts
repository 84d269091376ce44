import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  ADDONS_DIR, CNI_BIN_DIR, CNI_CONF_DIR, FLANNEL_CNI_CONFIG_PATH, FLANNEL_CNI_IMAGE, FLANNEL_IMAGE, FLANNEL_MANIFEST_PATH, FLANNEL_VERSION,
  InvalidProfileInput, addonParts, applyAddonsScript, flannelManifest,
} from '@herd/kubeadm';

interface Doc { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: any }
const manifest = (podSubnet = '10.244.0.0/16') => parseAllDocuments(flannelManifest({ podSubnet })).map((d) => d.toJS() as Doc);

test('the flannel manifest: kube-flannel.yml\'s objects, the cluster\'s pod network, vxlan, masquerade', () => {
  const docs = manifest('10.200.0.0/16');
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), [
    'Namespace/kube-flannel', 'ClusterRole/flannel', 'ClusterRoleBinding/flannel', 'ServiceAccount/flannel', 'ConfigMap/kube-flannel-cfg',
      'DaemonSet/kube-flannel-ds',
  ]);
  const config = docs.find((d) => d.kind === 'ConfigMap')!.data!;
  assert.deepEqual(JSON.parse(config['net-conf.json']!), { Network: '10.200.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });
  const cni = JSON.parse(config['cni-conf.json']!);
  assert.equal(cni.cniVersion, '0.3.1', 'what containernetworking/plugins\' flannel plugin and Debian\'s bridge agree on');
  assert.deepEqual(cni.plugins.map((p: { type: string }) => p.type), ['flannel', 'portmap']);
  const pod = docs.find((d) => d.kind === 'DaemonSet')!.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.deepEqual(pod.containers[0].args, ['--ip-masq', '--kube-subnet-mgr', '--healthz-port=8081', '--public-ip=$(NODE_IP)']);
  assert.deepEqual(pod.containers[0].env.find((e: { name: string }) => e.name === 'NODE_IP').valueFrom, { fieldRef: { fieldPath: 'status.hostIP' } },
    'the node\'s address, not the default route\'s');
  assert.deepEqual(pod.initContainers.map((c: { image: string }) => c.image), [FLANNEL_CNI_IMAGE, FLANNEL_IMAGE]);
  assert.equal(pod.containers[0].image, FLANNEL_IMAGE);
  assert.deepEqual(pod.initContainers[1].args, ['-f', '/etc/kube-flannel/cni-conf.json', FLANNEL_CNI_CONFIG_PATH]);
  const host = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
  assert.equal(host['cni-plugin'], CNI_BIN_DIR, 'the plugin goes next to Debian\'s bridge and host-local (containerd\'s bin_dir)');
  assert.equal(host.cni, CNI_CONF_DIR);
});

test('flannel talks to the API server\'s endpoint when given (host-network pods reach no ClusterIP without a default route)', () => {
  const pod = (apiServerEndpoint?: string) => (parseAllDocuments(flannelManifest({ podSubnet: '10.244.0.0/16',
    ...(apiServerEndpoint ? { apiServerEndpoint } : {}) }))
    .map((d) => d.toJS() as Doc).find((d) => d.kind === 'DaemonSet')!.spec.template.spec.containers[0].env as { name: string; value?: string }[]);
  const env = Object.fromEntries(pod('10.213.5.2:6443').map((e) => [e.name, e.value]));
  assert.equal(env.KUBERNETES_SERVICE_HOST, '10.213.5.2');
  assert.equal(env.KUBERNETES_SERVICE_PORT, '6443');
  assert.ok(!pod().some((e) => e.name === 'KUBERNETES_SERVICE_HOST'), 'the ClusterIP, as upstream, without one');
  assert.throws(() => flannelManifest({ podSubnet: '10.244.0.0/16', apiServerEndpoint: 'nowhere' }),
    (e: Error) => e instanceof InvalidProfileInput && e.field === 'apiServerEndpoint');
});

test('a pod network that is not a CIDR is refused, by field', () => {
  assert.throws(() => flannelManifest({ podSubnet: '10.244.0.0' }), (e: Error) => e instanceof InvalidProfileInput && e.field === 'podSubnet');
});

test('the add-on manager applies the directory with the admin kubeconfig, and is restarted when the manifest changes', () => {
  const parts = addonParts({ podSubnet: '10.244.0.0/16' });
  assert.deepEqual(parts.files.map((f) => f.path), [FLANNEL_MANIFEST_PATH, '/usr/local/sbin/herd-apply-addons']);
  assert.ok(FLANNEL_MANIFEST_PATH.startsWith(`${ADDONS_DIR}/`));
  assert.match(applyAddonsScript(), /kubectl --kubeconfig \/etc\/kubernetes\/admin\.conf apply --server-side/);
  assert.deepEqual(parts.units[0]!.restartOn, [FLANNEL_MANIFEST_PATH, '/usr/local/sbin/herd-apply-addons']);
});

test('scripts/build-kubernetes.sh builds the flannel release and images the manifest names', () => {
  const script = readFileSync(new URL('../../scripts/build-kubernetes.sh', import.meta.url), 'utf8');
  const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(script)?.[1];
  assert.equal(value('FLANNEL_VERSION'), FLANNEL_VERSION);
  assert.equal(value('FLANNEL_IMAGE')?.replace('$FLANNEL_VERSION', FLANNEL_VERSION), FLANNEL_IMAGE);
  assert.equal(value('FLANNEL_CNI_IMAGE'), FLANNEL_CNI_IMAGE);
});
