import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidProfileInput, checkApiserverScript, endpointAddress, haproxyConfig, keepalivedConfig, newVrrpPassword, type ControlPlaneEndpoint } from '@herd/kubeadm';
import { CP1, CP2, CP3, ENDPOINT } from './fixtures.js';

/** The lines of a block `NAME {` … `}` in keepalived's configuration, trimmed. */
function block(config: string, name: string): string[] {
  const start = config.split('\n').findIndex((l) => l.trim() === `${name} {`);
  assert.ok(start >= 0, `a ${name} block`);
  const lines: string[] = [];
  let depth = 1;
  for (const line of config.split('\n').slice(start + 1)) {
    if (line.trim().endsWith('{')) depth++;
    if (line.trim() === '}' && --depth === 0) break;
    lines.push(line.trim());
  }
  return lines;
}

test('keepalived: the first control plane is MASTER with the highest priority, unicast to the others, the VIP on the interface', () => {
  const first = keepalivedConfig(ENDPOINT, CP1);
  const instance = block(first, 'vrrp_instance herd_apiserver');
  for (const line of ['state MASTER', 'interface eth0', 'virtual_router_id 51', 'priority 150', 'unicast_src_ip 10.0.0.11', 'auth_type PASS', 'auth_pass Secr3t-8', 'check_apiserver']) {
    assert.ok(instance.includes(line), `${line} in ${instance.join(' | ')}`);
  }
  assert.deepEqual(block(first, 'unicast_peer'), ['10.0.0.12', '10.0.0.13']);
  assert.deepEqual(block(first, 'virtual_ipaddress'), ['10.0.0.100/32 dev eth0']);
  assert.ok(block(first, 'vrrp_script check_apiserver').includes('script "/etc/keepalived/check_apiserver.sh"'));

  const third = keepalivedConfig(ENDPOINT, CP3);
  assert.ok(block(third, 'vrrp_instance herd_apiserver').includes('state BACKUP'));
  assert.ok(block(third, 'vrrp_instance herd_apiserver').includes('priority 130'));
  assert.deepEqual(block(third, 'unicast_peer'), ['10.0.0.11', '10.0.0.12']);
});

test('keepalived: a failing check drops a node below every healthy one, without faulting it', () => {
  const script = block(keepalivedConfig(ENDPOINT, CP1), 'vrrp_script check_apiserver');
  const weight = Number(script.find((l) => l.startsWith('weight '))!.split(' ')[1]);
  const lowestHealthy = Number(block(keepalivedConfig(ENDPOINT, CP3), 'vrrp_instance herd_apiserver').find((l) => l.startsWith('priority '))!.split(' ')[1]);
  assert.ok(150 + weight < lowestHealthy, `150 ${weight} < ${lowestHealthy}`);
  assert.ok(150 + weight > 0, 'a weight, so the node stays in VRRP when every check fails (before kubeadm init)');
});

test('the check script asks haproxy on this machine, and the VIP when it holds it', () => {
  const script = checkApiserverScript(ENDPOINT);
  assert.match(script, /^#!\/bin\/sh\n/);
  assert.match(script, /get https:\/\/localhost:8443\/healthz/);
  assert.match(script, /grep -qF " 10\.0\.0\.100\/"/);
  assert.match(script, /get https:\/\/10\.0\.0\.100:8443\/healthz/);
  assert.match(script, /curl --silent --fail --max-time 2 --insecure/);
});

test('haproxy: TCP on the endpoint port, round robin over every API server with a TLS /healthz check', () => {
  const config = haproxyConfig(ENDPOINT);
  assert.match(config, /^frontend apiserver\n {4}bind \*:8443\n {4}default_backend apiservers$/m);
  assert.match(config, /^ {4}mode tcp$/m);
  assert.match(config, /^ {4}balance roundrobin$/m);
  assert.match(config, /^ {4}option httpchk GET \/healthz$/m);
  const servers = config.split('\n').filter((l) => l.trim().startsWith('server '));
  assert.deepEqual(servers.map((l) => l.trim()), [CP1, CP2, CP3].map((cp) => `server ${cp.name} ${cp.address}:6443 check check-ssl verify none`));
});

test('endpoint input is refused by field', () => {
  const refused = (e: Partial<ControlPlaneEndpoint>, field: string, self = CP1) =>
    assert.throws(() => keepalivedConfig({ ...ENDPOINT, ...e }, self), (err: unknown) => err instanceof InvalidProfileInput && err.field === field, field);
  refused({ vip: '10.0.0' }, 'endpoint.vip');
  refused({ port: 6443 }, 'endpoint.port');
  refused({ port: 70000 }, 'endpoint.port');
  refused({ routerId: 0 }, 'endpoint.routerId');
  refused({ password: 'longer-than-8' }, 'endpoint.password');
  refused({ password: '' }, 'endpoint.password');
  refused({ interface: 'eth0 evil' }, 'endpoint.interface');
  refused({ controlPlanes: [] }, 'endpoint.controlPlanes');
  refused({ controlPlanes: [CP1, CP1] }, 'endpoint.controlPlanes[1].name');
  refused({}, 'self', { name: 'cp-9', address: '10.0.0.19' });
  refused({}, 'self', { name: 'cp-1', address: '10.0.0.19' });
});

test('newVrrpPassword: 8 characters keepalived accepts, a new one each time', () => {
  const a = newVrrpPassword();
  assert.match(a, /^[A-Za-z0-9_-]{8}$/);
  assert.notEqual(a, newVrrpPassword());
  assert.doesNotThrow(() => keepalivedConfig({ ...ENDPOINT, password: a }, CP1));
});

test('the endpoint address for clients', () => {
  assert.equal(endpointAddress(ENDPOINT), '10.0.0.100:8443');
  assert.equal(endpointAddress({ ...ENDPOINT, vip: 'fd00::100' }), '[fd00::100]:8443');
});
