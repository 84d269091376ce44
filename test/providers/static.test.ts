// The static provider against real machines (systemd-nspawn, root) reached ONLY over SSH:
// the conformance suite, the agent installed and enrolled over SSH, host-key pinning.
// `.exec` (nsenter) is used for test setup and inspection only, never by the provider.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StaticProviderSpec } from '@herd/api';
import { HostKeyMismatchError, MachineNotFoundError, ProviderUnavailableError, QuotaExceededError, TransientProviderError, createProvider } from '@herd/provider';
import { StaticProvider } from '@herd/provider-static'; // registers kind static, too
import { createExecutor, silentLogger } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { eventually, MACHINE_POLL } from '../support.js';
import { buildAgentArtifact, startBridgeCoordinator } from '../world/agent.js';
import { providerConformance } from './conformance.js';

const CLUSTER = 'conformance';
const exists = async (m: Machine, path: string) => (await m.exec.run('test', ['-e', path], { allowFailure: true })).exitCode === 0;

describe('static provider', () => {
  let world: TestWorld;
  let dir: string;
  let privateKey: string;
  /** Each provider gets its own state directory unless told: a restarted coordinator reuses one. */
  const made: StaticProvider[] = [];
  // Teardown registered here and run by this suite's after(): node's after() called from
  // inside a before hook belongs to the hook, and would destroy the world as soon as it booted.
  const cleanups: (() => Promise<void>)[] = [];

  const spec = (machines: Machine[], hostKeys: Record<string, string> = {}): StaticProviderSpec => ({
    kind: 'static', user: 'root', keyFile: 'secrets/herd-ssh-key',
    machines: machines.map((m) => ({ name: m.name, address: m.address, port: 22, ...(hostKeys[m.name] ? { hostKey: hostKeys[m.name] } : {}) })),
  });
  const provider = async (s: StaticProviderSpec, stateDir: string, cluster = CLUSTER) => {
    // Through the registry, as the coordinator makes it; the key read as a repository file.
    const p = await createProvider(s, {
      cluster, stateDir, logger: silentLogger(),
      readRepositoryFile: async (path) => { assert.equal(path, s.keyFile); return privateKey; },
    }) as StaticProvider;
    made.push(p);
    return p;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herd-static-provider-'));
    await createExecutor().run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'herd-static-test', '-f', join(dir, 'id')]);
    privateKey = await readFile(join(dir, 'id'), 'utf8');
    // Four machines: the conformance suite holds one and creates three more at once.
    world = await TestWorld.start({ after: (fn) => cleanups.push(fn) }, { machines: 4, authorizedKeys: [await readFile(join(dir, 'id.pub'), 'utf8')] });
  });
  after(async () => {
    for (const p of made) await p.close();
    for (const fn of cleanups.reverse()) await fn();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  providerConformance('static', async () => {
    const stateDir = join(dir, 'conformance-state');
    return {
      cluster: CLUSTER,
      provider: () => provider(spec(world.machines), stateDir),
      teardown: async () => {
        // Whatever a failed test left claimed: released through a provider.
        const p = await provider(spec(world.machines), stateDir);
        for (const m of await p.list({})) await p.delete(m.name);
      },
    };
  });

  it('the inventory is fixed: names are the listed machines, and none is left after the last is claimed', async () => {
    const machines = world.machines.slice(0, 2);
    const p = await provider(spec(machines), join(dir, 'quota'));
    assert.deepEqual(await p.list({}), []);
    const a = p.newMachineName(CLUSTER, 'workers', new Set());
    const b = p.newMachineName(CLUSTER, 'workers', new Set([a]));
    assert.deepEqual([a, b], machines.map((m) => m.name));
    assert.throws(() => p.newMachineName(CLUSTER, 'workers', new Set([a, b])), QuotaExceededError);
    await p.create({ name: a, labels: { 'herd.dev/cluster': CLUSTER }, shape: {} });
    // The claim lives on the machine: another provider (its own fresh state) sees it taken.
    const other = await provider(spec(machines), join(dir, 'quota-other'));
    await other.list({});
    assert.equal(other.newMachineName(CLUSTER, 'workers', new Set()), b);
    const onMachine = JSON.parse(await readFile(join(machines[0]!.rootfs, 'etc/herd/machine.json'), 'utf8')) as { name: string; labels: Record<string, string> };
    assert.equal(onMachine.name, a);
    // Another cluster cannot take it, nor release it.
    const foreign = await provider(spec(machines), join(dir, 'quota-foreign'), 'another-cluster');
    await assert.rejects(foreign.create({ name: a, labels: { 'herd.dev/cluster': 'another-cluster' }, shape: {} }), /claimed by cluster conformance/);
    await assert.rejects(foreign.delete(a), /refusing to release/);
    await p.delete(a);
    assert.equal(await exists(machines[0]!, '/etc/herd/machine.json'), false);
  });

  it('installAgent puts the agent on over SSH, it enrolls; delete stops it and removes its files and the claim', async (t) => {
    const artifact = await buildAgentArtifact(t);
    const coordinator = await startBridgeCoordinator(t, world);
    const [m] = world.machines as [Machine];
    const p = await provider(spec([m]), join(dir, 'install'));
    assert.equal(await p.coordinatorHost(), world.bridge.hostAddress);
    const name = p.newMachineName(CLUSTER, 'workers', new Set());
    await p.create({ name, labels: { 'herd.dev/cluster': CLUSTER, 'herd.dev/pool': 'workers' }, shape: {} });
    const { token } = await coordinator.tokens.create({ cluster: CLUSTER, node: name, ttlMs: 10 * 60_000 });
    await p.installAgent(name, { artifactDir: artifact, coordinator: coordinator.address, caHash: coordinator.caHash, token });
    await eventually(async () => coordinator.nodes.isConnected({ cluster: CLUSTER, node: name }), 'the agent installed over SSH to enroll and connect', MACHINE_POLL);
    assert.equal((await m.exec.run('systemctl', ['is-enabled', 'herd-agent.service'])).stdout.trim(), 'enabled');
    const leftovers = (await m.exec.run('sh', ['-c', 'ls -d /var/tmp/herd-agent.* 2>/dev/null || true'])).stdout.trim();
    assert.equal(leftovers, '', 'the artifact copy is removed');
    // Again with the same artifact and settings: install-agent.sh changes nothing, the agent keeps running.
    const pid = (await m.exec.run('systemctl', ['show', '-P', 'MainPID', 'herd-agent.service'])).stdout.trim();
    await p.installAgent(name, { artifactDir: artifact, coordinator: coordinator.address, caHash: coordinator.caHash, token });
    assert.equal((await m.exec.run('systemctl', ['show', '-P', 'MainPID', 'herd-agent.service'])).stdout.trim(), pid);

    await p.delete(name);
    assert.notEqual((await m.exec.run('systemctl', ['is-active', 'herd-agent.service'], { allowFailure: true })).stdout.trim(), 'active');
    for (const path of ['/etc/systemd/system/herd-agent.service', '/opt/herd/agent', '/usr/local/bin/herd-agent', '/etc/herd/agent.env', '/var/lib/herd-agent', '/etc/herd/machine.json']) {
      assert.equal(await exists(m, path), false, `${path} is removed`);
    }
    assert.equal(await exists(m, '/etc/ssh/sshd_config'), true, 'nothing else is touched');
    await p.delete(name);
    assert.deepEqual(await p.list({}), []);
    await assert.rejects(p.installAgent(name, { artifactDir: artifact, coordinator: coordinator.address, caHash: coordinator.caHash, token }), MachineNotFoundError);
  });

  it('an unreachable machine is a TransientProviderError, for list and delete alike', async () => {
    const ghost = { name: 'ghost', address: world.bridge.address(250), port: 22 };
    const p = await provider({ ...spec([]), machines: [ghost] }, join(dir, 'ghost'));
    await assert.rejects(p.list({}), (e: unknown) => e instanceof TransientProviderError && /ghost/.test((e as Error).message));
    await assert.rejects(p.delete('ghost'), TransientProviderError);
  });

  it('a key the machine does not accept is ProviderUnavailableError, naming the key file', async () => {
    await createExecutor().run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'stranger')]);
    const p = new StaticProvider({ spec: spec([world.machines[2]!]), cluster: CLUSTER, privateKey: await readFile(join(dir, 'stranger'), 'utf8'), dir: join(dir, 'stranger-state'), logger: silentLogger() });
    made.push(p);
    await assert.rejects(p.list({}), (e: unknown) => e instanceof ProviderUnavailableError && /secrets\/herd-ssh-key/.test((e as Error).message));
  });

  it('a wrong hostKey in the spec is refused on first contact; the right one works', async () => {
    const m = world.machines[1]!;
    await createExecutor().run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'wrong-host-key')]);
    const wrong = (await readFile(join(dir, 'wrong-host-key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    const p = await provider(spec([m], { [m.name]: wrong }), join(dir, 'pinned-wrong'));
    await assert.rejects(p.list({}), (e: unknown) => e instanceof HostKeyMismatchError && e.machine === m.name && e.address === m.address);
    await assert.rejects(p.create({ name: m.name, labels: { 'herd.dev/cluster': CLUSTER }, shape: {} }), HostKeyMismatchError);
    assert.equal(await exists(m, '/etc/herd/machine.json'), false, 'nothing was done on the machine');

    const right = (await m.exec.run('cat', ['/etc/ssh/ssh_host_ed25519_key.pub'])).stdout.split(' ').slice(0, 2).join(' ');
    const q = await provider(spec([m], { [m.name]: right }), join(dir, 'pinned-wrong'));
    assert.deepEqual(await q.list({}), []);
  });

  it('a host key that changed since first contact is refused, also by a restarted provider', async () => {
    const m = world.machines[3]!;
    const stateDir = join(dir, 'changed');
    const p = await provider(spec([m]), stateDir);
    await p.create({ name: m.name, labels: { 'herd.dev/cluster': CLUSTER }, shape: {} });
    assert.match(await readFile(join(stateDir, CLUSTER, 'known_hosts'), 'utf8'), new RegExp(`^${m.address.replace(/\./g, '\\.')} ssh-ed25519 `, 'm'), 'recorded on first contact');

    // The machine now presents other keys (reinstalled, or someone in the middle).
    await m.exec.run('sh', ['-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh']);
    await assert.rejects(p.list({}), (e: unknown) => e instanceof HostKeyMismatchError && e.machine === m.name && e.address === m.address);
    await assert.rejects(p.delete(m.name), HostKeyMismatchError);
    const restarted = await provider(spec([m]), stateDir);
    await assert.rejects(restarted.list({}), HostKeyMismatchError);
    assert.equal(await exists(m, '/etc/herd/machine.json'), true, 'the machine was not released through the changed key');
  });
});
