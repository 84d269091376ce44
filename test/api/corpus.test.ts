// The bad-input corpus: every rule of the herd.dev/v1 schema broken once, each asserting
// exactly where the error points (file, line, column, field) and what it says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRepository, type RepositoryFile } from '@herd/api';

const PROFILE = `apiVersion: herd.dev/v1
kind: Profile
metadata:
  name: standard
spec:
  kubernetes:
    version: 1.34.2
`;

const cluster = (spec: string, name = 'web') => `apiVersion: herd.dev/v1
kind: Cluster
metadata:
  name: ${name}
spec:
  profile: standard
${spec}`;

interface Case {
  name: string;
  files: Record<string, string>;
  /** file:line:col, field, and a fragment of the message. */
  want: { at: string; field: string; says: string }[];
}

const cases: Case[] = [
  {
    name: 'YAML syntax error',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - name: a\n     replicas: 1\n') },
    want: [{ at: 'clusters/web.yaml:9:1', field: '', says: 'YAML syntax' }],
  },
  {
    name: 'duplicate key',
    files: { 'clusters/web.yaml': cluster('  pools: []\n  pools: []\n') },
    want: [{ at: 'clusters/web.yaml:8:3', field: '', says: 'YAML syntax: Map keys must be unique' }],
  },
  {
    name: 'empty file',
    files: { 'clusters/web.yaml': '# nothing here\n' },
    want: [{ at: 'clusters/web.yaml:1:1', field: '', says: 'the file is empty' }],
  },
  {
    name: 'two documents in one file',
    files: { 'clusters/web.yaml': cluster('') + '---\n' + cluster('', 'other') },
    want: [{ at: 'clusters/web.yaml:7:1', field: '', says: 'one object per file' }],
  },
  {
    name: 'not a mapping',
    files: { 'clusters/web.yaml': '- a\n- b\n' },
    want: [{ at: 'clusters/web.yaml:1:1', field: '', says: 'expected a mapping with apiVersion, kind, metadata and spec, found a list' }],
  },
  {
    name: 'wrong apiVersion',
    files: { 'clusters/web.yaml': cluster('').replace('herd.dev/v1', 'herd.dev/v2') },
    want: [{ at: 'clusters/web.yaml:1:13', field: 'apiVersion', says: 'unsupported apiVersion "herd.dev/v2"; expected "herd.dev/v1"' }],
  },
  {
    name: 'unknown kind',
    files: { 'clusters/web.yaml': cluster('').replace('kind: Cluster', 'kind: Clustr') },
    want: [{ at: 'clusters/web.yaml:2:7', field: 'kind', says: 'unknown kind "Clustr"; expected Cluster or Profile' }],
  },
  {
    name: 'a Profile in clusters/',
    files: { 'clusters/standard.yaml': PROFILE },
    want: [{ at: 'clusters/standard.yaml:2:7', field: 'kind', says: 'a Profile belongs in profiles/, not in clusters/' }],
  },
  {
    name: 'unknown top-level field',
    files: { 'clusters/web.yaml': cluster('').replace('metadata:', 'status: {}\nmetadata:') },
    want: [{ at: 'clusters/web.yaml:3:1', field: 'status', says: 'unknown field "status"' }],
  },
  {
    name: 'typo in a nested field suggests the right name',
    files: { 'clusters/web.yaml': cluster('  controlPlane:\n    replica: 3\n') },
    want: [{ at: 'clusters/web.yaml:8:5', field: 'spec.controlPlane.replica', says: 'unknown field "replica"; did you mean "replicas"?' }],
  },
  {
    name: 'unknown field in a profile',
    files: { 'profiles/standard.yaml': PROFILE + '  kubelet: {}\n' },
    want: [
      { at: 'clusters/web.yaml:6:12', field: 'spec.profile', says: 'profile "standard" has errors (see profiles/standard.yaml)' },
      { at: 'profiles/standard.yaml:8:3', field: 'spec.kubelet', says: 'unknown field "kubelet"' },
    ],
  },
  {
    name: 'profile may not set pools',
    files: { 'profiles/standard.yaml': PROFILE + '  pools: []\n' },
    want: [
      { at: 'clusters/web.yaml:6:12', field: 'spec.profile', says: 'profile "standard" has errors (see profiles/standard.yaml)' },
      { at: 'profiles/standard.yaml:8:3', field: 'spec.pools', says: 'unknown field "pools"' },
    ],
  },
  {
    name: 'cluster name is not a DNS label',
    files: { 'clusters/Web_1.yaml': cluster('', 'Web_1') },
    want: [{ at: 'clusters/Web_1.yaml:4:9', field: 'metadata.name', says: 'expected a DNS label' }],
  },
  {
    name: 'missing metadata.name',
    files: { 'clusters/web.yaml': cluster('').replace('  name: web\n', '  labels: {}\n') },
    want: [{ at: 'clusters/web.yaml:4:3', field: 'metadata', says: 'missing required field "name"' }],
  },
  {
    name: 'name does not match the file name',
    files: { 'clusters/web.yaml': cluster('', 'shop') },
    want: [{ at: 'clusters/web.yaml:4:9', field: 'metadata.name', says: 'name "shop" does not match the file name "web.yaml"' }],
  },
  {
    name: 'the same cluster name twice',
    files: { 'clusters/web.yaml': cluster(''), 'clusters/eu/web.yaml': cluster('') },
    want: [{ at: 'clusters/web.yaml:4:9', field: 'metadata.name', says: 'cluster "web" is already defined in clusters/eu/web.yaml' }],
  },
  {
    name: 'profile does not exist',
    files: { 'clusters/web.yaml': cluster('').replace('profile: standard', 'profile: standrd') },
    want: [{ at: 'clusters/web.yaml:6:12', field: 'spec.profile', says: 'profile "standrd" not found: expected profiles/standrd.yaml (profiles: standard)' }],
  },
  {
    name: 'profile is broken',
    files: { 'profiles/standard.yaml': PROFILE.replace('1.34.2', '1.34'), 'clusters/web.yaml': cluster('') },
    want: [
      { at: 'clusters/web.yaml:6:12', field: 'spec.profile', says: 'profile "standard" has errors (see profiles/standard.yaml)' },
      { at: 'profiles/standard.yaml:7:14', field: 'spec.kubernetes.version', says: 'found number 1.34 (YAML reads 1.34 as a number; quote it)' },
    ],
  },
  {
    name: 'missing Kubernetes version after the profile is applied',
    files: { 'profiles/standard.yaml': PROFILE.replace('  kubernetes:\n    version: 1.34.2\n', '  upgrade: {}\n'), 'clusters/web.yaml': cluster('') },
    want: [{ at: 'clusters/web.yaml:6:3', field: 'spec', says: 'missing required field "kubernetes"' }],
  },
  {
    name: 'Kubernetes version with a leading v',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    version: v1.34.2\n') },
    want: [{ at: 'clusters/web.yaml:8:14', field: 'spec.kubernetes.version', says: 'expected an exact Kubernetes version MAJOR.MINOR.PATCH such as 1.34.2 (no leading "v"), found "v1.34.2"' }],
  },
  {
    name: 'a Kubernetes version herd does not support',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    version: 1.99.0\n') },
    want: [{ at: 'clusters/web.yaml:8:14', field: 'spec.kubernetes.version', says: 'Kubernetes 1.99.0 is not a version herd supports; supported: 1.31 to 1.36 (any patch)' }],
  },
  {
    name: 'a zero timeout',
    files: { 'clusters/web.yaml': cluster('  health:\n    startupTimeout: 0s\n') },
    want: [{ at: 'clusters/web.yaml:8:21', field: 'spec.health.startupTimeout', says: 'startupTimeout 0s is zero' }],
  },
  {
    name: 'a DNS domain label longer than 63 characters',
    files: { 'clusters/web.yaml': cluster(`  kubernetes:\n    networking:\n      dnsDomain: ${'a'.repeat(64)}.local\n`) },
    want: [{ at: 'clusters/web.yaml:9:18', field: 'spec.kubernetes.networking.dnsDomain', says: 'expected a DNS domain' }],
  },
  {
    name: 'a field named like an inherited property',
    files: { 'clusters/web.yaml': cluster('  toString: 1\n  __proto__: {}\n') },
    want: [
      { at: 'clusters/web.yaml:7:3', field: 'spec.toString', says: 'unknown field "toString"' },
      { at: 'clusters/web.yaml:8:3', field: 'spec.__proto__', says: 'unknown field "__proto__"' },
    ],
  },
  {
    name: 'control-plane replicas must be 1, 3 or 5',
    files: { 'clusters/web.yaml': cluster('  controlPlane: { replicas: 2 }\n') },
    want: [{ at: 'clusters/web.yaml:7:29', field: 'spec.controlPlane.replicas', says: 'expected one of 1, 3, 5, found number 2' }],
  },
  {
    name: 'pool replicas is not a number',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - name: workers\n      replicas: three\n') },
    want: [{ at: 'clusters/web.yaml:9:17', field: 'spec.pools[0].replicas', says: 'expected a whole number from 0 to 1000, found "three"' }],
  },
  {
    name: 'pool without replicas',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - name: workers\n') },
    want: [{ at: 'clusters/web.yaml:8:7', field: 'spec.pools[0]', says: 'missing required field "replicas"' }],
  },
  {
    name: 'pool names must be unique',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - { name: workers, replicas: 1 }\n    - { name: workers, replicas: 2 }\n') },
    want: [{ at: 'clusters/web.yaml:9:15', field: 'spec.pools[1].name', says: 'pool name "workers" is already used by spec.pools[0]' }],
  },
  {
    name: 'pool name reserved for the control plane',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - { name: control-plane, replicas: 1 }\n') },
    want: [{ at: 'clusters/web.yaml:8:15', field: 'spec.pools[0].name', says: 'reserved for the control plane' }],
  },
  {
    name: 'taint effect',
    files: { 'clusters/web.yaml': cluster('  pools:\n    - name: gpu\n      replicas: 1\n      taints: [{ key: gpu, effect: NoScheduleX }]\n') },
    want: [{ at: 'clusters/web.yaml:10:36', field: 'spec.pools[0].taints[0].effect', says: 'expected one of NoSchedule, PreferNoSchedule, NoExecute' }],
  },
  {
    name: 'label value too long',
    files: { 'clusters/web.yaml': cluster(`  pools:\n    - name: a\n      replicas: 1\n      labels: { tier: ${'x'.repeat(64)} }\n`) },
    want: [{ at: 'clusters/web.yaml:10:23', field: 'spec.pools[0].labels.tier', says: 'expected a Kubernetes label value' }],
  },
  {
    name: 'invalid CIDR (host bits set)',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    networking: { podCIDR: 10.244.1.0/16 }\n') },
    want: [{ at: 'clusters/web.yaml:8:28', field: 'spec.kubernetes.networking.podCIDR', says: 'with the host bits zero' }],
  },
  {
    name: 'pod and service CIDRs overlap',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    networking:\n      podCIDR: 10.96.0.0/16\n') },
    want: [{ at: 'clusters/web.yaml:9:7', field: 'spec.kubernetes.networking.serviceCIDR', says: '10.96.0.0/12 overlaps podCIDR 10.96.0.0/16' }],
  },
  {
    name: 'service CIDR larger than /12',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    networking:\n      serviceCIDR: 172.32.0.0/11\n') },
    want: [{ at: 'clusters/web.yaml:9:20', field: 'spec.kubernetes.networking.serviceCIDR', says: 'Kubernetes allows at most a /12 for services' }],
  },
  {
    name: 'package name with a shell metacharacter',
    files: { 'clusters/web.yaml': cluster('  os:\n    packages:\n      "curl;reboot": 7.88.1-10\n') },
    want: [{ at: 'clusters/web.yaml:9:7', field: 'spec.os.packages["curl;reboot"]', says: 'invalid key "curl;reboot": expected a Debian package name' }],
  },
  {
    name: 'package version that could reach a shell',
    files: { 'clusters/web.yaml': cluster('  os:\n    packages:\n      curl: "7.88 && reboot"\n') },
    want: [{ at: 'clusters/web.yaml:9:13', field: 'spec.os.packages.curl', says: 'expected an exact Debian version' }],
  },
  {
    name: 'package version YAML reads as a number',
    files: { 'clusters/web.yaml': cluster('  os:\n    packages:\n      jq: 1.6\n') },
    want: [{ at: 'clusters/web.yaml:9:11', field: 'spec.os.packages.jq', says: 'YAML reads 1.6 as a number; quote it' }],
  },
  {
    name: 'sysctl key',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls:\n      "net/ipv4/ip_forward": 1\n') },
    want: [{ at: 'clusters/web.yaml:9:7', field: 'spec.os.sysctls["net/ipv4/ip_forward"]', says: 'expected a sysctl key' }],
  },
  {
    name: 'sysctl value with a newline',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls:\n      kernel.pid_max: "1\\nkernel.panic=1"\n') },
    want: [{ at: 'clusters/web.yaml:9:23', field: 'spec.os.sysctls["kernel.pid_max"]', says: 'expected a sysctl value' }],
  },
  {
    name: 'kernel module name',
    files: { 'clusters/web.yaml': cluster('  os:\n    kernelModules: [overlay, "br netfilter"]\n') },
    want: [{ at: 'clusters/web.yaml:8:30', field: 'spec.os.kernelModules[1]', says: 'expected a kernel module name' }],
  },
  {
    name: 'duration',
    files: { 'clusters/web.yaml': cluster('  upgrade:\n    drainTimeout: 10 minutes\n') },
    want: [{ at: 'clusters/web.yaml:8:19', field: 'spec.upgrade.drainTimeout', says: 'expected a duration such as 90s, 15m or 1h30m' }],
  },
  {
    name: 'maxUnhealthy over 100%',
    files: { 'clusters/web.yaml': cluster('  health:\n    maxUnhealthy: 140%\n') },
    want: [{ at: 'clusters/web.yaml:8:19', field: 'spec.health.maxUnhealthy', says: 'a whole number of nodes (0 or more) or a percentage such as 25%, found "140%"' }],
  },
  {
    name: 'maxUnavailable and maxSurge both zero',
    files: { 'clusters/web.yaml': cluster('  upgrade:\n    maxUnavailable: 0\n    maxSurge: 0\n') },
    want: [{ at: 'clusters/web.yaml:8:21', field: 'spec.upgrade.maxUnavailable', says: 'no rollout could ever start' }],
  },
  {
    name: 'unknown provider kind',
    files: { 'clusters/web.yaml': cluster('  provider: { kind: vsphere }\n') },
    want: [{ at: 'clusters/web.yaml:7:21', field: 'spec.provider.kind', says: 'unknown kind "vsphere"; expected one of local, static' }],
  },
  {
    name: 'provider without kind',
    files: { 'clusters/web.yaml': cluster('  provider: { subnet: 10.213.0.0/24 }\n') },
    want: [{ at: 'clusters/web.yaml:7:13', field: 'spec.provider', says: 'missing required field "kind" (one of local, static)' }],
  },
  {
    name: 'static provider: fewer machines than replicas',
    files: { 'clusters/web.yaml': cluster('  provider:\n    kind: static\n    keyFile: secrets/id\n    machines:\n      - { name: m1, address: 192.0.2.1 }\n  pools:\n    - { name: w, replicas: 1 }\n') },
    want: [{ at: 'clusters/web.yaml:11:7', field: 'spec.provider.machines', says: '1 machine is listed but the cluster needs 2 (control plane 1 + pools 1)' }],
  },
  {
    name: 'static provider: bad address and key file outside the repository',
    files: { 'clusters/web.yaml': cluster('  provider:\n    kind: static\n    keyFile: ../../root/.ssh/id_rsa\n    machines:\n      - { name: m1, address: 192.0.2.300 }\n') },
    want: [
      { at: 'clusters/web.yaml:9:14', field: 'spec.provider.keyFile', says: 'expected a relative path inside the repository' },
      { at: 'clusters/web.yaml:11:30', field: 'spec.provider.machines[0].address', says: 'expected an IPv4 address' },
    ],
  },
  {
    name: 'local subnet overlaps the pod network',
    files: { 'clusters/web.yaml': cluster('  provider: { kind: local, subnet: 10.244.7.0/24 }\n') },
    want: [{ at: 'clusters/web.yaml:7:36', field: 'spec.provider.subnet', says: 'overlaps podCIDR 10.244.0.0/16' }],
  },
  {
    name: 'control-plane endpoint with a bad port',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    controlPlaneEndpoint: 10.0.0.10:99999\n') },
    want: [{ at: 'clusters/web.yaml:8:27', field: 'spec.kubernetes.controlPlaneEndpoint', says: 'expected a host name or IPv4 address with an optional port' }],
  },
  {
    name: 'a field that should be a mapping is a list',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls: [net.ipv4.ip_forward=1]\n') },
    want: [{ at: 'clusters/web.yaml:8:14', field: 'spec.os.sysctls', says: 'expected a mapping, found a list' }],
  },
  {
    name: 'an empty field',
    files: { 'clusters/web.yaml': cluster('  controlPlane:\n') },
    want: [{ at: 'clusters/web.yaml:7:3', field: 'spec.controlPlane', says: 'expected a mapping, found nothing (the field is empty)' }],
  },
];

