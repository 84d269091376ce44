/**
 * What a machine created with `kubernetesNode` needs from nspawn itself, beyond its
 * options: an address on host0 at every boot, and, once it is gone, its kubelet's cgroup
 * subtree removed from the host (docs/test-world.md, "Kubernetes in the test world").
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kubelet's default cgroup root on a machine: its own subtree, since the machines of a host share the v1 hierarchies. */
export function defaultKubeletCgroupRoot(machine: string): string {
  return `/herd-${machine}`;
}

const HOST0_UNIT = 'herd-host0-address.service';

/**
 * Files written into the machine's root before its first boot. With /sys writable
 * (SYSTEMD_NSPAWN_API_VFS_WRITABLE=1) systemd-networkd believes udev manages devices and
 * waits for it to initialise host0, forever: the minbase image has no udev. So a unit sets
 * the address networkd was given, at every boot. For the same reason
 * systemd-networkd-wait-online would wait its full two minutes before network-online.target,
 * which kubelet.service is ordered after: masked.
 */
export async function writeKubernetesNodeBootFiles(rootfs: string, address: string, prefixLength: number): Promise<void> {
  const system = join(rootfs, 'etc/systemd/system');
  await fs.mkdir(join(system, 'multi-user.target.wants'), { recursive: true });
  await fs.writeFile(join(system, HOST0_UNIT), [
    '# Written by herd (packages/nspawn): systemd-networkd waits for udev, which this machine lacks.',
    '[Unit]',
    "Description=herd: host0's address",
    'Before=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/bin/sh -c 'ip -4 addr show dev host0 | grep -q "inet ${address}/" || ip addr add ${address}/${prefixLength} dev host0; ip link set host0 up'`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n'));
  await fs.rm(join(system, 'multi-user.target.wants', HOST0_UNIT), { force: true });
  await fs.symlink(`../${HOST0_UNIT}`, join(system, 'multi-user.target.wants', HOST0_UNIT));
  await fs.rm(join(system, 'systemd-networkd-wait-online.service'), { force: true });
  await fs.symlink('/dev/null', join(system, 'systemd-networkd-wait-online.service'));
}

/**
 * The host directories of a machine's cgroup subtree (`cgroupRoot` inside it), one per
 * hierarchy. The machine has its own cgroup namespace; its root in each hierarchy is where
 * the machine's init sits as the host sees it (/proc/LEADER/cgroup) minus where it sits as
 * the machine sees it (`inside`: /proc/1/cgroup read inside, `/init.scope` in systemd's own
 * hierarchy).
 */
export function hostCgroupDirs(leader: number, inside: string, cgroupRoot: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => {
    const [pre, post] = l.split(' - ');
    const fields = pre?.split(' ') ?? [];
    const [fstype, , superOptions] = post?.split(' ') ?? [];
    return { mountPoint: fields[4] ?? '', root: fields[3] ?? '', fstype, options: (superOptions ?? '').split(',') };
  }).filter((m) => (m.fstype === 'cgroup' || m.fstype === 'cgroup2') && m.root === '/');
  // `ID:CONTROLLERS:PATH`; the unified (v2) hierarchy, which runc uses too, has no controllers.
  const parse = (text: string) => new Map(text.split('\n').map((l) => l.split(':'))
    .filter((f) => f.length === 3).map((f) => [f[1]!, f[2]!]));
  const insidePaths = parse(inside);
  const dirs: string[] = [];
  for (const [controllers, hostPath] of parse(readFileSync(`/proc/${leader}/cgroup`, 'utf8'))) {
    const insidePath = insidePaths.get(controllers) ?? '/';
    if (insidePath !== '/' && !hostPath.endsWith(insidePath)) continue;
    const nsRoot = insidePath === '/' ? hostPath : hostPath.slice(0, -insidePath.length);
    const mount = controllers === ''
      ? mounts.find((m) => m.fstype === 'cgroup2')
      : mounts.find((m) => m.fstype === 'cgroup' && controllers.split(',').every((c) => m.options.includes(c)));
    if (mount) dirs.push(join(mount.mountPoint, nsRoot, cgroupRoot));
  }
  return dirs;
}

/** Removes a cgroup subtree: rmdir from the leaves up (cgroup directories cannot be deleted recursively). */
export async function removeCgroupTree(dir: string): Promise<void> {
  let entries: string[];
  try { entries = await fs.readdir(dir); } catch { return; }
  for (const entry of entries) {
    const child = join(dir, entry);
    if ((await fs.stat(child).catch(() => undefined))?.isDirectory()) await removeCgroupTree(child);
  }
  for (let attempt = 0; ; attempt++) {
    try { await fs.rmdir(dir); return; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while the last processes of a stopped machine are still being reaped.
      if (attempt >= 50) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
