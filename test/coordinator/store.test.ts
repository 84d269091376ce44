import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryStore, ensurePki, type CoordinatorStore } from '@herd/coordinator';
import { certHosts } from '@herd/pki';
import { nodeFileSystem, silentLogger } from '@herd/sys';

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

test('the CA is created once; the server certificate is reissued only when the names it must cover change', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'herd-store-'));
  dirs.push(dir);
  const files = directoryStore(dir, nodeFileSystem());
  let saves = 0;
  const store: CoordinatorStore = { ...files, savePki: (pki) => { saves++; return files.savePki(pki); } };

  const first = await ensurePki(store, ['127.0.0.1', 'localhost'], silentLogger());
  const again = await ensurePki(store, ['127.0.0.1', 'localhost'], silentLogger());
  assert.equal(saves, 1);
  assert.deepEqual(again, first);

  const advertised = await ensurePki(store, ['coordinator.example', '127.0.0.1', 'localhost'], silentLogger());
  assert.equal(saves, 2);
  assert.equal(advertised.ca.certPem, first.ca.certPem, 'same CA: enrolled agents stay valid');
  assert.equal(advertised.admin.certPem, first.admin.certPem);
  assert.ok(certHosts(advertised.server.certPem).includes('coordinator.example'));

  for (const [file, mode] of [['ca.key', 0o600], ['server.key', 0o600], ['admin.key', 0o600], ['ca.crt', 0o644]] as const) {
    assert.equal((await stat(join(dir, file))).mode & 0o777, mode, file);
  }
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
});
