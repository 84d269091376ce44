// Issue 7, the highly available control plane: three control planes behind a virtual IP
// (keepalived and haproxy on every one, converged by the agents), made by herd from Git on
// the local provider. One control-plane machine is lost; the API keeps answering through
// the VIP, herd removes the lost etcd member, and a new control plane takes its place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commit, git } from '../support.js';
import { kubectlOf, saveHostSysctls } from '../kubernetes/node.js';
import { Coordinator, deleteBehindHerdsBack, herd, inside, machinesOf, until, type FleetStatus } from './herd.js';

const VERSION = '1.34.4';
const MINUTES = 60_000;

const CLUSTER = `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: ha }
spec:
  provider: { kind: local }
  kubernetes: { version: ${VERSION} }
  controlPlane: { replicas: 3 }
  health: { unhealthyTimeout: 1m }
  pools: []
`;

const kube = (s: FleetStatus) => s.clusters[0]?.kubernetes;
// Three machines, and the API's nodes are exactly those machines, all Ready, nothing running.
// Comparing names matters after a loss: the lost node stays listed (and Ready, until its grace
// period ends) while the replacement machine already exists.
const settled = (s: FleetStatus) => {
  const k = kube(s);
  const machines = machinesOf(s).map((m) => m.name).sort();
  const nodes = (k?.nodes ?? []).map((n) => n.name).sort();
  return machines.length === 3 && nodes.join() === machines.join() && k!.nodes.every((n) => n.ready) && k!.running.length === 0;
};

test('three control planes behind a virtual IP survive the loss of one, which herd replaces', { timeout: 60 * MINUTES }, async (t) => {
  // Removed last, after the machines living in it (hooks run in the order they were added).
  const root = mkdtempSync(join(tmpdir(), 'herd-ha-'));
  const repo = join(root, 'fleet');
  const state = join(root, 'state');
  git(root, 'init', '-q', repo);
  commit(repo, { 'clusters/ha.yaml': CLUSTER });
  const up = new Coordinator([repo, '--ref', 'main', '--state', state, '--interval', '3s']);
  const restoreSysctls = await saveHostSysctls();
  t.after(async () => {
    await up.stop();
    const down = herd(['down', repo, '--state', state]);
    assert.equal(down.code, 0, down.stderr);
  });
  // The host kernel settings the kubelets changed go back once the machines are gone.
  t.after(restoreSysctls);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  up.start();
  const wait = (what: string, check: (s: FleetStatus) => boolean, timeoutMs = 25 * MINUTES) =>
    until(repo, state, what, check, timeoutMs).catch((e: Error) => { throw new Error(`${e.message}\ncoordinator log:\n${up.tail()}`); });
  const kubeconfig = join(root, 'admin.conf');
  const kubectl = async (...args: string[]) => (await promisify(execFile)(kubectlOf(VERSION), ['--kubeconfig', kubeconfig, '--request-timeout=5s', ...args])).stdout;

  const s = await wait('three Ready control planes', settled);
  const config = herd(['kubeconfig', 'ha', repo, '--state', state]);
  assert.equal(config.code, 0, config.stderr);
  writeFileSync(kubeconfig, config.stdout, { mode: 0o600 });
  const vip = kube(s)!.endpoint!;
  assert.match(vip, /^10\.213\.\d+\.254:8443$/, 'the endpoint is the virtual IP in front of haproxy');
  assert.match(config.stdout, new RegExp(`server: https://${vip.replace(/\./g, '\\.')}`));
  assert.equal((await kubectl('get', 'nodes', '-o', 'name')).trim().split('\n').length, 3);
  const holder = machinesOf(s).find((m) => inside(state, m.name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'host0').includes(vip.split(':')[0]!));
  assert.ok(holder, 'one control plane holds the virtual IP');

  // Lose the machine that holds the VIP, as a cloud would: no drain, no reset, no goodbye.
  let answered = 0;
  let failedInARow = 0;
  let longestOutage = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        await kubectl('get', '--raw', '/readyz');
        answered++;
        failedInARow = 0;
      } catch {
        longestOutage = Math.max(longestOutage, ++failedInARow);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  await deleteBehindHerdsBack(state, 'ha', holder.name);

  const healed = await wait('a new third control plane, the lost one forgotten', (st) => settled(st) && !machinesOf(st).some((m) => m.name === holder.name));
  watching = false;
  await watcher;
  assert.ok(answered > 10, `the API answered through the VIP during the replacement (${answered} times)`);
  // keepalived moves the VIP within seconds; each failed probe above took up to 5 s.
  assert.ok(longestOutage <= 6, `the longest outage through the VIP was ${longestOutage} failed probes in a row`);
  const members = (await kubectl('-n', 'kube-system', 'get', 'pods', '-l', 'component=etcd', '-o', 'jsonpath={.items[*].spec.nodeName}')).trim().split(' ').sort();
  assert.deepEqual(members, machinesOf(healed).map((m) => m.name).sort(), 'an etcd member on every control plane, the lost one gone');
});
