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
  conditions: Condition[];
}

const FILE = 'converge-state.json';

export async function loadMemory(fs: FileSystem, stateDir: string, logger: Logger): Promise<Memory> {
  const empty: Memory = { converged: {}, conditions: [] };
  const text = await fs.read(join(stateDir, FILE)).catch((e: unknown) => {
    logger.warn({ err: e }, 'converge state unreadable, starting afresh');
    return undefined;
  });
  if (text === undefined) return empty;
  try {
    const parsed = JSON.parse(text) as Partial<Memory>;
    return { converged: parsed.converged ?? {}, conditions: parsed.conditions ?? [] };
  } catch {
    logger.warn({ file: join(stateDir, FILE) }, 'converge state corrupt, starting afresh');
    return empty;
  }
}

export async function saveMemory(fs: FileSystem, stateDir: string, memory: Memory, logger: Logger): Promise<void> {
  try {
    await fs.mkdirp(stateDir, 0o700);
    await fs.writeAtomic(join(stateDir, FILE), `${JSON.stringify(memory)}\n`, { mode: 0o600 });
  } catch (e) {
    // Losing the memory only costs drift attribution on the next round, never correctness.
    logger.warn({ err: e }, 'could not save converge state');
  }
}
