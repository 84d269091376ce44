// What the end-to-end tests share: the real herd CLI as a process, `herd status` polled until a
// condition holds, commands inside a local provider's machine.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalProvider } from '@herd/provider-local';
import { silentLogger } from '@herd/sys';
import type { FleetStatus } from '@herd/reconciler';
import type { PlanDocument } from '@herd/api';

export const ROOT = resolve(import.meta.dirname, '../..');
export const HERD = join(ROOT, 'packages/cli/dist/main.js');

export function herd(args: string[]) {
  const r = spawnSync(process.execPath, [HERD, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 << 20 });
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export type { FleetStatus };

/** Polls `herd status --output json` until `check` holds (a hang guard, not a timing assertion). */
export async function until(repo: string, state: string, what: string, check: (s: FleetStatus) => boolean, timeoutMs = 600_000): Promise<FleetStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: FleetStatus | null = null;
  while (Date.now() < deadline) {
    const r = herd(['status', repo, '--state', state, '--output', 'json']);
    if (r.code === 0) {
      last = (JSON.parse(r.stdout) as { status: FleetStatus | null }).status;
      if (last && check(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  const brief = last?.clusters.map((c) => ({ name: c.name, reason: c.reason, kubernetes: c.kubernetes }));
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(brief ?? last, null, 1)?.slice(0, 4000)}`);
}

/** Runs a command inside a local machine, found through the provider's record of it. */
export function inside(state: string, machine: string, ...command: string[]): string {
  const nspawn = readFileSync(join(state, 'providers/local/machines', machine, 'nspawn.pid'), 'utf8').trim();
  const leader = readFileSync(`/proc/${nspawn}/task/${nspawn}/children`, 'utf8').trim().split(/\s+/)[0]!;
  const r = spawnSync('nsenter', ['-t', leader, '-a', ...command], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command.join(' ')} in ${machine}: ${r.stderr}`);
  return r.stdout.trim();
}

export const machinesOf = (s: FleetStatus) => s.clusters[0]?.machines ?? [];

/** `herd up` as a long-running coordinator process, its output kept for failure messages. */
export class Coordinator {
  private process?: ChildProcess;
  readonly log: string[] = [];

  constructor(private readonly args: string[]) {}

  start(): void {
    this.process = spawn(process.execPath, [HERD, 'up', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout!.on('data', (d) => this.log.push(String(d)));
    this.process.stderr!.on('data', (d) => this.log.push(String(d)));
  }

  /** Stops it as an operator's Ctrl-C does; returns its exit code. */
  async stop(): Promise<number | null> {
    const p = this.process;
    if (!p || p.exitCode !== null) return p?.exitCode ?? null;
    p.kill('SIGTERM');
    return new Promise((r) => p.once('exit', (code) => r(code)));
  }

  tail(chars = 3000): string {
    return this.log.join('').slice(-chars);
  }

  /** Where its output is now: `startedSince(mark)` reads only what came after. */
  mark(): number {
    return this.log.join('').length;
  }

  /** "type machine" of each Kubernetes action the coordinator started after `mark`, in order (its progress lines). */
  startedSince(mark: number, cluster: string): string[] {
    const lines = this.log.join('').slice(mark).split('\n');
    const started = new RegExp(`^${cluster}: (init|join|upgrade|reboot|remove|uncordon|forget) (\\S+) \\(`);
    return lines.flatMap((l) => { const m = started.exec(l); return m ? [`${m[1]} ${m[2]}`] : []; });
  }
}

/** `herd plan --output json` of `ref` against the fleet in `state`: its exit code and document. */
export function plan(repo: string, state: string, ref: string): { code: number | null; document: PlanDocument | null; stderr: string } {
  const r = herd(['plan', repo, '--ref', ref, '--state', state, '--output', 'json']);
  return { code: r.code, document: r.stdout ? JSON.parse(r.stdout) as PlanDocument : null, stderr: r.stderr };
}

/** "type machine" of a plan's Kubernetes actions, in the order it gives them (creates are the provider's, not the lifecycle's). */
export const plannedOrder = (document: PlanDocument) =>
  document.clusters.flatMap((c) => c.steps.flatMap((s) => s.actions.filter((a) => a.type !== 'create').map((a) => `${a.type} ${a.machine}`)));

/**
 * Deletes a local machine as a cloud console would: through the provider, with neither
 * herd's coordinator nor the cluster told.
 */
export async function deleteBehindHerdsBack(state: string, cluster: string, machine: string): Promise<void> {
  const provider = new LocalProvider({ dir: join(state, 'providers/local'), cluster, logger: silentLogger() });
  try {
    await provider.delete(machine);
  } finally {
    await provider.close();
  }
}
