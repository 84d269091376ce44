import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecutor } from '@herd/sys';
import { AptRepository, debFileName, downloadDebs } from '@herd/aptrepo';

async function tempRepo(t: { after(fn: () => Promise<void>): void }): Promise<AptRepository> {
  const dir = await mkdtemp(join(tmpdir(), 'herd-aptrepo-'));
  const repo = await AptRepository.create({ dir: dir });
  t.after(async () => { await repo.close(); await rm(dir, { recursive: true, force: true }); });
  return repo;
}

test('built packages carry their control fields, files and maintainer scripts', async (t) => {
  const repo = await tempRepo(t);
  const deb = await repo.buildPackage({
    name: 'herd-test-files', version: '2:1.5-1', depends: 'herd-test-base (>= 1.0)',
    files: { '/etc/herd-test/conf': 'answer=42\n' }, failConfigure: true,
  });
  assert.equal(deb.endsWith(debFileName('herd-test-files', '2:1.5-1')), true);
  const exec = createExecutor();
  const field = async (name: string) => (await exec.run('dpkg-deb', ['-f', deb, name])).stdout.trim();
  assert.equal(await field('Version'), '2:1.5-1');
  assert.equal(await field('Depends'), 'herd-test-base (>= 1.0)');
  assert.equal(await field('Architecture'), 'all');
  assert.match((await exec.run('dpkg-deb', ['-c', deb])).stdout, /root\/root .* \.\/etc\/herd-test\/conf/);
  const postinst = (await exec.run('dpkg-deb', ['-I', deb, 'postinst'])).stdout;
  assert.match(postinst, /exit 1/);
});

test('the index lists every version of a package, and Release carries its hash', async (t) => {
  const repo = await tempRepo(t);
  const debs = await Promise.all(['1.0', '1.1', '2.0'].map((version) => repo.buildPackage({ name: 'herd-test-a', version })));
  await Promise.all(debs.map((deb) => repo.add(deb))); // concurrent adds: the last index sees every package
  const packages = await readFile(join(repo.published, 'Packages'), 'utf8');
  assert.deepEqual([...packages.matchAll(/^Version: (.*)$/gm)].map((m) => m[1]).sort(), ['1.0', '1.1', '2.0']);
  const release = await readFile(join(repo.published, 'Release'), 'utf8');
  const sha = createHash('sha256').update(packages).digest('hex');
  assert.match(release, new RegExp(`^ ${sha} ${Buffer.byteLength(packages)} Packages$`, 'm'));
});

test('the server serves the repository files and nothing outside it', async (t) => {
  const repo = await tempRepo(t);
  await repo.add(await repo.buildPackage({ name: 'herd-test-a', version: '1.0' }));
  const url = await repo.serve('127.0.0.1');
  assert.equal(repo.sourceLine, `deb [trusted=yes] ${url} ./`);
  const packages = await fetch(`${url}/Packages`);
  assert.equal(packages.status, 200);
  assert.match(await packages.text(), /Package: herd-test-a/);
  const deb = await fetch(`${url}/./herd-test-a_1.0_all.deb`);
  assert.equal(deb.status, 200);
  assert.equal((await deb.arrayBuffer()).byteLength > 0, true);
  for (const path of ['/..%2F..%2Fetc%2Fpasswd', '/.Packages.tmp', '/nothing-here', '/%2e%2e/Packages']) {
    const response = await fetch(`${url}${path}`);
    if (path === '/%2e%2e/Packages') assert.equal(response.status, 200, 'resolves inside the repository');
    else assert.equal(response.status, 404, path);
    await response.arrayBuffer();
  }
});

test('Debian packages already in the cache come back in the order asked, without fetching', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'herd-debs-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  const exec = createExecutor();
  // The file names apt would download to (from the host's package lists; nothing is fetched).
  const uris = (await exec.run('apt-get', ['download', '--print-uris', 'tree', 'kmod'], { cwd: '/' })).stdout;
  const names = uris.split('\n').filter((l) => l.startsWith("'")).map((l) => l.split(' ')[1]!);
  for (const name of names) await writeFile(join(cache, name), 'cached');

  const paths = await downloadDebs(['tree', 'kmod'], cache, exec);
  assert.match(paths[0]!, /\/tree_[^/]+\.deb$/);
  assert.match(paths[1]!, /\/kmod_[^/]+\.deb$/);
  for (const path of paths) assert.equal(await readFile(path, 'utf8'), 'cached', 'served from the cache, not fetched again');
});
