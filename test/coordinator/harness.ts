// Shared by the coordinator and agent tests: a real coordinator on 127.0.0.1 port 0 with
// its own state directory, logs captured for assertions, removed on close.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAdmin, directoryStore, startCoordinator, type Coordinator, type CoordinatorOptions } from '@herd/coordinator';
import { createLogger, nodeFileSystem } from '@herd/sys';

export class LogCapture {
  readonly lines: string[] = [];
  write(line: string) { this.lines.push(line); }
  get text() { return this.lines.join(''); }
  /** Parsed lines whose msg matches. */
  find(msg: string): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
  }
}

export interface TestCoordinator {
  coordinator: Coordinator;
  address: string;
  stateDir: string;
  logs: LogCapture;
  store: ReturnType<typeof directoryStore>;
  /** Stops the coordinator, keeping the state directory (for restarts). */
  stop(): Promise<void>;
  /** Starts it again on the same port and state directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestCoordinator(options: Partial<CoordinatorOptions> & { stateDir?: string } = {}): Promise<TestCoordinator> {
  const stateDir = options.stateDir ?? await mkdtemp(join(tmpdir(), 'herd-coordinator-'));
  const logs = new LogCapture();
  const logger = createLogger({ name: 'coordinator', level: 'debug', destination: logs });
  const store = directoryStore(stateDir, nodeFileSystem());
  const start = (port: number) => startCoordinator({ store, host: '127.0.0.1', port, logger, ...options });
  let coordinator = await start(0);
  const port = coordinator.port;
  let running = true;
  const self: TestCoordinator = {
    get coordinator() { return coordinator; },
    address: `127.0.0.1:${port}`,
    stateDir,
    logs,
    store,
    async stop() { if (running) { running = false; await coordinator.close(); } },
    async restart() { coordinator = await start(port); running = true; },
    async close() { await self.stop(); await rm(stateDir, { recursive: true, force: true }); },
  };
  return self;
}

/** A token through the real admin API, as `herd token create` gets it. */
export async function createToken(t: TestCoordinator, request: { cluster: string; nodeName?: string; ttlSeconds?: number }) {
  const admin = await connectAdmin({ address: t.address, store: t.store });
  try { return await admin.createToken(request); } finally { admin.close(); }
}
