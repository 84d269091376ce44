// Helpers shared by tests: temporary directories removed after the test, real git repositories.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function tempDir(t: TestContext, prefix = 'herd-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeTree(root: string, tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** Runs git in `dir` as a fixed test identity; returns stdout trimmed. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();
}

/** Writes `tree` into the repository at `dir` and commits it; returns the commit SHA. */
export function commit(dir: string, tree: Record<string, string>, message = 'change'): string {
  writeTree(dir, tree);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

export const CLUSTER = (name: string, version = '1.34.2') => `apiVersion: herd.dev/v1
kind: Cluster
metadata:
  name: ${name}
spec:
  kubernetes:
    version: ${version}
  pools:
    - name: workers
      replicas: 2
`;
