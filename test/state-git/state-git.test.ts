// The coordinator's state in a Git ref, encrypted with age: real git repositories (a bare one
// as the remote), real age keys, a real coordinator for the CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { directoryStore, SecretStore, startCoordinator } from '@herd/coordinator';
import {
  classifyStatePath, decrypt, encrypt, exportState, GitStateRef, importState, observedSummary, parseRecipients, readAgeIdentity,
  StateSync, SUMMARY_FILE, type AgeIdentity, type StateSummary,
} from '@herd/state-git';
import { createExecutor, nodeFileSystem, silentLogger, UserError, type Executor } from '@herd/sys';
import { commit, FakeClock, git, tempDir } from '../support.js';

const fs = nodeFileSystem();
const REF = 'refs/herd/state';

async function newIdentity(dir: string, name: string): Promise<AgeIdentity> {
  const secret = await generateX25519Identity();
  const file = join(dir, `${name}.key`);
  writeFileSync(file, `# created by the test\n# public key: ${await identityToRecipient(secret)}\n${secret}\n`, { mode: 0o600 });
  return readAgeIdentity(file, fs);
}

/** A state directory as a coordinator leaves it: its CA and certificates, a cluster's secrets, files that are not durable. */
async function coordinatorState(dir: string): Promise<string> {
  const coordinator = await startCoordinator({ store: directoryStore(dir, fs), host: '127.0.0.1', port: 0, logger: silentLogger() });
  const hash = coordinator.caHash;
  await coordinator.tokens.create({ cluster: 'prod', node: 'web-1', ttlMs: 60_000 });
  await coordinator.close();
  await directoryStore(dir, fs).saveIdentities([]);
  await new SecretStore(dir, fs, {}).put('prod', { kubeconfig: 'apiVersion: v1\nkind: Config\n', vrrpPassword: 'hunter2' });
  for (const [path, text] of Object.entries({
    'coordinator.json': '{"pid":1}', 'status.json': '{}', 'status-page.token': 'x',
    'providers/local/machines/prod-cp-1/machine.json': '{}', 'providers/static/edge/id': 'KEY', 'providers/static/edge/known_hosts': 'host ssh-ed25519 AAAA\n',
  })) await fs.writeAtomic(join(dir, path), text, { mode: 0o600 });
  return hash;
}

