// The hostile corpus: broken and crafted repositories as an adversary who can push would
// write them, given to the real built `herd validate` in a child process, in both modes (the
// directory on disk and `--ref` at a Git commit) where Git can hold the case. Every case
// asserts exit 1, one located line per error, the same lines in both modes, nothing from
// outside the repository in the output (a marker planted next to it), a hang guard and a
// memory bound (a small V8 heap, and the child's peak RSS). Symlinks, FIFOs and unreadable
// files are made at test time; the cases are generated from the table below.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LIMITS } from '@herd/api';
import { git } from '../support.js';

const ROOT = resolve(import.meta.dirname, '../..');
const HERD = join(ROOT, 'packages/cli/dist/main.js');
const WORK = mkdtempSync(join(tmpdir(), 'herd-hostile-'));
const CACHE = join(WORK, 'cache');
/** Planted outside every repository: its text must never appear in any output. */
const OUTSIDE = join(WORK, 'outside');
const MARKER = 'MARKER-7f3c1e-outside-the-repository';
/**
 * A hang guard, not a performance test: generous, because a child that needs a second of CPU
 * can take ten on a loaded CI machine; a case that hangs (a FIFO waited on, a walk of /) is
 * killed here and fails. The CPU time each child used is reported (the slowest at the end).
 */
const HANG_GUARD_MS = 30_000;
/** A V8 heap this small makes any blow-up (alias expansion, a huge file kept in memory) fail the run. */
const HEAP_MB = 64;
const MAX_RSS_KB = 200 * 1024;
after(() => rmSync(WORK, { recursive: true, force: true }));
before(() => {
  mkdirSync(join(OUTSIDE, 'clusters'), { recursive: true });
  // Valid-looking YAML whose values would surface in an error if herd ever read it.
  const leak = `apiVersion: ${MARKER}\nkind: Cluster\nmetadata: { name: web }\n`;
  writeFileSync(join(OUTSIDE, 'secret.yaml'), leak);
  writeFileSync(join(OUTSIDE, 'clusters', 'web.yaml'), leak);
  writeFileSync(join(OUTSIDE, 'key'), `-----BEGIN ${MARKER}-----\n`);
});

const cluster = (spec = '', name = 'web') => `apiVersion: herd.dev/v1
kind: Cluster
metadata:
  name: ${name}
spec:
  kubernetes:
    version: 1.34.4
${spec}`;

const nested = (depth: number) => cluster('  pools: ' + '['.repeat(depth) + ']'.repeat(depth) + '\n');
const manyKeys = (n: number) => cluster('  os:\n    sysctls:\n' + Array.from({ length: n }, (_, i) => `      net.k${i}: 1\n`).join(''));
const laughs = () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  return `apiVersion: herd.dev/v1\nkind: Cluster\nmetadata: { name: web }\nspec:\n  x:\n${lines.map((l) => `    ${l}`).join('\n')}\n`;
};
const staticProvider = (keyFile: string) => cluster(`  provider:
    kind: static
    keyFile: ${keyFile}
    machines:
      - { name: m1, address: 10.0.0.1 }
      - { name: m2, address: 10.0.0.2 }
  pools:
    - name: workers
      replicas: 1
`);
const pools = (n: number, replicas: number) => cluster('  pools:\n' + Array.from({ length: n }, (_, i) => `    - { name: p${i}, replicas: ${replicas} }\n`).join(''));

type Setup = (dir: string) => void;
const link = (target: string, path: string): Setup => (dir) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  symlinkSync(target, join(dir, path));
};

interface Case {
  name: string;
  files?: Record<string, string | Buffer>;
  setup?: Setup;
  /** Can the case exist in a Git commit (FIFOs and permissions cannot)? */
  git?: boolean;
  /** Runs the CLI without the capabilities that let root read any file. */
  unprivileged?: boolean;
  /** Each expected line: its location (`FILE:LINE:COL` or `FILE`) and a fragment of the rest. */
  want: [at: string, says: string][];
}

