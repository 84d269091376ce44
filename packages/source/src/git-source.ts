import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { LoadOptions, Repository } from '@herd/api';
import { herdCacheDir, redactUrl, silentLogger, UserError, type Logger } from '@herd/sys';
import { readSnapshot, type Snapshot } from './snapshot.js';
import { namedFileProblem, TOP_FOLDERS, type TreeEntry, type TreeReader } from './tree.js';

/** The repository could not be fetched or the ref does not exist: the operator must act. */
export class GitSourceError extends UserError {
  override name = 'GitSourceError';
}

export interface GitSourceOptions {
  /** A URL git understands, or a path to a local repository. */
  url: string;
  /** Where clones are kept; default: herdCacheDir()/git. */
  cacheDir?: string;
  logger?: Logger;
}

/** True for anything git should fetch over a transport rather than read as a local path. */
export function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\s]+@[^/\s]+:/.test(url);
}

/**
 * Reads clusters and profiles from a Git repository at a pinned commit. The only module
 * that talks to Git for desired state. Keeps one clone per URL in the cache directory;
 * a second read of an unchanged ref costs one fetch and reuses the parsed result.
 */
export class GitSource {
  private readonly url: string;
  private readonly display: string;
  private readonly dir: string;
  private readonly logger: Logger;
  private last?: Snapshot;
  private lastPrevious?: Repository;

  constructor(options: GitSourceOptions) {
    this.url = isRemoteUrl(options.url) || isAbsolute(options.url) ? options.url : resolve(options.url);
    this.display = redactUrl(this.url);
    const id = createHash('sha256').update(this.url).digest('hex').slice(0, 16);
    this.dir = join(options.cacheDir ?? join(herdCacheDir(), 'git'), id);
    this.logger = options.logger ?? silentLogger();
  }

  /**
   * Fetches, resolves `ref` (branch, tag or commit; default the remote's HEAD) and reads that
   * commit, checked against `options.previous` (the snapshot in force) when given.
   */
  async read(ref?: string, options: LoadOptions = {}): Promise<Snapshot> {
    const git = await this.clone();
    await this.fetch(git);
    const commit = await this.resolve(git, ref);
    if (this.last?.commit === commit && this.last.ref === ref && this.lastPrevious === options.previous) {
      this.logger.debug({ commit }, 'commit unchanged; reusing parsed repository');
      return this.last;
    }
    this.last = await readSnapshot(gitReader(git, commit), this.display, commit, ref, options);
    this.lastPrevious = options.previous;
    this.logger.info({ source: this.display, commit, clusters: this.last.clusters.length, errors: this.last.errors.length }, 'read repository');
    return this.last;
  }

  /**
   * A file of the repository at a commit read before (an SSH key a static cluster names).
   * Only through here does anything else read the repository.
   */
  async readFile(path: string, commit: string): Promise<string> {
    const git = await this.clone();
    const problem = await namedFileProblem(path, (p) => gitReader(git, commit).entry(p));
    if (problem) throw new GitSourceError(`${problem} (${this.display} at commit ${commit.slice(0, 12)})`);
    return git.raw(['cat-file', 'blob', `${commit}:${path}`]);
  }

  private async clone(): Promise<SimpleGit> {
    if (existsSync(join(this.dir, '.git'))) return simpleGit(this.dir);
    if (!isRemoteUrl(this.url) && !existsSync(this.url)) throw new GitSourceError(`repository ${this.display} does not exist`);
    await fs.mkdir(join(this.dir, '..'), { recursive: true });
    const temp = `${this.dir}.${process.pid}.tmp`;
    await fs.rm(temp, { recursive: true, force: true });
    try {
      this.logger.info({ source: this.display }, 'cloning repository');
      await simpleGit().clone(this.url, temp, ['--no-checkout', '--quiet']);
      await fs.rename(temp, this.dir).catch(async (error) => {
        // Another process cloned it first; theirs is as good as ours.
        if (!existsSync(join(this.dir, '.git'))) throw error;
        await fs.rm(temp, { recursive: true, force: true });
      });
    } catch (error) {
      await fs.rm(temp, { recursive: true, force: true });
      throw new GitSourceError(`cannot clone ${this.display}: ${gitMessage(error)}`);
    }
    return simpleGit(this.dir);
  }

  private async fetch(git: SimpleGit): Promise<void> {
    try {
      await git.fetch(['--prune', '--prune-tags', '--tags', '--force', '--quiet', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
      // Follow a change of the remote's default branch.
      await git.raw(['remote', 'set-head', 'origin', '--auto']).catch(() => undefined);
    } catch (error) {
      throw new GitSourceError(`cannot fetch ${this.display}: ${gitMessage(error)}`);
    }
  }

  private async resolve(git: SimpleGit, ref: string | undefined): Promise<string> {
    const candidates = ref === undefined ? ['origin/HEAD'] : [`origin/${ref}`, `refs/tags/${ref}`, ref];
    for (const candidate of candidates) {
      const sha = (await git.raw(['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`]).catch(() => '')).trim();
      if (sha) return sha;
    }
    throw new GitSourceError(ref === undefined
      ? `${this.display} has no default branch (is it empty?)`
      : `ref "${ref}" not found in ${this.display} (expected a branch, tag or commit)`);
  }

}

/**
 * `git ls-tree -z -l` records: `MODE TYPE OBJECT SIZE\tPATH`. Git knows regular files
 * (100644, 100755), links (120000) and submodules (160000); folders are implied by paths.
 */
export function parseTreeListing(listing: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of listing.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    const [mode, , , size] = record.slice(0, tab).split(/ +/);
    const path = record.slice(tab + 1);
    const bytes = Number(size) || 0;
    if (mode === '100644' || mode === '100755') entries.push({ path, type: 'file', size: bytes });
    else if (mode === '120000') entries.push({ path, type: 'symlink', size: bytes });
    else if (mode === '040000') entries.push({ path, type: 'folder', size: 0 });
    else entries.push({ path, type: 'other', size: bytes, detail: mode === '160000' ? 'a Git submodule' : `a Git entry of mode ${mode}` });
  }
  return entries;
}

/** A commit as a tree: the same entries a directory reader gives for the same files, folders included. */
function gitReader(git: SimpleGit, commit: string): TreeReader {
  return {
    async list(max) {
      const listed = parseTreeListing(await git.raw(['ls-tree', '-r', '-t', '-z', '-l', commit, '--', ...TOP_FOLDERS]));
      return listed.slice(0, max + 1);
    },
    async entry(path) {
      const listed = parseTreeListing(await git.raw(['ls-tree', '-z', '-l', commit, '--', path]).catch(() => ''));
      return listed.find((e) => e.path === path);
    },
    read: async (path) => git.raw(['cat-file', 'blob', `${commit}:${path}`]),
  };
}

function gitMessage(error: unknown): string {
  const text = String((error as Error)?.message ?? error).trim();
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return redactUrl(lines.find((l) => l.startsWith('fatal:'))?.replace(/^fatal:\s*/, '') ?? lines.at(-1) ?? text);
}
