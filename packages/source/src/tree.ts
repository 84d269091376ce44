/**
 * The rules for what herd reads from a repository, shared by both readers: a directory on
 * disk (working-tree.ts) and a Git commit (git-source.ts). Each reader only lists entries
 * and reads one file; everything decided here is therefore the same in both modes.
 *
 * - Symbolic links are refused wherever they point: Git stores a link as its text, and a
 *   checkout resolves it against whatever the host has there, so no link can mean the same
 *   thing in both modes. A link out of the repository would read host files.
 * - Anything that is not a regular file or a folder (FIFO, socket, device, submodule) is refused.
 * - Names herd could not print on one line are refused; hidden names (".swp" files) are skipped.
 * - LIMITS bound entries, folder depth, file size and total size before any file is read.
 */
import { LIMITS, isSpecFile, refusePath, type Repository, type RepositoryFile, type SpecError } from '@herd/api';

export type EntryType = 'file' | 'folder' | 'symlink' | 'other';

export interface TreeEntry {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  type: EntryType;
  /** Bytes, for files. */
  size: number;
  /** What an `other` entry is ("a FIFO"), or why it could not be looked at. */
  detail?: string;
  /** The entry could not be read (permissions); the reason. */
  unreadable?: string;
}

export interface TreeReader {
  /** The entry at `path` (any path of the repository), or undefined when there is none; links are not followed. */
  entry(path: string): Promise<TreeEntry | undefined>;
  /**
   * clusters/ and profiles/ (when present) and every entry below them, parents before
   * children; at most `max` entries (one more means "too many").
   */
  list(max: number): Promise<TreeEntry[]>;
  /** A regular file's text (UTF-8), at most `maxBytes` bytes; throws with a reason otherwise. */
  read(path: string, maxBytes: number): Promise<string>;
}

/** A problem of a whole entry: `FILE: message` (line 0). */
export function entryError(path: string, message: string): SpecError {
  return { file: path, line: 0, column: 0, field: '', message };
}

export const TOP_FOLDERS = ['clusters', 'profiles'] as const;

/** The spec files of a tree and the entries refused, with reasons. */
export async function collectSpecFiles(reader: TreeReader): Promise<{ files: RepositoryFile[]; refused: SpecError[] }> {
  const entries = await reader.list(LIMITS.repositoryEntries);
  if (entries.length > LIMITS.repositoryEntries) {
    const top = entries[0]?.path.split('/')[0] ?? 'clusters';
    const message = `clusters/ and profiles/ hold more than ${LIMITS.repositoryEntries} files, folders and links; herd reads at most that many`;
    return { files: [], refused: [entryError(top, message)] };
  }
  const refused: SpecError[] = [];
  const wanted: TreeEntry[] = [];
  const skipped: string[] = [];
  const below = (path: string, folder: string) => path.startsWith(`${folder}/`);
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (skipped.some((folder) => below(entry.path, folder))) continue;
    const isTop = !entry.path.includes('/');
    const unsafe = refusePath(entry.path);
    if (unsafe) {
      refused.push(entryError(entry.path, unsafe));
      skipped.push(entry.path);
      continue;
    }
    if (entry.path.split('/').some((part) => part.startsWith('.'))) {
      skipped.push(entry.path);
      continue;
    }
    if (entry.unreadable) {
      refused.push(entryError(entry.path, `cannot be read: ${entry.unreadable}`));
      skipped.push(entry.path);
      continue;
    }
    if (entry.type === 'symlink') {
      refused.push(entryError(entry.path, 'is a symbolic link; herd does not follow links in clusters/ and profiles/ (put the file itself there)'));
      skipped.push(entry.path);
      continue;
    }
    if (entry.type === 'other') {
      refused.push(entryError(entry.path, `is ${entry.detail ?? 'not a regular file'}; herd reads only regular files and folders`));
      continue;
    }
    if (isTop && entry.type !== 'folder') {
      refused.push(entryError(entry.path, `is a file; ${entry.path}/ must be a folder`));
      continue;
    }
    if (entry.type === 'folder') {
      if (entry.path.split('/').length - 1 > LIMITS.folderDepth) {
        refused.push(entryError(entry.path, `is nested more than ${LIMITS.folderDepth} folders deep`));
        skipped.push(entry.path);
      }
      continue;
    }
    if (!isSpecFile(entry.path)) continue;
    if (entry.size > LIMITS.fileBytes) {
      refused.push(entryError(entry.path, `the file has ${entry.size} bytes; a cluster or profile file may have at most ${LIMITS.fileBytes}`));
      continue;
    }
    wanted.push(entry);
  }
  const total = wanted.reduce((sum, e) => sum + e.size, 0);
  if (total > LIMITS.repositoryBytes) {
    refused.push(entryError(TOP_FOLDERS[0], `clusters/ and profiles/ hold ${total} bytes of YAML; herd reads at most ${LIMITS.repositoryBytes}`));
    return { files: [], refused };
  }
  const files: RepositoryFile[] = [];
  for (const entry of wanted) {
    try {
      files.push({ path: entry.path, text: await reader.read(entry.path, LIMITS.fileBytes) });
    } catch (error) {
      refused.push(entryError(entry.path, `cannot be read: ${(error as Error).message}`));
    }
  }
  return { files, refused };
}

/**
 * Why a file a cluster names (a static provider's keyFile) cannot be read, or undefined:
 * every folder on the way must be a folder, the file a regular file of at most
 * LIMITS.fileBytes, and none of them a link. `lookup` gives the entry at a path or undefined.
 */
export async function namedFileProblem(path: string, lookup: (path: string) => Promise<TreeEntry | undefined>): Promise<string | undefined> {
  const parts = path.split('/');
  if (refusePath(path) || path.startsWith('/') || parts.includes('..') || parts.includes('') || parts.includes('.')) {
    return `${path} is not a plain relative path inside the repository`;
  }
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const entry = await lookup(prefix);
    const last = i === parts.length;
    const what = last ? path : `${prefix} (on the way to ${path})`;
    if (!entry) return `${path} does not exist in the repository`;
    if (entry.unreadable) return `${what} cannot be read: ${entry.unreadable}`;
    if (entry.type === 'symlink') return `${what} is a symbolic link; herd does not follow links`;
    if (entry.type === 'other') return `${what} is ${entry.detail ?? 'not a regular file'}; herd reads only regular files and folders`;
    if (!last && entry.type !== 'folder') return `${what} is a file, not a folder`;
    if (last && entry.type !== 'file') return `${path} is a folder, not a file`;
    if (last && entry.size > LIMITS.fileBytes) return `${path} has ${entry.size} bytes; herd reads at most ${LIMITS.fileBytes}`;
  }
  return undefined;
}

/** The files the resolved clusters name (static providers' keyFiles), for namedFileProblem. */
export function namedFiles(repository: Repository): string[] {
  const paths = new Set<string>();
  for (const { cluster } of repository.clusters) if (cluster.spec.provider.kind === 'static') paths.add(cluster.spec.provider.keyFile);
  return [...paths];
}
