// The one escaping function every message uses: nothing a repository holds can end a line,
// move the cursor or flood the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeText, formatSpecError, LIMITS, quote } from '@herd/api';

test('quote escapes newlines, controls, terminal and bidirectional escapes, and cuts long values', () => {
  assert.equal(quote('a\nb'), '"a\\nb"');
  assert.equal(quote('\u001b[2J'), '"\\u001b[2J"');
  assert.equal(quote('\u009b31m'), '"\\u009b31m"');
  assert.equal(quote('\u202eevil'), '"\\u202eevil"');
  assert.equal(quote('say "hi" \\'), '"say \\"hi\\" \\\\"');
  const long = quote('x'.repeat(10_000));
  assert.equal(long, `"${'x'.repeat(LIMITS.quotedChars - 3)}"...`);
});

test('escapeText is idempotent and keeps every message on one line', () => {
  const once = escapeText('line one\nline two\u0007\r');
  assert.equal(once, 'line one\\nline two\\u0007\\r');
  assert.equal(escapeText(once), once);
  assert.ok(escapeText('y'.repeat(10_000)).length <= LIMITS.messageChars);
});

test('a formatted error is one line whatever its parts hold; a whole-file error has no position', () => {
  const line = formatSpecError({ file: 'clusters/a\n.yaml', line: 3, column: 4, field: 'spec["x\ny"]', message: 'bad\nclusters/b.yaml:1:1: forged' });
  assert.equal(line, 'clusters/a\\n.yaml:3:4: spec["x\\ny"]: bad\\nclusters/b.yaml:1:1: forged');
  assert.equal(formatSpecError({ file: 'clusters', line: 0, column: 0, field: '', message: 'is a symbolic link' }), 'clusters: is a symbolic link');
});
