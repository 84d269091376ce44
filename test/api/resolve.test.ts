import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterSpec, loadRepository, mergeLayers, editorJsonSchema, SourceDocument } from '@herd/api';
import { files, PROFILE } from './fixtures.js';

test('a cluster file of a handful of lines resolves with its profile and every default', () => {
  const repo = loadRepository(files({
    'profiles/base.yaml': PROFILE,
    'clusters/small.yaml': 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: small }\nspec:\n  profile: base\n',
  }));
  assert.deepEqual(repo.errors, []);
  const spec = repo.clusters[0]!.cluster.spec;
  assert.equal(repo.clusters[0]!.profileFile, 'profiles/base.yaml');
  assert.deepEqual(spec.provider, { kind: 'local', subnet: '10.213.9.0/24' });
  assert.deepEqual(spec.kubernetes.networking, { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', dnsDomain: 'corp.local' });
  assert.deepEqual(spec.controlPlane, { replicas: 1 });
  assert.deepEqual(spec.pools, []);
  assert.deepEqual(spec.upgrade, { maxUnavailable: 1, maxSurge: 1, drainTimeout: '10m' });
  assert.deepEqual(spec.health, { startupTimeout: '10m', unhealthyTimeout: '5m', maxUnhealthy: '40%' });
  assert.deepEqual(spec.os.absentPackages, []);
});

test('a cluster overrides its profile: mappings merge key by key, lists are replaced whole', () => {
  const repo = loadRepository(files({
    'profiles/base.yaml': PROFILE,
    'clusters/big.yaml': `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: big }
spec:
  profile: base
  kubernetes: { version: 1.35.0 }
  os:
    packages: { runc: 1.1.12-1, jq: 1.6-2.1 }
    kernelModules: [overlay]
`,
  }));
  assert.deepEqual(repo.errors, []);
  const spec = repo.clusters[0]!.cluster.spec;
  assert.equal(spec.kubernetes.version, '1.35.0');
  assert.equal(spec.kubernetes.networking.dnsDomain, 'corp.local', 'untouched profile fields stay');
  assert.deepEqual(spec.os.packages, { containerd: '1.6.20~ds1-1', runc: '1.1.12-1', jq: '1.6-2.1' });
  assert.deepEqual(spec.os.kernelModules, ['overlay']);
  assert.deepEqual(spec.os.sysctls, { 'net.ipv4.ip_forward': 1 });
});

test('a provider of another kind replaces the profile\'s instead of mixing with it', () => {
  assert.deepEqual(
    mergeLayers({ provider: { kind: 'local', subnet: '10.0.0.0/24' } }, { provider: { kind: 'static', keyFile: 'k' } }, ClusterSpec),
    { provider: { kind: 'static', keyFile: 'k' } },
  );
  assert.deepEqual(
    mergeLayers({ provider: { kind: 'local', subnet: '10.0.0.0/24' } }, { provider: { kind: 'local' } }, ClusterSpec),
    { provider: { kind: 'local', subnet: '10.0.0.0/24' } },
    'the same provider kind merges key by key',
  );
});

test('mappings merge key by key whatever their keys are called, also keys named like schema words', () => {
  const words = ['kind', 'name', 'spec', 'version', 'provider', 'metadata', 'pools'];
  const base = Object.fromEntries([...words.map((w) => [w, '1.0-1']), ['containerd', '1.6.20~ds1-1'], ['runc', '1.1.12-1']]);
  for (const word of words) {
    const merged = mergeLayers({ os: { packages: base } }, { os: { packages: { [word]: '2.0-1' } } }, ClusterSpec) as { os: { packages: Record<string, string> } };
    assert.deepEqual(merged.os.packages, { ...base, [word]: '2.0-1' }, `overriding only package "${word}"`);
  }
  // Through the whole resolution: a profile pins {kind, containerd, runc}, the cluster overrides kind alone.
  const repo = loadRepository(files({
    'profiles/base.yaml': 'apiVersion: herd.dev/v1\nkind: Profile\nmetadata: { name: base }\nspec:\n  kubernetes: { version: 1.34.4 }\n'
      + '  os:\n    packages: { kind: 0.29.0-1, containerd: 1.6.20~ds1-1, runc: 1.1.12-1 }\n',
    'clusters/c.yaml': 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: c }\nspec:\n  profile: base\n  os:\n    packages: { kind: 0.30.0-1 }\n',
  }));
  assert.deepEqual(repo.errors, []);
  assert.deepEqual(repo.clusters[0]!.cluster.spec.os.packages, { kind: '0.30.0-1', containerd: '1.6.20~ds1-1', runc: '1.1.12-1' });
});

