// Generated files are checked in; this fails when proto/ or the schema changed without regenerating.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { editorJsonSchema, planJsonSchema } from '@herd/api';
import { tempDir } from './support.js';

const ROOT = resolve(import.meta.dirname, '..');

function tree(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => { const p = join(e.parentPath, e.name); return [p.slice(dir.length), readFileSync(p, 'utf8')]; }));
}

test('TypeScript types generated from proto/ are current (node scripts/gen-proto.mjs)', (t) => {
  const out = tempDir(t);
  execFileSync(process.execPath, [join(ROOT, 'scripts/gen-proto.mjs'), out], { stdio: 'pipe' });
  assert.deepEqual(tree(out), tree(join(ROOT, 'packages/proto/src/gen')));
});

test('packages/api/herd.schema.json and plan.schema.json are current (node scripts/gen-schema.mjs)', () => {
  assert.equal(readFileSync(join(ROOT, 'packages/api/herd.schema.json'), 'utf8'), JSON.stringify(editorJsonSchema(), null, 2) + '\n');
  assert.equal(readFileSync(join(ROOT, 'packages/api/plan.schema.json'), 'utf8'), JSON.stringify(planJsonSchema(), null, 2) + '\n');
});
