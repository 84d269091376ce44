import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createExecutor } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { eventually, MACHINE_POLL } from '../support.js';
import { testSshKey } from '../world/ssh.js';
import {
  ARTIFACT_IN_MACHINE, buildAgentArtifact, copyArtifact, installFlags, runInstall, startBridgeCoordinator, TOKEN_SOURCE_IN_MACHINE,
} from '../world/agent.js';

/** Every command line on the host, as any local user can read them. */
async function hostCommandLines(): Promise<string> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const lines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
  return lines.map((l) => l.replaceAll('\0', ' ')).join('\n');
}

const mainPid = async (m: Machine) =>
  Number((await m.exec.run('systemctl', ['show', '-P', 'MainPID', 'herd-agent.service'])).stdout.trim());
const active = async (m: Machine) =>
  (await m.exec.run('systemctl', ['is-active', 'herd-agent.service'], { allowFailure: true })).stdout.trim() === 'active';

test('install-agent.sh installs the agent as a systemd service that enrolls, is idempotent, survives restarts and upgrades in place', async (t) => {
  const artifact = await buildAgentArtifact(t);
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  const coordinator = await startBridgeCoordinator(t, world);
  const ref = { cluster: 'install-test', node: m.name };
  const flags = await installFlags(coordinator, ref, m);
  const token = (await readFile(join(m.rootfs, TOKEN_SOURCE_IN_MACHINE), 'utf8')).trim();
  await copyArtifact(m, artifact);

  const first = await runInstall(m, flags);
  assert.match(first.stdout, /installed/);
  assert.match(first.stdout, /started herd-agent\.service/);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent to enroll and connect', MACHINE_POLL);
  assert.equal(await active(m), true);
  assert.equal((await m.exec.run('systemctl', ['is-enabled', 'herd-agent.service'])).stdout.trim(), 'enabled');
  assert.match((await m.exec.run('journalctl', ['-u', 'herd-agent', '--no-pager', '-o', 'cat'])).stdout, /enrolled/, 'logs go to the journal');
  const envFile = await m.exec.run('stat', ['-c', '%a %U', '/etc/herd/agent.env']);
  assert.equal(envFile.stdout.trim(), '600 root');
  assert.match(await readFile(join(m.rootfs, 'etc/herd/agent.env'), 'utf8'), /--token-file=\/etc\/herd\/agent\.token/);

  // Idempotent: the same artifact and settings change nothing, not even the running process.
  const pid = await mainPid(m);
  const second = await runInstall(m, flags);
  assert.match(second.stdout, /nothing changed/);
  assert.equal(await mainPid(m), pid);

  await rm(join(m.rootfs, TOKEN_SOURCE_IN_MACHINE)); // the caller's copy, as a provider removes its staging directory
  // Once enrolled the token is nowhere: its file is deleted, and it was in no unit, file or command line.
  await eventually(async () => !existsSync(join(m.rootfs, 'etc/herd/agent.token')), 'the agent to delete its token file', MACHINE_POLL);
  const searched = ['/etc', '/opt/herd', '/root', '/var/lib/herd-agent', '/run/systemd', '/usr/local/bin'];
  const found = await m.exec.run('grep', ['-rlF', token, ...searched], { allowFailure: true });
  assert.equal(found.stdout, '', `files holding the token: ${found.stdout}`);
  const inMachine = await m.exec.run('sh', ['-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f; echo; done'], { allowFailure: true });
  assert.match(inMachine.stdout, /herd-agent\.mjs --state=\/var\/lib\/herd-agent --coordinator=/, 'the agent\'s command line was read');
  assert.ok(!inMachine.stdout.includes(token), 'no process in the machine has the token on its command line');
  assert.ok(!(await hostCommandLines()).includes(token), 'no process on the host has the token on its command line');

  // Survives a restart (and a crash: Restart=always), and comes back connected.
  await m.exec.run('systemctl', ['restart', 'herd-agent.service']);
  assert.equal(await active(m), true);
  assert.notEqual(await mainPid(m), pid);
  await m.exec.run('systemctl', ['kill', '--kill-who=main', '--signal=KILL', 'herd-agent.service']);
  await eventually(async () => (await active(m)) && (await mainPid(m)) !== pid, 'systemd to restart the killed agent', MACHINE_POLL);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent to reconnect with its stored credentials', MACHINE_POLL);

  // A newer artifact upgrades in place, keeping the recorded settings.
  await appendFile(join(m.rootfs, ARTIFACT_IN_MACHINE, 'herd-agent.mjs'), '\n// a newer build\n');
  await writeFile(join(m.rootfs, ARTIFACT_IN_MACHINE, 'VERSION'), '0.1.1+test\n');
  const before = await mainPid(m);
  const upgrade = await runInstall(m, []);
  assert.match(upgrade.stdout, /upgraded from .* to 0\.1\.1\+test/);
  assert.match(upgrade.stdout, /restarted herd-agent\.service/);
  assert.equal(await readFile(join(m.rootfs, 'opt/herd/agent/VERSION'), 'utf8'), '0.1.1+test\n');
  assert.notEqual(await mainPid(m), before);
  assert.equal(await active(m), true);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the upgraded agent to reconnect', MACHINE_POLL);
  assert.match((await m.exec.run('herd-agent', ['--version'])).stdout, /herd-agent/);

  // --move, as the providers run it (their copy is throwaway): changed files are renamed into
  // place and become root's, whoever copied them in; an unchanged one is left where it is.
  await copyArtifact(m, artifact);
  await writeFile(join(m.rootfs, ARTIFACT_IN_MACHINE, 'VERSION'), '0.1.2+test\n');
  await m.exec.run('chown', ['-R', '1000:1000', ARTIFACT_IN_MACHINE]);
  const moved = await runInstall(m, ['--move']);
  assert.match(moved.stdout, /upgraded from 0\.1\.1\+test to 0\.1\.2\+test/);
  const owners = await m.exec.run('stat', ['-c', '%n %a %u:%g', '/opt/herd/agent/herd-agent.mjs', '/opt/herd/agent/VERSION']);
  assert.equal(owners.stdout, '/opt/herd/agent/herd-agent.mjs 644 0:0\n/opt/herd/agent/VERSION 644 0:0\n');
  assert.equal(existsSync(join(m.rootfs, ARTIFACT_IN_MACHINE, 'herd-agent.mjs')), false, 'the changed bundle was moved');
  assert.equal(existsSync(join(m.rootfs, ARTIFACT_IN_MACHINE, 'node')), true, 'the unchanged runtime was left');
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent installed with --move to reconnect', MACHINE_POLL);
});

