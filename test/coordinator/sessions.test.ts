// The session registry without sockets: generations, fan-out past a stalled stream, heartbeat timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionRegistry, type SessionSink } from '@herd/coordinator';
import { PROTOCOL_VERSION, type CoordinatorMessage, type Hello__Output } from '@herd/proto';
import { MetricsRegistry, silentLogger } from '@herd/sys';
import { FakeClock } from '../support.js';

/** Records what a session sent; `stalled` never confirms a write, like a peer that stopped reading. */
class RecordingSink implements SessionSink {
  readonly sent: CoordinatorMessage[] = [];
  constructor(private readonly stalled = false) {}
  write(message: CoordinatorMessage, done: () => void) {
    this.sent.push(message);
    if (!this.stalled) queueMicrotask(done);
  }
  get generations() { return this.sent.map((m) => Number(m.assignment?.generation)); }
}

const hello = (nodeName: string, heldGeneration = 0, heldEpoch = ''): Hello__Output =>
  ({ protocolVersion: PROTOCOL_VERSION, nodeName, agentVersion: 'test', heldGeneration, heldEpoch, facts: null });
const spec = (commit: string) => ({ commit });
const tick = () => new Promise((r) => setImmediate(r));

function registry(clock = new FakeClock()) {
  return new SessionRegistry({ clock, logger: silentLogger(), heartbeatTimeoutMs: 30_000 });
}

test('generations rise per node; an assignment made while disconnected is sent on hello', async () => {
  const nodes = registry();
  const a = { cluster: 'c', node: 'a' };
  assert.equal(nodes.assign(a, spec('one')), 1);
  assert.equal(nodes.assign(a, spec('two')), 2);
  assert.equal(nodes.assign({ cluster: 'c', node: 'b' }, spec('one')), 1);
  const sink = new RecordingSink();
  nodes.open(a, hello('a'), sink);
  await tick();
  assert.deepEqual(sink.generations, [2], 'only the newest assignment is sent');
});

test('after a coordinator restart generations continue above what the agent holds', async () => {
  const nodes = registry();
  const a = { cluster: 'c', node: 'a' };
  nodes.assign(a, spec('rebuilt'));
  const sink = new RecordingSink();
  nodes.open(a, hello('a', 5), sink);
  await tick();
  assert.deepEqual(sink.generations, [6]);
  assert.equal(nodes.assign(a, spec('next')), 7);
  // An agent that already holds the newest generation (of this coordinator) is not sent it again.
  const again = new RecordingSink();
  nodes.open(a, hello('a', 7, nodes.epoch), again);
  await tick();
  assert.deepEqual(again.generations, []);
});

test('after a coordinator restart its assignment supersedes the one the agent holds, even at the same generation', async () => {
  const before = registry();
  const a = { cluster: 'c', node: 'a' };
  assert.equal(before.assign(a, spec('old')), 1);
  const after = registry();
  assert.notEqual(after.epoch, before.epoch);
  assert.equal(after.assign(a, spec('new')), 1, 'a new coordinator numbers from 1');
  const sink = new RecordingSink();
  after.open(a, hello('a', 1, before.epoch), sink);
  await tick();
  assert.deepEqual(sink.generations, [2], 'renumbered above what the agent holds, and sent');
});

test('fan-out: a stalled stream holds one message in flight and only the newest pending; the others get everything', async () => {
  const nodes = registry();
  const sinks = Array.from({ length: 50 }, (_, i) => {
    const sink = new RecordingSink(i === 7);
    nodes.open({ cluster: 'c', node: `n${i}` }, hello(`n${i}`), sink);
    return sink;
  });
  for (let round = 1; round <= 20; round++) {
    for (let i = 0; i < sinks.length; i++) nodes.assign({ cluster: 'c', node: `n${i}` }, spec(`r${round}`));
    await tick();
  }
  for (const [i, sink] of sinks.entries()) {
    if (i === 7) assert.deepEqual(sink.generations, [1], 'the stalled stream got only the first');
    else assert.equal(sink.generations.at(-1), 20);
  }
});

