import { loadRepository, type LoadOptions, type Repository, type RepositoryFile } from '@herd/api';

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
