// `herd status --commit SHA` as an operator runs it, on a state directory's recorded status (no
// coordinator, no machines): the nodes whose last complete round came from the commit, exit 0
// when one does and 1 when none does (as grep), and a SHA that is no SHA is a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FleetStatus } from '@herd/reconciler';
import { tempDir, writeTree } from '../support.js';
import { runHerd } from './herd.js';


const herd = (args: string[], cwd: string) => runHerd(args, { cwd });

const NEW = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const OLD = '0123456789abcdef0123456789abcdef01234567';
const agent = (commit: string) => ({ connected: true, unreachable: false, desiredGeneration: 2, observedGeneration: 2, commit, agentVersion: '0.1.0',
  conditions: [], lastError: '', rebootRequired: false, driftCorrected: [] });
const machine = (name: string, commit: string | null) => ({ name, pool: 'web', role: 'worker', addresses: [], state: 'running', agent: commit === null ? null : agent(commit), converged: true });
// Static clusters: with no coordinator, `herd status` lists only local clusters' machines from their provider.
const cluster = (name: string, machines: ReturnType<typeof machine>[]) => ({ name, provider: 'static', converged: false, reason: 'rolling out',
  pools: [{ name: 'web', role: 'worker', desired: machines.length, machines: machines.length }], machines });
const STATUS: FleetStatus = {
  time: '2026-12-01T00:00:00Z', source: 'https://git.example/fleet.git', commit: NEW, orphans: [], converged: false,
  clusters: [
    cluster('prod', [machine('web-1', NEW), machine('web-2', OLD), machine('web-3', null)]),
    cluster('staging', [machine('web-1', NEW)]),
  ],
};

function stateDir(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t);
  writeTree(dir, { 'state/status.json': JSON.stringify(STATUS) });
  return dir;
}

test('the nodes that run a commit, by full SHA or a prefix of 7, with how many of how many', (t) => {
  const dir = stateDir(t);
  const r = herd(['status', '--state', 'state', '--commit', NEW], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, [
    'CLUSTER  NODE   COMMIT',
    `prod     web-1  ${NEW}`,
    `staging  web-1  ${NEW}`,
    `2 of 4 nodes run commit ${NEW}`,
    '',
  ].join('\n'));
  const prefix = herd(['status', '--state', 'state', '--commit', OLD.slice(0, 7).toUpperCase(), '--cluster', 'prod'], dir);
  assert.equal(prefix.code, 0, prefix.stderr);
  assert.match(prefix.stdout, new RegExp(`^prod +web-2 +${OLD}$\\n^1 of 3 nodes runs commit ${OLD}\\n$`, 'm'));

  const json = herd(['status', '--state', 'state', '--commit', NEW.slice(0, 10), '-o', 'json'], dir);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), {
    commit: NEW.slice(0, 10), matched: NEW, running: 2, total: 4,
    nodes: [{ cluster: 'prod', node: 'web-1', commit: NEW }, { cluster: 'staging', node: 'web-1', commit: NEW }],
  });
});

test('no node runs the commit: exit 1, as grep finding nothing; the same in JSON', (t) => {
  const dir = stateDir(t);
  const r = herd(['status', '--state', 'state', '--commit', 'fffffff'], dir);
  assert.deepEqual([r.code, r.stdout, r.stderr], [1, '0 of 4 nodes run commit fffffff\n', '']);
  const json = herd(['status', '--state', 'state', '--commit', 'fffffff', '-o', 'json'], dir);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout), { commit: 'fffffff', matched: null, nodes: [], running: 0, total: 4 });
  const none = herd(['status', '--state', 'nothing-here', '--commit', NEW], dir);
  assert.equal(none.code, 1);
  assert.match(none.stdout, /^no status recorded in nothing-here/);
});

test('a value that is no SHA, or a prefix two commits share, is a usage error naming --commit', (t) => {
  const dir = stateDir(t);
  for (const bad of ['a1b2c3', 'main', 'a1b2c3d4g', NEW + '0'.repeat(25)]) {
    const r = herd(['status', '--state', 'state', '--commit', bad], dir);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /^herd: --commit must be a commit SHA or a prefix of one \(7 to 64 hex digits\), got "/, bad);
    assert.equal(r.stdout, '');
  }
  const shared = JSON.stringify({ ...STATUS, clusters: [cluster('prod', [machine('web-1', NEW), machine('web-2', NEW.slice(0, 8) + OLD.slice(8))])] });
  writeTree(dir, { 'state/status.json': shared });
  const ambiguous = herd(['status', '--state', 'state', '--commit', NEW.slice(0, 8)], dir);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /^herd: --commit a1b2c3d4 is ambiguous: nodes run /);
  const remote = herd(['status', '--coordinator', '127.0.0.1:1', '--state', 'state', '--commit', NEW], dir);
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /--commit .* cannot be combined with --coordinator/);
});
