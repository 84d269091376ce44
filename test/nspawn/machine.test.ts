import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createExecutor, processAlive } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';
import { testSshKey } from '../world/ssh.js';

/** The first bytes sshd sends on a fresh TCP connection from the host. */
function sshBanner(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 22 });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no ssh banner from ${address}`)));
    socket.once('data', (data) => { socket.end(); resolve(data.toString()); });
    socket.once('error', reject);
  });
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
}

test('a machine boots with systemd running, its own identity and address, and root ssh with a key from the host', async (t) => {
  const key = await testSshKey(t);
  const world = await TestWorld.start(t, { machines: 2, authorizedKeys: [key.publicKey] });
  const [a, b] = world.machines as [Machine, Machine];

  assert.equal(a.bootState, 'running', `failed units: ${(await a.failedUnits()).join(', ')}`);
  assert.equal((await a.exec.run('hostname', [])).stdout.trim(), a.name);
  assert.notEqual(readFileSync(`${a.rootfs}/etc/machine-id`, 'utf8'), readFileSync(`${b.rootfs}/etc/machine-id`, 'utf8'));
  assert.match((await a.exec.run('ip', ['-4', '-o', 'addr', 'show', 'host0'])).stdout, new RegExp(`inet ${a.address.replaceAll('.', '\\.')}/24`));
  // Machines reach the bridge and nothing else: no default route.
  assert.doesNotMatch((await a.exec.run('ip', ['route'])).stdout, /default/);

  assert.match(await sshBanner(a.address), /^SSH-2\.0-OpenSSH/);
  const ssh = await createExecutor().run('ssh', [...key.options, `root@${a.address}`, 'hostname'], { timeoutMs: 30_000 });
  assert.equal(ssh.stdout.trim(), a.name);
  // Host keys are made per machine at first boot, not baked into the image.
  const hostKey = (m: Machine) => readFileSync(`${m.rootfs}/etc/ssh/ssh_host_ed25519_key.pub`, 'utf8');
  assert.notEqual(hostKey(a), hostKey(b));
  // Machines on one bridge reach each other.
  await a.exec.run('ping', ['-c', '1', '-W', '5', b.address]);
  // Each machine's systemd has a cgroup subtree of its own (machines sharing one trim each other's).
  const systemdCgroup = (m: Machine) => readFileSync(`/proc/${m.leader}/cgroup`, 'utf8').split('\n').find((l) => /:name=systemd:/.test(l))?.split(':')[2];
  assert.match(systemdCgroup(a) ?? '', new RegExp(`^/herd/${a.name}/payload`));
  assert.match(systemdCgroup(b) ?? '', new RegExp(`^/herd/${b.name}/payload`));
});

test('a stopped machine boots again with its changes kept', async (t) => {
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  await m.exec.run('sh', ['-c', 'echo kept > /etc/herd-marker']);
  const firstLeader = m.leader;
  await m.stop();
  assert.equal(m.running, false);
  assert.equal(processAlive(firstLeader), false);
  await m.start();
  assert.equal((await m.exec.run('cat', ['/etc/herd-marker'])).stdout, 'kept\n');
});

test('destroying the world leaves no machine process, mount, bridge or directory', async () => {
  const world = await TestWorld.start(undefined, { machines: 1 });
  const [m] = world.machines as [Machine];
  const pids = [m.leader];
  const { rootfs } = m;
  assert.ok(mounted(rootfs));
  await world.destroy();

  assert.equal(pids.some(processAlive), false);
  assert.equal(mounted(rootfs), false);
  assert.notEqual(spawnSync('ip', ['link', 'show', world.bridge.name]).status, 0, 'bridge still exists');
  assert.equal(existsSync(world.dir), false);
  assert.equal(existsSync(`/sys/fs/cgroup/systemd/herd/${m.name}`), false, 'its own cgroup is gone');
  await world.destroy(); // twice is fine
});

test('a Kubernetes node machine gets every capability, /dev/kmsg and a writable /proc/sys', async (t) => {
  const world = await TestWorld.start(t, { machines: 1, kubernetesNode: true });
  const [m] = world.machines as [Machine];
  assert.equal(m.bootState, 'running', `failed units: ${(await m.failedUnits()).join(', ')}`);
  await m.exec.run('test', ['-c', '/dev/kmsg']);
  const capabilities = (await m.exec.run('grep', ['CapBnd', '/proc/1/status'])).stdout;
  const host = readFileSync('/proc/1/status', 'utf8').match(/CapBnd:.*/)![0];
  assert.equal(capabilities.trim(), host.trim(), 'the same capability bounding set as the host');
  // Read-only in an ordinary machine. vm.* is the host kernel's own setting: written back unchanged.
  await m.exec.run('sh', ['-c', 'sysctl -q -w vm.swappiness=$(sysctl -n vm.swappiness)']);
});

test('a Kubernetes node machine has its address on host0 at boot, no wait-online, and its kubelet cgroup subtree is gone from the host once destroyed', async (t) => {
  const world = await TestWorld.start(t, { machines: 1, kubernetesNode: true });
  const [m] = world.machines as [Machine];
  // systemd-networkd alone never configures host0 here (it waits for udev, which minbase lacks).
  assert.match((await m.exec.run('ip', ['-4', 'addr', 'show', 'dev', 'host0'])).stdout, new RegExp(`inet ${m.address.replaceAll('.', '\\.')}/24`));
  assert.equal((await m.exec.run('systemctl', ['is-enabled', 'systemd-networkd-wait-online.service'], { allowFailure: true })).stdout.trim(), 'masked');
  // What the kubelet makes (herd-cgroup-root, then pods below): a subtree in a controller
  // hierarchy (remounted read-write, as the node does) and in systemd's own.
  const root = `/herd-${m.name}`;
  await m.exec.run('sh', ['-euc', `umount /sys/fs/cgroup/pids && mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids
    mkdir -p /sys/fs/cgroup/pids${root}/kubepods/pod1 /sys/fs/cgroup/systemd${root}/kubepods`]);
  const dirs = await m.kubeletCgroupDirs();
  const pids = dirs.find((d) => d.startsWith('/sys/fs/cgroup/pids/'));
  const systemd = dirs.find((d) => d.startsWith('/sys/fs/cgroup/systemd/'));
  assert.ok(pids && existsSync(`${pids}/kubepods/pod1`), `the host sees the pids subtree: ${dirs.join(', ')}`);
  assert.ok(systemd && existsSync(`${systemd}/kubepods`), `the host sees the systemd subtree: ${dirs.join(', ')}`);
  await m.destroy();
  for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test('commands inside get the machine\'s own environment plus what the caller passes (not the host process\'s), and its cwd', async (t) => {
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  process.env.HERD_TEST_LEAK = 'from the host';
  t.after(() => { delete process.env.HERD_TEST_LEAK; });
  const env = (await m.exec.run('env', [], { env: { DEBIAN_FRONTEND: 'noninteractive' } })).stdout;
  assert.doesNotMatch(env, /HERD_TEST_LEAK/);
  assert.match(env, /^DEBIAN_FRONTEND=noninteractive$/m);
  assert.match(env, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
  assert.equal((await m.exec.run('pwd', [], { cwd: '/etc/apt' })).stdout, '/etc/apt\n');
});
