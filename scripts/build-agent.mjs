#!/usr/bin/env node
// Builds the self-contained herd-agent artifact a machine without npm runs: the agent
// bundled by esbuild into one JavaScript file, this host's node binary beside it (the
// machines run the same Debian as the host, docs/test-world.md), the install script, and a VERSION line.
// Usage: node scripts/build-agent.mjs [OUT_DIR]   (default: dist/herd-agent)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist/herd-agent'));

const tsc = spawnSync('npx', ['tsc', '-b', 'packages/agent'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// Built next to the final directory and renamed, so a half-built artifact is never installed.
const temp = `${out}.building`;
rmSync(temp, { recursive: true, force: true });
mkdirSync(temp, { recursive: true });
await bundle(join(root, 'packages/agent/dist/main.js'), join(temp, 'herd-agent.mjs'));
copyFileSync(process.execPath, join(temp, 'node'));
copyFileSync(join(root, 'scripts/install-agent.sh'), join(temp, 'install-agent.sh'));

const { version } = JSON.parse(readFileSync(join(root, 'packages/agent/package.json'), 'utf8'));
const hash = createHash('sha256');
for (const file of ['herd-agent.mjs', 'node', 'install-agent.sh']) hash.update(readFileSync(join(temp, file)));
writeFileSync(join(temp, 'VERSION'), `${version}+${hash.digest('hex').slice(0, 12)} node ${process.version}\n`);

rmSync(out, { recursive: true, force: true });
renameSync(temp, out);
process.stdout.write(`${out}: ${readFileSync(join(out, 'VERSION'), 'utf8')}`);
