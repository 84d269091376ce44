// SessionRegistry.operate: first without sockets (what goes down the one-message-in-flight
// sink, timeouts, aborts, stray results), then coordinator and agent for real over gRPC on
// loopback, the agent's machine scripted (FakeMachine): results with outputs, delivery on
// connect, no second run after an agent restart, and no secret in either side's logs.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, AgentState, enroll, type Credentials, type EtcdGateway } from '@herd/agent';
import { OperationTimeoutError, SessionRegistry, type NodeRef, type SessionSink } from '@herd/coordinator';
import type { ConvergeEngine, RoundReport } from '@herd/converge';
import { PROTOCOL_VERSION, type CoordinatorMessage, type Hello__Output } from '@herd/proto';
import { createLogger, nodeFileSystem, systemClock, type Executor } from '@herd/sys';
import { FakeMachine } from '../converge/fakes.js';
import { createToken, LogCapture, startTestCoordinator, type TestCoordinator } from './harness.js';
import { eventually, FakeClock } from '../support.js';

const CONFIG = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n';
const KUBECONFIG = 'apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: c2VjcmV0LWFkbWluLWtleQ==\n';
const SECRETS = ['0123456789abcdef', 'InitConfiguration', 'c2VjcmV0LWFkbWluLWtleQ'];

// ---- the registry alone ----

/** Records what a session sent; with `manual`, each write waits for `release()` like a slow stream. */
class RecordingSink implements SessionSink {
  readonly sent: CoordinatorMessage[] = [];
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly manual = false) {}
  write(message: CoordinatorMessage, done: () => void) {
    this.sent.push(message);
    if (this.manual) this.waiting.push(done);
    else queueMicrotask(done);
  }
  release() { this.waiting.shift()?.(); }
  get kinds() { return this.sent.map((m) => (m.assignment ? `assignment ${m.assignment.generation}` : `operation ${m.operation?.kind}`)); }
}

const hello = (nodeName: string): Hello__Output =>
  ({ protocolVersion: PROTOCOL_VERSION, nodeName, agentVersion: 'test', heldGeneration: 0, heldEpoch: '', facts: null });
const tick = () => new Promise((r) => setImmediate(r));
const ref: NodeRef = { cluster: 'c', node: 'a' };

function registry(clock = new FakeClock()) {
  const logs = new LogCapture();
  const nodes = new SessionRegistry({ clock, logger: createLogger({ name: 'coordinator', level: 'debug', destination: logs }), heartbeatTimeoutMs: 30_000 });
  return { nodes, logs, clock };
}

const result = (id: string, outputs: Record<string, string> = {}) => ({
  body: 'operationResult' as const, operationResult: { id, ok: true, message: 'done', outputs },
});

test('operate: sent with an id, kind and args, resolved by the matching result with its outputs; a stray result is logged and ignored', async () => {
  const { nodes, logs } = registry();
  const sink = new RecordingSink();
  const session = nodes.open(ref, hello('a'), sink);
  const outcome = nodes.operate(ref, { kind: 'kubeadm-init', args: { config: CONFIG } }, { timeoutMs: 60_000 });
  await tick();
  const sent = sink.sent[0]!.operation!;
  assert.match(sent.id!, /^[0-9a-f-]{36}$/);
  assert.deepEqual([sent.kind, sent.args], ['kubeadm-init', { config: CONFIG }]);
  session.receive(result('not-this-one', { kubeconfig: 'wrong' }));
  session.receive(result(sent.id!, { kubeconfig: KUBECONFIG }));
  assert.deepEqual(await outcome, { ok: true, message: 'done', outputs: { kubeconfig: KUBECONFIG } });
  assert.equal(logs.find('result for an operation not pending here ignored')[0]?.id, 'not-this-one');
  const done = logs.find('operation done')[0]!;
  assert.deepEqual([done.kind, done.ok, done.node, typeof done.durationMs], ['kubeadm-init', true, 'c/a', 'number']);
  for (const secret of SECRETS) assert.ok(!logs.text.includes(secret), `${secret} logged`);
});

