// The parts of @herd/kube that need no API server: kubeconfig, CA pin, token shape, selectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  BOOTSTRAP_TOKEN_PATTERN, bootstrapTokenSecret, caCertHash, generateBootstrapToken, parseKubeconfig, renderKubeconfig, selectorMatches,
} from '@herd/kube';
import { tempDir } from '../support.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN RSA PRIVATE KEY-----\nkey\n-----END RSA PRIVATE KEY-----\n';

/** The shape kubeadm writes to /etc/kubernetes/admin.conf. */
const adminConf = (o: { server?: string; ca?: string; cert?: string; key?: string; current?: string } = {}) => `apiVersion: v1
clusters:
- cluster:
${o.ca === undefined ? `    certificate-authority-data: ${b64(CA)}\n` : o.ca}${o.server === undefined ? '    server: https://10.0.0.1:6443\n' : o.server}  name: kubernetes
- cluster:
    certificate-authority-data: ${b64(CA)}
    server: https://other:6443
  name: other
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: ${o.current ?? 'kubernetes-admin@kubernetes'}
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
${o.cert ?? `    client-certificate-data: ${b64(CERT)}\n`}${o.key ?? `    client-key-data: ${b64(KEY)}\n`}`;

test('parseKubeconfig reads the current context of an admin.conf', () => {
  assert.deepEqual(parseKubeconfig(adminConf()), {
    server: 'https://10.0.0.1:6443', caPem: CA, certPem: CERT, keyPem: KEY, clusterName: 'kubernetes', userName: 'kubernetes-admin',
  });
});

test('parseKubeconfig names what is missing', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['no server', adminConf({ server: '' }), /clusters\[kubernetes\]\.cluster is missing server/],
    ['no CA data', adminConf({ ca: '' }), /clusters\[kubernetes\]\.cluster is missing certificate-authority-data/],
    ['CA as a file', adminConf({ ca: '    certificate-authority: /etc/kubernetes/pki/ca.crt\n' }), /missing certificate-authority-data \(it refers to the file \/etc\/kubernetes\/pki\/ca\.crt/],
    ['no client cert', adminConf({ cert: '' }), /users\[kubernetes-admin\]\.user is missing client-certificate-data/],
    ['no client key', adminConf({ key: '' }), /users\[kubernetes-admin\]\.user is missing client-key-data/],
    ['unknown context', adminConf({ current: 'nope' }), /no contexts entry named "nope"/],
    ['server not a URL', adminConf({ server: '    server: not a url\n' }), /server is not a URL/],
    ['not base64 PEM', adminConf({ key: '    client-key-data: bm90IHBlbQ==\n' }), /client-key-data is not base64 of a PEM block/],
    ['not a mapping', '- a\n- b\n', /not a YAML mapping/],
  ];
  for (const [name, text, error] of cases) {
    await t.test(name, () => assert.throws(() => parseKubeconfig(text), error));
  }
});

test('renderKubeconfig writes a self-contained kubeconfig that parses back to the same credentials', () => {
  const config = { server: 'https://192.168.1.10:6443', caPem: CA, certPem: CERT, keyPem: KEY };
  const text = renderKubeconfig(config, { cluster: 'prod-eu', user: 'herd-admin' });
  const doc = parse(text);
  assert.equal(doc['current-context'], 'herd-admin@prod-eu');
  assert.equal(doc.clusters[0].name, 'prod-eu');
  assert.deepEqual(parseKubeconfig(text), { ...config, clusterName: 'prod-eu', userName: 'herd-admin' });
});

test('caCertHash is the sha256 of the CA public key DER, as openssl computes it (kubeadm --discovery-token-ca-cert-hash)', (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'ca.key');
  const crt = join(dir, 'ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-subj', '/CN=kubernetes', '-days', '1'], { stdio: 'ignore' });
  const spki = execFileSync('openssl', ['x509', '-in', crt, '-pubkey', '-noout']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki });
  const hash = caCertHash(readFileSync(crt, 'utf8'));
  assert.equal(hash, `sha256:${createHash('sha256').update(der).digest('hex')}`);
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
  assert.throws(() => caCertHash('not a certificate'), /CA certificate is not a PEM X\.509 certificate/);
});

test('bootstrap tokens are id.secret in [a-z0-9] and different every time', () => {
  const tokens = Array.from({ length: 200 }, () => generateBootstrapToken());
  for (const t of tokens) {
    assert.match(t.token, BOOTSTRAP_TOKEN_PATTERN);
    assert.equal(t.token, `${t.id}.${t.secret}`);
  }
  assert.equal(new Set(tokens.map((t) => t.token)).size, tokens.length);
  // every character of the alphabet shows up: not a biased subset
  assert.equal(new Set(tokens.map((t) => t.secret).join('')).size, 36);
});

test('the bootstrap token Secret has the fields kubeadm token create writes', () => {
  const s = bootstrapTokenSecret('abcdef', '0123456789abcdef', Date.parse('2026-12-01T10:15:00.250Z'), 'join of w1');
  const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  assert.equal(s.metadata.name, 'bootstrap-token-abcdef');
  assert.equal(s.metadata.namespace, 'kube-system');
  assert.equal(s.type, 'bootstrap.kubernetes.io/token');
  assert.deepEqual(data, {
    'token-id': 'abcdef',
    'token-secret': '0123456789abcdef',
    expiration: '2026-12-01T10:15:00Z',
    'usage-bootstrap-authentication': 'true',
    'usage-bootstrap-signing': 'true',
    'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    description: 'join of w1',
  });
});

test('label selectors follow Kubernetes semantics', () => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [Parameters<typeof selectorMatches>[0], boolean][] = [
    [{}, true],
    [{ matchLabels: { app: 'web' } }, true],
    [{ matchLabels: { app: 'db' } }, false],
    [{ matchLabels: { app: 'web', tier: 'back' } }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'In', values: [''] }] }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    [{ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
  ];
  for (const [selector, expected] of cases) assert.equal(selectorMatches(selector, labels), expected, JSON.stringify(selector));
});
