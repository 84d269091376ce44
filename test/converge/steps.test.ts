import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@herd/sys';
import { compareKernelReleases, createEngine, type RoundReport } from '@herd/converge';
import type { NodeSpec__Output, Package__Output } from '@herd/proto';
import { FakeMachine } from './fakes.js';
import { FakeClock } from '../support.js';
import { nodeSpec } from './spec.js';

function engineOn(machine: FakeMachine) {
  return createEngine({ executor: machine.exec, fs: machine.fs, logger: silentLogger(), clock: new FakeClock({ start: Date.parse('2026-01-01T00:00:00Z'), sleep: 'advances' }), stateDir: '/var/lib/herd' });
}

function pkg(name: string, version: string, extra: Partial<Package__Output> = {}): Package__Output {
  return { name, version, hold: false, absent: false, allowDowngrade: false, ...extra };
}

function condition(report: RoundReport, type: string) {
  const found = report.conditions.find((c) => c.type === type)!;
  return { ...found, message: found.message ?? '' };
}

async function roundOn(machine: FakeMachine, fields: Partial<NodeSpec__Output>) {
  return engineOn(machine).round(nodeSpec(fields));
}

test('an interrupted dpkg run is recovered before the package step looks', async () => {
  const machine = new FakeMachine();
  machine.repository.set('alpha', ['1.0']);
  machine.packages.set('alpha', { version: '1.0', held: false, state: 'installed' });
  machine.fs.put('/var/lib/dpkg/updates/0003', 'Package: alpha\n');
  const report = await roundOn(machine, { packages: [pkg('alpha', '1.0')] });
  assert.deepEqual(machine.calls.slice(0, 3), [
    'dpkg --force-confdef --force-confold --configure -a',
    'apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 -f',
    'dpkg-query -W -f=${Package}\t${Version}\t${Status}\n alpha',
  ]);
  assert.equal(condition(report, 'Packages').reason, 'Applied');
  assert.match(condition(report, 'Packages').message, /recovered: dpkg was interrupted \(1 files in \/var\/lib\/dpkg\/updates\)/);
});

test('a half-configured package is repaired and installed at its version', async () => {
  const machine = new FakeMachine();
  machine.repository.set('alpha', ['1.0']);
  machine.packages.set('alpha', { version: '1.0', held: false, state: 'half-configured' });
  const report = await roundOn(machine, { packages: [pkg('alpha', '1.0')] });
  assert.match(condition(report, 'Packages').message, /alpha: 1\.0 \(half-configured\) -> 1\.0/);
  assert.ok(machine.calls.includes('dpkg --force-confdef --force-confold --configure -a'));
  assert.equal(machine.packages.get('alpha')?.state, 'installed');
});

test('a held package moves to a new version and is held again; a downgrade needs allow_downgrade', async () => {
  const machine = new FakeMachine();
  machine.repository.set('alpha', ['1.0', '1.1']);
  machine.packages.set('alpha', { version: '1.0', held: true, state: 'installed' });
  await roundOn(machine, { packages: [pkg('alpha', '1.1', { hold: true })] });
  assert.deepEqual(machine.packages.get('alpha'), { version: '1.1', held: true, state: 'installed' });
  assert.deepEqual(machine.takeCalls().filter((c) => c.startsWith('apt-mark')), ['apt-mark unhold alpha', 'apt-mark hold alpha']);

  const refused = await roundOn(machine, { packages: [pkg('alpha', '1.0', { hold: true })] });
  assert.equal(condition(refused, 'Packages').status, 'False');
  assert.match(condition(refused, 'Packages').message, /downgraded and -y was used without --allow-downgrades/);
  // The hold lifted for the transaction is back.
  assert.deepEqual(machine.packages.get('alpha'), { version: '1.1', held: true, state: 'installed' });

  const allowed = await roundOn(machine, { packages: [pkg('alpha', '1.0', { hold: true, allowDowngrade: true })] });
  assert.equal(condition(allowed, 'Packages').status, 'True');
  assert.ok(machine.calls.some((c) => c.includes('--allow-downgrades --allow-change-held-packages alpha=1.0')));
  assert.deepEqual(machine.packages.get('alpha'), { version: '1.0', held: true, state: 'installed' });
});

