// herd up's log destination on a terminal, against a real pino logger: readable lines, each
// said once until it changes, control characters escaped, refusals left to the progress lines.
// The whole command under a pseudo-terminal is test/cli/broken.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Progress } from '@herd/cli';
import { createLogger } from '@herd/sys';

test('log lines on a terminal: readable, once until they change, escaped, refusals not repeated', () => {
  let screen = '';
  const terminal = Object.assign(new Writable({ write(chunk, _encoding, done) { screen += String(chunk); done(); } }), { isTTY: true });
  const progress = new Progress(terminal, true);
  const logger = createLogger({ name: 'herd', level: 'warn', destination: progress.logDestination() });
  for (let round = 0; round < 3; round++) logger.warn({ cluster: 'shop', err: new Error('no route') }, 'cannot list machines');
  logger.warn({ cluster: 'shop', err: new Error('quota') }, 'cannot list machines');
  logger.warn({ cluster: 'evil\x1b[2J\nerror: forged' }, 'cannot list machines');
  logger.warn({ event: 'rejected', errors: 1 }, 'desired state does not validate; keeping the last good one');
  logger.info('below the level');
  assert.deepEqual(screen.split('\n'), [
    'warning: cannot list machines (cluster shop, error: no route)',
    'warning: cannot list machines (cluster shop, error: quota)',
    'warning: cannot list machines (cluster evil\\u001b[2J\\u000aerror: forged)',
    '',
  ]);
});
