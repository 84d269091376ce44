import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

export interface ExecOptions {
  /** Kill the command after this long. Always set: a hung command must not hang herd. */
  timeoutMs?: number;
  /** Written to the command's standard input. */
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Return a non-zero exit as a result instead of throwing ExecError. */
  allowFailure?: boolean;
}

export interface ExecResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A command that failed: everything a caller or an operator needs to see why. */
export class ExecError extends Error {
  override readonly name = 'ExecError';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly signal: string | undefined,
    readonly timedOut: boolean,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const why = timedOut ? 'timed out' : signal ? `killed by ${signal}` : `exited ${exitCode}`;
    const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join('\n');
    super(`${[command, ...args].join(' ')}: ${why}${detail ? `: ${detail}` : ''}`);
  }
}

/**
 * The one way herd runs a command: an argument array (never a shell string built from
 * a spec), a timeout, captured output, and a log line with the duration.
 */
export interface Executor {
  run(command: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const MAX_BUFFER = 64 * 1024 * 1024;

export interface LocalExecutorOptions {
  logger?: Logger;
  /**
   * Prepended to every command, to run it somewhere else with the same code:
   * `['nsenter', '-t', PID, '-a']` inside a machine, `['ssh', HOST]` on another.
   */
  prefix?: readonly string[];
}

export function createExecutor(options: LocalExecutorOptions = {}): Executor {
  const prefix = options.prefix ?? [];
  return {
    async run(command, args, opts = {}) {
      const [file, ...rest] = prefix.length ? [...prefix, command, ...args] : [command, ...args];
      const started = performance.now();
      const result = await spawnCollect(file!, rest, opts);
      const durationMs = Math.round(performance.now() - started);
      const { stdout, stderr } = result;
      options.logger?.debug({ command, args, exitCode: result.exitCode ?? -1, durationMs }, 'exec');
      if (result.startError) {
        // The command could not start at all (ENOENT, EACCES).
        throw new ExecError(command, args, undefined, undefined, false, stdout, `${file}: ${result.startError.message}`);
      }
      const failed = result.timedOut || result.signal !== undefined || result.exitCode !== 0 || result.overflow;
      if (failed && !(opts.allowFailure && result.exitCode !== undefined && !result.timedOut && !result.overflow)) {
        const why = result.overflow ? `${stderr}\noutput exceeded ${MAX_BUFFER} bytes` : stderr;
        throw new ExecError(command, args, result.exitCode, result.signal, result.timedOut, stdout, why);
      }
      return { command, args, exitCode: result.exitCode ?? -1, stdout, stderr, durationMs };
    },
  };
}

/** Time a command gets to end after SIGTERM (timeout, output overflow) before SIGKILL. */
const KILL_GRACE_MS = 5_000;

interface Collected {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  overflow: boolean;
  startError?: Error;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with node:child_process and collects its output (a process-runner library
 * cost the resident agent about 7 MB for what these lines do). The environment extends the
 * caller's; stdin gets `input`, then end of file.
 */
function spawnCollect(file: string, args: readonly string[], opts: ExecOptions): Promise<Collected> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let overflow = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : process.env, stdio: 'pipe' });
    const terminate = () => {
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => { timedOut = true; terminate(); }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (overflow) return;
      size += chunk.length;
      if (size > MAX_BUFFER) { overflow = true; terminate(); return; }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    // A command that exits without reading its input must not crash herd with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
    const text = () => ({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    const finish = (rest: Omit<Collected, 'stdout' | 'stderr' | 'timedOut' | 'overflow'>) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ ...rest, timedOut, overflow, ...text() });
    };
    child.once('error', (error) => { if (child.pid === undefined) finish({ startError: error }); });
    child.once('close', (code, signal) => finish({ exitCode: code ?? undefined, signal: signal ?? undefined }));
  });
}
