import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CAHashMismatch, enroll, EnrollmentRefused } from '@herd/agent';
import { credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { caHash, createCA, createCsr, identityOf } from '@herd/pki';
import { herdProto, PROTOCOL_VERSION } from '@herd/proto';
import { createToken, startTestCoordinator, type TestCoordinator } from './harness.js';
import { FakeClock } from '../support.js';

const clock = new FakeClock();
let t: TestCoordinator;
before(async () => { t = await startTestCoordinator({ clock }); });
after(() => t.close());

const tokensFile = () => readFile(join(t.stateDir, 'tokens.json'), 'utf8');

test('a token and the CA hash enroll an agent; the certificate carries node and cluster', async () => {
  const created = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-1' });
  assert.match(created.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  assert.equal(created.caHash, t.coordinator.caHash);
  const creds = await enroll({ coordinator: t.address, token: created.token, caHash: created.caHash });
  assert.deepEqual(identityOf(creds.certPem), { role: 'node', node: 'web-1', cluster: 'prod-eu' });
  assert.equal(creds.caPem, t.coordinator.caPem);
  assert.equal(caHash(creds.caPem), created.caHash);
  // Stored hashed: the secret half is nowhere in the state directory.
  assert.ok(!(await tokensFile()).includes(created.token.split('.')[1]!));
});

test('a token used twice is refused the second time, with a log line and without the secret in it', async () => {
  const created = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-2' });
  await enroll({ coordinator: t.address, token: created.token, caHash: created.caHash });
  const before = await tokensFile();
  await assert.rejects(enroll({ coordinator: t.address, token: created.token, caHash: created.caHash }),
    (e: unknown) => e instanceof EnrollmentRefused && /already used/.test(e.message));
  assert.equal(await tokensFile(), before);
  const refusal = t.logs.find('request refused').at(-1)!;
  assert.equal(refusal.reason, 'token-used');
  assert.ok(!t.logs.text.includes(created.token.split('.')[1]!), 'the token secret must never be logged');
});

test('an expired token is refused and stays unused', async () => {
  const created = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-3', ttlSeconds: 60 });
  clock.advance(61_000);
  const before = await tokensFile();
  await assert.rejects(enroll({ coordinator: t.address, token: created.token, caHash: created.caHash }),
    (e: unknown) => e instanceof EnrollmentRefused && /expired/.test(e.message));
  assert.equal(await tokensFile(), before);
  assert.equal(t.logs.find('request refused').at(-1)!.reason, 'token-expired');
});

test('a wrong CA hash stops the agent before it sends the token', async () => {
  const created = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-4' });
  const otherHash = caHash((await createCA()).certPem);
  const logged = t.logs.lines.length;
  await assert.rejects(enroll({ coordinator: t.address, token: created.token, caHash: otherHash }),
    (e: unknown) => e instanceof CAHashMismatch && e.message.includes(otherHash));
  assert.deepEqual(t.logs.lines.slice(logged).filter((l) => l.includes('Enroll')), [], 'no Enroll call reached the coordinator');
  // The token is still good.
  const creds = await enroll({ coordinator: t.address, token: created.token, caHash: created.caHash });
  assert.equal(creds.node, 'web-4');
});

test('a token for one node cannot enroll another name; without a node the hostname or --node decides', async () => {
  const forWeb5 = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-5' });
  await assert.rejects(enroll({ coordinator: t.address, token: forWeb5.token, caHash: forWeb5.caHash, node: 'db-1' }), /is for node web-5/);
  const open = await createToken(t, { cluster: 'staging' });
  const creds = await enroll({ coordinator: t.address, token: open.token, caHash: open.caHash, node: 'db-1' });
  assert.deepEqual(identityOf(creds.certPem), { role: 'node', node: 'db-1', cluster: 'staging' });
});

test('an unknown or malformed token is refused', async () => {
  await assert.rejects(enroll({ coordinator: t.address, token: 'abcdef.0123456789abcdef', caHash: t.coordinator.caHash }), /not known/);
  await assert.rejects(enroll({ coordinator: t.address, token: 'nonsense', caHash: t.coordinator.caHash }), /malformed/);
});

test('an agent of another protocol version cannot enroll, and its token stays good', async () => {
  const created = await createToken(t, { cluster: 'prod-eu', nodeName: 'web-6' });
  const before = await tokensFile();
  const { csrPem } = await createCsr('web-6');
  const error = await new Promise<ServiceError>((resolve) => {
    const client = new (herdProto().herd.v1.Enrollment)(t.address, credentials.createSsl(Buffer.from(t.coordinator.caPem)));
    client.Enroll({ token: created.token, csrPem, protocolVersion: PROTOCOL_VERSION + 1 }, { deadline: Date.now() + 5000 },
      (e) => { client.close(); resolve(e!); });
  });
  assert.equal(error.code, Status.FAILED_PRECONDITION);
  assert.match(error.details, /protocol version 2/);
  assert.equal(await tokensFile(), before);
  assert.equal(t.logs.find('request refused').at(-1)!.reason, 'unsupported-protocol');
});

test('the coordinator is verified by its TLS name, not by the address an agent dials', async () => {
  // Listening on every address, its certificate names the interfaces it had at start;
  // 127.0.0.2 reaches the same loopback but is not among them, like a bridge made later.
  const wide = await startTestCoordinator({ host: '0.0.0.0' });
  try {
    const port = wide.address.split(':')[1];
    const created = await createToken(wide, { cluster: 'c', nodeName: 'late-1' });
    const creds = await enroll({ coordinator: `127.0.0.2:${port}`, token: created.token, caHash: created.caHash });
    assert.equal(creds.node, 'late-1');
  } finally {
    await wide.close();
  }
});
