/**
 * The Kubernetes build the local provider runs (scripts/build-kubernetes.sh) ends whole when
 * herd stops: aborting it ends the script and every process it started (go included), and the
 * build's promise says why. Runs the real script on an empty cache and aborts it once it began.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@herd/sys';
import { scriptBuildRunner } from '@herd/provider-local';
import { eventually, MACHINE_POLL } from '../support.js';

/** Every process as [pid, process group, command line], from /proc. */
async function processes(): Promise<[number, number, string[]][]> {
  const rows = await Promise.all((await readdir('/proc')).filter((p) => /^\d+$/.test(p)).map(async (pid) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    // After the command's closing parenthesis: state, ppid, pgrp.
    return [Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]), cmdline.split('\0')] as [number, number, string[]];
  }));
  return rows.filter(([, pgrp]) => pgrp > 0);
}

test('an aborted Kubernetes build ends with its whole process group, and says it was stopped', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'herd-build-abort-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  const run = scriptBuildRunner(cache, createLogger({ name: 'test', level: 'silent' }));
  const stop = new AbortController();
  const outcome = run('v1.34.4', () => {}, stop.signal).then(() => 'finished', (e: Error) => e.message);
  // Begun: the script holds the cache's lock (its Go steps start right after).
  await eventually(() => access(join(cache, 'kubernetes', '.lock')).then(() => true), 'the build to take its lock', { ...MACHINE_POLL, timeoutMs: 30_000 });
  const script = (await processes()).find(([, , cmd]) => cmd[0] === 'bash' && cmd[1]?.endsWith('scripts/build-kubernetes.sh') && cmd.includes(cache));
  assert.ok(script, 'the build script runs');
  const [pid, group] = script;
  assert.equal(group, pid, 'the build leads a process group of its own');
  stop.abort();
  assert.match(await outcome, /stopped: herd is shutting down/);
  await eventually(async () => !(await processes()).some(([, pgrp]) => pgrp === group), 'every process of the build to end', { ...MACHINE_POLL, timeoutMs: 10_000 });
});
