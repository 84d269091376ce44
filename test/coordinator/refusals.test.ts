// Every way a caller can be refused on the mTLS services: each gets a clear status, the
// coordinator logs it, and nothing changes in the session registry.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, makeGenericClientConstructor, Metadata, status as Status, type ServiceError, type ChannelCredentials } from '@grpc/grpc-js';
import { enroll, type Credentials } from '@herd/agent';
import { createCA, issueClientCert } from '@herd/pki';
import { herdProto, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage__Output } from '@herd/proto';
import { createToken, startTestCoordinator, type TestCoordinator } from './harness.js';
import { eventually } from '../support.js';

let t: TestCoordinator;
let nodeA: Credentials;
const MAX = 64 * 1024;

before(async () => {
  t = await startTestCoordinator({ maxMessageBytes: MAX });
  const token = await createToken(t, { cluster: 'c1', nodeName: 'node-a' });
  nodeA = await enroll({ coordinator: t.address, token: token.token, caHash: token.caHash });
});
after(() => t.close());

const mtls = (c: { caPem: string; keyPem: string; certPem: string }) =>
  credentials.createSsl(Buffer.from(c.caPem), Buffer.from(c.keyPem), Buffer.from(c.certPem));
const tlsOnly = () => credentials.createSsl(Buffer.from(t.coordinator.caPem));

/** Opens a stream, sends `messages`, and resolves with how the coordinator ended it. */
function streamOutcome(creds: ChannelCredentials, messages: AgentMessage[]) {
  const client = new (herdProto().herd.v1.AgentSession)(t.address, creds);
  const call = client.Connect();
  const received: CoordinatorMessage__Output[] = [];
  call.on('data', (m: CoordinatorMessage__Output) => received.push(m));
  for (const m of messages) call.write(m);
  return new Promise<{ error: ServiceError; received: CoordinatorMessage__Output[] }>((resolve) => {
    call.on('error', (error: ServiceError) => { client.close(); resolve({ error, received }); });
  });
}

const hello = (nodeName: string, protocolVersion = PROTOCOL_VERSION): AgentMessage =>
  ({ hello: { protocolVersion, nodeName, agentVersion: 'test', heldGeneration: 0 } });

function lastRefusal(method: string) {
  return t.logs.find(method === 'Connect' ? 'stream refused' : 'request refused').filter((l) => l.method === method).at(-1);
}

test('AgentSession without a client certificate: UNAUTHENTICATED', async () => {
  const { error } = await streamOutcome(tlsOnly(), [hello('node-a')]);
  assert.equal(error.code, Status.UNAUTHENTICATED);
  assert.match(error.details, /client certificate/);
  assert.equal(lastRefusal('Connect')?.reason, 'no-client-certificate');
  assert.equal(t.coordinator.nodes.sessions().length, 0);
});

test('a client certificate from another CA is no certificate at all', async () => {
  const foreignCa = await createCA();
  const forged = await issueClientCert(foreignCa, { role: 'node', node: 'node-a', cluster: 'c1' });
  const { error } = await streamOutcome(mtls({ caPem: t.coordinator.caPem, ...forged }), [hello('node-a')]);
  assert.equal(error.code, Status.UNAUTHENTICATED);
});

test('Admin without a client certificate, and with an agent certificate, is refused', async () => {
  const call = (creds: ChannelCredentials) => new Promise<ServiceError>((resolve) => {
    const client = new (herdProto().herd.v1.Admin)(t.address, creds);
    client.GetStatus({}, { deadline: Date.now() + 5000 }, (error) => { client.close(); resolve(error!); });
  });
  assert.equal((await call(tlsOnly())).code, Status.UNAUTHENTICATED);
  const asAgent = await call(mtls(nodeA));
  assert.equal(asAgent.code, Status.PERMISSION_DENIED);
  assert.match(asAgent.details, /admin certificates only/);
  assert.equal(lastRefusal('GetStatus')?.reason, 'wrong-role');
});

test('the admin certificate cannot open an agent stream', async () => {
  const { admin } = await t.store.loadPki();
  const { error } = await streamOutcome(mtls({ caPem: t.coordinator.caPem, ...admin! }), [hello('admin')]);
  assert.equal(error.code, Status.PERMISSION_DENIED);
});

test('a certificate of node A reporting as node B is refused; nothing is recorded for either', async () => {
  const { error, received } = await streamOutcome(mtls(nodeA), [hello('node-b')]);
  assert.equal(error.code, Status.PERMISSION_DENIED);
  assert.match(error.details, /certificate is for node node-a/);
  assert.equal(received[0]?.refusal?.reason, 'identity-mismatch');
  assert.equal(lastRefusal('Connect')?.reason, 'identity-mismatch');
  assert.deepEqual(t.coordinator.nodes.sessions(), []);
});

