import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { UserError, type FileSystem } from '@herd/sys';

/**
 * Which files of a coordinator's state directory are its durable state (carried to the Git
 * ref, restored by a new coordinator) and which are not. A pattern's `*` stands for one
 * cluster name (a DNS label), the only variable part of these paths; `**` for anything below.
 * A new file in the state directory belongs in one of the two lists (the layout test says so).
 */
export const DURABLE_STATE: readonly { pattern: string; why: string }[] = [
  { pattern: 'ca.key', why: 'the CA agents pin (--ca-hash): with another CA no agent reconnects' },
  { pattern: 'ca.crt', why: 'the CA certificate beside its key; written last on restore, so a CA on disk means a complete restore' },
  { pattern: 'identities.json', why: "each node's one live certificate; without it any certificate of the CA could claim a node" },
  { pattern: 'tokens.json', why: 'bootstrap tokens handed out and not yet used, and the used ones, which must stay refused' },
  { pattern: 'secrets.key', why: "the key of the cluster secrets below (absent when $HERD_SECRETS_KEY holds it)" },
  { pattern: 'secrets/*.json', why: 'each cluster\'s admin kubeconfig and VRRP password: `herd kubeconfig` and managing the cluster need them' },
  { pattern: 'providers/static/*/known_hosts', why: 'host keys recorded on first contact: the next contact checks them instead of trusting anew' },
];

/** What stays behind, and why; written down so that the choice is explicit. */
export const NOT_DURABLE: readonly { pattern: string; why: string }[] = [
  { pattern: 'server.crt', why: "issued again from the CA when missing; names this host's addresses" },
  { pattern: 'server.key', why: 'goes with server.crt' },
  { pattern: 'admin.crt', why: 'the CLI\'s client certificate, issued again from the CA when missing' },
  { pattern: 'admin.key', why: 'goes with admin.crt' },
  { pattern: 'coordinator.json', why: "this process's pid and address" },
  { pattern: 'status.json', why: 'the last status, observed again in the first round (its summary is published beside the state)' },
  { pattern: 'working-tree.json', why: 'the last working tree that validated: a directory on this host, not a commit' },
  { pattern: 'status-page.token', why: 'new at every start, removed at exit' },
  { pattern: 'providers/local/**', why: 'machines, networks, packages and images of the local provider: systemd-nspawn on this host' },
  { pattern: 'providers/static/*/id', why: "a copy of the SSH key the repository names, written from it at every start" },
  { pattern: 'providers/static/*/known_hosts.pinned', why: 'written from the host keys in the repository at every start' },
];

/** Every durable file of a state directory, as text (they are PEM, JSON and base64). */
export interface StateBundle {
  format: 1;
  files: StateFile[];
}

export interface StateFile {
  /** Relative to the state directory, matching a DURABLE_STATE pattern. */
  path: string;
  mode: number;
  text: string;
}

/** A cluster name, as `*` matches it: no dots, so never `.`, `..` or a temporary file. */
const NAME = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';

/** One segment of a pattern as a regular expression (`*` a cluster name, anything else literal). */
function segment(part: string): RegExp {
  const literal = (s: string) => s.replace(/[.*+?^$(){}|[\]\\]/g, '\\$&');
  return new RegExp('^' + part.split('*').map(literal).join(NAME) + '$');
}

const under = (prefix: string, name: string) => (prefix ? `${prefix}/${name}` : name);

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '**') return have.length > i;
    if (have[i] === undefined || !segment(want[i]!).test(have[i]!)) return false;
  }
  return have.length === want.length;
}

/** Whether a path of the state directory is durable state, left behind on purpose, or in neither list. */
export function classifyStatePath(path: string): 'durable' | 'not-durable' | undefined {
  if (DURABLE_STATE.some((e) => matches(e.pattern, path))) return 'durable';
  if (NOT_DURABLE.some((e) => matches(e.pattern, path))) return 'not-durable';
  return undefined;
}

