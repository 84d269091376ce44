// `herd init`, `herd validate` and `herd schema` as an operator runs them: the real
// built CLI in a child process, exit codes, stdout/stderr, no stack traces.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import { CLUSTER, commit, git, tempDir, writeTree } from '../support.js';
import { ROOT, runHerd } from './herd.js';

const CACHE = mkdtempSync(join(tmpdir(), 'herd-cli-cache-'));
after(() => rmSync(CACHE, { recursive: true, force: true }));

const herd = (args: string[], cwd = ROOT, env: Record<string, string> = {}) => runHerd(args, { cwd, cache: CACHE, env });

test('every example repository validates', () => {
  const examples = readdirSync(join(ROOT, 'examples'));
  assert.ok(examples.length >= 2);
  for (const example of examples) {
    const r = herd(['validate', `examples/${example}`]);
    assert.equal(r.code, 0, `${example}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^valid: \d+ clusters? \(.+\), \d+ profiles? \(working tree\)\n$/);
  }
});

test('herd init creates a committed repository that validates at its commit', (t) => {
  const dir = join(tempDir(t), 'fleet');
  const init = herd(['init', dir]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /Initialized a herd repository/);
  assert.equal(git(dir, 'status', '--porcelain'), '', 'everything is committed');
  const head = git(dir, 'rev-parse', 'HEAD');
  const r = herd(['validate', dir, '--ref', 'main', '--output', 'json'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.commit, head);
  assert.deepEqual(out.clusters, ['dev']);
  assert.deepEqual(out.profiles, ['standard']);

  const again = herd(['init', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^herd: .*fleet is not empty/);
});

test('errors are printed as FILE:LINE:COL: FIELD: message, exit 1, nothing else on stdout', (t) => {
  const dir = tempDir(t);
  writeTree(dir, {
    'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: two'),
    'clusters/b.yaml': 'apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: b }\nspec: [oops\n',
  });
  const r = herd(['validate', '.'], dir);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  assert.match(lines[0]!, /^clusters\/a\.yaml:10:17: spec\.pools\[0\]\.replicas: expected a whole number from 0 to 1000, found "two"$/);
  assert.match(lines[1]!, /^clusters\/b\.yaml:\d+:\d+: YAML syntax: /);
  assert.match(r.stderr, /^2 errors in 2 files \(working tree\); nothing was changed\n$/);

  const json = herd(['validate', '.', '-o', 'json'], dir);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.valid, false);
  assert.deepEqual(parsed.errors[0], { file: 'clusters/a.yaml', line: 10, column: 17, field: 'spec.pools[0].replicas', message: 'expected a whole number from 0 to 1000, found "two"' });
});

test('paths in errors are relative to where herd runs, so editors can open them', (t) => {
  const dir = tempDir(t);
  writeTree(dir, { 'fleet/clusters/a.yaml': CLUSTER('a').replace('1.34.2', '1.34') });
  const r = herd(['validate', 'fleet'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^fleet\/clusters\/a\.yaml:7:14: spec\.kubernetes\.version: /);
});

test('--resolved prints every cluster with its profile and defaults applied', () => {
  const r = herd(['validate', 'examples/local', '--resolved']);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  assert.equal(docs.length, 1);
  assert.equal(docs[0].metadata.name, 'local');
  assert.equal(docs[0].spec.upgrade.drainTimeout, '10m', 'a default');
  assert.deepEqual(docs[0].spec.os.kernelModules, ['overlay', 'br_netfilter'], 'from the profile');
  assert.equal(docs[0].spec.health.startupTimeout, '5m', 'the profile overrides a default');
});

test('validate reads a committed ref, not the working tree, when --ref is given', (t) => {
  const dir = tempDir(t);
  git(dir, 'init', '-q');
  commit(dir, { 'clusters/a.yaml': CLUSTER('a') });
  writeTree(dir, { 'clusters/a.yaml': 'broken: [' });
  assert.equal(herd(['validate', '.'], dir).code, 1, 'the working tree is broken');
  const r = herd(['validate', '.', '--ref', 'main'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\(commit [0-9a-f]{12}\)/);
});

test('usage errors exit 2; a directory that is not a herd repository exits 1; neither prints a stack', (t) => {
  const dir = tempDir(t);
  for (const args of [['validate', '--bogus'], ['validate', 'a', 'b'], ['validate', '-o', 'xml'], ['validate', join(dir, 'missing')], ['frobnicate']]) {
    const r = herd(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^herd: /);
  }
  const r = herd(['validate', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not a herd repository/);
});

test('herd schema prints the checked-in editor schema', () => {
  const r = herd(['schema']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, readFileSync(join(ROOT, 'packages/api/herd.schema.json'), 'utf8'));
});