const TEXT = 'a located line: FILE:LINE:COL: [FIELD: ]message or FILE: message';
const cases: Case[] = [
  // Symlinks and special files.
  { name: 'a cluster file linking to a file outside',
    setup: link(join(OUTSIDE, 'secret.yaml'), 'clusters/web.yaml'),
    want: [['clusters/web.yaml', 'is a symbolic link']] },
  { name: 'a cluster file linking to /etc/passwd', setup: link('/etc/passwd', 'clusters/web.yaml'), want: [['clusters/web.yaml', 'is a symbolic link']] },
  { name: 'a cluster file linking to /proc/self/environ',
    setup: link('/proc/self/environ', 'clusters/env.yaml'),
    want: [['clusters/env.yaml', 'is a symbolic link']] },
  { name: 'a profile file linking outside',
    files: { 'clusters/web.yaml': cluster() },
    setup: link(join(OUTSIDE, 'secret.yaml'), 'profiles/p.yaml'),
    want: [['profiles/p.yaml', 'is a symbolic link']] },
  { name: 'clusters/ linking to /', setup: link('/', 'clusters'), want: [['clusters', 'is a symbolic link']] },
  { name: 'clusters/ linking to a folder outside', setup: link(join(OUTSIDE, 'clusters'), 'clusters'), want: [['clusters', 'is a symbolic link']] },
  { name: 'profiles/ linking outside',
    files: { 'clusters/web.yaml': cluster() },
    setup: link(OUTSIDE, 'profiles'),
    want: [['profiles', 'is a symbolic link']] },
  { name: 'a folder below clusters/ linking to /etc', setup: link('/etc', 'clusters/etc'), want: [['clusters/etc', 'is a symbolic link']] },
  { name: 'a link inside the repository pointing inside it',
    files: { 'clusters/web.yaml': cluster() },
    setup: link('web.yaml', 'clusters/copy.yaml'),
    want: [['clusters/copy.yaml', 'is a symbolic link']] },
  { name: 'a broken link', setup: link('does-not-exist.yaml', 'clusters/web.yaml'), want: [['clusters/web.yaml', 'is a symbolic link']] },
  { name: 'a broken clusters/ link', files: { 'profiles/.keep': '' }, setup: link('nowhere', 'clusters'), want: [['clusters', 'is a symbolic link']] },
  { name: 'a looping link',
    setup: (dir) => { link('b.yaml', 'clusters/a.yaml')(dir); link('a.yaml', 'clusters/b.yaml')(dir); },
    want: [['clusters/a.yaml', 'is a symbolic link'], ['clusters/b.yaml', 'is a symbolic link']] },
  { name: 'a link to itself', setup: link('self.yaml', 'clusters/self.yaml'), want: [['clusters/self.yaml', 'is a symbolic link']] },
  { name: 'a FIFO as a cluster file',
    git: false,
    files: { 'profiles/.keep': '' },
    setup: (dir) => { mkdirSync(join(dir, 'clusters')); execFileSync('mkfifo', [join(dir, 'clusters/web.yaml')]); },
    want: [['clusters/web.yaml', 'is a FIFO']] },
  { name: 'a FIFO with another name below clusters/',
    git: false,
    files: { 'clusters/web.yaml': cluster() },
    setup: (dir) => execFileSync('mkfifo', [join(dir, 'clusters/pipe')]),
    want: [['clusters/pipe', 'is a FIFO']] },
  { name: 'a device node below clusters/',
    git: false,
    files: { 'clusters/web.yaml': cluster() },
    setup: (dir) => execFileSync('mknod', [join(dir, 'clusters/null.yaml'), 'c', '1', '3']),
    want: [['clusters/null.yaml', 'is a device']] },
  { name: 'clusters is a file, not a folder', files: { clusters: cluster(), 'profiles/.keep': '' }, want: [['clusters', 'must be a folder']] },
  { name: 'an unreadable cluster file',
    git: false,
    unprivileged: true,
    files: { 'clusters/web.yaml': cluster() },
    setup: (dir) => chmodSync(join(dir, 'clusters/web.yaml'), 0),
    want: [['clusters/web.yaml', 'cannot be read: permission denied']] },
  { name: 'an unreadable folder',
    git: false,
    unprivileged: true,
    files: { 'clusters/eu/web.yaml': cluster() },
    setup: (dir) => chmodSync(join(dir, 'clusters/eu'), 0),
    want: [['clusters/eu', 'cannot be read: permission denied']] },
  { name: 'a static keyFile that is a link outside',
    files: { 'clusters/web.yaml': staticProvider('secrets/id') },
    setup: link(join(OUTSIDE, 'key'), 'secrets/id'),
    want: [['clusters/web.yaml:10:14', 'spec.provider.keyFile: secrets/id is a symbolic link']] },
  { name: 'a static keyFile below a folder link',
    files: { 'clusters/web.yaml': staticProvider('secrets/key') },
    setup: link(OUTSIDE, 'secrets'),
    want: [['clusters/web.yaml:10:14', 'spec.provider.keyFile: secrets (on the way to secrets/key) is a symbolic link']] },
  { name: 'a static keyFile that does not exist',
    files: { 'clusters/web.yaml': staticProvider('secrets/missing') },
    want: [['clusters/web.yaml:10:14', 'spec.provider.keyFile: secrets/missing does not exist']] },
  { name: 'a static keyFile that is a FIFO',
    git: false,
    files: { 'clusters/web.yaml': staticProvider('key') },
    setup: (dir) => execFileSync('mkfifo', [join(dir, 'key')]),
    want: [['clusters/web.yaml:10:14', 'spec.provider.keyFile: key is a FIFO']] },

  // Resource limits.
  { name: 'a file over the size limit',
    files: { 'clusters/web.yaml': cluster() + `# ${'x'.repeat(LIMITS.fileBytes)}\n` },
    want: [['clusters/web.yaml', `may have at most ${LIMITS.fileBytes}`]] },
  { name: 'a 50 MB file',
    files: { 'clusters/web.yaml': Buffer.alloc(50 * 1024 * 1024, 'a: 1\n') },
    want: [['clusters/web.yaml', `may have at most ${LIMITS.fileBytes}`]] },
  { name: 'the repository over its size limit',
    files: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`clusters/c${i}.yaml`, cluster(`# ${'x'.repeat(LIMITS.fileBytes - 200)}\n`, `c${i}`)])),
    want: [['clusters', `at most ${LIMITS.repositoryBytes}`]] },
  { name: 'too many files',
    files: Object.fromEntries(Array.from({ length: LIMITS.repositoryEntries + 1 }, (_, i) => [`clusters/c${i}.yaml`, ''])),
    want: [['clusters', `more than ${LIMITS.repositoryEntries} files`]] },
  { name: 'folders nested too deep',
    files: { [`clusters/${Array(LIMITS.folderDepth + 1).fill('d').join('/')}/web.yaml`]: cluster() },
    want: [[`clusters/${Array(LIMITS.folderDepth).fill('d').join('/')}`, 'nested more than']] },
  { name: '200,000 nested flow brackets',
    files: { 'clusters/web.yaml': nested(200_000).slice(0, LIMITS.fileBytes - 10) },
    want: [['clusters/web.yaml:8:', `nested more than ${LIMITS.nestingDepth} levels`]] },
  { name: 'nesting one level over the limit',
    files: { 'clusters/web.yaml': nested(LIMITS.nestingDepth + 1) },
    want: [['clusters/web.yaml:8:', `nested more than ${LIMITS.nestingDepth} levels`]] },
  { name: 'deep block nesting',
    files: { 'clusters/web.yaml': cluster('  x:\n' + Array.from({ length: 200 }, (_, i) => `${' '.repeat(4 + i)}k:\n`).join('') + ' '.repeat(204) + 'v\n') },
    want: [['clusters/web.yaml:', `nested more than ${LIMITS.nestingDepth} levels`]] },
  { name: 'a billion laughs (aliases)',
    files: { 'clusters/web.yaml': laughs() },
    want: [['clusters/web.yaml:', `more than ${LIMITS.yamlAliases} YAML aliases`]] },
  { name: 'aliases under the count that expand too far',
    files: { 'clusters/web.yaml': laughs().split('\n').slice(0, 14).join('\n') + '\n' },
    want: [['clusters/web.yaml:1:1', 'YAML aliases expand to too many nodes']] },
  { name: 'an alias as a mapping key',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls:\n      &k net.a: 1\n      *k : 2\n') },
    want: [['clusters/web.yaml:11:7', 'a mapping key must be a plain string']] },
  { name: '40,000 keys', files: { 'clusters/web.yaml': manyKeys(40_000).slice(0, LIMITS.fileBytes) }, want: [['clusters/web.yaml', '']] },
  { name: 'more nodes than the limit',
    files: { 'clusters/web.yaml': cluster('  os:\n    kernelModules: [' + Array(LIMITS.yamlNodes).fill('a').join(',') + ']\n') },
    want: [['clusters/web.yaml:', `more than ${LIMITS.yamlNodes} YAML nodes`]] },
  { name: 'thousands of duplicate keys',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls:\n' + '      net.a: 1\n'.repeat(5000)) },
    want: [...Array.from({ length: LIMITS.errorsPerFile }, (_, i): [string, string] => [`clusters/web.yaml:${11 + i}:7`, 'Map keys must be unique']), ['clusters/web.yaml', 'further errors in this file are not shown']] },
  { name: 'thousands of syntax errors', files: { 'clusters/web.yaml': cluster('  pools:\n' + '   - [\n'.repeat(3000)) }, want: [['clusters/web.yaml:', '']] },
  { name: 'a complex (mapping) key',
    files: { 'clusters/web.yaml': cluster('  os:\n    sysctls:\n      ? { a: 1 }\n      : 2\n') },
    want: [['clusters/web.yaml:10:9', 'a mapping key must be a plain string']] },

  // Output injection.
  { name: 'a newline and a forged error line in a value',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '"1.34\\nclusters/x.yaml:1:1: forged error"') },
    want: [['clusters/web.yaml:7:14', 'spec.kubernetes.version: expected an exact Kubernetes version']] },
  { name: 'a terminal escape in a value',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '"\\e[2J\\e[31mcleared"') },
    want: [['clusters/web.yaml:7:14', '\\u001b[2J']] },
  { name: 'a C1 control (CSI) in a value',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '"\\u009b2J"') },
    want: [['clusters/web.yaml:7:14', '\\u009b2J']] },
  { name: 'a bidirectional override in a key',
    files: { 'clusters/web.yaml': cluster('  \u202eevil: 1\n') },
    want: [['clusters/web.yaml:8:3', 'unknown field "\\u202eevil"']] },
  { name: 'a terminal escape in a field name',
    files: { 'clusters/web.yaml': cluster('  "\\e]0;pwned\\a": 1\n') },
    want: [['clusters/web.yaml:8:3', 'unknown field "\\u001b]0;pwned\\u0007"']] },
  { name: 'a newline in a map key',
    files: { 'clusters/web.yaml': cluster('  os:\n    packages:\n      "a\\nb": 1.0-1\n') },
    want: [['clusters/web.yaml:10:7', 'invalid key "a\\nb"']] },
  { name: 'a very long value is truncated',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', 'v'.repeat(100_000)) },
    want: [['clusters/web.yaml:7:14', '...']] },
  { name: 'raw escape bytes in the file', files: { 'clusters/web.yaml': cluster() + '# \u001b[2J\n' }, want: [['clusters/web.yaml:8:3', 'U+001B']] },
  { name: '64 KB of binary',
    files: { 'clusters/web.yaml': Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) % 256)) },
    want: [['clusters/web.yaml:', 'is not YAML text']] },
  { name: 'bytes that are not UTF-8',
    files: { 'clusters/web.yaml': Buffer.concat([Buffer.from(cluster()), Buffer.from([0xc3, 0x28, 0x0a])]) },
    want: [['clusters/web.yaml:8:1', 'not UTF-8']] },
  { name: 'a NUL byte', files: { 'clusters/web.yaml': cluster() + '\0\n' }, want: [['clusters/web.yaml:8:1', 'U+0000']] },
  { name: 'a cluster file whose name holds a newline',
    files: { 'clusters/web.yaml': cluster(), 'clusters/web\n.yaml': cluster() },
    want: [['clusters/web\\n.yaml', 'rename']] },
  { name: 'a file name with a terminal escape', files: { 'clusters/\u001b[2Jx.yaml': cluster('', 'x') }, want: [['clusters/\\u001b[2Jx.yaml', 'rename']] },
  { name: 'a folder name with a newline', files: { 'clusters/eu\nx/web.yaml': cluster() }, want: [['clusters/eu\\nx', 'rename']] },
  { name: 'a file name with a space', files: { 'clusters/my web.yaml': cluster() }, want: [['clusters/my web.yaml', 'rename']] },
  { name: 'a YAML syntax error quoting the hostile line',
    files: { 'clusters/web.yaml': cluster('  pools: [\n  "\\e[2J": [\n') },
    want: [['clusters/web.yaml:9:3', 'YAML syntax'], ['clusters/web.yaml:10:1', 'YAML syntax']] },

  // Accepted but wrong.
  { name: 'Kubernetes 1.99.0',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '1.99.0') },
    want: [['clusters/web.yaml:7:14', 'spec.kubernetes.version: Kubernetes 1.99.0 is not a version herd supports; supported: 1.31 to 1.36']] },
  { name: 'Kubernetes 0.0.0',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '0.0.0') },
    want: [['clusters/web.yaml:7:14', 'Kubernetes 0.0.0 is not a version herd supports']] },
  { name: 'Kubernetes 2.34.0',
    files: { 'clusters/web.yaml': cluster().replace('1.34.4', '2.34.0') },
    want: [['clusters/web.yaml:7:14', 'is not a version herd supports']] },
  { name: 'a zero startupTimeout',
    files: { 'clusters/web.yaml': cluster('  health: { startupTimeout: 0s }\n') },
    want: [['clusters/web.yaml:8:29', 'spec.health.startupTimeout: startupTimeout 0s is zero']] },
  { name: 'a zero unhealthyTimeout',
    files: { 'clusters/web.yaml': cluster('  health: { unhealthyTimeout: 0m0s }\n') },
    want: [['clusters/web.yaml:8:31', 'spec.health.unhealthyTimeout: unhealthyTimeout 0m0s is zero']] },
  { name: 'a zero drainTimeout',
    files: { 'clusters/web.yaml': cluster('  upgrade: { drainTimeout: 0ms }\n') },
    want: [['clusters/web.yaml:8:28', 'spec.upgrade.drainTimeout: drainTimeout 0ms is zero']] },
  { name: 'a DNS domain label over 63 characters',
    files: { 'clusters/web.yaml': cluster(`    networking: { dnsDomain: ${'a'.repeat(64)}.local }\n`) },
    want: [['clusters/web.yaml:8:30', 'spec.kubernetes.networking.dnsDomain: expected a DNS domain']] },
  { name: 'a DNS domain over 253 characters',
    files: { 'clusters/web.yaml': cluster(`    networking: { dnsDomain: ${Array(5).fill('a'.repeat(60)).join('.')} }\n`) },
    want: [['clusters/web.yaml:8:30', 'expected a DNS domain']] },
  { name: 'more pools than the limit',
    files: { 'clusters/web.yaml': pools(LIMITS.poolsPerCluster + 1, 1) },
    want: [['clusters/web.yaml:9:5', `spec.pools: expected at most ${LIMITS.poolsPerCluster} items`]] },
  { name: '20,000 pools of 1,000 replicas', files: { 'clusters/web.yaml': pools(20_000, 1000).slice(0, LIMITS.fileBytes) }, want: [['clusters/web.yaml', '']] },
  { name: 'more machines than a cluster may have',
    files: { 'clusters/web.yaml': staticProvider('k').replace('      replicas: 1\n', '      replicas: 1000\n    - { name: more, replicas: 500 }\n') + '' },
    setup: (dir) => writeFileSync(join(dir, 'k'), 'key'),
    want: [['clusters/web.yaml:12:7', 'spec.provider.machines: 2 machines are listed but the cluster needs 1501'], ['clusters/web.yaml:15:5', `spec.pools: the cluster needs 1501 machines (control plane 1 + pools 1500), but a cluster has at most ${LIMITS.machinesPerCluster}`]] },
  { name: 'more machines than the local provider holds',
    files: { 'clusters/web.yaml': pools(1, 252) },
    want: [['clusters/web.yaml:9:5', 'spec.pools: the cluster needs 253 machines (control plane 1 + pools 252), but the local provider holds at most 252']] },
  { name: 'a field named __proto__',
    files: { 'clusters/web.yaml': cluster('  __proto__: { polluted: true }\n') },
    want: [['clusters/web.yaml:8:3', 'spec.__proto__: unknown field "__proto__"']] },
  { name: 'a field named constructor',
    files: { 'clusters/web.yaml': cluster('  constructor: 1\n') },
    want: [['clusters/web.yaml:8:3', 'unknown field "constructor"']] },
  { name: 'a field named toString',
    files: { 'clusters/web.yaml': cluster('  kubernetes:\n    version: 1.34.4\n    toString: x\n').replace('  kubernetes:\n    version: 1.34.4\n', '') },
    want: [['clusters/web.yaml:8:5', 'spec.kubernetes.toString: unknown field "toString"']] },
  { name: 'a field named hasOwnProperty',
    files: { 'clusters/web.yaml': cluster('  health: { hasOwnProperty: 1 }\n') },
    want: [['clusters/web.yaml:8:13', 'unknown field "hasOwnProperty"']] },
  { name: 'a field named valueOf at the top',
    files: { 'clusters/web.yaml': 'valueOf: 1\n' + cluster() },
    want: [['clusters/web.yaml:1:1', 'valueOf: unknown field "valueOf"']] },
  { name: '__proto__ in a profile, merged into a cluster',
    files: { 'profiles/p.yaml': 'apiVersion: herd.dev/v1\nkind: Profile\nmetadata: { name: p }\nspec:\n  os: { __proto__: { packages: { x: 1 } } }\n', 'clusters/web.yaml': cluster('  profile: p\n') },
    want: [['clusters/web.yaml:8:12', 'profile "p" has errors'], ['profiles/p.yaml:5:9', 'spec.os.__proto__: unknown field "__proto__"']] },
  { name: 'a duplicate cluster hidden in a file with a newline in its name',
    files: { 'clusters/web.yaml': cluster(), 'clusters/x\n/web.yaml': cluster() },
    want: [['clusters/x\\n', 'rename']] },
];

