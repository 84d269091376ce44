import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecError } from '@herd/sys';
import { TestWorld, type Machine } from '../world/index.js';

const APT = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0'];

test('apt on a machine installs, upgrades, holds and downgrades pinned versions from the local repository', async (t) => {
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  for (const version of ['1.0', '2.0']) {
    await world.repo.add(await world.repo.buildPackage({
      name: 'herd-test-a', version, depends: 'herd-test-base', files: { '/etc/herd-test/a': `version ${version}\n` },
    }));
  }
  await world.repo.add(await world.repo.buildPackage({ name: 'herd-test-base', version: '1.0' }));
  const installed = async (name: string) =>
    (await m.exec.run('dpkg-query', ['-W', '-f=${Version} ${db:Status-Abbrev}', name])).stdout.trim();
  const apt = (...args: string[]) => m.exec.run('apt-get', [...APT, ...args], { env: { DEBIAN_FRONTEND: 'noninteractive' } });

  await apt('update');
  await apt('install', 'herd-test-a=1.0');
  assert.equal(await installed('herd-test-a'), '1.0 ii');
  assert.equal(await installed('herd-test-base'), '1.0 ii', 'the dependency came from the same repository');
  assert.equal(await readFile(join(m.rootfs, 'etc/herd-test/a'), 'utf8'), 'version 1.0\n');

  await m.exec.run('apt-mark', ['hold', 'herd-test-a']);
  await apt('upgrade');
  assert.equal(await installed('herd-test-a'), '1.0 hi', 'held: upgrade leaves it alone');

  // apt drops the hold of a package it is told to install at another version: hold again after.
  await apt('install', '--allow-change-held-packages', 'herd-test-a=2.0');
  assert.equal(await installed('herd-test-a'), '2.0 ii');
  await m.exec.run('apt-mark', ['hold', 'herd-test-a']);
  await apt('install', '--allow-downgrades', '--allow-change-held-packages', 'herd-test-a=1.0');
  assert.equal(await installed('herd-test-a'), '1.0 ii');
  assert.equal(await readFile(join(m.rootfs, 'etc/herd-test/a'), 'utf8'), 'version 1.0\n');
});

test('a package whose configure fails leaves dpkg saying so, with the script\'s stderr', async (t) => {
  const world = await TestWorld.start(t, { machines: 1 });
  const [m] = world.machines as [Machine];
  await world.repo.add(await world.repo.buildPackage({ name: 'herd-test-broken', version: '1.0', failConfigure: true }));
  await m.exec.run('apt-get', [...APT, 'update']);
  const failure = await m.exec.run('apt-get', [...APT, 'install', 'herd-test-broken=1.0'], { env: { DEBIAN_FRONTEND: 'noninteractive' } })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(failure instanceof ExecError);
  assert.match(failure.stdout + failure.stderr, /configure fails on purpose/);
  const status = await m.exec.run('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', 'herd-test-broken']);
  assert.equal(status.stdout.trim(), 'iF', 'installed but half-configured');
});
