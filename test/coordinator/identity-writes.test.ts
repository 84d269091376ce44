// The identity registry on a real directory store: changes made while a write runs share the
// next write (a fleet of nodes without records must not cost one fsync'd rewrite each), and
// no change is reported done before a write that holds it has finished.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueClientCert } from '@herd/pki';
import { directoryStore, IdentityRegistry, type CoordinatorStore, type IdentityRecord } from '@herd/coordinator';
import { nodeFileSystem, systemClock } from '@herd/sys';

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

/** The real store, with each saveIdentities held until released, so a test sees what waits for what. */
async function gatedStore() {
  const dir = await mkdtemp(join(tmpdir(), 'herd-identities-'));
  dirs.push(dir);
  const real = directoryStore(dir, nodeFileSystem());
  const saves: { count: number; release: () => void }[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const store: CoordinatorStore = {
    ...real,
    async saveIdentities(records: readonly IdentityRecord[]) {
      const save = { count: records.length, release: open };
      saves.push(save);
      await gate;
      await real.saveIdentities(records);
    },
  };
  const hold = () => { gate = new Promise<void>((resolve) => { open = resolve; }); };
  return { real, store, saves, hold, release: () => open() };
}

test('adoptions made while a write runs share the next write, and each resolves only once its record is on disk', async () => {
  const ca = await createCA();
  const ders = await Promise.all(Array.from({ length: 3 }, async (_, i) =>
    new X509Certificate((await issueClientCert(ca, { role: 'node', node: `n${i}`, cluster: 'c' })).certPem).raw));
  const { real, store, saves, hold, release } = await gatedStore();
  const registry = await IdentityRegistry.load(store, systemClock);
  hold();
  let firstDone = false;
  const first = registry.adopt({ cluster: 'c', node: 'n0' }, ders[0]!).then((r) => { firstDone = true; return r; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(saves.length, 1, 'the first adoption started a write');
  // 100 more while that write is held: they must wait for a second write, and share it.
  const more = Array.from({ length: 100 }, (_, i) => registry.adopt({ cluster: 'c', node: `m${i}` }, ders[1]!));
  const again = registry.adopt({ cluster: 'c', node: 'n0' }, ders[0]!);
  const other = registry.adopt({ cluster: 'c', node: 'n0' }, ders[2]!);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(firstDone, false, 'an adoption resolved before its write finished');
  assert.equal(saves.length, 1, 'a second write started while the first was still running');
  const held = saves[0]!;
  hold(); // the second write is held too, to see that the 100 wait for it
  held.release();
  assert.equal(await first, true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(saves.length, 2, 'the 100 adoptions made during the first write share one second write');
  assert.equal(saves[1]!.count, 101);
  release();
  assert.deepEqual(await Promise.all(more), Array(100).fill(true));
  assert.equal(await again, true, 'the same certificate again is the recorded identity');
  assert.equal(await other, false, 'another certificate for a recorded node is not adopted');
  assert.equal(saves.length, 2);
  const onDisk = await real.loadIdentities();
  assert.equal(onDisk.length, 101);
  assert.equal(onDisk.find((r) => r.node === 'n0')!.generation, 1);
});

test('a failed write is reported to every change it held, and the next change writes them again', async () => {
  const ca = await createCA();
  const der = new X509Certificate((await issueClientCert(ca, { role: 'node', node: 'n', cluster: 'c' })).certPem).raw;
  const { real, store } = await gatedStore();
  let fail = true;
  const failing: CoordinatorStore = {
    ...store,
    async saveIdentities(records) {
      if (fail) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      await store.saveIdentities(records);
    },
  };
  const registry = await IdentityRegistry.load(failing, systemClock);
  const results = await Promise.allSettled([registry.adopt({ cluster: 'c', node: 'a' }, der), registry.adopt({ cluster: 'c', node: 'b' }, der)]);
  assert.deepEqual(results.map((r) => r.status === 'rejected' && (r.reason as NodeJS.ErrnoException).code), ['ENOSPC', 'ENOSPC']);
  fail = false;
  assert.equal(await registry.adopt({ cluster: 'c', node: 'd' }, der), true);
  assert.deepEqual((await real.loadIdentities()).map((r) => r.node).sort(), ['a', 'b', 'd']);
});
