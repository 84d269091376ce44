// The agent's operations with a scripted machine (FakeMachine) and an in-memory etcd: the
// commands of every kind in order, idempotency, results persisted before they are sent and
// answered from the store on re-send, one at a time and never beside a converge round.
// The etcd gateway itself is checked against a mutual-TLS server and a real etcd on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import {
  AgentState, httpsEtcdGateway, listMembers, Mutex, OperationRunner, redactSecrets, removeMember, type EtcdGateway,
} from '@herd/agent';
import { createCA, issueClientCert, issueServerCert } from '@herd/pki';
import { OPERATIONS, type OperationResult } from '@herd/proto';
import { createLogger, nodeFileSystem, type Executor, type Logger } from '@herd/sys';
import { FakeMachine } from '../converge/fakes.js';
import { FakeClock } from '../support.js';
import { LogCapture } from '../coordinator/harness.js';
import { apiServerBinaries } from '../kube/apiserver.js';

const CONFIG = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n';
const KUBECONFIG = 'apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: c2VjcmV0LWFkbWluLWtleQ==\n';
const CERT_KEY = 'f'.repeat(64);

/** etcd's member API in memory, answering like the JSON gateway (uint64 ids as strings). */
class FakeEtcd implements EtcdGateway {
  readonly requests: string[] = [];
  members = [
    { ID: '10276657743932975437', name: 'cp-1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'] },
    { ID: '9372538179322589801', name: 'cp-2', peerURLs: ['https://10.0.0.2:2380'], clientURLs: ['https://10.0.0.2:2379'] },
  ];
  async post(path: string, body: string) {
    this.requests.push(`${path} ${body}`);
    if (path === '/v3/cluster/member/list') return JSON.stringify({ header: { cluster_id: '1' }, members: this.members });
    if (path === '/v3/cluster/member/remove') {
      const { ID } = JSON.parse(body) as { ID: string };
      this.members = this.members.filter((m) => m.ID !== ID);
      return JSON.stringify({ header: {}, members: this.members });
    }
    throw new Error(`FakeEtcd: unexpected ${path}`);
  }
}

/** A result as the runner sends it: every field set. */
type Answer = Required<Pick<OperationResult, 'id' | 'ok' | 'message'>> & { outputs: Record<string, string> };

function setup(options: { dryRun?: boolean; logger?: Logger; lock?: Mutex } = {}) {
  const machine = new FakeMachine();
  machine.units.set('kubelet', { enabled: true, active: true });
  // kubeadm as far as the node's files show it: init writes admin.conf, join kubelet.conf.
  machine.script('kubeadm', (args) => {
    if (args[0] === 'init' && args[1] === '--config') machine.fs.put('/etc/kubernetes/admin.conf', KUBECONFIG);
    if (args[0] === 'join') machine.fs.put('/etc/kubernetes/kubelet.conf', 'kubelet');
    if (args[0] === 'reset') for (const path of [...machine.fs.files.keys()]) if (path.startsWith('/etc/kubernetes/')) machine.fs.files.delete(path);
    return undefined;
  });
  const etcd = new FakeEtcd();
  const state = new AgentState(machine.fs, '/var/lib/herd-agent');
  const lock = options.lock ?? new Mutex();
  const logs = new LogCapture();
  const logger = options.logger ?? createLogger({ name: 'herd-agent', level: 'debug', destination: logs });
  const clock = new FakeClock({ start: Date.parse('2026-01-01T00:00:00Z'), sleep: 'advances' });
  const events: string[] = [];
  /** Awaited before every command: lets a test make one take time. */
  const hooks = { beforeExec: async (_command: string) => {} };
  const exec: Executor = { run: async (command, args, opts) => { await hooks.beforeExec(command); return machine.exec.run(command, args, opts); } };
  const runner = () => new OperationRunner({ env: { exec, fs: machine.fs, etcd }, store: state, lock, logger, clock, dryRun: options.dryRun });
  let current = runner();
  const sent: OperationResult[] = [];
  const send = async (result: OperationResult) => { events.push(`send ${result.id}`); sent.push(result); };
  const operate = async (kind: string, args: Record<string, string> = {}, id = `${kind}-${sent.length}`) => {
    await current.handle({ id, kind, args }, send);
    return sent.at(-1)! as Answer;
  };
  return { hooks, machine, etcd, state, lock, logs, clock, events, sent, operate, restart: () => { current = runner(); }, handle: (...a: Parameters<OperationRunner['handle']>) => current.handle(...a) };
}

