// The agent against a real coordinator on loopback: stream, assignment, status, restart of
// the coordinator, converging while it is away, dry run. The converge engine is a fake (the
// real one changes the machine it runs on); it records what it was asked.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, AgentState, enroll, type Credentials } from '@herd/agent';
import type { ConvergeEngine, RoundOptions, RoundReport } from '@herd/converge';
import type { NodeSpec__Output } from '@herd/proto';
import { createLogger, nodeFileSystem, systemClock } from '@herd/sys';
import { createToken, LogCapture, startTestCoordinator, type TestCoordinator } from '../coordinator/harness.js';
import { eventually } from '../support.js';

class FakeEngine implements ConvergeEngine {
  readonly rounds: { spec: NodeSpec__Output; dryRun: boolean }[] = [];
  /** When set, a round runs until its signal aborts, then reports that it stopped. */
  blockUntilAborted = false;
  async round(spec: NodeSpec__Output, options: RoundOptions = {}): Promise<RoundReport> {
    this.rounds.push({ spec, dryRun: Boolean(options.dryRun) });
    if (this.blockUntilAborted) {
      await new Promise((resolve) => options.signal?.addEventListener('abort', resolve, { once: true }));
      return { conditions: [], drift: [], converged: false, changed: false, rebootRequired: false, durationMs: 1, error: 'round aborted: agent stopping' };
    }
    return {
      conditions: [{ type: 'Files', status: 'True', reason: options.dryRun ? 'WouldChange' : 'Converged', message: '' }],
      drift: [], converged: true, changed: !options.dryRun, rebootRequired: false, durationMs: 1,
      actions: ['Files: write /etc/example'],
    };
  }
  commits() { return this.rounds.map((r) => r.spec.commit); }
}

const facts = async () => ({ os: 'Debian', osVersion: '12', kernel: 'test', arch: 'x64', cpus: 2, memoryBytes: 1, hostname: 'h', addresses: ['10.0.0.9'] });

let t: TestCoordinator;
const dirs: string[] = [];
before(async () => { t = await startTestCoordinator({ heartbeatTimeoutMs: 60_000 }); });
after(async () => {
  await t.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function enrolledAgent(node: string, options: { dryRun?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'herd-agent-'));
  dirs.push(dir);
  const state = new AgentState(nodeFileSystem(), dir);
  const token = await createToken(t, { cluster: 'c1', nodeName: node });
  const creds: Credentials = await enroll({ coordinator: t.address, token: token.token, caHash: token.caHash });
  await state.saveCredentials(creds);
  const engine = new FakeEngine();
  const logs = new LogCapture();
  const agent = new Agent({
    credentials: creds, state, engine, facts, clock: systemClock, logger: createLogger({ name: 'herd-agent', level: 'debug', destination: logs }),
    intervalMs: 100, heartbeatMs: 50, backoff: { initialMs: 20, maxMs: 200 }, dryRun: options.dryRun,
  });
  const stop = new AbortController();
  const running = agent.run(stop.signal);
  return { dir, state, engine, logs, ref: { cluster: 'c1', node }, running, stop: async () => { stop.abort(); await running; } };
}

const session = (node: string) => t.coordinator.nodes.sessions().find((s) => s.nodeName === node);

test('an assignment reaches the agent, is held on disk, acknowledged, converged and reported', async () => {
  const a = await enrolledAgent('web-1');
  try {
    await eventually(() => session('web-1')?.connected, 'the agent to connect');
    assert.deepEqual(session('web-1')!.addresses, ['10.0.0.9']);
    const generation = t.coordinator.nodes.assign(a.ref, { hostname: 'web-1', commit: 'abc123' });
    await eventually(() => t.coordinator.nodes.ackedGeneration(a.ref) === generation, 'the ack');
    assert.equal((await a.state.assignment())?.spec.commit, 'abc123');
    const s = await eventually(() => { const found = session('web-1'); return found?.status?.observedGeneration === generation ? found : undefined; }, 'the status');
    assert.equal(s.status!.commit, 'abc123');
    assert.deepEqual(s.status!.actions, ['Files: write /etc/example']);
    assert.ok(a.engine.commits().includes('abc123'));
    for (const f of ['node.key', 'assignment.json']) assert.equal((await stat(join(a.dir, f))).mode & 0o777, 0o600, f);
  } finally {
    await a.stop();
  }
  await eventually(() => session('web-1') && !session('web-1')!.connected, 'the session to close');
  assert.equal(t.logs.find('agent disconnected').at(-1)?.reason, 'agent closed the stream');
});

test('the agent goes on converging while the coordinator is away, and resumes without enrolling again', async () => {
  const a = await enrolledAgent('web-2');
  try {
    await eventually(() => session('web-2')?.connected, 'the agent to connect');
    t.coordinator.nodes.assign(a.ref, { hostname: 'web-2', commit: 'first' });
    await eventually(() => t.coordinator.nodes.ackedGeneration(a.ref) === 1, 'the ack');
    const enrolled = t.logs.find('agent enrolled').length;

    await t.stop();
    const roundsWhileAway = a.engine.rounds.length;
    await eventually(() => a.engine.rounds.length >= roundsWhileAway + 3, 'rounds while the coordinator is away');
    assert.ok(a.engine.commits().slice(roundsWhileAway).every((c) => c === 'first'));
    await eventually(() => a.logs.find('not connected to the coordinator').length > 0, 'the agent to notice');

    await t.restart();
    await eventually(() => session('web-2')?.connected, 'the agent to reconnect');
    assert.equal(t.logs.find('agent enrolled').length, enrolled, 'no second enrollment');
    // The new coordinator process issues generations above the one the agent holds.
    const generation = t.coordinator.nodes.assign(a.ref, { hostname: 'web-2', commit: 'second' });
    assert.equal(generation, 2);
    await eventually(() => a.engine.commits().includes('second'), 'the new assignment to converge');
  } finally {
    await a.stop();
  }
});

test('--dry-run: the engine is asked to change nothing and observedGeneration does not move', async () => {
  const a = await enrolledAgent('web-3', { dryRun: true });
  try {
    await eventually(() => session('web-3')?.connected, 'the agent to connect');
    t.coordinator.nodes.assign(a.ref, { hostname: 'web-3', commit: 'dry' });
    const s = await eventually(() => { const found = session('web-3'); return found?.status?.dryRun ? found : undefined; }, 'a dry-run status');
    assert.equal(s.status!.observedGeneration, 0);
    assert.deepEqual(s.status!.actions, ['Files: write /etc/example']);
    assert.ok(a.engine.rounds.every((r) => r.dryRun));
  } finally {
    await a.stop();
  }
});

test('stopping mid-round: the engine is told to abort, the round is reported, then the stream closes', async () => {
  const a = await enrolledAgent('web-4');
  a.engine.blockUntilAborted = true;
  await eventually(() => session('web-4')?.connected, 'the agent to connect');
  t.coordinator.nodes.assign(a.ref, { hostname: 'web-4', commit: 'slow' });
  await eventually(() => a.engine.rounds.length > 0, 'the round to start');
  const events: string[] = [];
  t.coordinator.nodes.on('status', (ref, status) => { if (ref.node === 'web-4') events.push(`status: ${status.lastError}`); });
  t.coordinator.nodes.on('disconnect', (ref, reason) => { if (ref.node === 'web-4') events.push(`disconnect: ${reason}`); });
  await a.stop();
  await eventually(() => events.length === 2, 'the status and the disconnect');
  assert.deepEqual(events, ['status: round aborted: agent stopping', 'disconnect: agent closed the stream']);
});