// A case whose expectation is "one line per error, at least one" (floods that must stay bounded).
for (const c of cases) if (c.want.length === 0) c.want.push(['clusters/web.yaml', '']);

interface Run { code: number | null; stdout: string; stderr: string; ms: number; maxRssKb: number; cpuMs: number }

/** The CLI as a child with a small heap; it reports its own peak RSS and CPU time on fd 3 as it exits. */
function herd(args: string[], cwd: string, unprivileged = false): Promise<Run> {
  const report = 'data:text/javascript,' + encodeURIComponent(
    "import { writeSync } from 'node:fs'; process.on('exit', () => { const u = process.resourceUsage(); "
    + "try { writeSync(3, JSON.stringify({ maxRSS: u.maxRSS, cpu: (u.userCPUTime + u.systemCPUTime) / 1000 })); } catch {} });");
  const node = [`--max-old-space-size=${HEAP_MB}`, '--import', report, HERD, ...args];
  // Without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, root is refused a mode-000 file like anyone.
  const [command, argv] = unprivileged
    ? ['setpriv', ['--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search', process.execPath, ...node]]
    : [process.execPath, node];
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(command, argv as string[], { cwd, env: { ...process.env, HERD_CACHE_DIR: CACHE }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [], usage: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => usage.push(b));
    const guard = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(guard);
      const u = usage.length ? JSON.parse(Buffer.concat(usage).toString()) : { maxRSS: 0, cpu: 0 };
      done({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: Date.now() - started, maxRssKb: u.maxRSS, cpuMs: u.cpu });
    });
  });
}