test('kubeadm-init writes the config 0600, validates it, runs init and returns the admin kubeconfig; a second init only reads it', async () => {
  const w = setup();
  const result = await w.operate('kubeadm-init', { config: CONFIG });
  assert.equal(result.ok, true, result.message);
  assert.deepEqual(w.machine.takeCalls(), [
    'kubeadm config validate --config /etc/herd/kubeadm/init.yaml',
    'kubeadm init --config /etc/herd/kubeadm/init.yaml --upload-certs',
  ]);
  const file = w.machine.fs.files.get('/etc/herd/kubeadm/init.yaml')!;
  assert.equal(file.content, CONFIG);
  assert.equal(file.mode, 0o600);
  assert.deepEqual(result.outputs, { kubeconfig: KUBECONFIG });

  const again = await w.operate('kubeadm-init', { config: CONFIG });
  assert.deepEqual([again.ok, again.message, again.outputs], [true, 'already initialized', { kubeconfig: KUBECONFIG }]);
  assert.deepEqual(w.machine.takeCalls(), [], 'admin.conf exists: nothing runs');
});

test('a config kubeadm refuses stops before init; the message has its stderr, never the config text', async () => {
  const w = setup();
  w.machine.script('kubeadm', (args) => (args[0] === 'config'
    ? { exitCode: 1, stderr: 'W0101 some warning\nerror: invalid bootstrap token "abcdef.0123456789abcdef": strict decoding error\n' }
    : undefined));
  const result = await w.operate('kubeadm-init', { config: CONFIG });
  assert.equal(result.ok, false);
  assert.match(result.message, /kubeadm-init failed: kubeadm config validate --config \/etc\/herd\/kubeadm\/init.yaml: exited 1: .*strict decoding error/s);
  assert.doesNotMatch(result.message, /0123456789abcdef/);
  assert.deepEqual(w.machine.takeCalls(), ['kubeadm config validate --config /etc/herd/kubeadm/init.yaml']);
  assert.doesNotMatch(w.logs.text, /0123456789abcdef|InitConfiguration/);
});

test('kubeadm-join runs join with its validated config, and answers "already joined" once kubelet.conf exists', async () => {
  const w = setup();
  const config = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n';
  assert.equal((await w.operate('kubeadm-join', { config })).ok, true);
  assert.deepEqual(w.machine.takeCalls(), [
    'kubeadm config validate --config /etc/herd/kubeadm/join.yaml',
    'kubeadm join --config /etc/herd/kubeadm/join.yaml',
  ]);
  const again = await w.operate('kubeadm-join', { config });
  assert.deepEqual([again.ok, again.message], [true, 'already joined']);
  assert.deepEqual(w.machine.takeCalls(), []);
});

test('kubeadm-upload-certs uploads with the node\'s InitConfiguration (which carries the key); the key never reaches a message or a log', async () => {
  const w = setup();
  const config = `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\ncertificateKey: ${CERT_KEY}\n`;
  w.machine.script('kubeadm', (args) => (args[0] === 'init' ? { exitCode: 1, stdout: `[upload-certs] Using certificate key:\n${CERT_KEY}\n`, stderr: '' } : undefined));
  const failed = await w.operate('kubeadm-upload-certs', { config });
  assert.deepEqual(w.machine.takeCalls(), [
    'kubeadm config validate --config /etc/herd/kubeadm/upload-certs.yaml',
    'kubeadm init phase upload-certs --upload-certs --config /etc/herd/kubeadm/upload-certs.yaml',
  ]);
  assert.equal(failed.ok, false);
  assert.doesNotMatch(failed.message + w.logs.text, new RegExp(CERT_KEY));
  assert.match(failed.message, /\[redacted\]/);
  const missing = await w.operate('kubeadm-upload-certs', {});
  assert.match(missing.message, /kubeadm-upload-certs needs the argument config/);
  assert.deepEqual(w.machine.takeCalls(), []);
});

