import { execa } from 'execa';
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
      const result = await execa(file!, rest, {
        reject: false,
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxBuffer: MAX_BUFFER,
        input: opts.input,
        env: opts.env,
        cwd: opts.cwd,
        stripFinalNewline: false,
        encoding: 'utf8',
      });
      const durationMs = Math.round(performance.now() - started);
      const stdout = String(result.stdout ?? '');
      const stderr = String(result.stderr ?? '');
      const exitCode = typeof result.exitCode === 'number' ? result.exitCode : -1;
      options.logger?.debug({ command, args, exitCode, durationMs }, 'exec');
      const failed = result.timedOut || result.isTerminated || result.failed;
      if (failed && !(opts.allowFailure && typeof result.exitCode === 'number' && !result.timedOut)) {
        if (result.exitCode === undefined && !result.timedOut && !result.signal) {
          // The command could not start at all (ENOENT, EACCES).
          throw new ExecError(command, args, undefined, undefined, false, stdout, result.message ?? stderr);
        }
        throw new ExecError(command, args, result.exitCode, result.signal, Boolean(result.timedOut), stdout, stderr);
      }
      return { command, args, exitCode, stdout, stderr, durationMs };
    },
  };
}
