import type { Condition } from '@herd/proto';
import type { FileSystem, Logger } from '@herd/sys';
import { join } from 'node:path';

/**
 * What the engine remembers between rounds (and agent restarts): for each step, the value
 * each item was converged to, so a later difference is recognised as drift rather than a
 * new spec; and the last conditions, so lastTransitionTime stays put while status does.
 */
export interface Memory {
  converged: Record<string, Record<string, string>>;
  /** Per step, items an apply that failed was working on: applied again next round. */
  unfinished: Record<string, string[]>;
  conditions: Condition[];
}

const FILE = 'converge-state.json';

/** Loads and saves the memory; a save that would write the same bytes writes nothing (a no-op round stays off the disk). */
export function memoryStore(fs: FileSystem, stateDir: string, logger: Logger) {
  const path = join(stateDir, FILE);
  let saved: string | undefined;
  return {
    async load(): Promise<Memory> {
      const empty: Memory = { converged: {}, unfinished: {}, conditions: [] };
      const text = await fs.read(path).catch((e: unknown) => {
        logger.warn({ err: e, path }, 'converge state unreadable, starting afresh');
        return undefined;
      });
      if (text === undefined) return empty;
      try {
        const parsed = JSON.parse(text) as Partial<Memory>;
        saved = text;
        return { converged: parsed.converged ?? {}, unfinished: parsed.unfinished ?? {}, conditions: parsed.conditions ?? [] };
      } catch {
        logger.warn({ path }, 'converge state corrupt, starting afresh');
        return empty;
      }
    },
    async save(memory: Memory): Promise<void> {
      const text = `${JSON.stringify(memory)}\n`;
      if (text === saved) return;
      try {
        await fs.mkdirp(stateDir, 0o700);
        await fs.writeAtomic(path, text, { mode: 0o600 });
        saved = text;
      } catch (e) {
        // Losing the memory only costs drift attribution on the next round, never correctness.
        logger.warn({ err: e, path }, 'could not save converge state');
      }
    },
  };
}
