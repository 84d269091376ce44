#!/usr/bin/env node
// Runs the benchmarks: every test/bench/*.bench.ts in turn (or the ones given), through tsx,
// against the built packages. Benchmarks report figures; they never pass or fail on them.
// Usage: node scripts/run-bench.mjs [test/bench/NAME.bench.ts ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const given = process.argv.slice(2);
const files = given.length
  ? given
  : readdirSync(join(root, 'test/bench')).filter((f) => f.endsWith('.bench.ts')).sort().map((f) => join('test/bench', f));
const build = spawnSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`${file}: exited ${run.status ?? run.signal}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
