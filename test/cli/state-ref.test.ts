// `herd coordinator --state-ref`: a coordinator publishes its state directory to a ref of
// the repository it reads; a second one, given only the repository, the ref and the age
// identity, starts from an empty state directory with the same CA and cluster secrets. Real
// processes, a real bare repository as the remote, real age keys.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { SecretStore } from '@herd/coordinator';
import { nodeFileSystem } from '@herd/sys';
import { commit, eventually, git, tempDir } from '../support.js';

const HERD = join(resolve(import.meta.dirname, '../..'), 'packages/cli/dist/main.js');
const REF = 'refs/herd/state';

async function ageKey(dir: string, name: string): Promise<{ file: string; recipient: string }> {
  const secret = await generateX25519Identity();
  const file = join(dir, `${name}.key`);
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { file, recipient: await identityToRecipient(secret) };
}

/** A bare remote holding the user's branch, with `recipients` as its .herd/recipients. */
function fleetRepository(root: string, recipients: string): string {
  const work = join(root, 'work');
  git(root, 'init', '-q', work);
  commit(work, { 'README.md': 'a fleet with no cluster yet\n', '.herd/recipients': recipients });
  const url = join(root, 'fleet.git');
  git(root, 'clone', '-q', '--bare', work, url);
  return url;
}

const branches = (url: string) => git(url, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags');

/** `herd coordinator` with --state-ref; its JSON log lines, and its exit. */
function coordinator(t: TestContext, root: string, repo: string, stateDir: string, identity: string) {
  const child = spawn(process.execPath, [HERD, 'coordinator', '--repo', repo, '--ref', 'main', '--listen', '127.0.0.1:0', '--state', stateDir,
    '--metrics', 'off', '--status-page', 'off', '--interval', '1h', '--state-ref', REF, '--age-identity', identity],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HERD_CACHE_DIR: join(root, 'cache'), HERD_LOG_LEVEL: 'info' } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } });
  const lines = () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const logged = (msg: string) => eventually(() => {
    const line = lines().find((l) => l.msg === msg);
    if (!line && child.exitCode !== null) throw new Error(`herd coordinator exited ${child.exitCode} without logging "${msg}": ${err}`);
    return line;
  }, `"${msg}" in the coordinator's log`, { timeoutMs: 20_000 });
  const stop = async () => {
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null], err);
  };
  return { exited, logged, stop, stderr: () => err };
}

test('herd coordinator --state-ref: publishes its state; a new coordinator with an empty state directory adopts it, same CA and secrets', { timeout: 60_000 }, async (t) => {
  const root = tempDir(t, 'herd-state-ref-');
  const identity = await ageKey(root, 'coordinator');
  const operator = await ageKey(root, 'operator');
  const repo = fleetRepository(root, `# operators\n${operator.recipient}\n`);
  const before = branches(repo);

  // The first coordinator has made a cluster (its secrets are in the state directory).
  const first = join(root, 'first');
  await new SecretStore(first, nodeFileSystem(), {}).put('prod', { kubeconfig: 'apiVersion: v1\nkind: Config\nclusters: []\n' });
  const one = coordinator(t, root, repo, first, identity.file);
  const listening = await one.logged('coordinator listening');
  await one.logged('published the state');
  await one.stop();
  // On stopping, the summary says what the coordinator had in force.
  const summary = JSON.parse(git(repo, 'show', `${REF}:summary.json`)) as { commit: string; recipients: string[] };
  assert.equal(summary.commit, git(repo, 'rev-parse', 'main'));
  assert.deepEqual(summary.recipients, [identity.recipient, operator.recipient].sort());
  assert.equal(branches(repo), before, 'refs/heads/* and refs/tags/* untouched');

  // The second: nothing but the repository, the ref and the identity.
  const second = join(root, 'second');
  const two = coordinator(t, root, repo, second, identity.file);
  assert.equal((await two.logged('state in Git')).found, 'restored');
  assert.equal((await two.logged('coordinator listening')).caHash, listening.caHash, 'the agents pin this CA: they reconnect');
  assert.equal(readFileSync(join(second, 'ca.crt'), 'utf8'), readFileSync(join(first, 'ca.crt'), 'utf8'));
  const kubeconfig = spawnSync(process.execPath, [HERD, 'kubeconfig', 'prod', '--state', second], { encoding: 'utf8' });
  assert.equal(kubeconfig.status, 0, kubeconfig.stderr);
  assert.equal(kubeconfig.stdout, 'apiVersion: v1\nkind: Config\nclusters: []\n');
  await two.stop();
  assert.equal(branches(repo), before);
});

test('herd coordinator --state-ref: a bad recipients line, a missing identity or a branch as the ref stop it with a clear error, before anything is written', { timeout: 60_000 }, async (t) => {
  const root = tempDir(t, 'herd-state-ref-');
  const identity = await ageKey(root, 'coordinator');
  const operator = await ageKey(root, 'operator');
  const repo = fleetRepository(root, `${operator.recipient}\nage1-not-a-key\n`);

  const bad = coordinator(t, root, repo, join(root, 'bad'), identity.file);
  assert.equal((await bad.exited)[0], 1);
  assert.match(bad.stderr(), /herd: \.herd\/recipients:2: "age1-not-a-key" is not a valid age public key/);
  assert.equal(git(repo, 'for-each-ref', 'refs/herd'), '', 'nothing was published');
  assert.deepEqual(readdirSync(join(root, 'bad')), [], 'no CA was made');

  const absent = join(root, 'absent.key');
  const missing = coordinator(t, root, repo, join(root, 'missing'), absent);
  assert.equal((await missing.exited)[0], 1);
  assert.ok(missing.stderr().includes(`herd: ${absent}: no such file`), missing.stderr());
  assert.deepEqual(existsSync(join(root, 'missing')) ? readdirSync(join(root, 'missing')) : [], []);

  const branch = spawnSync(process.execPath, [HERD, 'coordinator', '--repo', repo, '--listen', '127.0.0.1:0', '--state', join(root, 's'),
    '--state-ref', 'refs/heads/main', '--age-identity', identity.file], { encoding: 'utf8' });
  assert.equal(branch.status, 2);
  assert.match(branch.stderr, /--state-ref: refs\/heads\/main is a branch or tag people use/);
});
