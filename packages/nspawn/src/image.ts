import { createHash } from 'node:crypto';
import { promises as fs, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createExecutor, herdCacheDir, silentLogger, type Executor, type Logger } from '@herd/sys';
import { ImageBuildError } from './errors.js';
import { tryLock, unlock } from './lock.js';
import { checkHost } from './host.js';

/** Bumped whenever the way the image is prepared changes, so old caches are not reused. */
export const IMAGE_SCRIPT_VERSION = 1;

/**
 * What every machine needs besides minbase: systemd as init and its bus, the network
 * tools, sshd, what apt needs for keys and https sources (gnupg, ca-certificates), and
 * what the agent's steps call (kmod for modprobe, procps for sysctl).
 */
export const BASE_PACKAGES: readonly string[] = [
  'systemd', 'systemd-sysv', 'dbus', 'iproute2', 'iputils-ping', 'openssh-server',
  'ca-certificates', 'gnupg', 'kmod', 'procps', 'netbase',
];

export interface ImageOptions {
  /** Cache root; defaults to herdCacheDir(). Images live in CACHE/images/. */
  cacheDir?: string;
  suite?: string;
  /** Debian mirror; defaults to $HERD_DEBIAN_MIRROR, else the one this host's apt uses. */
  mirror?: string;
  include?: readonly string[];
  exec?: Executor;
  logger?: Logger;
}

export interface Image {
  path: string;
  /** True when this call built it (false: found in the cache). */
  built: boolean;
  durationMs: number;
}

/** The Debian mirror this host's apt uses (deb822 .sources or one-line sources.list), else deb.debian.org. */
export function hostDebianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  try {
    files.push(...readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)));
  } catch { /* no directory */ }
  for (const file of files) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    const found = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
    if (found) return found[1]!;
  }
  return 'http://deb.debian.org/debian';
}

function imageKey(suite: string, include: readonly string[]): string {
  const hash = createHash('sha256').update(JSON.stringify({ suite, include: [...include].sort(), v: IMAGE_SCRIPT_VERSION }));
  return `${suite}-${hash.digest('hex').slice(0, 12)}`;
}

const LOCK_POLL_MS = 1000;

/**
 * The Debian image machines boot from: built once with debootstrap into the cache and
 * reused after. Built in a temporary directory and renamed into place, so a reader never
 * sees half an image; a lock makes a concurrent caller wait instead of building twice.
 */
export async function ensureImage(options: ImageOptions = {}): Promise<Image> {
  const suite = options.suite ?? 'bookworm';
  const include = options.include ?? BASE_PACKAGES;
  const logger = options.logger ?? silentLogger();
  const exec = options.exec ?? createExecutor({ logger });
  const images = join(options.cacheDir ?? herdCacheDir(), 'images');
  const path = join(images, imageKey(suite, include));
  const started = performance.now();
  const done = (built: boolean): Image => ({ path, built, durationMs: Math.round(performance.now() - started) });

  if (existsSync(path)) return done(false);
  const lock = `${path}.lock`;
  while (!tryLock(lock)) {
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    if (existsSync(path)) return done(false);
  }
  try {
    if (existsSync(path)) return done(false);
    checkHost(['debootstrap', 'systemctl']);
    // Half-built trees of builders that died holding the lock (ours now) are only in the way.
    for (const f of await fs.readdir(images)) {
      if (f.startsWith(`${basename(path)}.building-`)) await fs.rm(join(images, f), { recursive: true, force: true });
    }
    const temp = `${path}.building-${process.pid}`;
    const mirror = options.mirror ?? process.env.HERD_DEBIAN_MIRROR ?? hostDebianMirror();
    logger.info({ path, suite, mirror }, 'building machine image (debootstrap, about a minute)');
    try {
      await exec.run('debootstrap', ['--variant=minbase', `--include=${include.join(',')}`, suite, temp, mirror], { timeoutMs: 20 * 60_000 });
      await prepareImage(temp, exec);
      await fs.rename(temp, path);
    } catch (e) {
      await fs.rm(temp, { recursive: true, force: true });
      throw new ImageBuildError(`building the ${suite} image failed: ${(e as Error).message}`, { cause: e });
    }
    const image = done(true);
    logger.info({ path, durationMs: image.durationMs }, 'machine image built');
    return image;
  } finally {
    unlock(lock);
  }
}

/** Makes the bare debootstrap tree a machine template: per-machine identity comes at boot, not from the image. */
async function prepareImage(root: string, exec: Executor): Promise<void> {
  // Every machine gets its own machine-id and ssh host keys, so none are baked in.
  await fs.writeFile(join(root, 'etc/machine-id'), '');
  for (const f of await fs.readdir(join(root, 'etc/ssh'))) {
    if (f.startsWith('ssh_host_')) await fs.rm(join(root, 'etc/ssh', f));
  }
  await fs.writeFile(join(root, 'etc/systemd/system/herd-ssh-hostkeys.service'), [
    '[Unit]',
    'Description=Generate this machine\'s ssh host keys on first boot',
    'Before=ssh.service',
    'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/usr/bin/ssh-keygen -A',
    '[Install]',
    'RequiredBy=ssh.service',
    '',
  ].join('\n'));
  // Machines reach only their bridge: no Debian mirror in sources; tests and the agent add theirs.
  await fs.writeFile(join(root, 'etc/apt/sources.list'), '');
  for (const f of await fs.readdir(join(root, 'var/lib/apt/lists'))) {
    if (f !== 'partial' && f !== 'lock') await fs.rm(join(root, 'var/lib/apt/lists', f), { force: true });
  }
  await exec.run('systemctl', [`--root=${root}`, 'enable', 'systemd-networkd', 'herd-ssh-hostkeys.service']);
}
