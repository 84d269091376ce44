// The coordinator as a container (docs/operations.md): scripts/build-coordinator-image.sh
// writes the OCI archive, a real podman loads it and runs it on a Git repository the test
// writes and mounts, read through git inside the image as uid 10001; /readyz turns 200, the
// metrics are herd's, the image config is what the docs say, the agent artifact is there and
// runs (installing it on a machine over SSH is not exercised here), and `podman stop` ends it with
// exit 0 well before podman's kill. podman works in a store of the test's own (--root,
// --runroot), so nothing of the host's images or containers is touched, and all of it goes
// with the directory. Needs root and podman (scripts/setup.sh installs and configures it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { commit, git } from '../support.js';

const ROOT = resolve(import.meta.dirname, '../..');

function run(cmd: string, args: string[], timeout = 600_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(cmd: string, args: string[], timeout?: number): string {
  const r = run(cmd, args, timeout);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

test('the coordinator image: built without a daemon, loaded and run by podman, ready, scraped, stopped cleanly', { timeout: 900_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root (podman, and the build\'s chroot check)');
  assert.equal(run('podman', ['--version']).code, 0, 'podman is missing: run scripts/setup.sh');

  const dir = mkdtempSync(join(tmpdir(), 'herd-image-'));
  const store = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run')];
  const podman = (...args: string[]) => run('podman', [...store, ...args]);
  // The container, the image and the volume, whatever the store still has mounted, then the
  // directory (podman would make its store again in it if it went first).
  t.after(() => {
    podman('rm', '-f', '-t', '0', '-a');
    podman('rmi', '-f', '-a');
    podman('volume', 'rm', '-f', '-a');
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir));
    for (const m of mounts.reverse()) run('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  });

  // Built into the herd cache; a second build with the same inputs writes nothing.
  const archive = ok('bash', [join(ROOT, 'scripts/build-coordinator-image.sh')]).split('\n').pop()!;
  const again = Date.now();
  assert.equal(ok('bash', [join(ROOT, 'scripts/build-coordinator-image.sh')]).split('\n').pop(), archive);
  assert.ok(Date.now() - again < 30_000, `a cached build took ${Date.now() - again} ms`);

  const loaded = ok('podman', [...store, 'load', '-i', archive]);
  const ref = /Loaded image(?:\(s\))?: (\S+)/.exec(loaded)?.[1];
  assert.ok(ref, loaded);
  type Inspect = { Config: { User: string; Entrypoint: string[]; Labels: Record<string, string> }; Size: number };
  const [image] = JSON.parse(ok('podman', [...store, 'image', 'inspect', ref])) as Inspect[];
  assert.equal(image!.Config.User, '10001:10001');
  assert.deepEqual(image!.Config.Entrypoint, ['/usr/local/bin/herd', 'coordinator']);
  assert.equal(image!.Config.Labels['org.opencontainers.image.version'],
    (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version);
  assert.match(image!.Config.Labels['org.opencontainers.image.revision']!, new RegExp(`^${git(ROOT, 'rev-parse', 'HEAD')}(-dirty)?$`));
  console.log(`image ${ref}: ${(image!.Size / 1e6).toFixed(1)} MB`);

  // A fleet repository with one commit and no cluster yet, readable by the container's user.
  const repo = join(dir, 'fleet');
  git(dir, 'init', '-q', repo);
  const head = commit(repo, { 'README.md': 'the fleet\n' });
  chmodSync(dir, 0o755);

  // --network host: the ports are this host's loopback; port 0, and the log says which.
  const started = Date.now();
  const id = ok('podman', [...store, 'run', '-d', '--name', 'herd-coordinator-test', '--network', 'host',
    '-v', `${repo}:/fleet:ro`, '-v', 'herd-state:/var/lib/herd', ref,
    '--repo', '/fleet', '--ref', 'main', '--listen', '127.0.0.1:0', '--state', '/var/lib/herd', '--metrics', '127.0.0.1:0']);
  const logs = () => { const r = podman('logs', id); return r.stdout + r.stderr; };
  const logged = (msg: string) => logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);
  let port: number | undefined;
  let readyAfter: number | undefined;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && readyAfter === undefined;) {
    port ??= logged('serving metrics')?.port as number | undefined;
    const status = port && await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) readyAfter = Date.now() - started;
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(readyAfter !== undefined, `/readyz never turned 200 in a minute:\n${logs()}`);
  console.log(`ready ${readyAfter} ms after podman run`);

  // The commit was read through git inside the image, and a round ran on it.
  const metrics = await eventuallyText(`http://127.0.0.1:${port}/metrics`, /^herd_reconcile_last_round_timestamp_seconds [1-9]/m);
  assert.match(metrics, /^herd_desired_state_refused 0$/m);
  assert.ok(logged('cloning repository'), logs());
  // The status the round recorded in the volume names the commit.
  const commitInForce = () => podman('exec', id, 'node', '-p', "require('/var/lib/herd/status.json').commit").stdout.trim();
  for (const deadline = Date.now() + 10_000; commitInForce() !== head && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 200));
  assert.equal(commitInForce(), head);

  // The agent artifact new machines get is in the image, its node the one copy (a hard link), and it runs.
  const artifact = '/usr/local/lib/herd/agent-artifact';
  const shipped = ok('podman', [...store, 'exec', id, 'node', '-p',
    `const fs = require('fs'); [fs.readFileSync('${artifact}/VERSION', 'utf8').trim(), fs.statSync('${artifact}/node').ino === fs.statSync('/usr/local/bin/node').ino].join(' ')`]);
  assert.match(shipped, /^\S+ node v\d+\.\d+\.\d+ true$/);
  assert.match(ok('podman', [...store, 'exec', id, `${artifact}/node`, `${artifact}/herd-agent.mjs`, '--help']), /herd-agent/);

  // SIGTERM: the coordinator stops by itself, long before podman's 10 s kill.
  const stopping = Date.now();
  ok('podman', [...store, 'stop', id]);
  const stopMs = Date.now() - stopping;
  const [state] = JSON.parse(ok('podman', [...store, 'inspect', id])) as { State: { ExitCode: number } }[];
  assert.equal(state!.State.ExitCode, 0, logs());
  assert.ok(stopMs < 5_000, `podman stop took ${stopMs} ms`);
  assert.ok(logged('stopping'), logs());
});

/** The body at `url` once it matches `pattern` (the first round takes a moment). */
async function eventuallyText(url: string, pattern: RegExp): Promise<string> {
  let body = '';
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    body = await fetch(url).then((r) => r.text(), () => '');
    if (pattern.test(body)) return body;
  }
  throw new Error(`${url} never matched ${pattern}:\n${body}`);
}
