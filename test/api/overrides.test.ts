// What a cluster changes from its profile (`herd report`): each field the cluster file sets at
// the depth the merge takes it, with the profile's value and where the cluster file writes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterSpec, layerOverrides, loadRepository } from '@herd/api';
import { files, PROFILE } from './fixtures.js';

test('mappings are compared key by key, lists and scalars whole; a value equal to the profile\'s is no difference', () => {
  const profile = { kubernetes: { version: '1.34.2', networking: { dnsDomain: 'corp.local' } }, os: { packages: { runc: '1.1.5-1' }, kernelModules: ['overlay'] } };
  const cluster = {
    kubernetes: { version: '1.35.0', networking: { dnsDomain: 'corp.local' } },
    os: { packages: { runc: '1.1.5-1', jq: '1.6-2.1' }, kernelModules: ['overlay', 'br_netfilter'] },
    health: { maxUnhealthy: '20%' },
    pools: [{ name: 'w', replicas: 1 }],
  };
  assert.deepEqual(layerOverrides(profile, cluster, ClusterSpec), [
    { path: ['kubernetes', 'version'], base: '1.34.2', override: '1.35.0' },
    { path: ['os', 'packages', 'jq'], base: undefined, override: '1.6-2.1' },
    { path: ['os', 'kernelModules'], base: ['overlay'], override: ['overlay', 'br_netfilter'] },
    // A mapping the profile lacks is named field by field, as the profile's own would be.
    { path: ['health', 'maxUnhealthy'], base: undefined, override: '20%' },
    { path: ['pools'], base: undefined, override: [{ name: 'w', replicas: 1 }] },
  ]);
  assert.deepEqual(layerOverrides(profile, profile, ClusterSpec), []);
});

test('a provider of another kind replaces the profile\'s whole, and is reported whole; of the same kind, field by field', () => {
  const local = { provider: { kind: 'local', subnet: '10.213.9.0/24' } };
  const metal = { kind: 'static', keyFile: 'k', machines: [{ name: 'm', address: '192.0.2.1' }] };
  assert.deepEqual(layerOverrides(local, { provider: metal }, ClusterSpec), [{ path: ['provider'], base: local.provider, override: metal }]);
  assert.deepEqual(layerOverrides(local, { provider: { subnet: '10.213.10.0/24' } }, ClusterSpec),
    [{ path: ['provider', 'subnet'], base: '10.213.9.0/24', override: '10.213.10.0/24' }]);
  assert.deepEqual(layerOverrides({}, { provider: metal }, ClusterSpec).map((o) => o.path.join('.')), ['provider.kind', 'provider.keyFile', 'provider.machines'],
    'a provider the profile does not set: each field is an addition');
});

test('a resolved cluster with a profile carries its overrides, located in the cluster file; one without has none', () => {
  const repo = loadRepository(files({
    'profiles/base.yaml': PROFILE,
    'clusters/big.yaml': `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: big }
spec:
  profile: base
  kubernetes: { version: 1.34.2 }
  os:
    sysctls:
      net.ipv4.ip_forward: 0
      vm.swappiness: 10
  pools:
    - { name: workers, replicas: 2 }
`,
    'clusters/plain.yaml': 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: plain }\nspec:\n  kubernetes: { version: 1.34.2 }\n',
  }));
  assert.deepEqual(repo.errors, []);
  const [big, plain] = repo.clusters;
  assert.deepEqual(big!.overrides, [
    { field: 'spec.os.sysctls["net.ipv4.ip_forward"]', profile: 1, cluster: 0, line: 9, column: 28 },
    { field: 'spec.os.sysctls["vm.swappiness"]', profile: undefined, cluster: 10, line: 10, column: 22 },
    { field: 'spec.pools', profile: undefined, cluster: [{ name: 'workers', replicas: 2 }], line: 12, column: 5 },
  ], 'the same Kubernetes version and the profile\'s name are no differences');
  assert.equal(plain!.profileFile, undefined);
  assert.equal(plain!.overrides, undefined);
});
