// @herd/sys's executor against real commands: what every caller relies on (exit codes,
// input, environment, timeouts, commands that cannot start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { createExecutor, ExecError } from '@herd/sys';

const exec = createExecutor();

test('output, exit code and the command come back; output is not trimmed', async () => {
  const r = await exec.run('sh', ['-c', 'printf "a\\nü\\n"; printf err >&2']);
  assert.deepEqual([r.command, r.args, r.exitCode, r.stdout, r.stderr], ['sh', ['-c', 'printf "a\\nü\\n"; printf err >&2'], 0, 'a\nü\n', 'err']);
});

test('a non-zero exit throws ExecError with code and stderr; allowFailure returns it', async () => {
  const failing = exec.run('sh', ['-c', 'echo why >&2; exit 3']);
  await assert.rejects(failing, (e: unknown) => e instanceof ExecError && e.exitCode === 3 && e.stderr === 'why\n' && !e.timedOut);
  const r = await exec.run('sh', ['-c', 'exit 3'], { allowFailure: true });
  assert.equal(r.exitCode, 3);
});

test('input goes to stdin, then end of file; without input stdin is at end of file', async () => {
  assert.equal((await exec.run('cat', [], { input: 'hello' })).stdout, 'hello');
  assert.equal((await exec.run('cat', [])).stdout, '');
});

test('env extends the caller environment; cwd is honoured', async () => {
  const r = await exec.run('sh', ['-c', 'echo "$HERD_EXEC_TEST $PATH"; pwd'], { env: { HERD_EXEC_TEST: 'x' }, cwd: tmpdir() });
  assert.equal(r.stdout, `x ${process.env.PATH}\n${tmpdir()}\n`);
});

test('a command over its timeout is killed and reported as timed out, also with allowFailure', async () => {
  for (const allowFailure of [false, true]) {
    await assert.rejects(exec.run('sleep', ['30'], { timeoutMs: 200, allowFailure }),
      (e: unknown) => e instanceof ExecError && e.timedOut && e.signal === 'SIGTERM' && e.exitCode === undefined);
  }
});

test('a command that cannot start is an ExecError without exit code', async () => {
  await assert.rejects(exec.run('/nonexistent/herd-no-such-command', [], { allowFailure: true }),
    (e: unknown) => e instanceof ExecError && e.exitCode === undefined && !e.timedOut && /ENOENT/.test(e.stderr));
});

test('a prefix runs the command through another program', async () => {
  const r = await createExecutor({ prefix: ['env', 'HERD_PREFIXED=1'] }).run('sh', ['-c', 'echo $HERD_PREFIXED']);
  assert.equal(r.stdout, '1\n');
});