test('an agent of an unsupported protocol version is refused', async () => {
  const { error, received } = await streamOutcome(mtls(nodeA), [hello('node-a', PROTOCOL_VERSION + 1)]);
  assert.equal(error.code, Status.FAILED_PRECONDITION);
  assert.match(error.details, /protocol version 2/);
  assert.equal(received[0]?.refusal?.reason, 'unsupported-protocol');
  assert.deepEqual(t.coordinator.nodes.sessions(), []);
});

test('the first message must be a hello', async () => {
  const { error } = await streamOutcome(mtls(nodeA), [{ heartbeat: { observedGeneration: 3 } }]);
  assert.equal(error.code, Status.INVALID_ARGUMENT);
  assert.deepEqual(t.coordinator.nodes.sessions(), []);
});

test('a message over the size limit ends the stream with RESOURCE_EXHAUSTED and is not recorded', async () => {
  const { error } = await streamOutcome(mtls(nodeA), [
    hello('node-a'),
    { status: { observedGeneration: 7, lastError: 'x'.repeat(MAX + 1) } },
  ]);
  assert.equal(error.code, Status.RESOURCE_EXHAUSTED);
  const [session] = t.coordinator.nodes.sessions();
  assert.equal(session?.observedGeneration, 0);
  assert.equal(session?.status, null);
  await eventually(() => !t.coordinator.nodes.sessions()[0]?.connected, 'the session to close');
  assert.match(String(t.logs.find('agent disconnected').at(-1)?.reason), /size limit/);
});

test('an enrollment request over the small unauthenticated limit (16 KiB) is refused before any handler runs, and logged', async () => {
  const before = await t.store.loadTokens();
  const ENROLL_MAX = 16 * 1024;
  const error = await new Promise<ServiceError>((resolve) => {
    const client = new (herdProto().herd.v1.Enrollment)(t.address, tlsOnly());
    client.Enroll({ token: 'abcdef.0123456789abcdef', csrPem: 'x'.repeat(ENROLL_MAX + 1), protocolVersion: PROTOCOL_VERSION },
      { deadline: Date.now() + 5000 }, (e) => { client.close(); resolve(e!); });
  });
  assert.equal(error.code, Status.RESOURCE_EXHAUSTED);
  const logged = await eventually(() => t.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.method === '/herd.v1.Enrollment/Enroll' && String(l.msg).startsWith('call ended before its first message')), 'the log line');
  assert.equal(logged.maxMessageBytes, ENROLL_MAX);
  assert.deepEqual(await t.store.loadTokens(), before);
});

test('a message that does not decode is refused and logged, on Enrollment and on AgentSession', async () => {
  const garbage = Buffer.from([0x0a, 0xff, 0xff]); // field 1, length-delimited, truncated length
  const Raw = makeGenericClientConstructor({
    Enroll: { path: '/herd.v1.Enrollment/Enroll', requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    Connect: { path: '/herd.v1.AgentSession/Connect', requestStream: true, responseStream: true,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
  }, 'Raw');
  const enrollError = await new Promise<ServiceError>((resolve) => {
    const client = new Raw(t.address, tlsOnly());
    client.makeUnaryRequest('/herd.v1.Enrollment/Enroll', (b: Buffer) => b, (b: Buffer) => b, garbage, new Metadata(), { deadline: Date.now() + 5000 },
      (error: ServiceError | null) => { client.close(); resolve(error!); });
  });
  assert.equal(enrollError.code, Status.INTERNAL);
  assert.match(enrollError.details, /deserializing/);
  const streamError = await new Promise<ServiceError>((resolve) => {
    const client = new Raw(t.address, mtls(nodeA));
    const call = client.makeBidiStreamRequest('/herd.v1.AgentSession/Connect', (b: Buffer) => b, (b: Buffer) => b);
    call.on('data', () => {});
    call.on('error', (error: ServiceError) => { client.close(); resolve(error); });
    call.write(garbage);
  });
  assert.equal(streamError.code, Status.INTERNAL);
  const logged = t.logs.find('malformed message refused').map((l) => l.method);
  assert.deepEqual(logged, ['/herd.v1.Enrollment/Enroll', '/herd.v1.AgentSession/Connect']);
});

test('a stream that sends no hello is closed after the hello timeout', async () => {
  const quick = await startTestCoordinator({ helloTimeoutMs: 200 });
  try {
    const token = await createToken(quick, { cluster: 'c1', nodeName: 'mute' });
    const mute = await enroll({ coordinator: quick.address, token: token.token, caHash: token.caHash });
    const error = await new Promise<ServiceError>((resolve) => {
      const client = new (herdProto().herd.v1.AgentSession)(quick.address, mtls(mute));
      const call = client.Connect();
      call.on('data', () => {});
      call.on('error', (e: ServiceError) => { client.close(); resolve(e); });
    });
    assert.equal(error.code, Status.DEADLINE_EXCEEDED);
    assert.match(error.details, /no hello within 200 ms/);
    assert.deepEqual(quick.coordinator.nodes.sessions(), []);
  } finally {
    await quick.close();
  }
});
