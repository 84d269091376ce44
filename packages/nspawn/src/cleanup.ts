/**
 * Teardown that must run even when a test fails, throws or is interrupted: machines,
 * mounts and bridges outlive a process that forgets them. Each resource registers an
 * async teardown (the orderly path) and a synchronous one (for `exit`, where nothing
 * async can run any more: kill by PID, lazy unmount, delete).
 */
export interface Teardown {
  label: string;
  run(): Promise<void>;
  runSync(): void;
}

const pending = new Set<Teardown>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      void cleanupAll().finally(() => process.exit(code));
    });
  }
  process.once('exit', () => {
    for (const teardown of [...pending].reverse()) {
      try { teardown.runSync(); } catch { /* best effort: the process is ending */ }
    }
    pending.clear();
  });
}

/** Registers a teardown; the returned function unregisters it once the owner cleaned up itself. */
export function registerTeardown(teardown: Teardown): () => void {
  install();
  pending.add(teardown);
  return () => { pending.delete(teardown); };
}

/** Runs every registered teardown, newest first (machines before the bridge they sit on). */
export async function cleanupAll(): Promise<void> {
  for (const teardown of [...pending].reverse()) {
    if (!pending.delete(teardown)) continue; // an earlier teardown already took care of it
    try { await teardown.run(); } catch { teardown.runSync(); }
  }
}
