// `herd coordinator`'s probes on its metrics port: /livez answers from the start, /readyz is
// 503 with its reason while the repository is being read (a git:// server that accepts and
// never answers holds the clone) and 200 once the agent listener is up. Real processes on
// loopback; an agent's metrics server (no readiness given) serves no probes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { MetricsRegistry, serveMetrics, silentLogger } from '@herd/sys';
import { commit, eventually, git, tempDir, writeTree } from '../support.js';

const HERD = join(resolve(import.meta.dirname, '../..'), 'packages/cli/dist/main.js');

/** `herd coordinator` on `repo`, metrics on a port it picks; stopped with SIGTERM after the test. */
async function coordinator(t: TestContext, repo: string, ...extra: string[]) {
  const dir = tempDir(t, 'herd-health-');
  const child = spawn(process.execPath, [HERD, 'coordinator', '--repo', repo, '--listen', '127.0.0.1:0', '--state', join(dir, 'state'),
    '--metrics', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HERD_CACHE_DIR: join(dir, 'cache'), HERD_LOG_LEVEL: 'info' } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } });
  const logged = (msg: string) => eventually(() => {
    const line = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);
    if (!line && child.exitCode !== null) throw new Error(`herd coordinator exited ${child.exitCode} without logging "${msg}": ${err}`);
    return line;
  }, `"${msg}" in the coordinator's log`, { timeoutMs: 15_000 });
  const port = (await logged('serving metrics')).port as number;
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  };
  return { child, exited, get, logged, stderr: () => err };
}

test('herd coordinator: /readyz is 503 with its reason while the repository is read, /livez is 200 all along', { timeout: 60_000 }, async (t) => {
  // A Git server that takes the connection and never says anything: the clone waits.
  const held: Socket[] = [];
  const git = createServer((socket) => { held.push(socket); });
  await new Promise<void>((r) => git.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { for (const s of held) s.destroy(); git.close(() => r()); }));
  const url = `git://127.0.0.1:${(git.address() as { port: number }).port}/fleet.git`;

  const c = await coordinator(t, url);
  await eventually(() => held.length > 0, 'git to connect');
  assert.deepEqual(await c.get('/livez'), { status: 200, body: 'ok\n' });
  assert.deepEqual(await c.get('/readyz'), { status: 503, body: 'reading the repository\n' });
  // Still so a moment later: nothing turns it ready but the read.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await c.get('/readyz')).status, 503);
  assert.equal((await c.get('/metrics')).status, 200);
  assert.equal((await c.get('/nothing')).status, 404);
  // A signal while it starts ends it at once, clone or not (as PID 1 an unhandled one would be ignored).
  const stopping = Date.now();
  c.child.kill('SIGTERM');
  assert.deepEqual(await c.exited, [0, null], c.stderr());
  assert.ok(Date.now() - stopping < 5_000, `stopping took ${Date.now() - stopping} ms`);
  await c.logged('stopped while starting');
});

test('herd coordinator: /readyz turns 200 once the repository was read and the agent listener is up; SIGTERM at once ends it with 0', { timeout: 60_000 }, async (t) => {
  const repo = tempDir(t, 'herd-repo-');
  git(repo, 'init', '-q');
  commit(repo, { 'README.md': 'a fleet with no cluster yet\n' });
  // An hour between rounds: a stop that waited for the next round would time the test out.
  const c = await coordinator(t, repo, '--ref', 'main', '--interval', '1h');
  const ready = await eventually(async () => {
    const r = await c.get('/readyz');
    return r.status === 200 ? r : undefined;
  }, '/readyz to be 200', { timeoutMs: 15_000 });
  assert.equal(ready.body, 'ok\n');
  // The moment it is ready the first round starts: a signal then lands in it or just before it.
  const stopping = Date.now();
  c.child.kill('SIGTERM');
  assert.deepEqual(await c.exited, [0, null], c.stderr());
  assert.ok(Date.now() - stopping < 10_000, `stopping took ${Date.now() - stopping} ms`);
});

test('herd coordinator: ready, /livez and herd\'s metrics between rounds; SIGTERM then ends it with 0', { timeout: 60_000 }, async (t) => {
  const repo = tempDir(t, 'herd-repo-');
  writeTree(repo, { 'README.md': 'a fleet with no cluster yet\n' });
  const c = await coordinator(t, repo, '--interval', '1s');
  // The agent listener is up once ready: its line was logged before the answer changed.
  await eventually(async () => (await c.get('/readyz')).status === 200, '/readyz to be 200', { timeoutMs: 15_000 });
  await c.logged('coordinator listening');
  assert.equal((await c.get('/livez')).status, 200);
  await eventually(async () => /^herd_reconcile_last_round_timestamp_seconds [1-9]/m.test((await c.get('/metrics')).body), 'a round', { timeoutMs: 15_000 });
  c.child.kill('SIGTERM');
  assert.deepEqual(await c.exited, [0, null], c.stderr());
  await c.logged('stopping');
});

test('a metrics server given no readiness check (the agent\'s) serves no probes', async (t) => {
  const served = (await serveMetrics(new MetricsRegistry(), '127.0.0.1', 0, silentLogger()))!;
  t.after(() => served.close());
  for (const path of ['/livez', '/readyz']) assert.equal((await fetch(`http://127.0.0.1:${served.port}${path}`)).status, 404, path);
  assert.equal((await fetch(`http://127.0.0.1:${served.port}/metrics`)).status, 200);
});
