import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { HostNotReadyError } from './errors.js';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => {
    try { accessSync(join(dir, tool), constants.X_OK); return true; } catch { return false; }
  });
}

/** Fails early and clearly when this host cannot run local machines, instead of deep inside a command. */
export function checkHost(tools: readonly string[]): void {
  if (process.getuid?.() !== 0) {
    throw new HostNotReadyError('local machines need root (overlay mounts, bridges, systemd-nspawn); run as root');
  }
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length) {
    throw new HostNotReadyError(`missing host tools: ${missing.join(', ')}; install them with scripts/setup.sh (as root)`);
  }
}
