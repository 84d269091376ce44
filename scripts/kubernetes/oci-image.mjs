#!/usr/bin/env node
// Writes a one-layer OCI image archive without docker or a registry, for
// `ctr -n k8s.io images import`:
//
//   node scripts/kubernetes/oci-image.mjs --ref registry.k8s.io/kube-apiserver:v1.34.4 \
//     --file /path/to/kube-apiserver:/usr/local/bin/kube-apiserver [--file SRC:DEST ...] \
//     [--entrypoint /usr/local/bin/kube-apiserver [--entrypoint ARG ...]] [--cmd ARG ...] [--user UID] [--label KEY=VALUE ...] \
//     [--layer base.tar ...] --out kube-apiserver.tar
//
// The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/…) in a tar:
// the --layer tars first, as they are (a tree shared by several images, the same blob in
// each), then one uncompressed layer holding the files (root-owned, mode 0755, mtime 0,
// plus an empty /tmp), an image config for linux/amd64 with PATH, the entrypoint (the program
// and any fixed arguments), the --cmd arguments (its default arguments, when given), the --user
// it runs as and the --label annotations (OCI image labels, when given), a manifest, and an
// index whose manifest carries the reference twice: `io.containerd.image.name` (the full
// name containerd imports it as) and `org.opencontainers.image.ref.name` (the tag, as the
// OCI spec and `ctr export` write it). The same inputs give the same bytes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ref: { type: 'string' },
    file: { type: 'string', multiple: true },
    layer: { type: 'string', multiple: true },
    entrypoint: { type: 'string', multiple: true },
    cmd: { type: 'string', multiple: true },
    user: { type: 'string' },
    label: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
});
if (!values.ref || !(values.file?.length || values.layer?.length) || !values.out || (!values.file?.length && !values.entrypoint)) {
  console.error('usage: oci-image.mjs --ref NAME:TAG --file SRC:DEST [--file …] [--layer TAR …] [--entrypoint PATH [--entrypoint ARG …]] [--cmd ARG …] [--user UID] [--label KEY=VALUE …] --out FILE.tar');
  process.exit(2);
}
const ref = values.ref;
const tag = ref.slice(ref.lastIndexOf(':') + 1);
if (!tag || tag.includes('/')) throw new Error(`reference ${ref} has no tag`);
const files = (values.file ?? []).map((f) => {
  const at = f.indexOf(':');
  if (at < 1 || !f.slice(at + 1).startsWith('/')) throw new Error(`--file ${f}: expected SRC:/absolute/dest`);
  return { src: f.slice(0, at), dest: f.slice(at + 1) };
});
const entrypoint = values.entrypoint ?? [files[0].dest];
const labels = Object.fromEntries((values.label ?? []).map((l) => {
  const at = l.indexOf('=');
  if (at < 1) throw new Error(`--label ${l}: expected KEY=VALUE`);
  return [l.slice(0, at), l.slice(at + 1)];
}));

// Deterministic tar: sorted names, fixed owner and time, GNU format (no PAX atime/ctime).
const TAR = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu'];
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

const work = mkdtempSync(join(tmpdir(), 'herd-oci-'));
try {
  const root = join(work, 'rootfs');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  for (const { src, dest } of files) {
    const to = join(root, dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(src, to);
    chmodSync(to, 0o755);
  }
  const layerPath = join(work, 'layer.tar');
  execFileSync('tar', [...TAR, '-C', root, '-cf', layerPath, '.']);

  const layout = join(work, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layers = [...(values.layer ?? []), layerPath].map((path) => {
    const bytes = readFileSync(path);
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest), bytes);
    return { digest, size: bytes.length };
  });
  const blob = (obj) => {
    const bytes = Buffer.from(JSON.stringify(obj));
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest), bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };

  const config = blob({
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Entrypoint: entrypoint,
      ...(values.cmd?.length ? { Cmd: values.cmd } : {}),
      ...(values.user ? { User: values.user } : {}),
      ...(values.label?.length ? { Labels: labels } : {}),
      WorkingDir: '/',
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.digest}`) },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'herd scripts/kubernetes/oci-image.mjs' }],
  });
  const manifest = blob({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${l.digest}`, size: l.size })),
  });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  const partial = `${values.out}.partial`;
  execFileSync('tar', [...TAR, '-C', layout, '-cf', partial, 'oci-layout', 'index.json', 'blobs']);
  renameSync(partial, values.out);
} finally {
  rmSync(work, { recursive: true, force: true });
}