test('a node not heard from within the heartbeat timeout is unreachable; any message makes it reachable again', () => {
  const clock = new FakeClock();
  const nodes = registry(clock);
  const a = { cluster: 'c', node: 'a' };
  const handle = nodes.open(a, hello('a'), new RecordingSink());
  clock.advance(29_000);
  handle.receive({ heartbeat: { observedGeneration: 0 }, body: 'heartbeat' });
  clock.advance(29_000);
  assert.equal(nodes.sessions()[0]!.unreachable, false);
  clock.advance(2_000);
  const [s] = nodes.sessions();
  assert.equal(s!.unreachable, true);
  assert.equal(s!.connected, true, 'the stream may still look open: unreachable is about silence');
  handle.receive({ heartbeat: { observedGeneration: 0 }, body: 'heartbeat' });
  assert.equal(nodes.sessions()[0]!.unreachable, false);
});

test('status, acks and disconnects are recorded and emitted', () => {
  const nodes = registry();
  const a = { cluster: 'c', node: 'a' };
  const events: string[] = [];
  nodes.on('ack', (_, g) => events.push(`ack ${g}`));
  nodes.on('status', (_, s) => events.push(`status ${s.observedGeneration}`));
  nodes.on('disconnect', () => events.push('disconnect'));
  const handle = nodes.open(a, hello('a'), new RecordingSink());
  nodes.assign(a, spec('x'));
  handle.receive({ ack: { generation: 1 }, body: 'ack' });
  handle.receive({ status: { observedGeneration: 1, commit: 'x', conditions: [], driftCorrected: [], lastError: '', rebootRequired: false, lastRoundTime: '', dryRun: false, actions: [] }, body: 'status' });
  handle.close('test');
  assert.deepEqual(events, ['ack 1', 'status 1', 'disconnect']);
  const [s] = nodes.sessions();
  assert.equal(s!.observedGeneration, 1);
  assert.equal(s!.connected, false);
  assert.equal(nodes.ackedGeneration(a), 1);
});

test('metrics: agents connected by cluster, and the fan-out of the newest assignment from assign() to its ack', async () => {
  const clock = new FakeClock();
  const metrics = new MetricsRegistry();
  const nodes = new SessionRegistry({ clock, logger: silentLogger(), heartbeatTimeoutMs: 30_000, metrics });
  const series = () => metrics.render().split('\n').filter((l) => /^herd_(agents_connected|assignment_fanout_seconds_(sum|count))/.test(l));
  const a = { cluster: 'c', node: 'a' };
  // Assigned while the agent is away: the wait counts, it is what an operator waits for.
  nodes.assign(a, spec('one'));
  clock.advance(1_000);
  nodes.assign(a, spec('two')); // replaces one before it was delivered: only two is measured
  clock.advance(1_500);
  const session = nodes.open(a, hello('a'), new RecordingSink());
  nodes.open({ cluster: 'd', node: 'b' }, hello('b'), new RecordingSink()).close('gone');
  await tick();
  assert.deepEqual(series(), ['herd_agents_connected{cluster="c"} 1', 'herd_agents_connected{cluster="d"} 0',
    'herd_assignment_fanout_seconds_sum 0', 'herd_assignment_fanout_seconds_count 0']);
  session.receive({ body: 'ack', ack: { generation: 1 } }); // an older generation: not the one measured
  clock.advance(500);
  session.receive({ body: 'ack', ack: { generation: 2 } });
  session.receive({ body: 'ack', ack: { generation: 2 } }); // a repeat is not counted twice
  assert.deepEqual(series().slice(2), ['herd_assignment_fanout_seconds_sum 2', 'herd_assignment_fanout_seconds_count 1']);
  assert.ok(metrics.render().includes('herd_assignment_fanout_seconds_bucket{le="2.5"} 1\n'));
  assert.ok(metrics.render().includes('herd_assignment_fanout_seconds_bucket{le="1"} 0\n'));
  session.close('done');
  assert.deepEqual(series().slice(0, 1), ['herd_agents_connected{cluster="c"} 0']);
});
