// One live identity per node, against a real coordinator: an enrolled name cannot be taken
// with a token that was not made for it; a token made for it re-enrolls the node and the
// old certificate stops being accepted (also after a restart); status shows the replacement.
// And an agent cannot claim a generation it was never assigned.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { connectAdmin } from '@herd/coordinator';
import { enroll, EnrollmentRefused, type Credentials } from '@herd/agent';
import { herdProto, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage__Output } from '@herd/proto';
import { createToken, startTestCoordinator, type TestCoordinator } from './harness.js';
import { eventually } from '../support.js';

const HERD = join(import.meta.dirname, '../../packages/cli/dist/main.js');
let t: TestCoordinator;
before(async () => { t = await startTestCoordinator(); });
after(() => t.close());

const mtls = (c: Credentials) => credentials.createSsl(Buffer.from(c.caPem), Buffer.from(c.keyPem), Buffer.from(c.certPem));

/** A real agent stream: send messages, collect what comes back, and how it ended. */
function openStream(creds: Credentials) {
  const client = new (herdProto().herd.v1.AgentSession)(t.address, mtls(creds));
  const call = client.Connect();
  const received: CoordinatorMessage__Output[] = [];
  call.on('data', (m: CoordinatorMessage__Output) => received.push(m));
  const ended = new Promise<ServiceError>((resolve) => call.on('error', (error: ServiceError) => { client.close(); resolve(error); }));
  return { received, ended, write: (m: AgentMessage) => call.write(m), close: () => { call.end(); client.close(); } };
}

const hello = (nodeName: string, heldGeneration: number | string = 0, heldEpoch = ''): AgentMessage =>
  ({ hello: { protocolVersion: PROTOCOL_VERSION, nodeName, agentVersion: 'test', heldGeneration, heldEpoch } });

async function status(node: string) {
  const admin = await connectAdmin({ address: t.address, store: t.store });
  try { return (await admin.status()).nodes.find((n) => n.nodeName === node); } finally { admin.close(); }
}

const refusedWith = (code: Status, reason: string) => (e: unknown) => e instanceof EnrollmentRefused && e.code === code && e.reason === reason;

test('an enrolled name is refused to a token not made for it; the token stays unused', async () => {
  const first = await createToken(t, { cluster: 'c1', nodeName: 'node-a' });
  await enroll({ coordinator: t.address, token: first.token, caHash: first.caHash });
  const open = await createToken(t, { cluster: 'c1' });
  await assert.rejects(enroll({ coordinator: t.address, token: open.token, caHash: open.caHash, node: 'node-a' }),
    refusedWith(Status.ALREADY_EXISTS, 'node-already-enrolled'));
  assert.equal(t.logs.find('request refused').at(-1)?.reason, 'node-already-enrolled');
  const record = (await t.store.loadTokens()).find((r) => open.token.startsWith(`${r.id}.`));
  assert.equal(record?.used, false);
  // The same token still enrolls a name nobody holds, and the same name in another cluster is another node.
  const other = await enroll({ coordinator: t.address, token: open.token, caHash: open.caHash, node: 'node-b' });
  assert.equal(other.node, 'node-b');
  const elsewhere = await createToken(t, { cluster: 'c2' });
  assert.equal((await enroll({ coordinator: t.address, token: elsewhere.token, caHash: elsewhere.caHash, node: 'node-a' })).cluster, 'c2');
});

