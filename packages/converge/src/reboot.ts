import type { Logger } from '@herd/sys';
import type { FileReader } from './step.js';

/** Debian's update-notifier-common and unattended-upgrades create this after a kernel or libc update. */
const FLAG = '/var/run/reboot-required';

/**
 * Whether the machine wants a reboot: the flag file exists, or a kernel newer than the
 * running one is installed in /boot. Only reported: a reboot needs a grant from the coordinator.
 */
export async function rebootRequired(files: FileReader, logger: Logger): Promise<boolean> {
  try {
    if (await files.stat(FLAG)) return true;
    const running = (await files.read('/proc/sys/kernel/osrelease'))?.trim();
    if (!running) return false;
    const installed = (await files.list('/boot')).filter((f) => f.startsWith('vmlinuz-')).map((f) => f.slice('vmlinuz-'.length));
    return installed.some((release) => compareKernelReleases(release, running) > 0);
  } catch (e) {
    logger.warn({ err: e }, 'reboot-required check failed');
    return false;
  }
}

/** Compares kernel releases such as 6.1.0-18-amd64 by their numeric parts, in order. */
export function compareKernelReleases(a: string, b: string): number {
  const na = a.match(/\d+/g)?.map(Number) ?? [];
  const nb = b.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
