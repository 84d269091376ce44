import { openSync, writeSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { processAlive } from '@herd/sys';

const PERSISTENT = 'persistent';

/** Who holds a lock: a PID, `persistent HOLDER`, or undefined when free. */
export function lockHolder(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}

/**
 * Takes a lock file holding our PID (or, with `holder`, held until unlock() whatever
 * process ends), created exclusively so two processes (other test
 * runs on the same host) never both win. A lock whose owner died is taken over.
 * Returns false when a live process holds it.
 */
export function tryLock(path: string, holder?: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, holder === undefined ? String(process.pid) : `${PERSISTENT} ${holder}`);
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const text = readFileSync(path, 'utf8').trim();
      // A persistent holder (a local cluster's network) keeps it until released explicitly.
      if (text.startsWith(PERSISTENT)) return false;
      const owner = Number(text);
      if (owner && processAlive(owner)) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

export function unlock(path: string): void {
  rmSync(path, { force: true });
}
