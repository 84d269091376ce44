// `herd report` as an operator runs it: for every cluster, its profile and each field it sets
// over the profile, at its file and line; a repository that does not validate is exit 1 with
// the located errors, as `herd validate`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CLUSTER, commit, git, tempDir, writeTree } from '../support.js';
import { ROOT, runHerd } from './herd.js';


const herd = (args: string[], cwd = ROOT) => runHerd(args, { cwd });

test('examples/fleet: each cluster with its profile and the fields it changes, at their lines', () => {
  const r = herd(['report', 'examples/fleet']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('shop-staging: profile standard (examples/fleet/profiles/standard.yaml), 2 fields differ'), r.stdout);
  assert.ok(lines.includes('  examples/fleet/clusters/shop-staging.yaml:11:14: spec.kubernetes.version: profile "1.34.4", cluster "1.35.4"'), r.stdout);
  assert.ok(lines.includes('  examples/fleet/clusters/eu/shop-prod.yaml:12:11: spec.provider.kind: not in the profile, cluster "static"'), r.stdout);
  assert.ok(lines.includes('  examples/fleet/clusters/eu/shop-prod.yaml:52:27: spec.os.sysctls["net.core.somaxconn"]: not in the profile, cluster 4096'), r.stdout);
  assert.equal(lines.at(-2), '2 clusters (working tree): 2 with a profile, 0 without');

  const json = herd(['report', 'examples/fleet', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.deepEqual([out.valid, out.commit, out.errors], [true, null, []]);
  const staging = out.clusters.find((c: { name: string }) => c.name === 'shop-staging');
  assert.deepEqual(staging, {
    name: 'shop-staging', file: 'examples/fleet/clusters/shop-staging.yaml', profile: 'standard', profileFile: 'examples/fleet/profiles/standard.yaml',
    overrides: [
      { field: 'spec.kubernetes.version', profile: '1.34.4', cluster: '1.35.4', line: 11, column: 14 },
      { field: 'spec.pools', profile: null, cluster: [{ name: 'workers', replicas: 2 }], line: 13, column: 5 },
    ],
  });
});

test('a cluster without a profile is listed as such; --ref reads a commit', (t) => {
  const dir = tempDir(t);
  git(dir, 'init', '-q');
  const sha = commit(dir, {
    'clusters/plain.yaml': CLUSTER('plain'),
    'clusters/same.yaml': CLUSTER('same').replace('spec:\n', 'spec:\n  profile: base\n'),
    'profiles/base.yaml': 'apiVersion: herd.dev/v1\nkind: Profile\nmetadata: { name: base }\nspec:\n  kubernetes: { version: 1.34.2 }\n',
  });
  writeTree(dir, { 'clusters/plain.yaml': 'not: [valid' });
  const r = herd(['report', '.', '--ref', 'main'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, [
    'plain: no profile (clusters/plain.yaml)',
    'same: profile base (profiles/base.yaml), 1 field differs',
    '  clusters/same.yaml:10:5: spec.pools: not in the profile, cluster [{"name":"workers","replicas":2}]',
    `2 clusters (commit ${sha.slice(0, 12)}): 1 with a profile, 1 without`,
    '',
  ].join('\n'));
  const json = JSON.parse(herd(['report', '.', '--ref', 'main', '-o', 'json'], dir).stdout);
  assert.equal(json.commit, sha);
  assert.deepEqual(json.clusters[0], { name: 'plain', file: 'clusters/plain.yaml', profile: null, profileFile: null, overrides: [] });
});

test('a repository that does not validate: exit 1 with the located errors, nothing reported', (t) => {
  const dir = tempDir(t);
  writeTree(dir, { 'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: two') });
  const r = herd(['report', '.'], dir);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'clusters/a.yaml:10:17: spec.pools[0].replicas: expected a whole number from 0 to 1000, found "two"\n');
  assert.equal(r.stderr, '1 error in 1 file (working tree); nothing was changed\n');
  const json = herd(['report', '.', '-o', 'json'], dir);
  assert.equal(json.code, 1);
  const out = JSON.parse(json.stdout);
  assert.deepEqual([out.valid, out.clusters, out.errors.length], [false, [], 1]);
  assert.equal(herd(['report', 'a', 'b'], dir).code, 2);
  assert.equal(herd(['report', '-o', 'yaml'], dir).code, 2);
});