test('kubeadm-upgrade: apply on the first control plane, node on the others; another mode runs nothing', async () => {
  const w = setup();
  const config = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\n';
  assert.equal((await w.operate('kubeadm-upgrade', { mode: 'apply', config })).ok, true);
  assert.equal((await w.operate('kubeadm-upgrade', { mode: 'node', config })).ok, true);
  assert.deepEqual(w.machine.takeCalls(), [
    'kubeadm config validate --config /etc/herd/kubeadm/upgrade.yaml',
    'kubeadm upgrade apply --config /etc/herd/kubeadm/upgrade.yaml --yes',
    'kubeadm config validate --config /etc/herd/kubeadm/upgrade.yaml',
    'kubeadm upgrade node --config /etc/herd/kubeadm/upgrade.yaml',
  ]);
  const bad = await w.operate('kubeadm-upgrade', { mode: 'plan', config });
  assert.equal(bad.ok, false);
  assert.match(bad.message, /mode must be "apply" or "node", got "plan"/);
  assert.deepEqual(w.machine.takeCalls(), []);
});

test('restart-kubelet reloads systemd, then restarts the kubelet', async () => {
  const w = setup();
  assert.equal((await w.operate('restart-kubelet')).ok, true);
  assert.deepEqual(w.machine.takeCalls(), ['systemctl daemon-reload', 'systemctl restart kubelet']);
  w.machine.units.get('kubelet')!.failStart = true;
  const failed = await w.operate('restart-kubelet');
  assert.equal(failed.ok, false);
  assert.match(failed.message, /Job for kubelet failed/);
});

test("a kind's commands share its timeout from OPERATIONS: each gets what is left, and none starts once it ran out", async () => {
  const w = setup();
  const timeouts: number[] = [];
  w.hooks.beforeExec = async () => { w.clock.advance(OPERATIONS['restart-kubelet'].timeoutMs / 2 + 1); };
  const exec = w.machine.exec.run.bind(w.machine.exec);
  w.machine.exec.run = (command, args, opts) => { timeouts.push(opts?.timeoutMs ?? 0); return exec(command, args, opts); };
  const result = await w.operate('restart-kubelet');
  assert.equal(result.ok, true, result.message);
  assert.deepEqual(timeouts, [OPERATIONS['restart-kubelet'].timeoutMs, OPERATIONS['restart-kubelet'].timeoutMs / 2 - 1]);
  w.hooks.beforeExec = async () => { w.clock.advance(OPERATIONS['restart-kubelet'].timeoutMs); };
  const late = await w.operate('restart-kubelet');
  assert.equal(late.ok, false);
  assert.match(late.message, /restart-kubelet ran out of its 120 s/);
});

test('kubeadm-reset resets a node that has /etc/kubernetes and removes the herd configs; a clean node only loses the configs', async () => {
  const w = setup();
  await w.operate('kubeadm-init', { config: CONFIG });
  w.machine.takeCalls();
  const reset = await w.operate('kubeadm-reset');
  assert.deepEqual([reset.ok, reset.message], [true, 'reset']);
  assert.deepEqual(w.machine.takeCalls(), ['kubeadm reset --force']);
  assert.equal(w.machine.fs.changes.at(-2), 'remove /etc/herd/kubeadm', 'the configs go (nodeFileSystem removes recursively), then the result is stored');
  const again = await w.operate('kubeadm-reset');
  assert.deepEqual([again.ok, again.message], [true, 'nothing to reset']);
  assert.deepEqual(w.machine.takeCalls(), []);
});

