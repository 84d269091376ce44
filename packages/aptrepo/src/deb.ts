import { promises as fs } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Executor } from '@herd/sys';

/** A .deb to build: enough to test pinning, upgrade, downgrade, hold and a failing configure. */
export interface DebSpec {
  name: string;
  version: string;
  /** `all` unless the package holds machine code. */
  architecture?: string;
  /** The Depends field, verbatim (e.g. `herd-test-base (>= 1.0)`). */
  depends?: string;
  /** Files the package installs: absolute path on the machine → content. */
  files?: Record<string, string>;
  /** Body of the postinst script (run by `dpkg --configure`). */
  postinst?: string;
  /** Make `dpkg --configure` fail (postinst exits 1), leaving the package half-configured. */
  failConfigure?: boolean;
  description?: string;
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9.+-]+$/;

/** The file name Debian gives a package (the epoch is not part of it). */
export function debFileName(name: string, version: string, architecture = 'all'): string {
  return `${name}_${version.replace(/^\d+:/, '')}_${architecture}.deb`;
}

/** Builds a .deb with `dpkg-deb --build` into `outDir` and returns its path. */
export async function buildDeb(spec: DebSpec, outDir: string, exec: Executor): Promise<string> {
  if (!PACKAGE_NAME.test(spec.name)) throw new RangeError(`"${spec.name}" is not a valid Debian package name`);
  const architecture = spec.architecture ?? 'all';
  const out = join(outDir, debFileName(spec.name, spec.version, architecture));
  const tree = `${out}.tree`;
  await fs.rm(tree, { recursive: true, force: true });
  await fs.mkdir(join(tree, 'DEBIAN'), { recursive: true });
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${architecture}`,
    'Maintainer: herd tests <tests@herd.invalid>',
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    `Description: ${spec.description ?? `herd test package ${spec.name} ${spec.version}`}`,
    '',
  ];
  await fs.writeFile(join(tree, 'DEBIAN/control'), control.join('\n'));
  if (spec.postinst !== undefined || spec.failConfigure) {
    const body = [spec.postinst ?? '', spec.failConfigure ? `echo "${spec.name}: configure fails on purpose" >&2; exit 1` : ''];
    await fs.writeFile(join(tree, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${body.filter(Boolean).join('\n')}\n`, { mode: 0o755 });
  }
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    if (!path.startsWith('/')) throw new RangeError(`package file "${path}" must be an absolute path`);
    await fs.mkdir(dirname(join(tree, path)), { recursive: true });
    await fs.writeFile(join(tree, path), content);
  }
  try {
    await exec.run('dpkg-deb', ['--root-owner-group', '--build', tree, out]);
  } finally {
    await fs.rm(tree, { recursive: true, force: true });
  }
  return out;
}
