// `herd plan` without machines: a cluster from nothing, a commit that does not validate,
// the JSON against its published schema. The orders on a real cluster (a version bump, a
// scale-down) are checked against what `herd up` then does in test/e2e/kubernetes.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Value } from '@sinclair/typebox/value';
import { PlanDocument } from '@herd/api';
import { CLUSTER, commit, git, tempDir } from '../support.js';
import { runHerd } from './herd.js';

const CACHE = mkdtempSync(join(tmpdir(), 'herd-cli-cache-'));
after(() => rmSync(CACHE, { recursive: true, force: true }));

const herd = (args: string[]) => runHerd(args, { cache: CACHE });

function repository(t: Parameters<typeof tempDir>[0], files: Record<string, string>): { repo: string; state: string; sha: string } {
  const dir = tempDir(t);
  const repo = join(dir, 'fleet');
  git(dir, 'init', '-q', repo);
  return { repo, state: join(dir, 'state'), sha: commit(repo, files) };
}

test('a cluster from nothing: machines, kubeadm init, joins; exit 2; the JSON is what plan.schema.json says', (t) => {
  const { repo, state, sha } = repository(t, { 'clusters/web.yaml': CLUSTER('web', '1.34.4') });
  const r = herd(['plan', repo, '--ref', 'main', '--state', state, '--output', 'json']);
  assert.equal(r.code, 2, r.stderr);
  const plan = JSON.parse(r.stdout) as PlanDocument;
  assert.deepEqual([...Value.Errors(PlanDocument, plan)].map((e) => `${e.path}: ${e.message}`), [], 'valid by the published schema');
  assert.equal(plan.commit, sha);
  assert.equal(plan.inForce, null);
  assert.equal(plan.changes, true);
  const [web] = plan.clusters;
  assert.equal(web!.change, 'create');
  assert.deepEqual(web!.steps.map((s) => s.actions.map((a) => `${a.type} ${a.machine}`)), [
    ['create web-control-plane-1', 'create web-workers-1', 'create web-workers-2'],
    ['init web-control-plane-1'],
    ['join web-workers-1', 'join web-workers-2'],
  ]);
  assert.equal(web!.steps[1]!.actions[0]!.etcd, 'add');
  assert.equal(web!.estimateSeconds, null, 'nothing measured yet');
  assert.ok(!existsSync(state), 'planning created no state directory');

  const text = herd(['plan', repo, '--ref', 'main', '--state', state]);
  assert.equal(text.code, 2);
  assert.match(text.stdout, /^herd plan: commit [0-9a-f]{12} \(main\) against nothing in force\n/);
  assert.match(text.stdout, /step 1 \(3 at once\)[^\n]*\n {4}\+ create web-control-plane-1\n/);
  assert.match(text.stdout, /\+ init web-control-plane-1\n {8}why: the cluster is not initialized/);
  assert.match(text.stdout, /\nPlan: 6 action\(s\) in 1 of 1 cluster\(s\), no estimate yet\.\n$/);
});

test('a commit that does not validate: exit 1, its located errors, no plan, nothing written', (t) => {
  const { repo, state } = repository(t, { 'clusters/web.yaml': CLUSTER('web', '1.34.4').replace('replicas: 2', 'replicas: two') });
  const r = herd(['plan', repo, '--ref', 'main', '--state', state, '--output', 'json']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'no plan document');
  assert.match(r.stderr, /clusters\/web\.yaml:\d+:\d+: spec\.pools\[0\]\.replicas/);
  assert.match(r.stderr, /does not validate \(1 error\(s\)\); no plan\n$/);
  assert.ok(!existsSync(state));
});

test('usage errors exit 1, not 2 (which means changes): an unknown --cluster, two repositories, an unknown flag', (t) => {
  const { repo, state } = repository(t, { 'clusters/web.yaml': CLUSTER('web', '1.34.4') });
  const unknown = herd(['plan', repo, '--ref', 'main', '--state', state, '--cluster', 'db']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /--cluster db: no such cluster in commit [0-9a-f]{12}/);
  const two = herd(['plan', repo, repo]);
  assert.equal(two.code, 1);
  assert.match(two.stderr, /expected at most one REPO/);
  const flag = herd(['plan', repo, '--bogus']);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /--bogus/);
  assert.equal(readFileSync(join(repo, 'clusters/web.yaml'), 'utf8'), CLUSTER('web', '1.34.4'));
});
