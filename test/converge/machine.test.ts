/**
 * The converge engine against a real Debian bookworm machine (systemd-nspawn, real systemd,
 * apt and dpkg) with packages from a local repository. The engine runs on the host; every
 * command and file operation goes into the machine through nsenter. One machine boot serves
 * the checks below, in order: each starts from the state the previous one left.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, systemClock, type Executor } from '@herd/sys';
import { createEngine, type ConvergeEngine, type RoundReport } from '@herd/converge';
import type { NodeSpec__Output, Package__Output } from '@herd/proto';
import { TestWorld, type Machine } from '../world/index.js';
import { machineFileSystem } from './machine-fs.js';
import { nodeSpec } from './spec.js';

const APP = 'herd-test-app.service';
const APP_CONF = '/etc/herd-test/app.conf';
const APP_UNIT = `[Unit]
Description=herd test app
[Service]
ExecStart=/bin/sh -c 'cat ${APP_CONF}; exec sleep infinity'
[Install]
WantedBy=multi-user.target
`;
const FAILING_UNIT = `[Unit]
Description=herd test unit that cannot start
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "herd-test-fail: bad config on line 3" >&2; exit 3'
`;
/** The slow package's postinst waits while this file exists: the test kills apt-get meanwhile. */
const SLOW_FLAG = '/run/herd-test-slow';
const SLOW_RUNNING = '/run/herd-test-postinst-running';

function pkg(name: string, version: string, extra: Partial<Package__Output> = {}): Package__Output {
  return { name, version, hold: true, absent: false, allowDowngrade: false, ...extra };
}

function baseSpec(world: TestWorld, fields: Partial<NodeSpec__Output> = {}): NodeSpec__Output {
  return nodeSpec({
    hostname: 'converge-test',
    swapOff: true,
    kernelModules: ['br_netfilter'],
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '1024' },
    aptSources: [{ name: 'herd-world', line: world.repo.sourceLine, key: '' }],
    packages: [pkg('herd-test-a', '1.0'), pkg('herd-test-base', '1.0', { hold: false })],
    files: [{ path: APP_CONF, content: 'greeting = hello\n', mode: 0o640, owner: 'root', group: 'root' }],
    units: [{ name: APP, content: APP_UNIT, enabled: true, running: true, restartOn: [APP_CONF] }],
    ...fields,
  });
}

function condition(report: RoundReport, type: string) {
  const found = report.conditions.find((c) => c.type === type);
  assert.ok(found, `no ${type} condition`);
  return { ...found, message: found.message ?? '' };
}

function summary(report: RoundReport): Record<string, string> {
  return Object.fromEntries(report.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
}

function explain(report: RoundReport): string {
  return report.conditions.map((c) => `${c.type} ${c.status} ${c.reason}: ${c.message}`).join('\n');
}

async function text(exec: Executor, command: string, ...args: string[]): Promise<string> {
  return (await exec.run(command, args, { timeoutMs: 30_000 })).stdout.trim();
}

/** Host PIDs of `root` and everything below it. */
function processTree(root: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${root}/task/${root}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* gone */ }
  return [root, ...children.flatMap(processTree)];
}