test('operate: made while disconnected it goes on hello, and again after every reconnect until answered', async () => {
  const { nodes } = registry();
  const outcome = nodes.operate(ref, { kind: 'reboot' }, { timeoutMs: 60_000 });
  const first = new RecordingSink();
  nodes.open(ref, hello('a'), first).close('gone');
  await tick();
  const second = new RecordingSink();
  const session = nodes.open(ref, hello('a'), second);
  await tick();
  assert.deepEqual([first.kinds, second.kinds], [['operation reboot'], ['operation reboot']]);
  assert.equal(first.sent[0]!.operation!.id, second.sent[0]!.operation!.id, 'the same id: the agent runs it once');
  session.receive(result(second.sent[0]!.operation!.id!));
  await outcome;
  const third = new RecordingSink();
  nodes.open(ref, hello('a'), third);
  await tick();
  assert.deepEqual(third.kinds, [], 'answered: not sent again');
});

test('operations and assignments share the one-in-flight sink and neither pushes the other out', async () => {
  const { nodes } = registry();
  const sink = new RecordingSink(true);
  const session = nodes.open(ref, hello('a'), sink);
  nodes.assign(ref, { commit: 'one' }); // in flight, unconfirmed
  const upgrade = nodes.operate(ref, { kind: 'kubeadm-upgrade' }, { timeoutMs: 60_000 });
  nodes.assign(ref, { commit: 'two' });
  nodes.assign(ref, { commit: 'three' }); // replaces two, not the operation
  const restart = nodes.operate(ref, { kind: 'restart-kubelet' }, { timeoutMs: 60_000 });
  for (let i = 0; i < 5; i++) { sink.release(); await tick(); }
  assert.deepEqual(sink.kinds, ['assignment 1', 'assignment 3', 'operation kubeadm-upgrade', 'operation restart-kubelet']);
  for (const m of sink.sent.slice(2)) session.receive(result(m.operation!.id!));
  await Promise.all([upgrade, restart]);
});

test('operate: OperationTimeoutError names node, kind and time; an unsent operation is withdrawn', async () => {
  const { nodes, clock, logs } = registry();
  const sink = new RecordingSink(true);
  nodes.open(ref, hello('a'), sink);
  nodes.assign(ref, { commit: 'stuck' }); // never confirmed: the operation waits behind it
  const outcome = nodes.operate(ref, { kind: 'kubeadm-join', args: { config: CONFIG } }, { timeoutMs: 120_000 });
  await tick();
  clock.advance(119_000);
  await new Promise((r) => setTimeout(r, 50));
  let settled = false;
  void outcome.then(() => { settled = true; }, () => { settled = true; });
  await tick();
  assert.equal(settled, false, 'not before the deadline');
  clock.advance(1_000);
  const error = await outcome.catch((e: unknown) => e);
  assert.ok(error instanceof OperationTimeoutError);
  assert.deepEqual([error.node, error.kind, error.timeoutMs], ['c/a', 'kubeadm-join', 120_000]);
  assert.match(error.message, /operation kubeadm-join \(.+\) on node c\/a got no result within 120000 ms/);
  sink.release();
  await tick();
  assert.deepEqual(sink.kinds, ['assignment 1'], 'the timed-out operation was not sent after all');
  assert.equal(logs.find('operation timed out')[0]?.timeoutMs, 120_000);
});

test('operate: an abort rejects with the signal\'s reason; a late result is ignored', async () => {
  const { nodes, logs } = registry();
  const sink = new RecordingSink();
  const session = nodes.open(ref, hello('a'), sink);
  const stop = new AbortController();
  const outcome = nodes.operate(ref, { kind: 'etcd-members' }, { timeoutMs: 60_000, signal: stop.signal });
  await tick();
  stop.abort(new Error('rollout cancelled'));
  await assert.rejects(outcome, /rollout cancelled/);
  session.receive(result(sink.sent[0]!.operation!.id!));
  assert.equal(logs.find('result for an operation not pending here ignored').length, 1);
  const already = AbortSignal.abort(new Error('too late'));
  await assert.rejects(nodes.operate(ref, { kind: 'etcd-members' }, { timeoutMs: 60_000, signal: already }), /too late/);
});

