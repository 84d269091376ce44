// The facts in Hello: os-release parsed as os-release(5) says, the rest from node:os.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arch, cpus, hostname, networkInterfaces, release, totalmem } from 'node:os';
import { nodeFileSystem, type FileSystem } from '@herd/sys';
import { parseOsRelease, readFacts } from '@herd/agent';

/** A fake file system for the two os-release paths only (this host's /etc is not a test fixture). */
function osReleaseFs(files: Record<string, string>): FileSystem {
  return { ...nodeFileSystem(), read: async (path: string) => files[path] };
}

test('os-release values: quoted or not, comments and blank lines ignored', () => {
  const text = '# comment\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n\nPRETTY_NAME=\'Debian 12\'\n';
  assert.deepEqual(parseOsRelease(text), { NAME: 'Debian GNU/Linux', VERSION_ID: '12', ID: 'debian', PRETTY_NAME: 'Debian 12' });
});

test('facts: /etc/os-release first, /usr/lib/os-release as the fallback, unknown without either', async () => {
  const etc = await readFacts(osReleaseFs({ '/etc/os-release': 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\n', '/usr/lib/os-release': 'NAME=Other\n' }));
  assert.deepEqual([etc.os, etc.osVersion], ['Debian GNU/Linux', '12']);
  const lib = await readFacts(osReleaseFs({ '/usr/lib/os-release': 'NAME="Debian GNU/Linux"\nVERSION_ID="13"\n' }));
  assert.deepEqual([lib.os, lib.osVersion], ['Debian GNU/Linux', '13']);
  const none = await readFacts(osReleaseFs({}));
  assert.deepEqual([none.os, none.osVersion], ['unknown', 'unknown']);
});

test('facts: kernel, arch, CPUs, memory, hostname, and per interface its first IPv4 and IPv6 address, loopback left out', async () => {
  const facts = await readFacts(osReleaseFs({}));
  assert.deepEqual([facts.kernel, facts.arch, facts.cpus, facts.memoryBytes, facts.hostname], [release(), arch(), cpus().length, totalmem(), hostname()]);
  const expected = Object.values(networkInterfaces()).filter((list) => list?.length && !list[0]!.internal)
    .flatMap((list) => [list!.find((e) => e.family === 'IPv4')?.address, list!.find((e) => e.family === 'IPv6')?.address]).filter(Boolean);
  assert.deepEqual(facts.addresses, expected);
  assert.ok(!facts.addresses.includes('127.0.0.1') && !facts.addresses.includes('::1'));
});
