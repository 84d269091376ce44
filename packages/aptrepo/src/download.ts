import { promises as fs, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor } from '@herd/sys';

/**
 * Real Debian packages for a test (e.g. containerd), fetched with the host's apt into a
 * cache directory once and reused after. `packages` are `name` or `name=version`; the
 * result is one path per package, in the order given. Dependencies are not fetched: list them.
 */
export async function downloadDebs(packages: readonly string[], cacheDir: string, exec: Executor): Promise<string[]> {
  await fs.mkdir(cacheDir, { recursive: true });
  // Each line: 'URI' FILE SIZE HASH, in apt's order. Asked from / because apt leaves out
  // files already present in its working directory, and the cache is what we compare with.
  const uris = await exec.run('apt-get', ['download', '--print-uris', ...packages], { cwd: '/' });
  const files = uris.stdout.split('\n').filter((l) => l.startsWith("'")).map((l) => l.split(' ')[1]!);
  const paths = packages.map((spec) => {
    const name = spec.split('=')[0]!;
    const file = files.find((f) => f.startsWith(`${name}_`));
    if (!file) throw new Error(`apt-get download --print-uris named no file for ${spec}: ${uris.stdout}`);
    return join(cacheDir, file);
  });
  const missing = packages.filter((_, i) => !existsSync(paths[i]!));
  if (missing.length) await exec.run('apt-get', ['download', ...missing], { cwd: cacheDir, timeoutMs: 10 * 60_000 });
  return paths;
}