// ---- coordinator and agent over gRPC ----

/** A round that can be held open, to see operations wait for it. */
class GatedEngine implements ConvergeEngine {
  rounds = 0;
  gate?: Promise<void>;
  async round(): Promise<RoundReport> {
    this.rounds++;
    await this.gate;
    return { conditions: [], drift: [], converged: true, changed: false, rebootRequired: false, durationMs: 1 };
  }
}

const noEtcd: EtcdGateway = { post: async () => { throw new Error('no etcd here'); } };
const facts = async () => ({ os: 'Debian', osVersion: '12', kernel: 'test', arch: 'x64', cpus: 2, memoryBytes: 1, hostname: 'h', addresses: [] });

let t: TestCoordinator;
const dirs: string[] = [];
const agentLogs: LogCapture[] = [];
before(async () => { t = await startTestCoordinator({ heartbeatTimeoutMs: 60_000 }); });
after(async () => {
  await t.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A kubeadm node in memory: init writes admin.conf; `hold` makes init wait for the test. */
function kubeadmMachine() {
  const machine = new FakeMachine();
  machine.script('kubeadm', (args) => {
    if (args[0] === 'init') machine.fs.put('/etc/kubernetes/admin.conf', KUBECONFIG);
    return undefined;
  });
  const node = {
    machine,
    hold: undefined as Promise<void> | undefined,
    initStarted: false,
    exec: {
      run: async (command, args, options) => {
        if (command === 'kubeadm' && args[0] === 'init') {
          node.initStarted = true;
          await node.hold;
        }
        return machine.exec.run(command, args, options);
      },
    } satisfies Executor,
  };
  return node;
}

async function enrolledCredentials(node: string) {
  const dir = await mkdtemp(join(tmpdir(), 'herd-agent-ops-'));
  dirs.push(dir);
  const state = new AgentState(nodeFileSystem(), dir);
  const token = await createToken(t, { cluster: 'c1', nodeName: node });
  const creds: Credentials = await enroll({ coordinator: t.address, token: token.token, caHash: token.caHash });
  await state.saveCredentials(creds);
  return { dir, state, creds };
}

function startAgent(enrolled: Awaited<ReturnType<typeof enrolledCredentials>>, { machine, exec }: ReturnType<typeof kubeadmMachine>, engine: ConvergeEngine = new GatedEngine()) {
  const logs = new LogCapture();
  agentLogs.push(logs);
  const agent = new Agent({
    credentials: enrolled.creds, state: enrolled.state, engine, facts, clock: systemClock,
    logger: createLogger({ name: 'herd-agent', level: 'debug', destination: logs }),
    intervalMs: 60_000, heartbeatMs: 50, backoff: { initialMs: 20, maxMs: 100 },
    operations: { exec, fs: machine.fs, etcd: noEtcd },
  });
  const stop = new AbortController();
  const running = agent.run(stop.signal);
  return { logs, stop: async () => { stop.abort(); await running; } };
}

const connected = (node: string) => t.coordinator.nodes.sessions().find((s) => s.nodeName === node)?.connected;
const nodeRef = (node: string) => ({ cluster: 'c1', node });

test('over gRPC: kubeadm-init returns the admin kubeconfig; an operation made before the agent connects is delivered on connect', async () => {
  const enrolled = await enrolledCredentials('cp-1');
  const node = kubeadmMachine();
  const { machine } = node;
  const outcome = t.coordinator.nodes.operate(nodeRef('cp-1'), { kind: 'kubeadm-init', args: { config: CONFIG } }, { timeoutMs: 20_000 });
  const agent = startAgent(enrolled, node);
  try {
    assert.deepEqual(await outcome, { ok: true, message: 'initialized', outputs: { kubeconfig: KUBECONFIG } });
    assert.deepEqual(machine.takeCalls(), [
      'kubeadm config validate --config /etc/herd/kubeadm/init.yaml',
      'kubeadm init --config /etc/herd/kubeadm/init.yaml --upload-certs',
    ]);
    const unknown = await t.coordinator.nodes.operate(nodeRef('cp-1'), { kind: 'fly' }, { timeoutMs: 20_000 });
    assert.deepEqual(unknown, { ok: false, message: 'unknown operation kind fly', outputs: {} });
  } finally {
    await agent.stop();
  }
});

test('over gRPC: an agent restarted between receiving an operation and answering it answers from its store, without a second run', async () => {
  const enrolled = await enrolledCredentials('cp-2');
  const node = kubeadmMachine();
  let release!: () => void;
  node.hold = new Promise((resolve) => { release = resolve; });
  const first = startAgent(enrolled, node);
  await eventually(() => connected('cp-2'), 'the agent to connect');
  const outcome = t.coordinator.nodes.operate(nodeRef('cp-2'), { kind: 'kubeadm-init', args: { config: CONFIG } }, { timeoutMs: 20_000 });
  await eventually(() => node.initStarted, 'kubeadm init to start');
  // The agent stops mid-operation: its stream closes at once, the operation finishes and is persisted.
  const stopping = first.stop();
  await eventually(() => !connected('cp-2'), 'the stream to close');
  release();
  await stopping;
  assert.equal((await enrolled.state.operationResults())[0]?.ok, true, 'persisted although never sent');
  node.machine.takeCalls();

  const second = startAgent(enrolled, node);
  try {
    assert.deepEqual(await outcome, { ok: true, message: 'initialized', outputs: { kubeconfig: KUBECONFIG } });
    assert.deepEqual(node.machine.calls, [], 'answered from the store');
    assert.equal(second.logs.find('operation ran before: answering with the stored result').length, 1);
  } finally {
    await second.stop();
  }
});

test('over gRPC: an operation waits for the converge round in progress', async () => {
  const enrolled = await enrolledCredentials('w-1');
  const node = kubeadmMachine();
  const { machine } = node;
  const engine = new GatedEngine();
  let endRound!: () => void;
  engine.gate = new Promise((resolve) => { endRound = resolve; });
  const agent = startAgent(enrolled, node, engine);
  try {
    await eventually(() => connected('w-1'), 'the agent to connect');
    t.coordinator.nodes.assign(nodeRef('w-1'), { hostname: 'w-1', commit: 'x' });
    await eventually(() => engine.rounds > 0, 'a round to start');
    const outcome = t.coordinator.nodes.operate(nodeRef('w-1'), { kind: 'restart-kubelet' }, { timeoutMs: 20_000 });
    machine.units.set('kubelet', { enabled: true, active: true });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(machine.calls, [], 'nothing runs beside the round');
    endRound();
    assert.equal((await outcome).ok, true);
    assert.deepEqual(machine.takeCalls(), ['systemctl daemon-reload', 'systemctl restart kubelet']);
  } finally {
    endRound(); // a failed assertion must not leave the round (and the stop) hanging
    await agent.stop();
  }
});

test('over gRPC: no result in time is an OperationTimeoutError', async () => {
  const error = await t.coordinator.nodes.operate(nodeRef('never-connects'), { kind: 'reboot' }, { timeoutMs: 200 }).catch((e: unknown) => e);
  assert.ok(error instanceof OperationTimeoutError, String(error));
  assert.equal(error.node, 'c1/never-connects');
});

test('neither side logged a config, a token or a kubeconfig', () => {
  const text = t.logs.text + agentLogs.map((l) => l.text).join('');
  assert.ok(t.logs.find('operation done').length >= 3, 'the coordinator logged the operations');
  assert.ok(agentLogs.some((l) => l.find('operation done').length > 0), 'the agents logged the operations');
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} appears in the logs`);
});
