import { redactUrl, silentLogger, UserError, type Executor, type Logger } from '@herd/sys';

/** The ref could not be read or written: the operator must act (access, a foreign state). */
export class StateRefError extends UserError {
  override name = 'StateRefError';
}

/** Why `ref` cannot hold herd's state, or undefined: a ref of herd's own, never a branch or tag people use. */
export function stateRefProblem(ref: string): string | undefined {
  if (!/^refs\/[A-Za-z0-9._/-]+$/.test(ref) || ref.split('/').some((p) => !p || p.startsWith('.') || p.endsWith('.lock')) || ref.includes('..')) {
    return `"${ref.slice(0, 100)}" is not a full ref name such as refs/herd/state`;
  }
  if (/^refs\/(heads|tags|remotes)\//.test(ref)) return `${ref} is a branch or tag people use; herd's state goes to a ref of its own such as refs/herd/state`;
  return undefined;
}

/** One commit of the ref: its id and the files of its tree (text). */
export interface StateCommit {
  commit: string;
  files: Record<string, string>;
}

export interface GitStateRefOptions {
  /** A URL git understands, or an absolute path to a repository. */
  url: string;
  ref: string;
  /** A bare repository of herd's own (made on first use) that objects are fetched into and written in. */
  workDir: string;
  exec: Executor;
  logger?: Logger;
  /** Pushes tried before giving up when another writer keeps moving the ref. Default 5. */
  maxAttempts?: number;
}

const TIMEOUT_MS = 120_000;
/** Commits of the state are herd's, whoever runs it; git must never stop to ask for a password. */
const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'herd', GIT_AUTHOR_EMAIL: 'herd@localhost',
  GIT_COMMITTER_NAME: 'herd', GIT_COMMITTER_EMAIL: 'herd@localhost',
};

/**
 * A ref in a remote repository that holds a small tree of text files, read and written with
 * the git CLI. Only this ref is ever fetched or pushed: branches are not touched. A write
 * that finds the ref moved meanwhile is made again on top of the new commit.
 */
export class GitStateRef {
  readonly display: string;
  private initialized?: Promise<void>;

  constructor(private readonly options: GitStateRefOptions) {
    const problem = stateRefProblem(options.ref);
    if (problem) throw new StateRefError(problem);
    this.display = `${options.ref} of ${redactUrl(options.url)}`;
  }

  get ref(): string {
    return this.options.ref;
  }

  /** The ref's newest commit and its files; undefined when the remote has no such ref. */
  async read(): Promise<StateCommit | undefined> {
    const commit = await this.fetch();
    if (!commit) return undefined;
    const listing = await this.git(['ls-tree', '-z', commit]);
    const files: Record<string, string> = {};
    for (const record of listing.split('\0').filter(Boolean)) {
      const [meta, name] = record.split('\t') as [string, string];
      const [, type, object] = meta.split(' ');
      if (type === 'blob') files[name] = await this.git(['cat-file', 'blob', object!]);
    }
    return { commit, files };
  }

  /**
   * Writes a commit of `build`'s files on top of the ref's newest commit and pushes it. When
   * the push is refused because the ref moved, fetches and builds again on the new commit (at
   * most maxAttempts times): `build` sees what it goes on top of, and may throw to refuse.
   */
  async publish(build: (tip: StateCommit | undefined) => Promise<Record<string, string>>, message: string): Promise<{ commit: string; attempts: number }> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const tip = await this.read();
      const files = await build(tip);
      const commit = await this.commit(files, tip?.commit, message);
      const pushed = await this.push(commit);
      if (pushed === 'ok') {
        await this.git(['update-ref', this.options.ref, commit]);
        this.logger.info({ ref: this.display, commit, attempt }, 'published the state');
        return { commit, attempts: attempt };
      }
      this.logger.info({ ref: this.display, attempt, reason: pushed }, 'the state ref moved meanwhile; trying again on top of it');
      if (attempt >= maxAttempts) throw new StateRefError(`cannot publish to ${this.display}: it moved during each of ${maxAttempts} attempts (${pushed})`);
    }
  }

  private get logger(): Logger {
    return this.options.logger ?? silentLogger();
  }

  private async git(args: readonly string[], input?: string): Promise<string> {
    await (this.initialized ??= this.init());
    return (await this.options.exec.run('git', ['--git-dir', this.options.workDir, ...args], { timeoutMs: TIMEOUT_MS, env: GIT_ENV, ...(input !== undefined ? { input } : {}) })).stdout;
  }

  private async init(): Promise<void> {
    // Idempotent: a second init of the same repository changes nothing.
    await this.options.exec.run('git', ['init', '--bare', '--quiet', this.options.workDir], { timeoutMs: TIMEOUT_MS, env: GIT_ENV })
      .catch((e: Error) => { this.initialized = undefined; throw new StateRefError(`cannot make the repository ${this.options.workDir}: ${e.message}`); });
  }

  /** Fetches the ref alone into the work repository; its commit, or undefined when the remote has none. */
  private async fetch(): Promise<string | undefined> {
    const { ref, url } = this.options;
    await (this.initialized ??= this.init());
    const result = await this.options.exec.run('git', ['--git-dir', this.options.workDir, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', url, `+${ref}:${ref}`],
      { timeoutMs: TIMEOUT_MS, env: GIT_ENV, allowFailure: true });
    if (result.exitCode !== 0) {
      if (/couldn't find remote ref/i.test(result.stderr)) {
        await this.git(['update-ref', '-d', ref]);
        return undefined;
      }
      throw new StateRefError(`cannot fetch ${this.display}: ${gitMessage(result.stderr)}`);
    }
    return (await this.git(['rev-parse', '--verify', `${ref}^{commit}`])).trim();
  }

  private async commit(files: Record<string, string>, parent: string | undefined, message: string): Promise<string> {
    const entries: string[] = [];
    for (const [name, text] of Object.entries(files)) {
      if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`"${name}" is not a plain file name for the state tree`);
      const blob = (await this.git(['hash-object', '-w', '--stdin'], text)).trim();
      entries.push(`100644 blob ${blob}\t${name}\n`);
    }
    const tree = (await this.git(['mktree'], entries.join(''))).trim();
    return (await this.git(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message])).trim();
  }

  /** 'ok', or why the remote refused because the ref is not where it was fetched from. */
  private async push(commit: string): Promise<'ok' | string> {
    const { ref, url } = this.options;
    const result = await this.options.exec.run('git', ['--git-dir', this.options.workDir, 'push', '--porcelain', url, `${commit}:${ref}`],
      { timeoutMs: TIMEOUT_MS, env: GIT_ENV, allowFailure: true });
    if (result.exitCode === 0) return 'ok';
    // Porcelain: `!<TAB>from:to<TAB>[rejected] (fetch first)` for a ref that moved; anything else (a hook, access) is not retried.
    const refused = result.stdout.split('\n').find((l) => l.startsWith('!'));
    const reason = refused?.split('\t')[2];
    if (reason && /^\[rejected\] \((fetch first|non-fast-forward|stale info)\)/.test(reason)) return reason;
    throw new StateRefError(`cannot push to ${this.display}: ${reason ?? gitMessage(result.stderr)}`);
  }
}

/** git's own reason, without the URL's password. */
function gitMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return redactUrl(lines.find((l) => l.startsWith('fatal:'))?.replace(/^fatal:\s*/, '') ?? lines.at(-1) ?? 'git failed');
}