test('absent packages are purged (unheld first); packages the spec dropped are left alone', async () => {
  const machine = new FakeMachine();
  machine.packages.set('alpha', { version: '1.0', held: true, state: 'installed' });
  machine.packages.set('gamma', { version: '3.0', held: false, state: 'installed' });
  const report = await roundOn(machine, { packages: [pkg('alpha', '', { absent: true })] });
  assert.equal(condition(report, 'Packages').status, 'True');
  assert.equal(machine.packages.has('alpha'), false);
  assert.equal(machine.packages.has('gamma'), true);
});

test('apt-get update runs only when apt does not know a wanted version', async () => {
  const machine = new FakeMachine();
  machine.repository.set('alpha', ['1.0']);
  await roundOn(machine, { packages: [pkg('alpha', '1.0')] });
  assert.ok(!machine.takeCalls().includes('apt-get update -q'));
  machine.unfetched.set('alpha', ['1.2']);
  await roundOn(machine, { packages: [pkg('alpha', '1.2')] });
  assert.ok(machine.takeCalls().includes('apt-get update -q'));
  assert.equal(machine.packages.get('alpha')?.version, '1.2');
});

test('swap is turned off now and commented out of fstab', async () => {
  const machine = new FakeMachine();
  machine.fs.put('/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n');
  machine.fs.put('/etc/fstab', '/dev/vda1 / ext4 defaults 0 1\n/dev/vda2 none swap sw 0 0\n', { mode: 0o644 });
  const report = await roundOn(machine, { swapOff: true });
  assert.equal(condition(report, 'Swap').reason, 'Applied');
  assert.ok(machine.calls.includes('swapoff -a'));
  assert.equal(await machine.fs.read('/etc/fstab'), '/dev/vda1 / ext4 defaults 0 1\n# swap off (herd): /dev/vda2 none swap sw 0 0\n');
  assert.equal(condition(await roundOn(machine, { swapOff: true }), 'Swap').reason, 'Converged');
});

test('a module the kernel refuses to load is a warning, not a failure, and not counted as a change', async () => {
  const machine = new FakeMachine();
  const spec = nodeSpec({ kernelModules: ['overlay', 'br_netfilter'] });
  const engine = engineOn(machine);
  await engine.round(spec);
  assert.ok(machine.takeCalls().includes('modprobe -- br_netfilter'));
  const report = await engine.round(spec);
  // Not retried while it stays as it was (a no-op round runs no command); a restarted agent retries.
  assert.deepEqual(machine.takeCalls(), []);
  const modules = condition(report, 'KernelModules');
  assert.deepEqual([modules.status, modules.reason], ['True', 'Converged']);
  assert.match(modules.message, /warning: br_netfilter: not loaded, the kernel refused: .*Operation not permitted/);
  assert.equal(report.changed, false);
  assert.deepEqual(report.drift, []);
  await roundOn(machine, spec);
  assert.ok(machine.takeCalls().includes('modprobe -- br_netfilter'));
  // Without a module tree for the running kernel (a container), modprobe cannot work: a warning.
  machine.script('modprobe', () => ({ exitCode: 1, stderr: 'modprobe: FATAL: Module nope not found in directory /lib/modules/6.1.0-18-amd64\n' }));
  const treeless = condition(await roundOn(machine, { kernelModules: ['nope'] }), 'KernelModules');
  assert.deepEqual([treeless.status, treeless.reason], ['True', 'Applied']);
  assert.match(treeless.message, /warning: nope: not loaded: no \/lib\/modules\/6\.1\.0-18-amd64 on this machine/);
  // With one, a module that does not exist is a failure.
  machine.fs.put('/lib/modules/6.1.0-18-amd64/modules.dep', '');
  const missing = condition(await roundOn(machine, { kernelModules: ['nope'] }), 'KernelModules');
  assert.deepEqual([missing.status, missing.reason], ['False', 'CommandFailed']);
  assert.equal(condition(await roundOn(machine, { kernelModules: ['nope'], sysctls: { 'a.b': '1' } }), 'Sysctl').reason, 'DependencyFailed');
});