test('etcd-members lists through the gateway with every uint64 id kept exact, as a string', async () => {
  const w = setup();
  // The gateway sends ids as strings; a bare number (above 2^53 here) must not lose digits either.
  w.etcd.post = async () => '{"members":[{"ID":18446744073709551615,"name":"cp-1","peerURLs":["https://10.0.0.1:2380"]},{"ID":"42","peerURLs":["https://10.0.0.3:2380"]}]}';
  const result = await w.operate('etcd-members');
  assert.equal(result.ok, true, result.message);
  assert.deepEqual(JSON.parse(result.outputs!.members!), [
    { id: '18446744073709551615', name: 'cp-1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: [] },
    { id: '42', name: '', peerURLs: ['https://10.0.0.3:2380'], clientURLs: [] },
  ]);
});

test('etcd-member-remove removes the member by name, and answers "not a member" for a name etcd does not list', async () => {
  const w = setup();
  const removed = await w.operate('etcd-member-remove', { name: 'cp-2' });
  assert.equal(removed.ok, true, removed.message);
  assert.deepEqual(w.etcd.requests, ['/v3/cluster/member/list {}', '/v3/cluster/member/remove {"ID":"9372538179322589801"}']);
  const again = await w.operate('etcd-member-remove', { name: 'cp-2' });
  assert.deepEqual([again.ok, again.message], [true, 'not a member']);
  assert.equal(w.etcd.requests.length, 3, 'only listed');
});

test('reboot: the result is persisted and sent before systemctl reboot runs', async () => {
  const w = setup();
  w.machine.script('systemctl', (args) => { w.events.push(`systemctl ${args.join(' ')}`); return undefined; });
  const saved = w.state.saveOperationResults.bind(w.state);
  w.state.saveOperationResults = async (results) => { w.events.push('persist'); await saved(results); };
  const result = await w.operate('reboot', {}, 'r1');
  assert.deepEqual([result.ok, result.message], [true, 'rebooting']);
  assert.deepEqual(w.events, ['persist', 'send r1', 'systemctl reboot']);
  // Re-sent after the machine came back: answered from the store, no second reboot.
  w.restart();
  await w.operate('reboot', {}, 'r1');
  assert.deepEqual(w.events, ['persist', 'send r1', 'systemctl reboot', 'send r1']);
});

test('an unknown kind is answered ok=false and runs nothing', async () => {
  const w = setup();
  const result = await w.operate('format-disk');
  assert.deepEqual([result.ok, result.message], [false, 'unknown operation kind format-disk']);
  assert.deepEqual(w.machine.takeCalls(), []);
});

test('a re-sent id is answered from the persisted result without running again, also after an agent restart', async () => {
  const w = setup();
  const first = await w.operate('kubeadm-join', { config: 'x: y\n' }, 'op-1');
  assert.equal(w.machine.takeCalls().length, 2);
  w.machine.fs.files.delete('/etc/kubernetes/kubelet.conf'); // would make a second run run kubeadm again
  assert.deepEqual(await w.operate('kubeadm-join', { config: 'x: y\n' }, 'op-1'), first);
  w.restart(); // a new process: only the state directory remains
  assert.deepEqual(await w.operate('kubeadm-join', { config: 'x: y\n' }, 'op-1'), first);
  assert.deepEqual(w.machine.takeCalls(), []);
  const stored = w.machine.fs.files.get('/var/lib/herd-agent/operations.json')!;
  assert.equal(stored.mode, 0o600);
  assert.deepEqual((await w.state.operationResults()).map((r) => r.id), ['op-1']);
});

test('the store keeps the last 100 results', async () => {
  const w = setup();
  for (let i = 0; i < 105; i++) await w.operate('restart-kubelet', {}, `k${i}`);
  const ids = (await w.state.operationResults()).map((r) => r.id);
  assert.equal(ids.length, 100);
  assert.deepEqual([ids[0], ids.at(-1)], ['k5', 'k104']);
});

test('an operation waits for the converge round holding the lock, and an id re-sent while it runs is not run twice', async () => {
  const w = setup();
  let endRound!: () => void;
  const round = w.lock.run(() => new Promise<void>((resolve) => { endRound = resolve; }));
  const running = w.handle({ id: 'j', kind: 'kubeadm-join', args: { config: 'x: y\n' } }, async (r) => { w.sent.push(r); });
  const resent = w.handle({ id: 'j', kind: 'kubeadm-join', args: { config: 'x: y\n' } }, async (r) => { w.sent.push(r); });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(w.machine.calls, [], 'nothing runs while the round holds the lock');
  endRound();
  await Promise.all([round, running, resent]);
  assert.equal(w.machine.takeCalls().length, 2);
  assert.equal(w.sent.length, 1);
  // And a round waits for an operation in the same way.
  const order: string[] = [];
  w.hooks.beforeExec = async () => { order.push('kubeadm starts'); await new Promise((r) => setTimeout(r, 20)); order.push('kubeadm ends'); };
  const op = w.handle({ id: 'u', kind: 'kubeadm-upgrade', args: { mode: 'node', config: 'x' } }, async () => {});
  await new Promise((r) => setImmediate(r));
  await w.lock.run(async () => { order.push('round'); });
  await op;
  assert.deepEqual(order, ['kubeadm starts', 'kubeadm ends', 'kubeadm starts', 'kubeadm ends', 'round']);
});

test('a dry-run agent runs nothing and stores nothing', async () => {
  const w = setup({ dryRun: true });
  const result = await w.operate('kubeadm-reset');
  assert.deepEqual([result.ok, result.message], [false, 'dry run: operation kubeadm-reset not run']);
  assert.deepEqual(w.machine.takeCalls(), []);
  assert.deepEqual(await w.state.operationResults(), []);
});

test('redactSecrets removes argument values, tokens, certificate keys, PEM blocks and base64 blobs, and keeps paths', () => {
  const text = `join with abcdef.0123456789abcdef key ${CERT_KEY} -----BEGIN PRIVATE KEY-----\nMIG\n-----END PRIVATE KEY----- data ${'QUJD'.repeat(20)} at /etc/kubernetes/pki/apiserver-etcd-client.crt, my-secret-arg`;
  assert.equal(redactSecrets(text, { other: 'my-secret-arg' }),
    'join with [redacted] key [redacted] [redacted] data [redacted] at /etc/kubernetes/pki/apiserver-etcd-client.crt, [redacted]');
});

test('the https etcd gateway speaks mutual TLS with the node\'s etcd client certificate', async () => {
  const ca = await createCA('etcd-ca');
  const server = await issueServerCert(ca, ['127.0.0.1']);
  const client = await issueClientCert(ca, { role: 'admin', name: 'kube-apiserver-etcd-client' });
  const root = await mkdtemp(join(tmpdir(), 'herd-etcd-gw-'));
  const fs = nodeFileSystem(root);
  const seen: string[] = [];
  const etcd = createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/v3/cluster/member/list') res.end('{"members":[{"ID":"10276657743932975437","name":"cp-1"}]}');
      else { res.statusCode = 404; res.end('{"code":5,"message":"Not Found"}'); }
    });
  });
  await new Promise<void>((resolve) => etcd.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `https://127.0.0.1:${(etcd.address() as AddressInfo).port}`;
    const gateway = httpsEtcdGateway(fs, { endpoint });
    await assert.rejects(gateway.post('/v3/cluster/member/list', '{}'), /etcd client credentials missing/);
    await fs.writeAtomic('/etc/kubernetes/pki/apiserver-etcd-client.crt', client.certPem);
    await fs.writeAtomic('/etc/kubernetes/pki/apiserver-etcd-client.key', client.keyPem, { mode: 0o600 });
    await fs.writeAtomic('/etc/kubernetes/pki/etcd/ca.crt', ca.certPem);
    assert.deepEqual(await listMembers(gateway), [{ id: '10276657743932975437', name: 'cp-1', peerURLs: [], clientURLs: [] }]);
    await assert.rejects(gateway.post('/v3/nothing', '{}'), /etcd \/v3\/nothing answered 404: Not Found/);
    assert.deepEqual(seen, ['POST /v3/cluster/member/list {}', 'POST /v3/nothing {}']);
  } finally {
    await new Promise((resolve) => etcd.close(resolve));
    await rm(root, { recursive: true, force: true });
  }
});

