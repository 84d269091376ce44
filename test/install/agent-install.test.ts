import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, appendFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createExecutor, createLogger, nodeFileSystem } from '@herd/sys';
import { directoryStore, startCoordinator } from '@herd/coordinator';
import { TestWorld, type Machine } from '../world/index.js';

const root = resolve(import.meta.dirname, '../..');

/** Polls until `check` is truthy (a hang guard, not a timing assertion). */
async function eventually<T>(check: () => Promise<T>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const mainPid = async (m: Machine) =>
  Number((await m.exec.run('systemctl', ['show', '-P', 'MainPID', 'herd-agent.service'])).stdout.trim());
const active = async (m: Machine) =>
  (await m.exec.run('systemctl', ['is-active', 'herd-agent.service'], { allowFailure: true })).stdout.trim() === 'active';

test('install-agent.sh installs the agent as a systemd service that enrolls, is idempotent, survives restarts and upgrades in place', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'herd-install-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const artifact = join(work, 'artifact');
  await createExecutor().run(process.execPath, [join(root, 'scripts/build-agent.mjs'), artifact], { cwd: root });

  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  const coordinator = await startCoordinator({
    store: directoryStore(join(work, 'coordinator'), nodeFileSystem()),
    host: world.bridge.hostAddress, port: 0,
    logger: createLogger({ name: 'coordinator', level: 'warn' }),
  });
  t.after(() => coordinator.close());
  const ref = { cluster: 'install-test', node: m.name };
  const { token } = await coordinator.tokens.create({ ...ref, ttlMs: 10 * 60_000 });

  // Into the machine the way the local provider will do it: copy the artifact, run its script.
  await cp(artifact, join(m.rootfs, 'root/herd-agent'), { recursive: true });
  const install = (...args: string[]) => m.exec.run('bash', ['/root/herd-agent/install-agent.sh', ...args]);
  const flags = ['--coordinator', `${world.bridge.hostAddress}:${coordinator.port}`, '--ca-hash', coordinator.caHash, '--token', token, '--node', m.name];

  const first = await install(...flags);
  assert.match(first.stdout, /installed/);
  assert.match(first.stdout, /started herd-agent\.service/);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent to enroll and connect');
  assert.equal(await active(m), true);
  assert.equal((await m.exec.run('systemctl', ['is-enabled', 'herd-agent.service'])).stdout.trim(), 'enabled');
  assert.match((await m.exec.run('journalctl', ['-u', 'herd-agent', '--no-pager', '-o', 'cat'])).stdout, /enrolled/, 'logs go to the journal');
  const envFile = await m.exec.run('stat', ['-c', '%a %U', '/etc/herd/agent.env']);
  assert.equal(envFile.stdout.trim(), '600 root', 'the token is readable by root only');

  // Idempotent: the same artifact and settings change nothing, not even the running process.
  const pid = await mainPid(m);
  const second = await install(...flags);
  assert.match(second.stdout, /nothing changed/);
  assert.equal(await mainPid(m), pid);

  // Survives a restart (and a crash: Restart=always), and comes back connected.
  await m.exec.run('systemctl', ['restart', 'herd-agent.service']);
  assert.equal(await active(m), true);
  assert.notEqual(await mainPid(m), pid);
  await m.exec.run('systemctl', ['kill', '--signal=KILL', 'herd-agent.service']);
  await eventually(async () => (await active(m)) && (await mainPid(m)) !== pid, 'systemd to restart the killed agent');
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent to reconnect with its stored credentials');

  // A newer artifact upgrades in place, keeping the recorded settings.
  await appendFile(join(m.rootfs, 'root/herd-agent/herd-agent.mjs'), '\n// a newer build\n');
  await writeFile(join(m.rootfs, 'root/herd-agent/VERSION'), '0.1.1+test\n');
  const before = await mainPid(m);
  const upgrade = await install();
  assert.match(upgrade.stdout, /upgraded from .* to 0\.1\.1\+test/);
  assert.match(upgrade.stdout, /restarted herd-agent\.service/);
  assert.equal(await readFile(join(m.rootfs, 'opt/herd/agent/VERSION'), 'utf8'), '0.1.1+test\n');
  assert.notEqual(await mainPid(m), before);
  assert.equal(await active(m), true);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the upgraded agent to reconnect');
  assert.match((await m.exec.run('herd-agent', ['--version'])).stdout, /herd-agent/);
});

test('install-agent.sh refuses a first install without settings, and bad values, before changing anything', async (t) => {
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  const work = await mkdtemp(join(tmpdir(), 'herd-install-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  await createExecutor().run(process.execPath, [join(root, 'scripts/build-agent.mjs'), join(m.rootfs, 'root/herd-agent')], { cwd: root });
  const install = (...args: string[]) => m.exec.run('bash', ['/root/herd-agent/install-agent.sh', ...args], { allowFailure: true });

  const bare = await install();
  assert.notEqual(bare.exitCode, 0);
  assert.match(bare.stderr, /first install: --coordinator, --ca-hash and --token are needed/);
  const bad = await install('--coordinator', '10.0.0.1:1', '--ca-hash', 'md5:00', '--token', 'x');
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr, /--ca-hash must be sha256/);
  const unit = await m.exec.run('test', ['-e', '/etc/systemd/system/herd-agent.service'], { allowFailure: true });
  assert.notEqual(unit.exitCode, 0, 'nothing was installed');
});
