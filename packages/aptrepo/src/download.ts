import { promises as fs, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor } from '@herd/sys';

/**
 * Real Debian packages for a test (e.g. containerd), fetched with the host's apt into a
 * cache directory once and reused after. `packages` are `name` or `name=version`; the
 * result is one path per package, in order. Dependencies are not fetched: list them.
 */
export async function downloadDebs(packages: readonly string[], cacheDir: string, exec: Executor): Promise<string[]> {
  await fs.mkdir(cacheDir, { recursive: true });
  // Each line: 'URI' FILE SIZE HASH — the file name tells what is cached already.
  const uris = await exec.run('apt-get', ['download', '--print-uris', ...packages], { cwd: cacheDir });
  const files = uris.stdout.split('\n').filter((l) => l.startsWith("'")).map((l) => l.split(' ')[1]!);
  if (files.length !== packages.length) {
    throw new Error(`apt-get download --print-uris gave ${files.length} files for ${packages.length} packages: ${uris.stdout}`);
  }
  const missing = packages.filter((_, i) => !existsSync(join(cacheDir, files[i]!)));
  if (missing.length) await exec.run('apt-get', ['download', ...missing], { cwd: cacheDir, timeoutMs: 10 * 60_000 });
  return files.map((f) => join(cacheDir, f));
}
