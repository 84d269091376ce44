/**
 * The endpoint's configurations checked by the programs that read them: Debian bookworm's
 * haproxy (`haproxy -c`) and keepalived (`keepalived -t`), and the health-check script run
 * against a real TLS server. The packages are fetched with apt (download only, into a
 * temporary directory, with the libraries this host lacks) and unpacked there, not
 * installed. keepalived and the script run in a network namespace of their own, with a
 * `host0` interface like a machine's.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkApiserverScript, haproxyConfig, keepalivedConfig, KEEPALIVED_CHECK_PATH, type ControlPlaneEndpoint } from '@herd/kubeadm';
import { createExecutor, type ExecResult } from '@herd/sys';
import { tempDir } from '../support.js';
import { CP2, ENDPOINT } from './fixtures.js';

const exec = createExecutor();
const E: ControlPlaneEndpoint = { ...ENDPOINT, interface: 'host0' };

/** haproxy and keepalived unpacked with the libraries the host lacks; returns how to run them. */
async function debianTools(t: TestContext) {
  const dir = tempDir(t, 'herd-endpoint-tools-');
  const archives = join(dir, 'archives');
  mkdirSync(join(archives, 'partial'), { recursive: true });
  await exec.run('apt-get', ['install', '--download-only', '-y', '-q', '--no-install-recommends',
    '-o', `Dir::Cache::archives=${archives}`, '-o', 'Debug::NoLocking=1', 'haproxy', 'keepalived'], { timeoutMs: 5 * 60_000 });
  const root = join(dir, 'root');
  for (const deb of readdirSync(archives).filter((f) => f.endsWith('.deb'))) await exec.run('dpkg-deb', ['-x', join(archives, deb), root]);
  const env = { LD_LIBRARY_PATH: ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).join(':') };
  return { dir, env, haproxy: join(root, 'usr/sbin/haproxy'), keepalived: join(root, 'usr/sbin/keepalived') };
}

/** Runs a shell script in a new network namespace with host0 (a veth) up; everything it starts ends with it. */
function inNetns(script: string, env: Record<string, string>): Promise<ExecResult> {
  return exec.run('unshare', ['-n', 'sh', '-euc', `ip link set lo up; ip link add host0 type veth peer name peer0; ip link set host0 up\n${script}`],
    { env, allowFailure: true, timeoutMs: 60_000 });
}

test('haproxy and keepalived accept the generated configurations, and refuse broken ones', { timeout: 10 * 60_000 }, async (t) => {
  const tools = await debianTools(t);
  const write = (name: string, text: string, mode = 0o644) => { const p = join(tools.dir, name); writeFileSync(p, text, { mode }); return p; };

  const haproxy = write('haproxy.cfg', haproxyConfig(E));
  const ok = await exec.run(tools.haproxy, ['-c', '-f', haproxy], { env: tools.env, allowFailure: true });
  assert.equal(ok.exitCode, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /Configuration file is valid/);
  assert.doesNotMatch(ok.stderr, /WARNING|ALERT/, 'no warnings either');
  const broken = write('broken.cfg', haproxyConfig(E).replace('balance roundrobin', 'balance roundrobbin'));
  assert.notEqual((await exec.run(tools.haproxy, ['-c', '-f', broken], { env: tools.env, allowFailure: true })).exitCode, 0);

  // The script where keepalived's security check accepts it (root's, not writable by others).
  const check = write('check_apiserver.sh', checkApiserverScript(E), 0o755);
  const keepalived = (text: string) => write('keepalived.conf', text.replace(KEEPALIVED_CHECK_PATH, check), 0o600);
  const test = (path: string) => inNetns(`exec ${tools.keepalived} -t -f ${path} -l -D`, tools.env);
  const good = await test(keepalived(keepalivedConfig(E, CP2)));
  assert.equal(good.exitCode, 0, good.stderr + good.stdout);
  const bad = await test(keepalived(keepalivedConfig(E, CP2).replace('auth_type PASS', 'auth_type PAS')));
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr + bad.stdout, /unknown authentication type/);
});

test('the health check passes with a TLS server behind the port, also through the VIP it holds, and fails without', { timeout: 5 * 60_000 }, async (t) => {
  const dir = tempDir(t, 'herd-endpoint-check-');
  const script = join(dir, 'check_apiserver.sh');
  writeFileSync(script, checkApiserverScript(E), { mode: 0o755 });
  const down = await inNetns(script, {});
  assert.equal(down.exitCode, 1);
  assert.match(down.stderr, /GET https:\/\/localhost:8443\/healthz failed/);

  // openssl's test server answers every GET with 200; started and stopped inside the namespace.
  const serve = (accept: string) => `cd ${dir}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=apiserver -days 1 -keyout key.pem -out cert.pem 2>/dev/null
openssl s_server -quiet -www -accept ${accept} -cert cert.pem -key key.pem >/dev/null 2>&1 & server=$!
trap 'kill $server' EXIT
for i in $(seq 50); do curl -sk -o /dev/null https://localhost:${E.port}/ && break; sleep 0.1; done
`;
  const up = await inNetns(`${serve(String(E.port))}${script}`, {});
  assert.equal(up.exitCode, 0, up.stderr);
  const holdingVip = await inNetns(`${serve(String(E.port))}ip addr add ${E.vip}/32 dev host0\n${script}\necho checked`, {});
  assert.equal(holdingVip.exitCode, 0, holdingVip.stderr);
  assert.match(holdingVip.stdout, /checked/);
  // Holding the VIP while nothing answers on it (the server on loopback only): the check fails.
  const vipDead = await inNetns(`${serve(`127.0.0.1:${E.port}`)}ip addr add ${E.vip}/32 dev host0\n${script}`, {});
  assert.equal(vipDead.exitCode, 1);
  assert.match(vipDead.stderr, /GET https:\/\/10\.0\.0\.100:8443\/healthz failed/);
});