function build(c: Case, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(c.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  c.setup?.(dir);
}

function check(c: Case, mode: string, r: Run): string[] {
  const where = `${c.name} (${mode})`;
  assert.notEqual(r.code, null, `${where}: killed by the hang guard after ${HANG_GUARD_MS} ms`);
  assert.equal(r.code, 1, `${where}: exit code\n${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, `${where}: no stack trace, no internal error`);
  for (const output of [r.stdout, r.stderr]) {
    assert.ok(!output.includes(MARKER), `${where}: content from outside the repository in the output`);
    assert.ok(!/root:x:0:0/.test(output), `${where}: /etc/passwd in the output`);
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(output), `${where}: a control character in the output`);
  }
  assert.ok(r.stdout.length < 64 * 1024, `${where}: ${r.stdout.length} bytes of output`);
  assert.ok(r.maxRssKb > 0 && r.maxRssKb < MAX_RSS_KB, `${where}: peak RSS ${r.maxRssKb} KiB`);
  const lines = r.stdout.split('\n').filter(Boolean);
  for (const line of lines) assert.match(line, /^[^:]+(:\d+:\d+)?: \S/, `${where}: ${TEXT}, got ${JSON.stringify(line)}`);
  const floods = c.want.length === 1 && c.want[0]![1] === '';
  if (floods) {
    assert.ok(lines.length >= 1 && lines.length <= LIMITS.errorsPerFile + 1, `${where}: ${lines.length} lines`);
    assert.ok(lines[0]!.startsWith(c.want[0]![0]), `${where}: ${lines[0]}`);
  } else {
    assert.equal(lines.length, c.want.length, `${where}: one line per error\n${r.stdout}`);
    c.want.forEach(([at, says], i) => {
      assert.ok(lines[i]!.startsWith(`${at}`), `${where}: line ${i + 1} is at ${at}: ${lines[i]}`);
      assert.ok(lines[i]!.includes(says), `${where}: line ${i + 1} says ${JSON.stringify(says)}: ${lines[i]}`);
    });
  }
  assert.match(r.stderr, new RegExp(`^${lines.length} errors? in \\d+ files? \\((working tree|commit [0-9a-f]{12})\\); nothing was changed\\n$`), `${where}: ${r.stderr}`);
  return lines;
}

const measured: { name: string; mode: string; ms: number; cpuMs: number; rssMb: number }[] = [];
after(() => {
  const worst = [...measured].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, 8);
  for (const m of worst) console.log(`# hostile corpus: ${m.name} (${m.mode}): ${m.cpuMs.toFixed(0)} ms CPU, ${m.ms} ms wall, peak RSS ${m.rssMb.toFixed(0)} MB`);
});

test(`the hostile corpus has at least 60 repositories`, () => {
  assert.ok(cases.length >= 60, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'names are unique');
});

test('hostile repositories are refused at their paths, the same from a directory and from a commit', async (t) => {
  for (const [id, c] of cases.entries()) await t.test(c.name, async () => {
    const dir = join(WORK, `case-${id}`);
    build(c, dir);
    const tree = await herd(['validate', '.'], dir, c.unprivileged);
    measured.push({ name: c.name, mode: 'directory', ms: tree.ms, cpuMs: tree.cpuMs, rssMb: tree.maxRssKb / 1024 });
    const lines = check(c, 'directory', tree);
    if (c.git === false) return;
    git(dir, 'init', '-q');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'hostile');
    const commit = await herd(['validate', '.', '--ref', 'main'], dir);
    measured.push({ name: c.name, mode: 'git', ms: commit.ms, cpuMs: commit.cpuMs, rssMb: commit.maxRssKb / 1024 });
    assert.deepEqual(check(c, 'git', commit), lines, `${c.name}: the same lines from the directory and from the commit`);
  });
});
