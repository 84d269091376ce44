// A benchmark fleet: one coordinator process and simulated agents in child processes, all
// on 127.0.0.1, removed on close (children killed by PID, state directory deleted).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ConnectionStats } from '@herd/coordinator';

export interface CoordinatorStats {
  door: ConnectionStats;
  rss: number;
  heapUsed: number;
  connected: number;
  reachable: number;
  cpuPercent: number;
}

export interface FanoutResult {
  targets: number;
  acked: number;
  assignMs: number;
  latencies: number[];
}

const here = import.meta.dirname;
const TSX = ['--import', 'tsx'];

function request<T>(child: ChildProcess, message: object, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string }) => {
      if (m.type === type) { child.off('message', onMessage); resolve(m as T); }
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

export class Fleet {
  private readonly agents: ChildProcess[] = [];
  private started = 0;

  private constructor(private readonly coordinator: ChildProcess, readonly address: string, private readonly stateDir: string) {}

  static async start(): Promise<Fleet> {
    const stateDir = await mkdtemp(join(tmpdir(), 'herd-bench-'));
    const child = fork(join(here, 'coordinator-child.ts'), [stateDir], { execArgv: TSX, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [ready] = (await once(child, 'message')) as [{ port: number }];
    return new Fleet(child, `127.0.0.1:${ready.port}`, stateDir);
  }

  /** Starts `count` more agents, `perProcess` to a child process; resolves when every child has opened its streams. */
  async addAgents(count: number, { perProcess = 1250, heartbeatMs = 10_000 } = {}): Promise<void> {
    const children: Promise<unknown>[] = [];
    for (let left = count; left > 0; left -= perProcess) {
      const n = Math.min(perProcess, left);
      const child = fork(join(here, 'agents-child.ts'), [this.address, this.stateDir, String(this.started), String(n), String(heartbeatMs)],
        { execArgv: TSX, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.agents.push(child);
      this.started += n;
      children.push(new Promise((resolve) => child.on('message', (m: { type: string }) => { if (m.type === 'started') resolve(m); })));
    }
    await Promise.all(children);
  }

  stats(): Promise<CoordinatorStats> {
    return request(this.coordinator, { type: 'stats' }, 'stats');
  }

  /** Waits until `n` sessions are connected, or `timeoutMs` passed; returns the last stats. */
  async waitConnected(n: number, timeoutMs: number): Promise<CoordinatorStats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.stats();
      if (s.connected >= n || Date.now() > deadline) return s;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  fanout(round: number, timeoutMs = 30_000): Promise<FanoutResult> {
    return request(this.coordinator, { type: 'fanout', round, timeoutMs }, 'fanout');
  }

  async close(): Promise<void> {
    for (const child of this.agents) child.kill('SIGKILL');
    await Promise.all(this.agents.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
    this.coordinator.send({ type: 'stop' });
    const exited = once(this.coordinator, 'exit');
    const timer = setTimeout(() => this.coordinator.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export const median = (values: readonly number[]) => percentile(values, 50);
export const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;

/** nproc, CPU model, memory, kernel: printed with every result. */
export function machine(): string {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} cores (${model}), ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}