test('apt sources and keys are written; a source herd wrote and the spec dropped is removed', async () => {
  const machine = new FakeMachine();
  machine.fs.put('/etc/apt/sources.list.d/debian.list', 'deb http://deb.debian.org/debian bookworm main\n');
  await roundOn(machine, { aptSources: [{ name: 'k8s', line: 'deb [signed-by=/etc/apt/keyrings/k8s.asc] http://10.0.0.1 ./', key: '-----BEGIN PGP PUBLIC KEY BLOCK-----' }] });
  assert.match((await machine.fs.read('/etc/apt/sources.list.d/k8s.list'))!, /signed-by/);
  assert.ok(await machine.fs.read('/etc/apt/keyrings/k8s.asc'));
  const report = await roundOn(machine, { aptSources: [] });
  assert.equal(condition(report, 'AptSources').reason, 'Applied');
  assert.equal(await machine.fs.read('/etc/apt/sources.list.d/k8s.list'), undefined);
  assert.equal(await machine.fs.read('/etc/apt/keyrings/k8s.asc'), undefined);
  assert.ok(await machine.fs.read('/etc/apt/sources.list.d/debian.list'));
});

test('containerd gets a Kubernetes config and a restart only when it changed', async () => {
  const machine = new FakeMachine();
  machine.units.set('containerd.service', { enabled: true, active: true });
  const spec = { containerd: { enabled: true, sandboxImage: 'registry.k8s.io/pause:3.9' } };
  await roundOn(machine, spec);
  const config = (await machine.fs.read('/etc/containerd/config.toml'))!;
  assert.match(config, /SystemdCgroup = true/);
  assert.match(config, /sandbox_image = "registry\.k8s\.io\/pause:3\.9"/);
  assert.match(config, /disabled_plugins = \[\]/);
  assert.deepEqual(machine.takeCalls(), ['systemctl restart containerd.service']);
  await roundOn(machine, spec);
  assert.deepEqual(machine.takeCalls(), []);
});

test('a file whose mode or owner alone changed is chmod-ed or chown-ed, not rewritten', async () => {
  const machine = new FakeMachine();
  machine.fs.put('/etc/app.conf', 'x\n', { mode: 0o600 });
  const report = await roundOn(machine, { files: [{ path: '/etc/app.conf', content: 'x\n', mode: 0o644, owner: 'www-data', group: '' }] });
  assert.equal(condition(report, 'Files').status, 'True');
  assert.deepEqual(machine.fs.changes.filter((c) => c.includes('app.conf')), ['chmod /etc/app.conf 644', 'chown /etc/app.conf 33:0']);
  const unknown = await roundOn(machine, { files: [{ path: '/etc/app.conf', content: 'x\n', mode: 0o644, owner: 'nobody-here', group: '' }] });
  assert.deepEqual([condition(unknown, 'Files').status, condition(unknown, 'Files').reason], ['False', 'UnknownOwner']);
});

test('a unit drop-in written makes systemd read its units again; an unchanged one does not', async () => {
  const machine = new FakeMachine();
  const dropIn = { path: '/etc/systemd/system/kubelet.service.d/20-herd.conf', content: '[Service]\nExecStartPre=/bin/true\n', mode: 0o644, owner: '', group: '' };
  const reloads = () => machine.calls.filter((c) => c === 'systemctl daemon-reload').length;
  await roundOn(machine, { files: [dropIn] });
  assert.equal(reloads(), 1);
  await roundOn(machine, { files: [dropIn, { path: '/etc/app.conf', content: 'x\n', mode: 0o644, owner: '', group: '' }] });
  assert.equal(reloads(), 1, 'a file elsewhere changed, the drop-in did not');
});

