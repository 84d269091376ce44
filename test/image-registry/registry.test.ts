/**
 * @herd/image-registry for real: Debian's docker-registry on loopback, Debian's skopeo
 * pushing an OCI archive written by scripts/kubernetes/oci-image.mjs (the writer of the
 * Kubernetes images), every process stopped and every directory removed, also on failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageRegistry, ImageRegistryError, freePort, mirrorPath, parseReference } from '@herd/image-registry';
import { processAlive } from '@herd/sys';

const OCI_IMAGE = fileURLToPath(new URL('../../scripts/kubernetes/oci-image.mjs', import.meta.url));
const HOST = '127.0.0.1';

test('references: the registry host is dropped for the mirror path, docker.io\'s defaults apply, bad ones are refused', () => {
  assert.deepEqual(parseReference('registry.k8s.io/kube-apiserver:v1.34.4'), { registry: 'registry.k8s.io', path: 'kube-apiserver', tag: 'v1.34.4' });
  assert.equal(mirrorPath('registry.k8s.io/coredns/coredns:v1.12.1'), 'coredns/coredns:v1.12.1');
  assert.equal(mirrorPath('ghcr.io/flannel-io/flannel:v0.28.10'), 'flannel-io/flannel:v0.28.10');
  assert.deepEqual(parseReference('busybox:1.36'), { registry: 'docker.io', path: 'library/busybox', tag: '1.36' });
  assert.deepEqual(parseReference('10.213.3.1:40000/team/app:2'), { registry: '10.213.3.1:40000', path: 'team/app', tag: '2' });
  assert.deepEqual(parseReference('localhost/app:2'), { registry: 'localhost', path: 'app', tag: '2' });
  for (const bad of ['registry.k8s.io/pause', 'registry.k8s.io/pause@sha256:00', 'registry.k8s.io/Pause:1', 'app:bad/tag']) {
    assert.throws(() => parseReference(bad), RangeError, bad);
  }
});

/** A one-layer OCI archive named `reference`, as build-kubernetes.sh writes the control plane's. */
async function archive(dir: string, reference: string, content: string): Promise<string> {
  const file = join(dir, `${content}.bin`);
  await fs.writeFile(file, content);
  const out = join(dir, `${content}.tar`);
  execFileSync('node', [OCI_IMAGE, '--ref', reference, '--file', `${file}:/usr/local/bin/${content}`, '--out', out]);
  return out;
}

async function listening(port: number): Promise<boolean> {
  return fetch(`http://${HOST}:${port}/v2/`, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false);
}

test('a registry serves, takes an archive under its mirror path once, keeps it across a restart, and goes with its directory', async (t) => {
  const tmp = await fs.mkdtemp(join(tmpdir(), 'herd-image-registry-'));
  const dir = join(tmp, 'registry');
  const started: ImageRegistry[] = [];
  t.after(async () => {
    for (const r of started) await r.stop();
    await ImageRegistry.remove(dir);
    await fs.rm(tmp, { recursive: true, force: true });
  });
  const port = await freePort(HOST);
  const start = async () => { const r = await ImageRegistry.start({ dir, host: HOST, port }); started.push(r); return r; };

  const registry = await start();
  assert.equal(registry.address, `${HOST}:${port}`);
  const hello = await archive(tmp, 'registry.k8s.io/herd-test/hello:v1', 'hello');
  const first = await registry.push(hello);
  assert.equal(first.pushed, true);
  assert.equal(first.reference, 'registry.k8s.io/herd-test/hello:v1');
  assert.equal(first.target, `${HOST}:${port}/herd-test/hello:v1`);
  const index = JSON.parse(execFileSync('tar', ['-xOf', hello, 'index.json'], { encoding: 'utf8' })) as { manifests: Array<{ digest: string }> };
  assert.equal(first.digest, index.manifests[0]!.digest, 'the archive\'s manifest, digest preserved');
  assert.equal(await registry.manifestDigest('herd-test/hello:v1'), first.digest);
  assert.equal(await registry.manifestDigest('herd-test/hello:v2'), undefined);
  assert.deepEqual(await registry.push(hello), { ...first, pushed: false }, 'already there: not pushed again');

  // A changed image under the same tag is pushed again.
  const changed = await archive(tmp, 'registry.k8s.io/herd-test/hello:v1', 'hello2');
  const second = await registry.push(changed);
  assert.equal(second.pushed, true);
  assert.notEqual(second.digest, first.digest);

  const pid = Number(await fs.readFile(join(dir, 'registry.pid'), 'utf8'));
  await registry.stop();
  assert.equal(processAlive(pid), false, 'stopped');
  assert.equal(await listening(port), false, 'the port is free');
  assert.equal(existsSync(join(dir, 'registry.pid')), false);

  const again = await start();
  assert.equal(await again.manifestDigest('herd-test/hello:v1'), second.digest, 'storage survives a restart');
  assert.equal((await again.push(changed)).pushed, false);

  // A registry whose parent never stopped it (the coordinator killed) is stopped by the next start.
  const orphan = Number(await fs.readFile(join(dir, 'registry.pid'), 'utf8'));
  const next = await start();
  assert.equal(processAlive(orphan), false, 'the earlier registry was stopped');
  assert.notEqual(Number(await fs.readFile(join(dir, 'registry.pid'), 'utf8')), orphan);
  assert.equal(await next.manifestDigest('herd-test/hello:v1'), second.digest);

  const last = Number(await fs.readFile(join(dir, 'registry.pid'), 'utf8'));
  await ImageRegistry.remove(dir);
  assert.equal(processAlive(last), false, 'remove stops it');
  assert.equal(existsSync(dir), false, 'and removes its storage');
});

test('refusals are typed: an archive that names no image, a port already taken', async (t) => {
  const tmp = await fs.mkdtemp(join(tmpdir(), 'herd-image-registry-'));
  const started: ImageRegistry[] = [];
  const blocker = createServer((socket) => socket.destroy()); // the registry's readiness probe connects to it
  t.after(async () => {
    for (const r of started) await r.stop();
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await fs.rm(tmp, { recursive: true, force: true });
  });
  const registry = await ImageRegistry.start({ dir: join(tmp, 'a'), host: HOST, port: await freePort(HOST) });
  started.push(registry);

  const plain = join(tmp, 'plain.tar');
  execFileSync('tar', ['-cf', plain, '-C', tmp, 'a']);
  await assert.rejects(registry.push(plain), (e: unknown) => e instanceof ImageRegistryError && e.code === 'bad-archive' && e.message.startsWith(plain));
  await assert.rejects(registry.push(join(tmp, 'absent.tar')), (e: unknown) => e instanceof ImageRegistryError && e.code === 'bad-archive');

  const taken = await new Promise<number>((resolve) => blocker.listen(0, HOST, () => resolve((blocker.address() as { port: number }).port)));
  await assert.rejects(ImageRegistry.start({ dir: join(tmp, 'b'), host: HOST, port: taken, startTimeoutMs: 5000 }),
    (e: unknown) => e instanceof ImageRegistryError && e.code === 'start-failed' && e.message.includes(`${HOST}:${taken}`));
  assert.equal(existsSync(join(tmp, 'b', 'registry.pid')), false, 'nothing left running');
});
