#!/usr/bin/env node
// Runs the test suite: every test/**/*.test.ts (Node's runner does not expand globs),
// TypeScript through tsx, packages from their built dist/ (npm test builds first).
// Usage: node scripts/run-tests.mjs [PATH_PREFIX ...]   e.g. test/api
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).map((p) => relative(root, resolve(p)));
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map((f) => join('test', String(f)))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(p)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || 'test/'}`);
  process.exit(1);
}
for (const args of [['tsc', '-b'], ['tsc', '-p', 'test']]) {
  const build = spawnSync('npx', args, { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// --test-force-exit: a file ends when its tests have, even if a library leaves a socket open
// (grpc-js can keep a connection past a server's forced shutdown); --test-timeout turns a
// file that hangs into a failure with its name before CI's 90 minutes run out. Node 20
// applies it to each whole file, so it must cover the slowest: the Kubernetes test, which on
// a fresh machine first builds two Kubernetes versions (about 30 minutes).
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', '--test-timeout=4500000', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
