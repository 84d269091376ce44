// Helpers shared by tests: temporary directories removed after the test, real git repositories,
// the one fake clock and the one polling helper.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { systemClock, type Clock } from '@herd/sys';

export function tempDir(t: TestContext, prefix = 'herd-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeTree(root: string, tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** Runs git in `dir` as a fixed test identity; returns stdout trimmed. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();
}

/** Writes `tree` into the repository at `dir` and commits it; returns the commit SHA. */
export function commit(dir: string, tree: Record<string, string>, message = 'change'): string {
  writeTree(dir, tree);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

export const CLUSTER = (name: string, version = '1.34.2') => `apiVersion: herd.dev/v1
kind: Cluster
metadata:
  name: ${name}
spec:
  kubernetes:
    version: ${version}
  pools:
    - name: workers
      replicas: 2
`;

/**
 * How a FakeClock's sleep behaves:
 * - `advances`: moves time by what was asked, at once, so polling loops run without waiting;
 * - `yields`: waits a moment for real (at most 20 ms; an abort ends it) and moves nothing, so
 *   the test moves time by hand and decides when a deadline passes;
 * - `real`: time is the real one plus what advance() added, and sleeps are real: for code
 *   talking to a real server that stamps times of its own.
 */
export type FakeSleep = 'advances' | 'yields' | 'real';

/** The tests' Clock: moves by advance() or by setting `time`, and on sleep as `sleep` says (default `yields`). */
export class FakeClock implements Clock {
  private offset = 0;
  private readonly start: number;
  private readonly mode: FakeSleep;

  constructor(options: { start?: number; sleep?: FakeSleep } = {}) {
    this.mode = options.sleep ?? 'yields';
    this.start = this.mode === 'real' ? 0 : options.start ?? Date.now();
  }

  now(): number {
    return (this.mode === 'real' ? Date.now() : this.start) + this.offset;
  }

  get time(): number {
    return this.now();
  }

  set time(ms: number) {
    this.offset += ms - this.now();
  }

  advance(ms: number): void {
    this.offset += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.mode === 'advances') {
      this.offset += ms;
      return;
    }
    if (this.mode === 'real') return systemClock.sleep(ms, signal);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(ms, 20));
      signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}

export interface PollOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default 20 ms. */
  everyMs?: number;
  /** A check that throws is not there yet (default: the throw fails the test at once). */
  throwsMeanNotYet?: boolean;
}

/** For checks on something outside this process (a test-world machine, a build): less often, for longer, and a throw (a command failing, a file not there yet) means not yet. */
export const MACHINE_POLL: PollOptions = { timeoutMs: 60_000, everyMs: 250, throwsMeanNotYet: true };

/** Polls `check` until it returns something truthy; fails after `timeoutMs` (a hang guard, not a timing assertion). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, options: PollOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, everyMs = 20, throwsMeanNotYet = false } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = throwsMeanNotYet ? await Promise.resolve().then(check).catch(() => undefined) : await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