test('install-agent.sh refuses a first install without settings and bad values before changing anything; --no-start only enables', async (t) => {
  const artifact = await buildAgentArtifact(t);
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  await copyArtifact(m, artifact);

  const bare = await runInstall(m, [], { allowFailure: true });
  assert.notEqual(bare.exitCode, 0);
  assert.match(bare.stderr, /first install: --coordinator, --ca-hash and --token-file are needed/);
  await writeFile(join(m.rootfs, 'root/good.token'), 'abcdef.0123456789abcdef\n', { mode: 0o600 });
  await writeFile(join(m.rootfs, 'root/bad.token'), 'abc def; rm -rf /\n', { mode: 0o600 });
  const bad = await runInstall(m, ['--coordinator', '10.0.0.1:1', '--ca-hash', 'md5:00', '--token-file', '/root/good.token'], { allowFailure: true });
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr, /--ca-hash must be sha256/);
  const hash = `sha256:${'0'.repeat(64)}`;
  const badToken = await runInstall(m, ['--coordinator', '10.0.0.1:1', '--ca-hash', hash, '--token-file', '/root/bad.token'], { allowFailure: true });
  assert.match(badToken.stderr, /--token-file holds characters a token never has/);
  const noFile = await runInstall(m, ['--coordinator', '10.0.0.1:1', '--ca-hash', hash, '--token-file', '/root/none'], { allowFailure: true });
  assert.match(noFile.stderr, /--token-file \/root\/none: no such readable file/);
  const unit = await m.exec.run('test', ['-e', '/etc/systemd/system/herd-agent.service'], { allowFailure: true });
  assert.notEqual(unit.exitCode, 0, 'nothing was installed');

  const settings = ['--coordinator', '10.213.0.1:1', '--ca-hash', hash, '--token-file', '/root/good.token'];
  const quiet = await runInstall(m, [...settings, '--no-start']);
  assert.match(quiet.stdout, /enabled herd-agent\.service/);
  assert.equal((await m.exec.run('systemctl', ['is-enabled', 'herd-agent.service'])).stdout.trim(), 'enabled');
  assert.equal(await active(m), false, 'not started');
  assert.equal((await m.exec.run('stat', ['-c', '%a %U', '/etc/herd/agent.token'])).stdout.trim(), '600 root', 'the token waits root-only');
});

test('install-agent.sh works the same over SSH (as the static provider runs it)', async (t) => {
  const host = createExecutor();
  const { publicKey, options } = await testSshKey(t);
  const artifact = await buildAgentArtifact(t);
  const world = await TestWorld.start(t, { machines: 1, authorizedKeys: [publicKey] });
  const [m] = world.machines as [Machine];
  const coordinator = await startBridgeCoordinator(t, world);
  const ref = { cluster: 'ssh-test', node: m.name };

  await host.run('scp', [...options, '-q', '-r', artifact, `root@${m.address}:${ARTIFACT_IN_MACHINE}`], { timeoutMs: 120_000 });
  const flags = await installFlags(coordinator, ref, m);
  const install = await host.run('ssh', [...options, `root@${m.address}`, 'bash', `${ARTIFACT_IN_MACHINE}/install-agent.sh`, ...flags]);
  assert.match(install.stdout, /installed/);
  await eventually(async () => coordinator.nodes.isConnected(ref), 'the agent installed over SSH to connect', MACHINE_POLL);
});
