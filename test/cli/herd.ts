// The built CLI as an operator runs it, for the CLI tests: a child process, its exit code and
// output, and never a stack trace or an internal error for what a user did.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const HERD = join(ROOT, 'packages/cli/dist/main.js');

/** Runs `herd ARGS` in `cwd` (default: the checkout) with its caches in `cache` (default: `cwd/.cache`) and `env` added. */
export function runHerd(args: string[], options: { cwd?: string; cache?: string; env?: Record<string, string> } = {}) {
  const cwd = options.cwd ?? ROOT;
  const env = { ...process.env, HERD_CACHE_DIR: options.cache ?? join(cwd, '.cache'), ...options.env };
  const r = spawnSync(process.execPath, [HERD, ...args], { cwd, encoding: 'utf8', env });
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, 'no stack trace, no internal error');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
