// The real binaries as an operator runs them: `herd coordinator`, `herd token create`,
// `herd-agent`, `herd status`, and real signals for shutdown.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const HERD = join(import.meta.dirname, '../../packages/cli/dist/main.js');
const AGENT = join(import.meta.dirname, '../../packages/agent/dist/main.js');
const started: ChildProcess[] = [];
const dirs: string[] = [];

after(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the `nth` JSON log line whose msg is `msg`. */
  waitForLog(msg: string, nth?: number): Promise<Record<string, unknown>>;
  exit(): Promise<number | null>;
}

function start(script: string, args: string[]): Running {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HERD_LOG_LEVEL: 'info' } });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stderr: () => err,
    async waitForLog(msg, nth = 1) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const line = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg)[nth - 1];
        if (line) return line;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no "${msg}" log line; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exit: () => exited,
  };
}

async function run(script: string, args: string[]) {
  const r = start(script, args);
  let out = '';
  r.child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await r.exit();
  return { code, stdout: out, stderr: r.stderr() };
}

test('bad flags are usage errors (exit 2) with no stack trace', async () => {
  const cases = [
    [AGENT, ['--coordinator', 'nohost']],
    [AGENT, ['--interval', 'soon']],
    [AGENT, ['--bogus']],
    [HERD, ['coordinator', '--listen', '127.0.0.1:1', '--state', '/tmp/x']],
    [HERD, ['coordinator', '--repo', tmpdir(), '--listen', '127.0.0.1:0', '--state', '/tmp/x', '--metrics', '9464']],
    [AGENT, ['--metrics', 'localhost']],
    [HERD, ['token', 'create', '--cluster', 'Bad_Name', '--coordinator', '127.0.0.1:1', '--state', '/tmp/x']],
    [HERD, ['status', '--coordinator', '127.0.0.1', '--state', '/tmp/x']],
  ] as const;
  const results = await Promise.all(cases.map(([script, args]) => run(script, [...args])));
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 2, `${cases[i]![1].join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const noCreds = await run(AGENT, ['--state', join(tmpdir(), 'herd-agent-none')]);
  assert.equal(noCreds.code, 2);
  assert.match(noCreds.stderr, /needs --coordinator, --token-file and --ca-hash/);
});

test('coordinator, token, agent and status as processes; SIGTERM stops each cleanly', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'herd-coordinator-'));
  const agentDir = await mkdtemp(join(tmpdir(), 'herd-agent-'));
  dirs.push(stateDir, agentDir);
  const repo = await mkdtemp(join(tmpdir(), 'herd-repo-'));
  dirs.push(repo);
  const coordinator = start(HERD, ['coordinator', '--repo', repo, '--listen', '127.0.0.1:0', '--state', stateDir]);
  const { port } = await coordinator.waitForLog('coordinator listening');
  const address = `127.0.0.1:${port}`;

  const token = await run(HERD, ['token', 'create', '--cluster', 'c1', '--node', 'box-1', '--coordinator', address, '--state', stateDir, '--output', 'json']);
  assert.equal(token.code, 0, token.stderr);
  const created = JSON.parse(token.stdout) as { token: string; caHash: string; command: string };
  assert.equal(created.command, `(umask 077 && mkdir -p /etc/herd && printf '%s\\n' ${created.token} > /etc/herd/agent.token) && `
    + `herd-agent --coordinator ${address} --token-file /etc/herd/agent.token --ca-hash ${created.caHash} --state /var/lib/herd-agent`);
  const text = await run(HERD, ['token', 'create', '--cluster', 'c1', '--coordinator', address, '--state', stateDir]);
  assert.match(text.stdout, /^token: +[a-z0-9]{6}\.[a-z0-9]{16}\nexpires: .*\nca hash: +sha256:[0-9a-f]{64}\n/);

  // The printed command, with this test's directories for the machine's.
  const tokenFile = join(agentDir, 'agent.token');
  const printed = created.command.replaceAll('/etc/herd/agent.token', tokenFile).replaceAll('/etc/herd', agentDir)
    .replaceAll('/var/lib/herd-agent', join(agentDir, 'state'));
  const [setup, agentCommand] = printed.split(' && herd-agent ') as [string, string];
  assert.equal(spawnSync('/bin/sh', ['-c', setup]).status, 0);
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  const agent = start(AGENT, [...agentCommand.split(' '), '--heartbeat', '1s']);
  await coordinator.waitForLog('agent connected');
  assert.doesNotMatch(agent.stderr() + coordinator.stderr(), new RegExp(created.token.split('.')[1]!), 'the token secret is never logged');
  assert.ok(!(await readFile(`/proc/${agent.child.pid}/cmdline`, 'utf8')).includes(created.token), 'the token is not on the command line');
  await assert.rejects(stat(tokenFile), { code: 'ENOENT' }, 'the token file is deleted after enrollment');
  assert.equal(JSON.parse(await readFile(join(agentDir, 'state', 'agent.json'), 'utf8')).node, 'box-1');

  const status = await run(HERD, ['status', '--coordinator', address, '--state', stateDir, '--output', 'json']);
  assert.equal(status.code, 0, status.stderr);
  const [node] = JSON.parse(status.stdout) as { nodeName: string; connected: boolean; agentVersion: string }[];
  assert.equal(node?.nodeName, 'box-1');
  assert.equal(node?.connected, true);
  const table = await run(HERD, ['status', '--coordinator', address, '--state', stateDir]);
  assert.match(table.stdout, /^CLUSTER +NODE +STATE +GENERATION/);
  assert.match(table.stdout, /\nc1 +box-1 +connected +0\/0 /);

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exit(), 0, agent.stderr());
  const closed = await coordinator.waitForLog('agent disconnected');
  assert.equal(closed.reason, 'agent closed the stream');

  // A second run needs only the state directory: no new enrollment.
  const again = start(AGENT, ['--state', join(agentDir, 'state'), '--heartbeat', '1s']);
  await coordinator.waitForLog('agent connected', 2);
  again.child.kill('SIGINT');
  assert.equal(await again.exit(), 0, again.stderr());
  assert.equal(coordinator.stderr().split('\n').filter((l) => l.includes('"agent enrolled"')).length, 1);

  coordinator.child.kill('SIGTERM');
  assert.equal(await coordinator.exit(), 0, coordinator.stderr());
});