test('an error in a field the profile set points at the profile file', () => {
  const repo = loadRepository(files({
    'profiles/base.yaml': PROFILE.replace('maxSurge: 1', 'maxSurge: 0, maxUnavailable: 0'),
    'clusters/small.yaml': 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: small }\nspec:\n  profile: base\n',
  }));
  assert.deepEqual(repo.errors.map((e) => `${e.file}:${e.line}:${e.column} ${e.field}`), ['profiles/base.yaml:11:43 spec.upgrade.maxUnavailable']);
  assert.deepEqual(repo.clusters, []);
});

test('files outside clusters/ and profiles/, and non-YAML files, are not read', () => {
  const repo = loadRepository(files({ 'README.md': '# x', 'clusters/notes.txt': 'not yaml: [', 'other/x.yaml': 'garbage: [' }));
  assert.deepEqual(repo.errors, []);
  assert.deepEqual(repo.clusters, []);
});

test('one broken cluster does not hide the valid ones, and is never returned as valid', () => {
  const good = 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: good }\nspec:\n  kubernetes: { version: 1.34.2 }\n';
  const repo = loadRepository(files({ 'clusters/good.yaml': good, 'clusters/bad.yaml': good.replace('good', 'bad').replace('1.34.2', 'latest') }));
  assert.equal(repo.errors.length, 1);
  assert.deepEqual(repo.clusters.map((c) => c.cluster.metadata.name), ['good']);
});

test('locations: an unknown key points at the key, a bad value at the value', () => {
  const doc = SourceDocument.parse('x.yaml', 'a:\n  bee: 1\n  c: [1, 2]\n').document!;
  assert.deepEqual(doc.locate(['a', 'bee'], true), { line: 2, column: 3 });
  assert.deepEqual(doc.locate(['a', 'bee']), { line: 2, column: 8 });
  assert.deepEqual(doc.locate(['a', 'c', 1]), { line: 3, column: 10 });
  assert.deepEqual(doc.locate(['a', 'missing', 'deeper']), { line: 2, column: 3 }, 'closest written ancestor');
});

test('the editor JSON Schema leaves spec fields optional and keeps defaults as documentation', () => {
  const schema = editorJsonSchema() as any;
  const cluster = schema.allOf[0].then;
  assert.deepEqual(cluster.required, ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.equal(cluster.properties.spec.required, undefined);
  assert.equal(cluster.properties.spec.properties.kubernetes.required, undefined);
  assert.deepEqual(cluster.properties.spec.properties.pools.items.required, ['name', 'replicas'], 'list items are whole values; fields with defaults are not required');
  assert.equal(cluster.properties.spec.properties.upgrade.properties.drainTimeout.default, '10m');
  assert.equal(cluster.properties.additionalProperties, undefined);
  assert.equal(cluster.additionalProperties, false);
  assert.ok(!JSON.stringify(schema).includes('"expected"'), 'validator-only keywords are not exported');
});

test('against the spec in force, a version that skips a minor or goes back is refused at its line; the next minor is not', () => {
  const cluster = (version: string) => files({ 'clusters/web.yaml': `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: web }\nspec:\n  kubernetes:\n    version: ${version}\n` });
  const previous = loadRepository(cluster('1.34.4'));
  assert.deepEqual(previous.errors, []);
  const check = (version: string) => loadRepository(cluster(version), { previous }).errors.map((e) => `${e.file}:${e.line} ${e.field}: ${e.message}`);
  assert.deepEqual(check('1.35.4'), []);
  assert.deepEqual(check('1.34.9'), []);
  assert.deepEqual(check('1.36.0'), ['clusters/web.yaml:6 spec.kubernetes.version: 1.36.0 skips a minor version: 1.34.4 is in force, and Kubernetes upgrades one minor at a time; commit a 1.35 version first']);
  assert.deepEqual(check('1.33.9'), ['clusters/web.yaml:6 spec.kubernetes.version: 1.33.9 is older than 1.34.4, the version in force; kubeadm upgrades, it does not downgrade']);
  assert.equal(loadRepository(cluster('1.36.0'), { previous }).clusters.length, 0, 'the cluster is not taken');
  assert.deepEqual(loadRepository(cluster('1.36.0')).errors, [], 'without a spec in force there is nothing to compare');
});