/** The paths a pattern stands for in `dir`: a segment with `*` is each matching entry of that folder. */
async function expand(fs: FileSystem, dir: string, pattern: string): Promise<string[]> {
  let paths = [''];
  for (const part of pattern.split('/')) {
    const next: string[] = [];
    for (const prefix of paths) {
      if (!part.includes('*')) { next.push(under(prefix, part)); continue; }
      const wanted = segment(part);
      for (const name of await fs.list(join(dir, prefix)).catch(notADirectory)) if (wanted.test(name)) next.push(under(prefix, name));
    }
    paths = next;
  }
  return paths;
}

/** A file where a folder was expected holds nothing of the pattern. */
function notADirectory(error: NodeJS.ErrnoException): string[] {
  if (error.code === 'ENOTDIR') return [];
  throw error;
}

/** The durable files present in `stateDir`, sorted. */
export async function durableFiles(stateDir: string, fs: FileSystem): Promise<string[]> {
  const found: string[] = [];
  for (const { pattern } of DURABLE_STATE) {
    for (const path of await expand(fs, stateDir, pattern)) if ((await fs.stat(join(stateDir, path))) !== undefined) found.push(path);
  }
  return found.sort();
}

/** Reads the durable state of `stateDir` (the files of DURABLE_STATE that exist). */
export async function exportState(stateDir: string, fs: FileSystem): Promise<StateBundle> {
  const files: StateFile[] = [];
  for (const path of await durableFiles(stateDir, fs)) {
    const full = join(stateDir, path);
    const [text, info] = await Promise.all([fs.read(full), fs.stat(full)]);
    // Removed between listing and reading (a cluster's secrets deleted): not part of the state now.
    if (text === undefined || info === undefined) continue;
    files.push({ path, mode: info.mode & 0o777, text });
  }
  return { format: 1, files };
}

/** The CA's key and certificate go last: a CA on disk means every other file is there too. */
const WRITTEN_LAST = ['ca.key', 'ca.crt'];

/**
 * Writes a bundle into a state directory that holds no durable state yet (it may not exist,
 * or hold only what NOT_DURABLE lists). A bundle is input from a repository: every path must
 * be one DURABLE_STATE names, checked before anything is written.
 */
export async function importState(bundle: StateBundle, stateDir: string, fs: FileSystem): Promise<void> {
  checkBundle(bundle, `the state bundle for ${stateDir}`);
  const present = await durableFiles(stateDir, fs);
  if (present.length) {
    throw new UserError(`${stateDir} already holds coordinator state (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}); `
      + 'a restore goes into an empty state directory only, so that two states never mix');
  }
  const order = (path: string) => WRITTEN_LAST.indexOf(path);
  const files = [...bundle.files].sort((a, b) => order(a.path) - order(b.path));
  await fs.mkdirp(stateDir, 0o700);
  for (const file of files) {
    const full = join(stateDir, file.path);
    await fs.mkdirp(dirname(full), 0o700);
    // Never more than the file had; group and others get nothing of a secret.
    await fs.writeAtomic(full, file.text, { mode: file.mode & 0o644 });
  }
}

/** Throws a UserError naming `what` unless `value` is a bundle whose every path is durable state. */
export function checkBundle(value: unknown, what: string): asserts value is StateBundle {
  const bundle = value as StateBundle;
  if (!bundle || typeof bundle !== 'object' || bundle.format !== 1 || !Array.isArray(bundle.files)) {
    throw new UserError(`${what} is not a herd state bundle of format 1`);
  }
  for (const [i, file] of bundle.files.entries()) {
    if (!file || typeof file.path !== 'string' || typeof file.text !== 'string' || typeof file.mode !== 'number') {
      throw new UserError(`${what}: files[${i}] must have a path, a mode and a text`);
    }
    if (classifyStatePath(file.path) !== 'durable') throw new UserError(`${what}: files[${i}]: "${file.path.slice(0, 200)}" is not a file of the durable state`);
  }
}

/** The same for the same files, whatever order they were read in: what "the state changed" compares. */
export function bundleDigest(bundle: StateBundle): string {
  const files = [...bundle.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => [f.path, f.mode, f.text]);
  return createHash('sha256').update(JSON.stringify(files)).digest('hex');
}