/** Host PIDs of processes named `comm` in the machine's PID namespace. */
function machineProcesses(machine: Machine, comm: string): number[] {
  const ns = readlinkSync(`/proc/${machine.leader}/ns/pid`);
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/pid`) === ns && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
    } catch {
      return false;
    }
  });
}

describe('converge on a real Debian machine', () => {
  let world: TestWorld;
  let machine: Machine;
  let exec: Executor;
  let engine: ConvergeEngine;

  // Registered here, not from inside before(): a hook added there runs as soon as before() ends.
  after(() => world?.destroy());
  before(async () => {
    world = await TestWorld.start(undefined, { machines: 1 });
    machine = world.machines[0]!;
    exec = machine.exec;
    for (const version of ['1.0', '2.0']) {
      await world.repo.add(await world.repo.buildPackage({ name: 'herd-test-a', version, depends: 'herd-test-base', files: { '/usr/share/herd-test/a': `version ${version}\n` } }));
    }
    await world.repo.add(
      await world.repo.buildPackage({ name: 'herd-test-base', version: '1.0' }),
      await world.repo.buildPackage({ name: 'herd-test-slow', version: '1.0', postinst: `if [ -e ${SLOW_FLAG} ]; then touch ${SLOW_RUNNING}; sleep 300; fi` }),
      await world.repo.buildPackage({ name: 'herd-test-broken', version: '1.0', failConfigure: true }),
    );
    // A swap entry the Swap step must comment out (the machine has no swap active: it shares the host's kernel).
    await exec.run('sh', ['-c', 'echo "/swapfile none swap sw 0 0" >> /etc/fstab'], { timeoutMs: 10_000 });
    engine = createEngine({ executor: exec, fs: machineFileSystem(exec), logger: silentLogger(), clock: systemClock, stateDir: '/var/lib/herd' });
  });

  it('converges a fresh machine: pinned and held packages, sysctl, modules file, swap off, a running unit', async () => {
    const report = await engine.round(baseSpec(world));
    assert.deepEqual(summary(report), {
      Hostname: 'True Applied', Swap: 'True Applied', KernelModules: 'True Applied', Sysctl: 'True Applied', AptSources: 'True Applied',
      Packages: 'True Applied', Files: 'True Applied', Containerd: 'True Converged', Units: 'True Applied',
    }, explain(report));
    assert.equal(report.converged, true);
    assert.equal(report.rebootRequired, false);
    assert.match(condition(report, 'KernelModules').message, /warning: br_netfilter: not loaded/);

    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-a'), '1.0 hi');
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-base'), '1.0 ii');
    assert.equal(await text(exec, 'apt-mark', 'showhold'), 'herd-test-a');
    assert.equal(await text(exec, 'sysctl', '-n', 'net.ipv4.ip_forward'), '1');
    assert.match(await text(exec, 'cat', '/etc/sysctl.d/90-herd.conf'), /^net\.core\.somaxconn = 1024$/m);
    assert.match(await text(exec, 'cat', '/etc/modules-load.d/herd.conf'), /^br_netfilter$/m);
    assert.match(await text(exec, 'cat', '/etc/fstab'), /^# swap off \(herd\): \/swapfile none swap sw 0 0$/m);
    assert.equal(await text(exec, 'hostname'), 'converge-test');
    assert.equal(await text(exec, 'systemctl', 'is-active', APP), 'active');
    assert.equal(await text(exec, 'systemctl', 'is-enabled', APP), 'enabled');
    assert.equal(await text(exec, 'stat', '-c', '%a %U', APP_CONF), '640 root');

    const again = await engine.round(baseSpec(world));
    assert.ok(again.conditions.every((c) => c.status === 'True' && c.reason === 'Converged'), explain(again));
    assert.equal(again.changed, false);
  });

  it('upgrades a held package when the spec changes its version, then downgrades it when allowed', async () => {
    const upgrade = baseSpec(world, { packages: [pkg('herd-test-a', '2.0'), pkg('herd-test-base', '1.0', { hold: false })] });
    const up = await engine.round(upgrade);
    assert.equal(condition(up, 'Packages').reason, 'Applied', explain(up));
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-a'), '2.0 hi');
    assert.equal(await text(exec, 'cat', '/usr/share/herd-test/a'), 'version 2.0');

    const down = await engine.round(baseSpec(world, { packages: [pkg('herd-test-a', '1.0', { allowDowngrade: true }), pkg('herd-test-base', '1.0', { hold: false })] }));
    assert.equal(condition(down, 'Packages').reason, 'Applied', explain(down));
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-a'), '1.0 hi');
  });

  it('reverts hand-made changes in one round and reports each as drift', async () => {
    const pidBefore = await text(exec, 'systemctl', 'show', '-p', 'MainPID', '--value', APP);
    await exec.run('dpkg', ['--force-hold', '--force-depends', '--purge', 'herd-test-base'], { timeoutMs: 60_000 });
    await exec.run('sysctl', ['-w', 'net.ipv4.ip_forward=0'], { timeoutMs: 10_000 });
    await exec.run('systemctl', ['stop', APP], { timeoutMs: 30_000 });
    await exec.run('sh', ['-c', `echo 'greeting = edited' > ${APP_CONF}`], { timeoutMs: 10_000 });

    const report = await engine.round(baseSpec(world));
    assert.deepEqual(summary(report), {
      Hostname: 'True Converged', Swap: 'True Converged', KernelModules: 'True Converged', Sysctl: 'True DriftCorrected', AptSources: 'True Converged',
      Packages: 'True DriftCorrected', Files: 'True DriftCorrected', Containerd: 'True Converged', Units: 'True DriftCorrected',
    }, explain(report));
    const drift = Object.fromEntries(report.drift.map((d) => [`${d.step} ${d.item}`, `${d.found} -> ${d.set}`]));
    assert.equal(drift['Sysctl net.ipv4.ip_forward'], '0 -> 1');
    assert.equal(drift['Packages herd-test-base'], '(absent) -> 1.0');
    assert.equal(drift[`Units ${APP}`], 'enabled inactive -> enabled active');
    assert.match(drift[`Files ${APP_CONF}`]!, /^sha256:\w+ 0640 root:root -> sha256:\w+ 0640 root:root$/);

    assert.equal(await text(exec, 'sysctl', '-n', 'net.ipv4.ip_forward'), '1');
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-base'), '1.0 ii');
    assert.equal(await text(exec, 'cat', APP_CONF), 'greeting = hello');
    assert.equal(await text(exec, 'systemctl', 'is-active', APP), 'active');
    assert.notEqual(await text(exec, 'systemctl', 'show', '-p', 'MainPID', '--value', APP), pidBefore);
  });

  it('restarts a running unit when a file it restarts on changes', async () => {
    const pidBefore = await text(exec, 'systemctl', 'show', '-p', 'MainPID', '--value', APP);
    const spec = baseSpec(world);
    spec.files[0]!.content = 'greeting = bonjour\n';
    const report = await engine.round(spec);
    assert.match(condition(report, 'Units').message, /restarted/, explain(report));
    assert.notEqual(await text(exec, 'systemctl', 'show', '-p', 'MainPID', '--value', APP), pidBefore);
    assert.match(await text(exec, 'journalctl', '--no-pager', '-o', 'cat', '-u', APP), /greeting = bonjour/);
  });

  it('recovers a package transaction killed with kill -9 in the middle, on the next round', async () => {
    const spec = baseSpec(world);
    spec.packages.push(pkg('herd-test-slow', '1.0'));
    await exec.run('touch', [SLOW_FLAG], { timeoutMs: 10_000 });
    const interrupted = engine.round(spec);
    const deadline = Date.now() + 120_000;
    while ((await exec.run('test', ['-e', SLOW_RUNNING], { allowFailure: true, timeoutMs: 10_000 })).exitCode !== 0) {
      assert.ok(Date.now() < deadline, 'the slow postinst never started');
      await sleep(200);
    }
    await exec.run('rm', ['-f', SLOW_FLAG, SLOW_RUNNING], { timeoutMs: 10_000 });
    const aptGet = machineProcesses(machine, 'apt-get');
    assert.equal(aptGet.length, 1, 'exactly the apt-get this round started');
    // Like a power cut: apt-get and everything it started (dpkg, the postinst) die at once.
    for (const pid of processTree(aptGet[0]!)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    const failed = await interrupted;
    assert.equal(condition(failed, 'Packages').status, 'False', explain(failed));
    assert.match(condition(failed, 'Packages').message, /SIGKILL/);
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${db:Status-Abbrev}', 'herd-test-slow'), 'iF', 'left half-configured');

    const recovered = await engine.round(spec);
    assert.equal(condition(recovered, 'Packages').status, 'True', explain(recovered));
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version} ${db:Status-Abbrev}', 'herd-test-slow'), '1.0 hi');
    assert.equal((await exec.run('dpkg', ['--audit'], { timeoutMs: 30_000 })).stdout, '');
  });

  it('bad input fails its own condition with the stderr, and the rest of the round goes on', async () => {
    const spec = baseSpec(world, {
      hostname: 'converge-bad',
      sysctls: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '2048', 'kernel.msgmax': '9000' },
      packages: [pkg('herd-test-a', '9.9')],
      files: [
        { path: APP_CONF, content: 'greeting = hello\n', mode: 0o640, owner: 'root', group: 'root' },
        { path: '/sys/herd-test.conf', content: 'x\n', mode: 0o644, owner: 'root', group: 'root' },
      ],
    });
    const report = await engine.round(spec);
    assert.equal(report.converged, false);
    assert.equal(condition(report, 'Hostname').status, 'True');
    const packages = condition(report, 'Packages');
    assert.deepEqual([packages.status, packages.reason], ['False', 'CommandFailed']);
    assert.match(packages.message, /Version '9\.9' for 'herd-test-a' was not found/);
    const sysctl = condition(report, 'Sysctl');
    assert.equal(sysctl.status, 'False');
    assert.match(sysctl.message, /kernel\.msgmax refused by the kernel: sysctl: permission denied on key "kernel\.msgmax"/);
    assert.equal(await text(exec, 'sysctl', '-n', 'net.core.somaxconn'), '2048', 'the keys the kernel accepts are set');
    const files = condition(report, 'Files');
    assert.equal(files.status, 'False');
    assert.match(files.message, /\/sys\/herd-test\.conf: .*Read-only file system/);
    assert.equal(await text(exec, 'cat', APP_CONF), 'greeting = hello', 'the other file was written');
    assert.equal(condition(report, 'Units').reason, 'DependencyFailed');
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version}', 'herd-test-a'), '1.0', 'apt refused the whole transaction');

    const broken = await engine.round(baseSpec(world, { packages: [pkg('herd-test-broken', '1.0')] }));
    const configure = condition(broken, 'Packages');
    assert.deepEqual([configure.status, configure.reason], ['False', 'CommandFailed']);
    assert.match(configure.message, /herd-test-broken: configure fails on purpose/);

    const unit = await engine.round(baseSpec(world, {
      packages: [pkg('herd-test-broken', '', { absent: true })],
      units: [
        { name: APP, content: APP_UNIT, enabled: true, running: true, restartOn: [APP_CONF] },
        { name: 'herd-test-fail.service', content: FAILING_UNIT, enabled: false, running: true, restartOn: [] },
      ],
    }));
    assert.equal(condition(unit, 'Packages').status, 'True', 'the broken package was purged: nothing left half-installed');
    const units = condition(unit, 'Units');
    assert.deepEqual([units.status, units.reason], ['False', 'CommandFailed']);
    assert.match(units.message, /systemctl start herd-test-fail\.service: exited 1/);
    assert.match(units.message, /herd-test-fail: bad config on line 3/);
    assert.equal(await text(exec, 'systemctl', 'is-active', APP), 'active');
  });

  it('dry run on the machine lists what it would change and changes nothing', async () => {
    const report = await engine.round(baseSpec(world, { packages: [pkg('herd-test-a', '2.0')], sysctls: { 'net.ipv4.ip_forward': '0' } }), { dryRun: true });
    assert.equal(condition(report, 'Packages').reason, 'WouldChange', explain(report));
    assert.ok(report.actions?.some((a) => /^Packages: would run apt-get install .*herd-test-a=2\.0$/.test(a)), report.actions?.join('\n'));
    assert.ok(report.actions?.includes('Sysctl: would run sysctl -w net.ipv4.ip_forward=0'), report.actions?.join('\n'));
    assert.equal(await text(exec, 'dpkg-query', '-W', '-f=${Version}', 'herd-test-a'), '1.0');
    assert.equal(await text(exec, 'sysctl', '-n', 'net.ipv4.ip_forward'), '1');
  });
});
