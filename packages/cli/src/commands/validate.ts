import { existsSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatSpecError, type SpecError } from '@herd/api';
import { providerCapacity } from '@herd/provider';
import '@herd/provider-local';
import '@herd/provider-static';
import { GitSource, isRemoteUrl, readWorkingTree, type Snapshot } from '@herd/source';
import { UsageError, UserError, createLogger } from '@herd/sys';
import { defineCommand, outputFormat, outputOption, type CommandContext } from '../command.js';

/**
 * Reads REPO the way an operator means it: a URL, or a path with --ref, through Git at a
 * pinned commit; a plain path as it is on disk (uncommitted edits included, like
 * `terraform validate`), with file names relative to where the command runs.
 */
export async function readRepositoryArg(repo: string, ref: string | undefined): Promise<Snapshot> {
  if (isRemoteUrl(repo) || ref !== undefined) {
    return new GitSource({ url: repo, logger: createLogger({ name: 'herd', level: process.env.HERD_LOG_LEVEL ?? 'warn' }) }).read(ref, { providerCapacity });
  }
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new UsageError(`${repo}: no such directory`);
  // lstat: a clusters/ that is a link (even a broken one) is the repository's, refused at its path.
  const present = (name: string) => { try { lstatSync(join(repo, name)); return true; } catch { return false; } };
  if (!present('clusters') && !present('profiles')) {
    throw new UserError(`${repo} is not a herd repository: it has neither clusters/ nor profiles/ (create one with \`herd init DIR\`)`);
  }
  const snapshot = await readWorkingTree(repo, { providerCapacity });
  if (repo === '.') return snapshot;
  const inRepo = (file: string) => join(repo, file);
  return {
    ...snapshot,
    errors: snapshot.errors.map((e): SpecError => ({ ...e, file: inRepo(e.file) })),
    clusters: snapshot.clusters.map((c) => ({ ...c, file: inRepo(c.file), ...(c.profileFile ? { profileFile: inRepo(c.profileFile) } : {}) })),
    profiles: snapshot.profiles.map((p) => ({ ...p, file: inRepo(p.file) })),
  };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Where a snapshot was read: its commit, or the working tree. */
export function snapshotAt(snapshot: Snapshot): string {
  return snapshot.commit ? `commit ${snapshot.commit.slice(0, 12)}` : 'working tree';
}

/** A repository that does not validate, as every command that reads one reports it: one located error per line, the count on stderr. */
export function writeSpecErrors(snapshot: Snapshot, { stdout, stderr }: Pick<CommandContext, 'stdout' | 'stderr'>): void {
  for (const error of snapshot.errors) stdout.write(formatSpecError(error) + '\n');
  const files = new Set(snapshot.errors.map((e) => e.file)).size;
  stderr.write(`${plural(snapshot.errors.length, 'error')} in ${plural(files, 'file')} (${snapshotAt(snapshot)}); nothing was changed\n`);
}

export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'Check every cluster and profile of a repository; print each error with file, line and field',
  usage: 'herd validate [REPO] [--ref REF] [--resolved] [--output text|json]',
  options: {
    ref: { type: 'string' },
    resolved: { type: 'boolean', default: false },
    ...outputOption,
  },
  async run({ values, positionals, stdout, stderr }) {
    const format = outputFormat(values.output);
    if (positionals.length > 1) throw new UsageError(`expected at most one REPO, got ${positionals.length}\nusage: ${this.usage}`);
    const repo = positionals[0] ?? '.';
    const snapshot = await readRepositoryArg(repo, values.ref as string | undefined);
    const valid = snapshot.errors.length === 0;

    if (format === 'json') {
      stdout.write(JSON.stringify({
        valid,
        source: snapshot.source,
        commit: snapshot.commit ?? null,
        clusters: values.resolved && valid ? snapshot.clusters.map((c) => c.cluster) : snapshot.clusters.map((c) => c.cluster.metadata.name),
        profiles: snapshot.profiles.map((p) => p.profile.metadata.name),
        errors: snapshot.errors,
      }, null, 2) + '\n');
      return valid ? 0 : 1;
    }

    if (!valid) {
      writeSpecErrors(snapshot, { stdout, stderr });
      return 1;
    }
    if (values.resolved) {
      stdout.write(snapshot.clusters.map((c) => `# ${c.file}${c.profileFile ? ` + ${c.profileFile}` : ''} + defaults\n${stringify(c.cluster)}`).join('---\n'));
      return 0;
    }
    const names = snapshot.clusters.map((c) => c.cluster.metadata.name);
    stdout.write(`valid: ${plural(names.length, 'cluster')}${names.length ? ` (${names.join(', ')})` : ''}, ${plural(snapshot.profiles.length, 'profile')} (${snapshotAt(snapshot)})\n`);
    return 0;
  },
});
