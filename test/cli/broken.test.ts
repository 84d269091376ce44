// The CLI on a repository that does not validate, without machines: a missing SSH key file is
// a located error for `herd validate` and `herd up` alike; `herd down` refuses when nothing
// good is recorded; `herd up` on a terminal shows readable lines, once, and JSON otherwise.
// The same commands with running machines are test/e2e/examples.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLUSTER, commit, git, tempDir, writeTree } from '../support.js';
import { HERD, runHerd } from './herd.js';


const herd = (args: string[], cwd: string) => runHerd(args, { cwd });

/** `herd up` briefly (several rounds a second apart), on loopback, with the test's own state. */
const upBriefly = (dir: string, ...extra: string[]) => [
  'up', '.', '--state', join(dir, '.state'), '--listen', '127.0.0.1:0', '--interval', '1s', '--timeout', '4s', ...extra,
];

const STATIC = `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: metal }
spec:
  provider:
    kind: static
    user: herd
    keyFile: secrets/metal.key
    machines:
      - { name: m-1, address: 198.51.100.1 }
  kubernetes: { version: 1.34.4 }
  pools: []
`;
// Located at the field; the reason's wording is the validation package's (not asserted here).
const KEY_ERROR = /^clusters\/metal\.yaml:8:14: spec\.provider\.keyFile: .*secrets\/metal\.key/m;

test('a static cluster whose keyFile is missing: a located error from validate (working tree and commit) and from up', (t) => {
  const dir = tempDir(t);
  git(dir, 'init', '-q');
  commit(dir, { 'clusters/metal.yaml': STATIC });

  const tree = herd(['validate', '.', '-o', 'json'], dir);
  assert.equal(tree.code, 1);
  const errors = (JSON.parse(tree.stdout) as { errors: { file: string; line: number; field: string }[] }).errors;
  assert.deepEqual(errors.map((e) => `${e.file}:${e.line} ${e.field}`), ['clusters/metal.yaml:8 spec.provider.keyFile']);
  const atCommit = herd(['validate', '.', '--ref', 'main'], dir);
  assert.equal(atCommit.code, 1);
  assert.match(atCommit.stdout, KEY_ERROR);

  const up = herd(upBriefly(dir), dir);
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, /^the working tree refused: 1 error; nothing is in force/m);
  assert.match(up.stderr, new RegExp(`^  ${KEY_ERROR.source.slice(1)}`, 'm'));
  assert.match(up.stderr, /^herd: not converged after 4s:\n {2}no cluster in force\n {2}the working tree does not validate \(1 error;/m);

  // On disk but not committed: the working tree has it, the commit does not.
  writeTree(dir, { 'secrets/metal.key': 'a key\n' });
  assert.equal(herd(['validate', '.'], dir).code, 0);
  assert.match(herd(['validate', '.', '--ref', 'main'], dir).stdout, KEY_ERROR);
});

test('herd down on a broken repository with no good state recorded refuses with the located errors; with no cluster at all it says so', (t) => {
  const dir = tempDir(t);
  writeTree(dir, { 'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: two') });
  const down = herd(['down', '.', '--state', join(dir, '.state')], dir);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^herd: \. does not validate and .* records no good state of it; nothing deleted/);
  assert.match(down.stderr, /^ {2}clusters\/a\.yaml:10:17: spec\.pools\[0\]\.replicas: /m);
  assert.equal(down.stdout, '');

  const empty = tempDir(t);
  writeTree(empty, { 'profiles/p.yaml': 'apiVersion: herd.dev/v1\nkind: Profile\nmetadata: { name: p }\nspec: {}\n' });
  const none = herd(['down', '.', '--state', join(empty, '.state')], empty);
  assert.equal(none.code, 1, 'nothing done is not a success');
  assert.match(none.stderr, /^herd: nothing to delete: \. declares no cluster and .* records none\n$/);
});

/** Runs `herd up` under a pseudo-terminal (util-linux's script), as an operator's shell does; returns what the terminal got. */
function onTerminal(dir: string, args: string[]): { code: number | null; screen: string } {
  const command = [process.execPath, HERD, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qfec', command, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...process.env, HERD_CACHE_DIR: join(dir, '.cache') } });
  return { code: r.status, screen: r.stdout.replace(/\r/g, '') };
}

test('herd up on a terminal shows a refused state once as readable lines, no JSON; --output json keeps JSON log lines', (t) => {
  const dir = tempDir(t);
  writeTree(dir, { 'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: two') });

  const text = onTerminal(dir, upBriefly(dir));
  assert.equal(text.code, 1, text.screen);
  assert.ok(text.screen.split('[newest commit refused]').length > 3, `several rounds ran:\n${text.screen}`);
  const lines = text.screen.split(/\n|\x1b\[K/);
  const headline = 'the working tree refused: 1 error; nothing is in force (no earlier good state is recorded):';
  assert.deepEqual(lines.filter((l) => l.includes('refused: 1 error')), [headline]);
  assert.equal(lines.filter((l) => /^ {2}clusters\/a\.yaml:10:17: spec\.pools\[0\]\.replicas: /.test(l)).length, 1, text.screen);
  assert.deepEqual(lines.filter((l) => l.trimStart().startsWith('{')), [], 'no JSON on a terminal');

  const json = onTerminal(dir, upBriefly(dir, '--output', 'json'));
  assert.equal(json.code, 1, json.screen);
  const logs = json.screen.split('\n').filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as { event?: string; level: number });
  assert.deepEqual(logs.filter((l) => l.event === 'rejected').map((l) => l.level), [40], 'the refusal logged once, as a warning');
  assert.match(json.screen, /"outcome": "timeout"/);
  assert.doesNotMatch(json.screen, /refused: 1 error/, 'no progress lines with --output json');
});

test('herd up checks what validate checks: a local cluster beyond the provider\'s capacity is refused, located, and nothing is made', (t) => {
  const dir = tempDir(t);
  writeTree(dir, { 'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: 252') });
  const capacity = /^ {2}clusters\/a\.yaml:\d+:\d+: spec\.pools: the cluster needs 253 machines .* the local provider holds at most 252 machines per cluster$/m;
  assert.match(herd(['validate', '.'], dir).stdout, new RegExp(capacity.source.replace('^ {2}', '^'), 'm'));
  const up = herd(upBriefly(dir), dir);
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, /^the working tree refused: 1 error; nothing is in force/m);
  assert.match(up.stderr, capacity);
  assert.doesNotMatch(up.stderr, /machine .* created/);
});
