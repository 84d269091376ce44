import { loadRepository, type LoadOptions, type Repository, type RepositoryFile } from '@herd/api';
import { collectSpecFiles, namedFileProblem, namedFiles, type TreeReader } from './tree.js';

/** The desired state as read from one place at one moment: what every consumer of Git gets. */
export interface Snapshot extends Repository {
  /** Where it was read from: a URL (credentials hidden) or a directory. */
  source: string;
  /** The pinned commit; undefined when read from a working tree (uncommitted files included). */
  commit?: string;
  /** The ref asked for, when read from Git. */
  ref?: string;
}

export function snapshotOf(files: RepositoryFile[], source: string, commit?: string, ref?: string, options: LoadOptions = {}): Snapshot {
  return { source, ...(commit ? { commit } : {}), ...(ref ? { ref } : {}), ...loadRepository(files, options) };
}

/**
 * Reads a tree (a directory or a commit) into a snapshot: the spec files, what was refused,
 * and the files the clusters name checked the same way (a keyFile that is a link or missing
 * is an error at its line, not a failure when the provider starts).
 */
export async function readSnapshot(reader: TreeReader, source: string, commit?: string, ref?: string, options: LoadOptions = {}): Promise<Snapshot> {
  const { files, refused } = await collectSpecFiles(reader);
  const load: LoadOptions = { ...options, refused: [...(options.refused ?? []), ...refused] };
  const first = snapshotOf(files, source, commit, ref, load);
  const problems = new Map<string, string>();
  for (const path of namedFiles(first)) {
    const problem = await namedFileProblem(path, (p) => reader.entry(p));
    if (problem) problems.set(path, problem);
  }
  return problems.size ? snapshotOf(files, source, commit, ref, { ...load, namedFileProblems: problems }) : first;
}
