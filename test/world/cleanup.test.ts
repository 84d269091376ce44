import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { processAlive } from '@herd/sys';
import { sweepAbandonedWorlds } from './index.js';

interface Made { bridge: string; dir: string; rootfs: string; leader: number }

/** Starts the fixture in its own process; resolves with what it made once its world runs. */
async function worldInChild(t: { after(fn: () => void): void }) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'interrupted.fixture.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const [line] = await once(createInterface({ input: child.stdout }), 'line') as [string];
  const made = JSON.parse(line) as Made;
  assert.equal(processAlive(made.leader), true);
  return { child, made };
}

function assertGone(made: Made) {
  assert.equal(processAlive(made.leader), false, 'machine still running');
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(made.rootfs), false, 'overlay still mounted');
  assert.notEqual(spawnSync('ip', ['link', 'show', made.bridge]).status, 0, 'bridge still exists');
  assert.equal(existsSync(made.dir), false, 'world directory still exists');
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`a test process ended by ${signal} removes its machines, mounts, bridge and directory`, async (t) => {
    const { child, made } = await worldInChild(t);
    child.kill(signal);
    const [code] = await once(child, 'exit') as [number | null];
    assert.equal(code, signal === 'SIGTERM' ? 143 : 130);
    assertGone(made);
  });
}

test('a world whose test process was SIGKILLed is swept away by the next one', async (t) => {
  const { child, made } = await worldInChild(t);
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(processAlive(made.leader), true, 'nothing could clean up: the machine outlives its test');
  assert.ok((await sweepAbandonedWorlds()).includes(made.dir));
  assertGone(made);
});
