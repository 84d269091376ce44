// Issue 5 end to end, as an operator does it: the real herd CLI, a real Git repository, the
// local provider's nspawn machines with real systemd, apt and dpkg, real agents. One
// coordinator (`herd up`) runs throughout while commits change the repository. The machines
// are Kubernetes nodes too (converged means every node Ready as well); what herd does to the
// cluster itself is test/e2e/kubernetes.test.ts's subject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AptRepository } from '@herd/aptrepo';
import { commit, git } from '../support.js';
import { saveHostSysctls } from '../kubernetes/node.js';
import { Coordinator, herd, inside, machinesOf, until, type FleetStatus } from './herd.js';

const cluster = (o: { workers: number; version: string; somaxconn: number; broken?: boolean }) => `apiVersion: herd.dev/v1
kind: Cluster
metadata: { name: e2e }
spec:
  provider: { kind: local }
  kubernetes: { version: 1.34.4 }
  os:
    packages: { herd-e2e-tool: "${o.version}" }
    sysctls: { net.core.somaxconn: ${o.somaxconn} }
  pools:
    - { name: workers, replicas: ${o.broken ? 'many' : o.workers} }
`;

test('herd up from Git to converged machines; commits change them; drift is reverted; a broken commit is refused; herd down leaves nothing', { timeout: 2_400_000 }, async (t) => {
  // Removed last, after the machines living in it (hooks run in the order they were added).
  const root = mkdtempSync(join(tmpdir(), 'herd-e2e-'));
  const repo = join(root, 'fleet');
  const state = join(root, 'state');
  git(root, 'init', '-q', repo);
  commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 2, version: '1.0', somaxconn: 1024 }) });

  // The local provider serves its machines this apt repository; the test puts two versions of a package in it.
  const apt = await AptRepository.create({ dir: join(state, 'providers/local/apt') });
  for (const version of ['1.0', '2.0']) {
    await apt.add(await apt.buildPackage({ name: 'herd-e2e-tool', version, files: { '/usr/share/herd-e2e-tool/VERSION': `${version}\n` } }));
  }

  const up = new Coordinator([repo, '--ref', 'main', '--state', state, '--interval', '2s']);
  const restoreSysctls = await saveHostSysctls();
  t.after(async () => {
    await up.stop();
    herd(['down', repo, '--state', state]);
  });
  // The host kernel settings the kubelets changed go back once the machines are gone.
  t.after(restoreSysctls);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const startUp = () => up.start();
  const stopUp = async () => assert.equal(await up.stop(), 130, up.tail());
  startUp();

  // 1. Three machines (1 control plane, 2 workers), agents enrolled, converged to the first commit.
  let head = git(repo, 'rev-parse', 'HEAD');
  let s = await until(repo, state, 'the first commit to converge', (s) => s.converged && machinesOf(s).length === 3 && machinesOf(s).every((m) => m.agent?.commit === head));
  assert.equal(s.commit, head);
  const first = machinesOf(s).map((m) => m.name);
  for (const name of first) {
    assert.equal(inside(state, name, 'dpkg-query', '-W', '-f=${Version} ${Status}', 'herd-e2e-tool'), '1.0 hold ok installed');
    assert.equal(inside(state, name, 'sysctl', '-n', 'net.core.somaxconn'), '1024');
    assert.equal(inside(state, name, 'hostname'), name);
  }

  // 2. A commit with another package version and sysctl reaches every machine.
  head = commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 2, version: '2.0', somaxconn: 2048 }) });
  s = await until(repo, state, 'the package and sysctl change', (s) => s.converged && machinesOf(s).every((m) => m.agent?.commit === head));
  for (const name of first) {
    assert.equal(inside(state, name, 'cat', '/usr/share/herd-e2e-tool/VERSION'), '2.0');
    assert.equal(inside(state, name, 'sysctl', '-n', 'net.core.somaxconn'), '2048');
  }

  // 3. A hand-made change on a machine is put back within a drift interval, and reported.
  const victim = first[1]!;
  inside(state, victim, 'sysctl', '-w', 'net.core.somaxconn=128');
  s = await until(repo, state, 'the drift to be reported', (s) => machinesOf(s).some((m) => m.name === victim && (m.agent?.driftCorrected ?? []).some((d) => (d.item ?? '').includes('somaxconn'))), 120_000);
  assert.equal(inside(state, victim, 'sysctl', '-n', 'net.core.somaxconn'), '2048');
  // The agent counts it on its localhost metrics endpoint (read with the agent's own node).
  const metrics = inside(state, victim, '/opt/herd/agent/node', '-e', "fetch('http://127.0.0.1:9478/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))");
  assert.match(metrics, /^herd_agent_drift_corrections_total\{step="Sysctl"\} [1-9]/m);
  assert.match(metrics, /^herd_agent_connected 1$/m);

  // 4. Scale the pool 2 → 3, then → 1: machines are created, then the newest deleted.
  head = commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 3, version: '2.0', somaxconn: 2048 }) });
  s = await until(repo, state, 'four machines', (s) => s.converged && machinesOf(s).length === 4 && machinesOf(s).every((m) => m.agent?.commit === head));
  head = commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 1, version: '2.0', somaxconn: 2048 }) });
  s = await until(repo, state, 'two machines', (s) => s.converged && machinesOf(s).length === 2);
  const remaining = machinesOf(s).map((m) => m.name);
  assert.ok(remaining.every((n) => first.includes(n)), 'the newest machines went first');
  assert.deepEqual(readdirSync(join(state, 'providers/local/machines')).sort(), [...remaining].sort(), 'deleted machines leave no directory');

  // 5. The coordinator stops; a commit lands; a new `herd up --exit-when-converged` adopts the
  //    running machines (creating none) and brings the change, although its generation
  //    numbers start again where the agents' held ones are.
  await stopUp();
  head = commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 1, version: '2.0', somaxconn: 4096 }) });
  const again = herd(['up', repo, '--ref', 'main', '--state', state, '--exit-when-converged', '--timeout', '8m', '--output', 'json']);
  assert.equal(again.code, 0, again.stderr.slice(-2000));
  const result = JSON.parse(again.stdout) as { phases: Record<string, number>; status: FleetStatus };
  assert.equal(result.phases.machines, undefined, 'no machine was created');
  assert.deepEqual(machinesOf(result.status).map((m) => m.name).sort(), [...remaining].sort());
  assert.ok(machinesOf(result.status).every((m) => m.agent?.commit === head));
  for (const name of remaining) assert.equal(inside(state, name, 'sysctl', '-n', 'net.core.somaxconn'), '4096');
  startUp();

  // 6. A broken commit is refused and named in status; nothing changes.
  const good = head;
  const restarted = new Date().toISOString();
  await until(repo, state, 'the restarted coordinator to see the fleet converged', (s) => s.time > restarted && s.converged && s.commit === good);
  const broken = commit(repo, { 'clusters/e2e.yaml': cluster({ workers: 1, version: '2.0', somaxconn: 4096, broken: true }) });
  s = await until(repo, state, 'the broken commit to be refused', (s) => s.rejected?.commit === broken);
  assert.equal(s.commit, good, 'the last good commit stays in force');
  assert.deepEqual(s.rejected!.errors.map((e) => `${e.file}:${e.line} ${e.field}`), ['clusters/e2e.yaml:11 spec.pools[0].replicas']);
  assert.equal(machinesOf(s).length, 2);
  const table = herd(['status', repo, '--state', state]);
  assert.match(table.stdout, /refused: +commit [0-9a-f]{40} does not validate/);
  assert.match(table.stdout, /clusters\/e2e\.yaml:11:\d+: spec\.pools\[0\]\.replicas: /);

  // 7. herd down refuses while the coordinator runs; after it stops, leaves nothing behind.
  assert.equal(herd(['down', repo, '--state', state]).code, 1);
  await stopUp();
  const network = JSON.parse(readFileSync(join(state, 'providers/local/networks/e2e.json'), 'utf8')).index as number;
  const down = herd(['down', repo, '--state', state]);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /^2 machines deleted \(e2e\)/);
  assert.deepEqual(readdirSync(join(state, 'providers/local/machines')), []);
  assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(state), 'no mount left');
  assert.ok(!spawnSync('ip', ['link', 'show', `herd-br${network}`]).stdout.length, 'no bridge left');
  assert.ok(!existsSync(join(state, 'providers/local/networks/e2e.json')));
  const nspawns = spawnSync('pgrep', ['-f', `systemd-nspawn.*${state}`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(nspawns, '', 'no machine process left');
});