test('against a real etcd on loopback (mutual TLS): etcd-members and etcd-member-remove through its JSON gateway', async (t) => {
  const binary = join(apiServerBinaries().etcd);
  const root = await mkdtemp(join(tmpdir(), 'herd-etcd-'));
  const pki = kubeadmEtcdPki(join(root, 'etc/kubernetes/pki'));
  const fs = nodeFileSystem(root);
  const [clientPort, peerPort, learnerPort] = await freePorts(3);
  const clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = spawn(binary, [
    '--name=cp-1', `--data-dir=${join(root, 'data')}`,
    `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=cp-1=${peerUrl}`,
    `--cert-file=${pki}/etcd/server.crt`, `--key-file=${pki}/etcd/server.key`,
    '--client-cert-auth', `--trusted-ca-file=${pki}/etcd/ca.crt`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let etcdLog = '';
  etcd.stderr!.on('data', (chunk: Buffer) => { etcdLog = (etcdLog + chunk.toString()).slice(-3000); });
  const exited = new Promise<void>((resolve) => etcd.once('exit', () => resolve()));
  t.after(async () => {
    if (etcd.exitCode === null && etcd.signalCode === null) etcd.kill('SIGTERM');
    await exited;
    await rm(root, { recursive: true, force: true });
  });

  const gateway = httpsEtcdGateway(fs, { endpoint: clientUrl, timeoutMs: 2_000 });
  const runner = new OperationRunner({
    env: { exec: new FakeMachine().exec, fs, etcd: gateway }, store: new AgentState(fs, '/state'), lock: new Mutex(),
    logger: createLogger({ name: 'herd-agent', level: 'silent' }), clock: new FakeClock({ start: Date.parse('2026-01-01T00:00:00Z'), sleep: 'advances' }),
  });
  const results: OperationResult[] = [];
  const operate = async (id: string, kind: string, args: Record<string, string> = {}) => {
    await runner.handle({ id, kind, args }, async (r) => { results.push(r); });
    return results.at(-1)! as Answer;
  };
  const deadline = Date.now() + 30_000;
  let lastError = '';
  while (!(await listMembers(gateway).then(() => true, (e: Error) => { lastError = e.message; return false; }))) {
    assert.ok(Date.now() < deadline && etcd.exitCode === null, `etcd did not come up within 30 s: ${lastError}\n${etcdLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  const listed = await operate('m1', 'etcd-members');
  assert.equal(listed.ok, true, listed.message);
  const [member] = JSON.parse(listed.outputs.members!) as { id: string; name: string; peerURLs: string[]; clientURLs: string[] }[];
  assert.match(member!.id, /^\d+$/);
  assert.deepEqual([member!.name, member!.peerURLs, member!.clientURLs], ['cp-1', [peerUrl], [clientUrl]]);

  // A learner does not count for quorum, so a one-member cluster can take one and lose it again.
  await gateway.post('/v3/cluster/member/add', JSON.stringify({ peerURLs: [`http://127.0.0.1:${learnerPort}`], isLearner: true }));
  const learner = (await listMembers(gateway)).find((m) => m.name === '');
  assert.ok(learner, 'the learner is listed, without a name until it starts');
  await removeMember(gateway, learner.id);
  assert.deepEqual((await listMembers(gateway)).map((m) => m.name), ['cp-1']);

  const absent = await operate('m2', 'etcd-member-remove', { name: 'cp-9' });
  assert.deepEqual([absent.ok, absent.message], [true, 'not a member']);
});

/**
 * The etcd part of kubeadm's PKI, made with openssl as kubeadm makes it: etcd's serving
 * certificate is also a client certificate (its JSON gateway dials etcd's own gRPC port
 * with it), and the API server's etcd client certificate.
 */
function kubeadmEtcdPki(pki: string): string {
  mkdirSync(join(pki, 'etcd'), { recursive: true });
  const p = (f: string) => join(pki, f);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', p('etcd/ca.key'), '-out', p('etcd/ca.crt'), '-days', '1', '-subj', '/CN=etcd-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature');
  const leaf = (name: string, subject: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    ossl('req', '-new', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subject);
    ossl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('etcd/ca.crt'), '-CAkey', p('etcd/ca.key'), '-CAcreateserial',
      '-out', p(`${name}.crt`), '-days', '1', '-extfile', p(`${name}.ext`));
  };
  leaf('etcd/server', '/CN=cp-1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  leaf('apiserver-etcd-client', '/CN=kube-apiserver-etcd-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  return pki;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<NetServer>((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