test('a new unit is written, enabled and started without a systemd reload; a changed unit file reloads once, a toggle with enable\'s own', async () => {
  const machine = new FakeMachine();
  const content = '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n';
  const unit = { name: 'app.service', content, enabled: true, running: true, restartOn: [] };
  const changes = () => machine.takeCalls().filter((c) => c.startsWith('systemctl') && !c.startsWith('systemctl show'));
  const first = await roundOn(machine, { units: [unit] });
  assert.equal(condition(first, 'Units').status, 'True');
  assert.deepEqual(changes(), ['systemctl enable --no-reload app.service', 'systemctl start app.service']);
  await roundOn(machine, { units: [{ ...unit, content: `${content}# changed\n` }] });
  assert.deepEqual(changes(), ['systemctl daemon-reload', 'systemctl restart app.service']);
  await roundOn(machine, { units: [{ ...unit, content: `${content}# again\n`, enabled: false }] });
  assert.deepEqual(changes(), ['systemctl disable app.service', 'systemctl restart app.service'], 'disable reloads, reading the new file too');
  const idle = await roundOn(machine, { units: [{ name: 'idle.service', content, enabled: false, running: false, restartOn: [] }] });
  assert.equal(condition(idle, 'Units').status, 'True');
  assert.deepEqual(changes(), [], 'a new unit neither enabled nor started needs nothing of systemd');
});

test('reboot required: the flag file, or an installed kernel newer than the running one', async () => {
  const machine = new FakeMachine();
  assert.equal((await roundOn(machine, {})).rebootRequired, false);
  machine.fs.put('/boot/vmlinuz-6.1.0-9-amd64', '');
  assert.equal((await roundOn(machine, {})).rebootRequired, false);
  machine.fs.put('/boot/vmlinuz-6.1.0-20-amd64', '');
  assert.equal((await roundOn(machine, {})).rebootRequired, true);
  machine.fs.files.clear();
  machine.fs.put('/var/run/reboot-required', '');
  assert.equal((await roundOn(machine, {})).rebootRequired, true);
  assert.equal(compareKernelReleases('6.1.0-18-amd64', '6.1.0-9-amd64'), 1);
  assert.equal(compareKernelReleases('6.1.0', '6.1.0'), 0);
});

test('a config written before its service failed to restart is applied again on the next round', async () => {
  const machine = new FakeMachine();
  const engine = engineOn(machine);
  const spec = nodeSpec({ containerd: { enabled: true, sandboxImage: '' } });
  const failed = await engine.round(spec);
  assert.deepEqual([condition(failed, 'Containerd').status, condition(failed, 'Containerd').reason], ['False', 'CommandFailed']);
  assert.match((await machine.fs.read('/etc/containerd/config.toml'))!, /registry\.k8s\.io\/pause:3\.10/);
  machine.takeCalls();

  machine.units.set('containerd.service', { enabled: true, active: true });
  const retried = await engine.round(spec);
  assert.deepEqual(machine.takeCalls().filter((c) => c.startsWith('systemctl')), ['systemctl restart containerd.service']);
  assert.equal(condition(retried, 'Containerd').reason, 'Applied');
  assert.match(condition(retried, 'Containerd').message, /applied again \(the last attempt failed\)/);
  assert.deepEqual(retried.drift, []);
  assert.equal(condition(await engine.round(spec), 'Containerd').reason, 'Converged');
});

test('an agent that dies between writing a config and restarting its service resumes the restart', async () => {
  const machine = new FakeMachine();
  machine.units.set('containerd.service', { enabled: true, active: true });
  const spec = nodeSpec({ containerd: { enabled: true, sandboxImage: '' } });
  let restartStarted!: () => void;
  const reached = new Promise<void>((resolve) => { restartStarted = resolve; });
  // The first agent never sees its restart return: it died there (its round never ends).
  machine.script('systemctl', () => { restartStarted(); return new Promise<never>(() => {}); });
  void engineOn(machine).round(spec);
  await reached;
  assert.ok(await machine.fs.read('/etc/containerd/config.toml'));
  machine.takeCalls();

  machine.script('systemctl', () => undefined);
  const resumed = await engineOn(machine).round(spec);
  assert.deepEqual(machine.takeCalls(), ['systemctl restart containerd.service']);
  assert.equal(condition(resumed, 'Containerd').reason, 'Applied');
});
