import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunDir } from '@herd/nspawn';
import { processAlive } from '@herd/sys';

/** A world's directory is WORLD_PREFIX + random, in the temporary directory. */
export const WORLD_PREFIX = 'herd-world-';
/** Files in a world's directory that tell a later sweep who owned it and which network it held. */
export const OWNER_FILE = 'owner.pid';
export const NETWORK_FILE = 'network';

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort().reverse();
}

function readNumber(path: string): number {
  try { return Number(readFileSync(path, 'utf8').trim()) || 0; } catch { return 0; }
}

/** systemd-nspawn processes booting a root below `dir`, with their children (the machines' init). */
function machineProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!argv[0]?.endsWith('systemd-nspawn') || !argv.some((a) => a.startsWith(`--directory=${dir}/`))) continue;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${entry}/task/${entry}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch { /* exited meanwhile */ }
    pids.push(...children, Number(entry)); // init first: killing it ends the machine's whole PID namespace
  }
  return pids;
}

/**
 * Removes worlds whose test process died without cleaning up (SIGKILL, a crash of node
 * itself): kills their machines, unmounts and deletes them, and deletes their bridge if
 * its network is still locked by the dead owner. A world whose owner lives is never
 * touched, nor a directory without an owner file. Returns the directories removed.
 */
export async function sweepAbandonedWorlds(base = tmpdir()): Promise<string[]> {
  const swept: string[] = [];
  for (const name of readdirSync(base)) {
    if (!name.startsWith(WORLD_PREFIX)) continue;
    const dir = join(base, name);
    const owner = readNumber(join(dir, OWNER_FILE));
    if (!owner || processAlive(owner)) continue;
    const pids = machineProcessesUnder(dir);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    }
    // SIGKILL is not instant (a whole PID namespace goes down); wait, bounded, before unmounting.
    for (let i = 0; i < 100 && pids.some(processAlive); i++) await new Promise((r) => setTimeout(r, 100));
    for (const mount of mountsUnder(dir)) spawnSync('umount', ['-l', mount]);
    const network = readNumber(join(dir, NETWORK_FILE));
    const lock = join(defaultRunDir(), 'networks', String(network));
    if (network && readNumber(lock) === owner) {
      spawnSync('ip', ['link', 'del', `herd-br${network}`]);
      rmSync(lock, { force: true });
    }
    if (mountsUnder(dir).length === 0) {
      rmSync(dir, { recursive: true, force: true });
      swept.push(dir);
    }
  }
  return swept;
}
