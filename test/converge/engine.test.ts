import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@herd/sys';
import { createEngine, type RoundReport } from '@herd/converge';
import type { Condition, NodeSpec__Output } from '@herd/proto';
import { FakeMachine } from './fakes.js';
import { FakeClock } from '../support.js';
import { nodeSpec } from './spec.js';

const UNIT = '[Unit]\nDescription=app\n[Service]\nExecStart=/usr/bin/app\n[Install]\nWantedBy=multi-user.target\n';

function fullSpec(fields: Partial<NodeSpec__Output> = {}): NodeSpec__Output {
  return nodeSpec({
    hostname: 'node-1',
    swapOff: true,
    kernelModules: ['overlay'],
    sysctls: { 'net.ipv4.ip_forward': '1', 'vm.overcommit_memory': '1' },
    aptSources: [{ name: 'local', line: 'deb [trusted=yes] http://10.0.0.1:8080 ./', key: '' }],
    packages: [
      { name: 'alpha', version: '1.0', hold: true, absent: false, allowDowngrade: false },
      { name: 'beta', version: '2.0', hold: false, absent: false, allowDowngrade: false },
    ],
    files: [{ path: '/etc/app/app.conf', content: 'port = 80\n', mode: 0o640, owner: 'www-data', group: 'www-data' }],
    units: [{ name: 'app.service', content: UNIT, enabled: true, running: true, restartOn: ['/etc/app/app.conf'] }],
    ...fields,
  });
}

function setup() {
  const machine = new FakeMachine();
  machine.sysctl('net.ipv4.ip_forward', '0');
  machine.sysctl('vm.overcommit_memory', '0');
  machine.repository.set('alpha', ['1.0', '1.1']);
  machine.repository.set('beta', ['2.0']);
  const clock = new FakeClock({ start: Date.parse('2026-01-01T00:00:00Z'), sleep: 'advances' });
  const engine = () => createEngine({ executor: machine.exec, fs: machine.fs, logger: silentLogger(), clock, stateDir: '/var/lib/herd' });
  return { machine, clock, engine: engine(), newEngine: engine };
}

function condition(report: RoundReport, type: string): Condition {
  const found = report.conditions.find((c) => c.type === type);
  assert.ok(found, `no ${type} condition in ${report.conditions.map((c) => c.type).join(', ')}`);
  return found;
}

