// The Git source against real repositories: pinned commits, refs, reuse, refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { UserError } from '@herd/sys';
import { GitSource, GitSourceError, readRepositoryFile, readWorkingTree } from '@herd/source';
import { CLUSTER, commit, git, tempDir, writeTree } from '../support.js';

function setup(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const origin = join(root, 'origin');
  git(root, 'init', '-q', origin);
  const first = commit(origin, { 'clusters/a.yaml': CLUSTER('a'), 'README.md': '# fleet' }, 'first');
  const source = new GitSource({ url: origin, cacheDir: join(root, 'cache') });
  return { root, origin, first, source };
}

test('reads the default branch at a pinned commit', async (t) => {
  const { first, source } = setup(t);
  const snapshot = await source.read();
  assert.equal(snapshot.commit, first);
  assert.deepEqual(snapshot.errors, []);
  assert.deepEqual(snapshot.clusters.map((c) => c.cluster.metadata.name), ['a']);
  assert.equal(snapshot.clusters[0]!.file, 'clusters/a.yaml');
});

test('a second read of an unchanged repository reuses the parsed result; a new commit is read anew', async (t) => {
  const { origin, source } = setup(t);
  const once = await source.read();
  assert.equal(await source.read(), once, 'same object: nothing re-parsed');
  const second = commit(origin, { 'clusters/b.yaml': CLUSTER('b') });
  const twice = await source.read();
  assert.equal(twice.commit, second);
  assert.deepEqual(twice.clusters.map((c) => c.cluster.metadata.name), ['a', 'b']);
});

test('reads a branch, a tag or a commit, and only committed content', async (t) => {
  const { origin, first, source } = setup(t);
  git(origin, 'tag', 'v1');
  git(origin, 'checkout', '-q', '-b', 'next');
  const onNext = commit(origin, { 'clusters/a.yaml': CLUSTER('a', '1.35.0') });
  writeTree(origin, { 'clusters/uncommitted.yaml': CLUSTER('uncommitted') });

  assert.equal((await source.read('next')).commit, onNext);
  assert.equal((await source.read('next')).clusters[0]!.cluster.spec.kubernetes.version, '1.35.0');
  assert.equal((await source.read('v1')).commit, first);
  assert.equal((await source.read(first.slice(0, 10))).commit, first);
  assert.equal((await source.read('main')).clusters.length, 1, 'the uncommitted file is not read');
});

test('a commit with errors is read with its errors, and the files they are in', async (t) => {
  const { origin, source } = setup(t);
  commit(origin, { 'clusters/a.yaml': CLUSTER('a').replace('replicas: 2', 'replicas: -1') });
  const snapshot = await source.read();
  assert.deepEqual(snapshot.clusters, []);
  assert.deepEqual(snapshot.errors.map((e) => `${e.file}:${e.line}:${e.column} ${e.field}`), ['clusters/a.yaml:10:17 spec.pools[0].replicas']);
});

test('an unknown ref, a missing repository and an unreachable URL are clear errors', async (t) => {
  const { root, source } = setup(t);
  await assert.rejects(source.read('no-such-branch'), (e: unknown) => e instanceof GitSourceError && /ref "no-such-branch" not found/.test(e.message));
  await assert.rejects(new GitSource({ url: join(root, 'nothing'), cacheDir: join(root, 'cache') }).read(), /does not exist/);
  // Loopback port 1: nothing listens, so the fetch fails at once. The credentials must not leak.
  const remote = new GitSource({ url: 'http://user:s3cr3t-token@127.0.0.1:1/fleet.git', cacheDir: join(root, 'cache') });
  await assert.rejects(remote.read(), (e: unknown) => e instanceof GitSourceError && /cannot clone http:\/\/\*\*\*@127\.0\.0\.1:1\/fleet\.git/.test(e.message) && !e.message.includes('s3cr3t'));
  assert.deepEqual(readdirSync(join(root, 'cache')).filter((f) => f.endsWith('.tmp')), [], 'no half-made clone is left behind');
});

test('a file of the repository is read at the pinned commit, not as it is now', async (t) => {
  const { origin, first, source } = setup(t);
  commit(origin, { 'README.md': '# changed' });
  assert.equal(await source.readFile('README.md', first), '# fleet');
  await assert.rejects(source.readFile('secrets/missing.key', first), (e: unknown) => e instanceof GitSourceError && /secrets\/missing\.key does not exist/.test(e.message));
});

test('a repository file that is a link, below a link, or not a regular file is refused by both readers, never followed', async (t) => {
  const { root, origin, source } = setup(t);
  writeFileSync(join(root, 'outside.key'), 'OUTSIDE');
  mkdirSync(join(origin, 'secrets'));
  symlinkSync(join(root, 'outside.key'), join(origin, 'secrets/id'));
  symlinkSync(root, join(origin, 'up'));
  writeFileSync(join(origin, 'secrets/real.key'), 'KEY');
  const head = commit(origin, {}, 'links');
  assert.equal(await source.readFile('secrets/real.key', head), 'KEY');
  assert.equal(await readRepositoryFile(origin, 'secrets/real.key'), 'KEY');
  for (const [path, reason] of [['secrets/id', /secrets\/id is a symbolic link/], ['up/outside.key', /up \(on the way to up\/outside\.key\) is a symbolic link/],
    ['secrets', /secrets is a folder, not a file/], ['../outside.key', /not a plain relative path/]] as const) {
    await assert.rejects(source.readFile(path, head), (e: unknown) => e instanceof GitSourceError && reason.test(e.message), `git: ${path}`);
    await assert.rejects(readRepositoryFile(origin, path), (e: unknown) => e instanceof UserError && reason.test(e.message), `directory: ${path}`);
  }
});

test('the working tree is read as it is on disk, uncommitted edits included', async (t) => {
  const { origin } = setup(t);
  writeTree(origin, { 'clusters/draft.yaml': CLUSTER('draft') });
  const snapshot = await readWorkingTree(origin);
  assert.equal(snapshot.commit, undefined);
  assert.deepEqual(snapshot.clusters.map((c) => c.cluster.metadata.name), ['a', 'draft']);
});
