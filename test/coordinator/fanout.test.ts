// Real streams: fan-out while one agent has stopped reading (the others get every
// assignment, the stalled stream only the newest once it reads again); heartbeat timeout.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { issueClientCert } from '@herd/pki';
import { herdProto, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage__Output } from '@herd/proto';
import { startTestCoordinator, type TestCoordinator } from './harness.js';
import { eventually, FakeClock } from '../support.js';

let t: TestCoordinator;
const clock = new FakeClock();
const closers: (() => void)[] = [];
before(async () => { t = await startTestCoordinator({ clock, heartbeatTimeoutMs: 30_000 }); });
after(async () => {
  for (const close of closers) close();
  await t.close();
});

/** A minimal agent on a real mTLS stream; `reading: false` never consumes what it is sent. */
async function streamFor(node: string, reading: boolean) {
  const { ca } = await t.store.loadPki();
  const cert = await issueClientCert(ca!, { role: 'node', node, cluster: 'c' });
  const client = new (herdProto().herd.v1.AgentSession)(t.address,
    credentials.createSsl(Buffer.from(ca!.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem)),
    { 'grpc.use_local_subchannel_pool': 1 });
  const stream: ClientDuplexStream<AgentMessage, CoordinatorMessage__Output> = client.Connect();
  closers.push(() => { stream.cancel(); client.close(); });
  const received: number[] = [];
  const onData = (m: CoordinatorMessage__Output) => {
    if (!m.assignment) return;
    received.push(m.assignment.generation);
    stream.write({ ack: { generation: m.assignment.generation } });
  };
  if (reading) stream.on('data', onData);
  stream.on('error', () => {});
  stream.write({ hello: { protocolVersion: PROTOCOL_VERSION, nodeName: node, agentVersion: 'test', heldGeneration: 0 } });
  return { ref: { cluster: 'c', node }, received, resume: () => stream.on('data', onData), write: (m: AgentMessage) => stream.write(m) };
}

test('one stalled stream does not hold back the others, and is sent only the newest assignment', async () => {
  const live = await Promise.all(Array.from({ length: 20 }, (_, i) => streamFor(`live-${i}`, true)));
  const stalled = await streamFor('stalled', false);
  await eventually(() => t.coordinator.nodes.sessions().filter((s) => s.connected).length === 21, 'every stream to connect');
  // 64 KiB per spec: the stalled stream's flow-control window fills within the first few.
  const big = 'x'.repeat(64 * 1024);
  const ROUNDS = 40;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const a of [...live, stalled]) {
      t.coordinator.nodes.assign(a.ref, { hostname: a.ref.node, commit: `r${round}`, files: [{ path: '/etc/big', content: big }] });
    }
    await new Promise((r) => setImmediate(r));
  }
  await eventually(() => live.every((a) => t.coordinator.nodes.ackedGeneration(a.ref) === ROUNDS), 'every live agent to ack the last round');
  assert.equal(t.coordinator.nodes.ackedGeneration(stalled.ref), 0);

  stalled.resume();
  await eventually(() => t.coordinator.nodes.ackedGeneration(stalled.ref) === ROUNDS, 'the stalled agent to catch up');
  assert.ok(stalled.received.length < ROUNDS / 2, `the stalled stream was sent ${stalled.received.length} of ${ROUNDS} assignments`);
  assert.equal(stalled.received.at(-1), ROUNDS);
});

test('an agent silent for longer than the heartbeat timeout is unreachable though its stream is open', async () => {
  const quiet = await streamFor('quiet', true);
  const state = () => t.coordinator.nodes.sessions().find((s) => s.nodeName === 'quiet');
  await eventually(() => state()?.connected, 'the stream to connect');
  clock.advance(30_001);
  assert.deepEqual([state()!.connected, state()!.unreachable], [true, true]);
  quiet.write({ heartbeat: { observedGeneration: 0 } });
  await eventually(() => state()?.unreachable === false, 'the heartbeat to make it reachable again');
});