/** A remote (bare) repository with a user's branch on it, as a deploy key would reach it. */
function remoteRepository(root: string): { url: string; branches: () => string } {
  const work = join(root, 'work');
  git(root, 'init', '-q', work);
  commit(work, { 'clusters/prod.yaml': 'kind: Cluster\n' }, 'the user\'s commit');
  const url = join(root, 'remote.git');
  git(root, 'clone', '-q', '--bare', work, url);
  return { url, branches: () => git(url, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags') };
}

function stateRef(root: string, url: string, name: string, exec: Executor = createExecutor()): GitStateRef {
  return new GitStateRef({ url, ref: REF, workDir: join(root, `${name}-work.git`), exec });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((p) => statSync(join(dir, p)).isFile()).sort();
}

test('export, encrypt, decrypt and import: the durable files come back with their modes, nothing else does', async (t) => {
  const root = tempDir(t);
  const from = join(root, 'from');
  await coordinatorState(from);
  const operator = await newIdentity(root, 'operator');
  const bundle = await exportState(from, fs);
  assert.deepEqual(bundle.files.map((f) => f.path),
    ['ca.crt', 'ca.key', 'identities.json', 'providers/static/edge/known_hosts', 'secrets.key', 'secrets/prod.json', 'tokens.json']);

  const blob = await encrypt(bundle, [operator.recipient]);
  assert.match(blob, /^-----BEGIN AGE ENCRYPTED FILE-----/);
  assert.ok(!blob.includes('PRIVATE KEY') && !blob.includes('hunter2'));
  const to = join(root, 'to');
  await importState(await decrypt(blob, operator, 'the test blob'), to, fs);
  for (const file of bundle.files) {
    assert.equal(readFileSync(join(to, file.path), 'utf8'), file.text, file.path);
    assert.equal(statSync(join(to, file.path)).mode & 0o777, file.mode, `${file.path} keeps its mode`);
  }
  assert.equal(statSync(to).mode & 0o777, 0o700);
  assert.deepEqual(await new SecretStore(to, fs, {}).get('prod'), { kubeconfig: 'apiVersion: v1\nkind: Config\n', vrrpPassword: 'hunter2' });

  // Into a directory already in use: refused, and nothing changes there.
  const before = listFiles(from).map((p) => [p, readFileSync(join(from, p), 'utf8')]);
  await assert.rejects(importState(bundle, from, fs), (e: unknown) => e instanceof UserError && /already holds coordinator state \(ca\.crt/.test(e.message));
  assert.deepEqual(listFiles(from).map((p) => [p, readFileSync(join(from, p), 'utf8')]), before);
});

test('every file a coordinator writes to its state directory is in exactly one of the two lists', async (t) => {
  const dir = tempDir(t);
  await coordinatorState(dir);
  for (const path of listFiles(dir)) assert.notEqual(classifyStatePath(path), undefined, `${path} must be listed as durable or not`);
  // A bundle is input: only paths of the durable state are written.
  const identity = await newIdentity(dir, 'x');
  const forged = await encrypt({ format: 1, files: [{ path: '../escape', mode: 0o600, text: 'x' }] } as never, [identity.recipient]);
  await assert.rejects(decrypt(forged, identity, 'the forged blob'), /files\[0\]: "\.\.\/escape" is not a file of the durable state/);
});

test('a missing or malformed identity file is a UserError naming the file', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(readAgeIdentity(join(dir, 'absent.key'), fs), (e: unknown) => e instanceof UserError && e.message.startsWith(`${join(dir, 'absent.key')}: no such file`));
  writeFileSync(join(dir, 'bad.key'), '# a comment\nage1notasecret\n');
  await assert.rejects(readAgeIdentity(join(dir, 'bad.key'), fs), (e: unknown) => e instanceof UserError && e.message.startsWith(`${join(dir, 'bad.key')}:2: not an age identity`));
  writeFileSync(join(dir, 'broken.key'), 'AGE-SECRET-KEY-1NOTBECH32\n');
  await assert.rejects(readAgeIdentity(join(dir, 'broken.key'), fs), (e: unknown) => e instanceof UserError && e.message.startsWith(`${join(dir, 'broken.key')}:1: not a valid age identity`));
});

test('a recipients file with a bad line is an error at its line', async (t) => {
  const dir = tempDir(t);
  const a = (await newIdentity(dir, 'a')).recipient;
  const b = (await newIdentity(dir, 'b')).recipient;
  assert.deepEqual(parseRecipients(`# operators\n${a}  # alice\n\n${b}\n${a}\n`, '.herd/recipients'), [a, b]);
  assert.throws(() => parseRecipients(`${a}\n\nssh-ed25519 AAAAC3 bob\n`, '.herd/recipients'),
    (e: unknown) => e instanceof UserError && e.message === '.herd/recipients:3: "ssh-ed25519 AAAAC3 bob" is not an age public key (want age1…, as age-keygen -y prints)');
  assert.throws(() => parseRecipients(`${a.slice(0, -1)}x\n`, '.herd/recipients'), /^UserError: \.herd\/recipients:1: ".*" is not a valid age public key/);
});

test('published to a ref of its own, restored into an empty directory, a coordinator comes up with the same CA; branches untouched', async (t) => {
  const root = tempDir(t);
  const remote = remoteRepository(root);
  const branches = remote.branches();
  const coordinatorKey = await newIdentity(root, 'coordinator');
  const operator = await newIdentity(root, 'operator');
  const first = join(root, 'first');

  const sync = new StateSync({ stateDir: first, fs, ref: stateRef(root, remote.url, 'first'), identity: coordinatorKey });
  assert.equal(await sync.start(), 'fresh');
  const hash = await coordinatorState(first);
  const observed = observedSummary({ commit: 'c0ffee', clusters: [{ name: 'prod', machines: [{ name: 'web-1', agent: { commit: 'c0ffee' } }, { name: 'web-2', agent: null }] }] });
  assert.equal(await sync.publish(observed, [operator.recipient]), 'published');
  assert.equal(await sync.publish(observed, [operator.recipient]), 'unchanged');

  const summary = JSON.parse(git(remote.url, 'show', `${REF}:${SUMMARY_FILE}`)) as StateSummary;
  assert.equal(summary.caHash, hash);
  assert.deepEqual(summary.nodes, [{ cluster: 'prod', node: 'web-1', commit: 'c0ffee' }]);
  assert.equal(summary.commit, 'c0ffee');
  assert.deepEqual(summary.recipients, [coordinatorKey.recipient, operator.recipient].sort());
  assert.equal(remote.branches(), branches, 'refs/heads/* and refs/tags/* are as the user left them');

  // A new coordinator: an empty state directory, the URL and the identity.
  const second = join(root, 'second');
  const adopted = new StateSync({ stateDir: second, fs, ref: stateRef(root, remote.url, 'second'), identity: coordinatorKey });
  assert.equal(await adopted.start(), 'restored');
  const coordinator = await startCoordinator({ store: directoryStore(second, fs), host: '127.0.0.1', port: 0, logger: silentLogger() });
  assert.equal(coordinator.caHash, hash, 'the agents pin this CA: they reconnect');
  await coordinator.close();
  assert.equal((await new SecretStore(second, fs, {}).get('prod'))?.vrrpPassword, 'hunter2');
  // Certificates issued again from the restored CA are not a change of the durable state.
  assert.equal(await adopted.publish(observed, [operator.recipient]), 'unchanged');
  // The operator's key reads it as well, with nothing but git and the identity.
  assert.equal((await decrypt(git(remote.url, 'show', `${REF}:state.age`), operator, 'the ref')).files.length, 7);
  assert.equal(remote.branches(), branches);
});

test('a wrong identity is a clear error and nothing is written to the state directory', async (t) => {
  const root = tempDir(t);
  const remote = remoteRepository(root);
  const owner = await newIdentity(root, 'owner');
  const stranger = await newIdentity(root, 'stranger');
  const first = join(root, 'first');
  await coordinatorState(first);
  await new StateSync({ stateDir: first, fs, ref: stateRef(root, remote.url, 'first'), identity: owner }).publish({ nodes: [] }, []);

  const second = join(root, 'second');
  const sync = new StateSync({ stateDir: second, fs, ref: stateRef(root, remote.url, 'second'), identity: stranger });
  await assert.rejects(sync.start(), (e: unknown) => e instanceof UserError
    && e.message.includes(`with the age identity in ${stranger.file} (${stranger.recipient}): it is not one of the recipients`));
  assert.deepEqual(readdirSync(root).filter((n) => n === 'second'), [], 'the state directory was not even made');
});

test('a push that finds the ref moved is made again on top of it: both changes are in the history, the newest state at the tip', async (t) => {
  const root = tempDir(t);
  const remote = remoteRepository(root);
  const identity = await newIdentity(root, 'coordinator');
  const dir = join(root, 'state');
  await coordinatorState(dir);
  const other = new StateSync({ stateDir: dir, fs, ref: stateRef(root, remote.url, 'other'), identity });
  assert.equal(await other.publish({ commit: 'aaaa', nodes: [] }, []), 'published');

  // Another writer pushes between this one's fetch and its push (once): a real push, through real git.
  let raced = false;
  const real = createExecutor();
  const racing: Executor = {
    async run(command, args, options) {
      if (args.includes('push') && !raced) {
        raced = true;
        await other.publish({ commit: 'bbbb', nodes: [] }, []);
      }
      return real.run(command, args, options);
    },
  };
  const ref = stateRef(root, remote.url, 'mine', racing);
  const sync = new StateSync({ stateDir: dir, fs, ref, identity });
  await addToken(dir);
  assert.equal(await sync.publish({ commit: 'cccc', nodes: [] }, []), 'published');
  assert.ok(raced);

  const log = git(remote.url, 'log', '--format=%s', REF).split('\n');
  assert.deepEqual(log, ['herd state: coordinator started (commit in force cccc)', 'herd state: durable state (commit in force bbbb)', 'herd state: coordinator started (commit in force aaaa)']);
  const tip = JSON.parse(git(remote.url, 'show', `${REF}:${SUMMARY_FILE}`)) as StateSummary;
  assert.equal(tip.commit, 'cccc');
  const restored = await decrypt(git(remote.url, 'show', `${REF}:state.age`), identity, 'the tip');
  assert.deepEqual(restored.files.find((f) => f.path === 'tokens.json')?.text, readFileSync(join(dir, 'tokens.json'), 'utf8'), 'the newest durable state');

  // Bounded: a ref that moves before every push fails after maxAttempts, with the reason.
  const mover = stateRef(root, remote.url, 'mover');
  const always: Executor = {
    async run(command, args, options) {
      if (args.includes('push')) await mover.publish(async (tip) => ({ ...tip!.files, [SUMMARY_FILE]: `${tip!.files[SUMMARY_FILE]}\n` }), 'moved');
      return real.run(command, args, options);
    },
  };
  const busy = new StateSync({ stateDir: dir, fs, identity, ref: new GitStateRef({ url: remote.url, ref: REF, workDir: join(root, 'busy.git'), exec: always, maxAttempts: 2 }) });
  await assert.rejects(busy.publish({ nodes: [] }, []), /moved during each of 2 attempts \(\[rejected\] \(fetch first\)\)/);
});

/** One more token: a change of the durable state. */
async function addToken(dir: string): Promise<void> {
  const coordinator = await startCoordinator({ store: directoryStore(dir, fs), host: '127.0.0.1', port: 0, logger: silentLogger() });
  await coordinator.tokens.create({ cluster: 'prod', node: 'web-2', ttlMs: 60_000 });
  await coordinator.close();
}

test('a ref holding another CA\'s state is never written over; a summary-only change waits for the interval', async (t) => {
  const root = tempDir(t);
  const remote = remoteRepository(root);
  const identity = await newIdentity(root, 'coordinator');
  const mine = join(root, 'mine');
  const theirs = join(root, 'theirs');
  await coordinatorState(mine);
  await coordinatorState(theirs);
  const clock = new FakeClock();
  const sync = new StateSync({ stateDir: mine, fs, ref: stateRef(root, remote.url, 'mine'), identity, clock });
  assert.equal(await sync.publish({ commit: 'aaaa', nodes: [] }, []), 'published');
  assert.equal(await sync.publish({ commit: 'bbbb', nodes: [] }, []), 'throttled');
  clock.advance(61_000);
  assert.equal(await sync.publish({ commit: 'bbbb', nodes: [] }, []), 'published');
  assert.equal(await sync.publish({ commit: 'cccc', nodes: [] }, [], { unthrottled: true }), 'published', 'as on stopping');
  const tip = git(remote.url, 'rev-parse', REF);

  const other = new StateSync({ stateDir: theirs, fs, ref: stateRef(root, remote.url, 'theirs'), identity });
  await assert.rejects(other.publish({ nodes: [] }, []), (e: unknown) => e instanceof UserError && /holds the state of a coordinator with another CA/.test(e.message));
  assert.equal(git(remote.url, 'rev-parse', REF), tip, 'the ref did not move');
});