test('two open tokens racing for one new name: exactly one wins', async () => {
  const [x, y] = await Promise.all([createToken(t, { cluster: 'c1' }), createToken(t, { cluster: 'c1' })]);
  const results = await Promise.allSettled([x!, y!].map((c) => enroll({ coordinator: t.address, token: c.token, caHash: c.caHash, node: 'racer' })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.ok(refusedWith(Status.ALREADY_EXISTS, 'node-already-enrolled')(lost.reason));
});

test('a token made for the node re-enrolls it: the old certificate is cut off, also after a restart, and status shows it', async () => {
  const first = await createToken(t, { cluster: 'c1', nodeName: 'lost' });
  const old = await enroll({ coordinator: t.address, token: first.token, caHash: first.caHash });
  const live = openStream(old);
  live.write(hello('lost'));
  await eventually(async () => (await status('lost'))?.connected, 'the old identity connected');
  assert.equal((await status('lost'))?.identityGeneration, 1);
  assert.equal((await status('lost'))?.identityReplacedAt, '');

  const again = await createToken(t, { cluster: 'c1', nodeName: 'lost' });
  const fresh = await enroll({ coordinator: t.address, token: again.token, caHash: again.caHash });
  // The stream of the replaced certificate is ended at once, with the reason.
  const ended = await live.ended;
  assert.equal(ended.code, Status.UNAUTHENTICATED);
  assert.equal(live.received.at(-1)?.refusal?.reason, 'identity-replaced');
  assert.ok(t.logs.find('node re-enrolled: its previous certificate is no longer accepted').length === 1);

  const tryOld = async () => {
    const stream = openStream(old);
    stream.write(hello('lost'));
    const error = await stream.ended;
    return { code: error.code, reason: stream.received.at(-1)?.refusal?.reason };
  };
  assert.deepEqual(await tryOld(), { code: Status.UNAUTHENTICATED, reason: 'identity-replaced' });
  const current = openStream(fresh);
  current.write(hello('lost'));
  await eventually(async () => (await status('lost'))?.connected, 'the new identity connected');
  const shown = (await status('lost'))!;
  assert.equal(shown.identityGeneration, 2);
  assert.ok(Date.parse(shown.identityReplacedAt) > 0, `replacedAt ${shown.identityReplacedAt}`);
  current.close();

  await t.stop();
  await t.restart();
  assert.deepEqual(await tryOld(), { code: Status.UNAUTHENTICATED, reason: 'identity-replaced' });
  const after = openStream(fresh);
  after.write(hello('lost'));
  await eventually(async () => (await status('lost'))?.connected, 'the new identity connected after a restart');
  assert.equal((await status('lost'))?.identityGeneration, 2);
  // `herd status` says so too.
  // (Asynchronously: the coordinator answering it runs in this process.)
  const cli = await promisify(execFile)(process.execPath, [HERD, 'status', '--coordinator', t.address, '--state', t.stateDir], { encoding: 'utf8' });
  assert.match(cli.stdout, new RegExp(`\\nc1/lost: identity replaced at ${shown.identityReplacedAt.replaceAll('.', '\\.')} \\(identity 2\\)`));
  after.close();
});

test('a heartbeat, status or ack above the assigned generation is refused and never stored', async () => {
  const created = await createToken(t, { cluster: 'c1', nodeName: 'liar' });
  const creds = await enroll({ coordinator: t.address, token: created.token, caHash: created.caHash });
  const ref = { cluster: 'c1', node: 'liar' };
  const claim = async (message: AgentMessage) => {
    const stream = openStream(creds);
    stream.write(hello('liar', t.coordinator.nodes.ackedGeneration(ref), t.coordinator.nodes.epoch));
    await eventually(() => t.coordinator.nodes.isConnected(ref), 'connected');
    stream.write(message);
    const error = await stream.ended;
    return { code: error.code, reason: stream.received.at(-1)?.refusal?.reason };
  };
  const refused = { code: Status.INVALID_ARGUMENT, reason: 'generation-out-of-range' };
  assert.deepEqual(await claim({ heartbeat: { observedGeneration: '9223372036854775807' } }), refused);
  assert.deepEqual(await claim({ status: { observedGeneration: 1 } }), refused);
  assert.deepEqual(await claim({ ack: { generation: 1 } }), refused);
  assert.equal((await status('liar'))?.observedGeneration, 0);

  // Once generation 1 is assigned, 1 is accepted and 2 is not.
  const generation = t.coordinator.nodes.assign(ref, {});
  const stream = openStream(creds);
  stream.write(hello('liar', 0, t.coordinator.nodes.epoch));
  await eventually(() => stream.received.find((m) => m.assignment), 'the assignment');
  stream.write({ ack: { generation } });
  stream.write({ heartbeat: { observedGeneration: generation } });
  await eventually(async () => (await status('liar'))?.observedGeneration === generation, 'observed generation 1');
  stream.write({ heartbeat: { observedGeneration: generation + 1 } });
  assert.equal((await stream.ended).code, Status.INVALID_ARGUMENT);
  assert.equal((await status('liar'))?.observedGeneration, generation);

  // A Hello claiming to hold more than this coordinator assigned is refused too.
  assert.deepEqual(await (async () => {
    const s = openStream(creds);
    s.write(hello('liar', generation + 5, t.coordinator.nodes.epoch));
    const error = await s.ended;
    return { code: error.code, reason: s.received.at(-1)?.refusal?.reason };
  })(), refused);
});