test('the corpus has at least 25 distinct broken repositories', () => {
  assert.ok(cases.length >= 25, `only ${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
});

for (const c of cases) {
  test(`rejects: ${c.name}`, () => {
    // The valid profile is always there; the valid cluster too, unless the case brings its own clusters.
    const ownsClusters = Object.keys(c.files).some((p) => p.startsWith('clusters/'));
    const tree = { 'profiles/standard.yaml': PROFILE, ...(ownsClusters ? {} : { 'clusters/web.yaml': cluster('') }), ...c.files };
    const files: RepositoryFile[] = Object.entries(tree).map(([path, text]) => ({ path, text }));
    const repo = loadRepository(files);
    const got = repo.errors.map((e) => ({ at: `${e.file}:${e.line}:${e.column}`, field: e.field, message: e.message }));
    assert.equal(got.length, c.want.length, `expected ${c.want.length} error(s), got:\n${got.map((g) => `${g.at}: ${g.field}: ${g.message}`).join('\n')}`);
    c.want.forEach((want, i) => {
      assert.equal(got[i]!.at, want.at, `location of: ${got[i]!.message}`);
      assert.equal(got[i]!.field, want.field);
      assert.ok(got[i]!.message.includes(want.says), `message "${got[i]!.message}" should contain "${want.says}"`);
    });
    assert.ok(!repo.clusters.some((r) => repo.errors.some((e) => e.file === r.file)), 'a cluster with errors must not be returned as valid');
  });
}