function reasons(report: RoundReport): Record<string, string> {
  return Object.fromEntries(report.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
}

test('a fresh machine converges in step order, and the next round only looks, with one query per kind', async () => {
  const { machine, clock, engine } = setup();
  const first = await engine.round(fullSpec());
  assert.deepEqual(first.conditions.map((c) => c.type), ['Hostname', 'Swap', 'KernelModules', 'Sysctl', 'AptSources', 'Packages', 'Files', 'Containerd', 'Units']);
  assert.deepEqual(reasons(first), {
    Hostname: 'True Applied', Swap: 'True Converged', KernelModules: 'True Applied', Sysctl: 'True Applied', AptSources: 'True Applied',
    Packages: 'True Applied', Files: 'True Applied', Containerd: 'True Converged', Units: 'True Applied',
  });
  assert.equal(first.converged, true);
  assert.equal(first.changed, true);
  assert.deepEqual(first.drift, []);
  assert.deepEqual(machine.packages.get('alpha'), { version: '1.0', held: true, state: 'installed' });
  assert.deepEqual(machine.packages.get('beta'), { version: '2.0', held: false, state: 'installed' });
  assert.deepEqual(machine.units.get('app.service'), { enabled: true, active: true });
  assert.equal(machine.fs.files.get('/etc/app/app.conf')?.mode, 0o640);
  assert.equal(machine.fs.files.get('/etc/app/app.conf')?.uid, 33);
  assert.equal(await machine.fs.read('/proc/sys/net/ipv4/ip_forward'), '1\n');
  assert.match((await machine.fs.read('/etc/sysctl.d/90-herd.conf'))!, /^net\.ipv4\.ip_forward = 1$/m);
  assert.match((await machine.fs.read('/etc/modules-load.d/herd.conf'))!, /^overlay$/m);
  assert.equal(await machine.fs.read('/etc/hostname'), 'node-1\n');
  // Sources changed this round, so the index was refreshed before installing.
  const calls = machine.takeCalls();
  assert.ok(calls.indexOf('apt-get update -q') < calls.findIndex((c) => c.startsWith('apt-get install')));

  clock.advance(30_000);
  const writesBefore = machine.fs.changes.length;
  const second = await engine.round(fullSpec());
  assert.deepEqual(machine.takeCalls(), [
    'dpkg-query -W -f=${Package}\t${Version}\t${Status}\n alpha beta',
    'systemctl show --property=Id,LoadState,ActiveState,UnitFileState -- app.service',
  ]);
  // Only the engine's memory, because the conditions moved from Applied to Converged...
  assert.deepEqual(machine.fs.changes.slice(writesBefore), ['write /var/lib/herd/converge-state.json']);
  assert.ok(second.conditions.every((c) => c.status === 'True' && c.reason === 'Converged'), JSON.stringify(reasons(second)));
  assert.equal(second.changed, false);
  assert.equal(second.converged, true);
  // Status did not change, so neither did the transition time.
  assert.deepEqual(second.conditions.map((c) => c.lastTransitionTime), first.conditions.map((c) => c.lastTransitionTime));
  assert.ok(second.stepDurationsMs && 'Packages' in second.stepDurationsMs);

  // ...and once settled, a no-op round writes nothing at all.
  await engine.round(fullSpec());
  assert.deepEqual(machine.fs.changes.slice(writesBefore + 1), []);
});

test('dry run goes through the same steps, changes nothing and says what it would do', async () => {
  const { machine, engine } = setup();
  const report = await engine.round(fullSpec(), { dryRun: true });
  assert.deepEqual(machine.fs.changes, []);
  assert.equal(machine.packages.size, 0);
  assert.equal(machine.units.size, 0);
  const commands = new Set(machine.takeCalls().map((c) => c.split(' ').slice(0, 2).join(' ')));
  assert.deepEqual([...commands].sort(), ['apt-cache madison', 'dpkg-query -W', 'systemctl show']);
  assert.equal(report.changed, false);
  assert.equal(report.converged, false);
  assert.equal(report.error, undefined);
  const packages = condition(report, 'Packages');
  assert.equal(packages.status, 'False');
  assert.equal(packages.reason, 'WouldChange');
  assert.match(packages.message!, /alpha: \(absent\) -> 1\.0 held/);
  assert.match(packages.message!, /would run apt-get install .*alpha=1\.0 beta=2\.0/);
  assert.ok(report.actions?.includes('Files: would write /etc/app/app.conf'), report.actions?.join('\n'));
  assert.ok(report.actions?.includes('Units: would run systemctl start app.service'), report.actions?.join('\n'));

  // Dry run taught the engine nothing: the real round applies, it does not "correct drift".
  const real = await engine.round(fullSpec());
  assert.equal(condition(real, 'Packages').reason, 'Applied');
  assert.deepEqual(real.drift, []);
});

test('hand-made changes are reverted and reported as drift; a new spec is applied, not drift', async () => {
  const { machine, engine, newEngine } = setup();
  await engine.round(fullSpec());
  machine.packages.delete('beta');
  machine.sysctl('net.ipv4.ip_forward', '0');
  machine.units.get('app.service')!.active = false;
  machine.fs.put('/etc/app/app.conf', 'port = 8080\n', { mode: 0o640, uid: 33, gid: 33 });
  machine.takeCalls();

  // A restarted agent remembers what it converged (the state file).
  const report = await newEngine().round(fullSpec());
  assert.deepEqual(reasons(report), {
    Hostname: 'True Converged', Swap: 'True Converged', KernelModules: 'True Converged', Sysctl: 'True DriftCorrected', AptSources: 'True Converged',
    Packages: 'True DriftCorrected', Files: 'True DriftCorrected', Containerd: 'True Converged', Units: 'True DriftCorrected',
  });
  const drift = report.drift.map(({ step, item, found, set }) => ({ step, item, found, set }));
  assert.deepEqual(drift.filter((d) => d.step !== 'Files'), [
    { step: 'Sysctl', item: 'net.ipv4.ip_forward', found: '0', set: '1' },
    { step: 'Packages', item: 'beta', found: '(absent)', set: '2.0' },
    { step: 'Units', item: 'app.service', found: 'enabled inactive', set: 'enabled active' },
  ]);
  assert.equal(drift.find((d) => d.step === 'Files')?.item, '/etc/app/app.conf');
  assert.ok(report.drift.every((d) => d.time === new Date(Date.parse('2026-01-01T00:00:00Z')).toISOString()));
  assert.equal(await machine.fs.read('/etc/app/app.conf'), 'port = 80\n');
  assert.ok(machine.units.get('app.service')!.active);
  // Only beta was installed again.
  assert.ok(machine.calls.some((c) => /^apt-get install .* beta=2\.0$/.test(c)), machine.calls.join('\n'));

  const upgrade = fullSpec();
  upgrade.packages[0]!.version = '1.1';
  const next = await engine.round(upgrade);
  assert.equal(condition(next, 'Packages').reason, 'Applied');
  assert.deepEqual(next.drift, []);
  assert.deepEqual(machine.packages.get('alpha'), { version: '1.1', held: true, state: 'installed' });
});

test('a changed restart_on file restarts its running unit in the same round', async () => {
  const { machine, engine } = setup();
  await engine.round(fullSpec());
  machine.takeCalls();
  const changed = fullSpec();
  changed.files[0]!.content = 'port = 81\n';
  const report = await engine.round(changed);
  assert.ok(machine.calls.includes('systemctl restart app.service'), machine.calls.join('\n'));
  assert.match(condition(report, 'Units').message!, /app\.service restart: \/etc\/app\/app\.conf changed -> restarted/);
});

test('a failing step fails its condition with the stderr; dependants are skipped, the rest goes on', async () => {
  const { machine, engine } = setup();
  const spec = fullSpec();
  spec.packages[1]!.version = '9.9';
  const report = await engine.round(spec);
  const packages = condition(report, 'Packages');
  assert.equal(packages.status, 'False');
  assert.equal(packages.reason, 'CommandFailed');
  assert.match(packages.message!, /Version '9\.9' for 'beta' was not found/);
  const units = condition(report, 'Units');
  assert.deepEqual([units.status, units.reason], ['False', 'DependencyFailed']);
  assert.match(units.message!, /Packages/);
  assert.equal(condition(report, 'Files').status, 'True');
  assert.equal(condition(report, 'Sysctl').status, 'True');
  assert.equal(report.converged, false);
  assert.match(report.error!, /^Packages: /);
  // Nothing half-applied: apt refused the whole batch, alpha is not installed either.
  assert.equal(machine.packages.size, 0);
});

test('a sysctl the kernel refuses fails its step naming the key, and the other keys are still set', async () => {
  const { machine, engine } = setup();
  machine.refusedSysctls.add('vm.overcommit_memory');
  const report = await engine.round(fullSpec());
  const sysctl = condition(report, 'Sysctl');
  assert.deepEqual([sysctl.status, sysctl.reason], ['False', 'CommandFailed']);
  assert.match(sysctl.message!, /vm\.overcommit_memory refused by the kernel: sysctl: permission denied/);
  assert.equal(await machine.fs.read('/proc/sys/net/ipv4/ip_forward'), '1\n');
  assert.equal(condition(report, 'Packages').status, 'True');
});

test('a read-only path fails the Files step with the path; other files are written and units still skipped', async () => {
  const { machine, engine } = setup();
  machine.fs.readOnly.push('/usr/');
  const spec = fullSpec();
  spec.files.push({ path: '/usr/lib/app/extra.conf', content: 'x\n', mode: 0, owner: '', group: '' });
  const report = await engine.round(spec);
  const files = condition(report, 'Files');
  assert.equal(files.status, 'False');
  assert.match(files.message!, /\/usr\/lib\/app\/extra\.conf: EROFS: read-only file system/);
  assert.equal(await machine.fs.read('/etc/app/app.conf'), 'port = 80\n');
  assert.equal(condition(report, 'Units').reason, 'DependencyFailed');
});

test('a unit that fails to start reports the journal lines', async () => {
  const { machine, engine } = setup();
  machine.script('systemctl', (args) => (args[0] === 'start' ? { exitCode: 1, stderr: 'Job for app.service failed.\n' } : (machine.units.set('app.service', { enabled: true, active: false }), undefined)));
  const spec = fullSpec();
  spec.units[0]!.content = '';
  const report = await engine.round(spec);
  const units = condition(report, 'Units');
  assert.deepEqual([units.status, units.reason], ['False', 'CommandFailed']);
  assert.match(units.message!, /systemctl start app\.service: exited 1: Job for app\.service failed\.\napp: bad config/);
});

test('lastTransitionTime moves only when status changes', async () => {
  const { machine, clock, engine } = setup();
  const t0 = (await engine.round(fullSpec())).conditions;
  clock.advance(60_000);
  machine.refusedSysctls.add('net.ipv4.ip_forward');
  machine.sysctl('net.ipv4.ip_forward', '0');
  const t1 = (await engine.round(fullSpec())).conditions;
  const sysctl = (cs: Condition[]) => cs.find((c) => c.type === 'Sysctl')!;
  assert.equal(sysctl(t1).status, 'False');
  assert.notEqual(sysctl(t1).lastTransitionTime, sysctl(t0).lastTransitionTime);
  assert.equal(t1.find((c) => c.type === 'Packages')!.lastTransitionTime, t0.find((c) => c.type === 'Packages')!.lastTransitionTime);
  clock.advance(60_000);
  const t2 = (await engine.round(fullSpec())).conditions;
  assert.equal(sysctl(t2).lastTransitionTime, sysctl(t1).lastTransitionTime);
  clock.advance(60_000);
  machine.refusedSysctls.clear();
  const t3 = (await engine.round(fullSpec())).conditions;
  assert.equal(sysctl(t3).status, 'True');
  assert.equal(sysctl(t3).lastTransitionTime, new Date(clock.now()).toISOString());
});

test('a round whose signal is aborted runs no further step and says so', async () => {
  const { machine, engine } = setup();
  const controller = new AbortController();
  controller.abort();
  const report = await engine.round(fullSpec(), { signal: controller.signal });
  assert.ok(report.conditions.every((c) => c.status === 'False' && c.reason === 'Aborted'));
  assert.deepEqual(machine.calls, []);
  assert.deepEqual(machine.fs.changes.filter((c) => !c.includes('/var/lib/herd/')), []);
});

test('a corrupt state file is ignored: the engine starts afresh instead of failing the round', async () => {
  const { machine, engine } = setup();
  machine.fs.put('/var/lib/herd/converge-state.json', '{"converged": {');
  const report = await engine.round(fullSpec());
  assert.equal(report.converged, true);
  assert.deepEqual(JSON.parse((await machine.fs.read('/var/lib/herd/converge-state.json'))!).converged.Packages, { alpha: '1.0 held', beta: '2.0' });
});
