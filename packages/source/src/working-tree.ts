import { constants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LIMITS, refusePath, type RepositoryFile, type SpecError } from '@herd/api';
import { UserError } from '@herd/sys';
import { collectSpecFiles, namedFileProblem, TOP_FOLDERS, type EntryType, type TreeEntry, type TreeReader } from './tree.js';

function typeOf(stats: Stats): { type: EntryType; detail?: string } {
  if (stats.isSymbolicLink()) return { type: 'symlink' };
  if (stats.isFile()) return { type: 'file' };
  if (stats.isDirectory()) return { type: 'folder' };
  if (stats.isFIFO()) return { type: 'other', detail: 'a FIFO (named pipe)' };
  if (stats.isSocket()) return { type: 'other', detail: 'a socket' };
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return { type: 'other', detail: 'a device' };
  return { type: 'other' };
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'ELOOP' ? 'a symbolic link' : (e.code ?? 'an I/O error');
}

/**
 * A directory on disk, read without following any link: entries come from lstat, files are
 * opened with O_NOFOLLOW and checked again on the open descriptor (a file swapped for a link
 * or a FIFO between listing and reading is refused, not followed or waited on).
 */
export function directoryReader(root: string): TreeReader {
  return {
    async list(max) {
      const entries: TreeEntry[] = [];
      const queue: string[] = [];
      for (const top of TOP_FOLDERS) {
        const stats = await fs.lstat(join(root, top)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : e));
        if (stats === undefined) continue;
        if (stats instanceof Error) { entries.push({ path: top, type: 'folder', size: 0, unreadable: reason(stats) }); continue; }
        entries.push({ path: top, size: stats.size, ...typeOf(stats) });
        if (stats.isDirectory()) queue.push(top);
      }
      while (queue.length && entries.length <= max) {
        const folder = queue.shift()!;
        let names: string[];
        try {
          names = (await fs.readdir(join(root, folder))).sort();
        } catch (error) {
          entries.find((e) => e.path === folder)!.unreadable = reason(error);
          continue;
        }
        for (const name of names) {
          const path = `${folder}/${name}`;
          if (entries.length > max) break;
          // A name herd refuses is listed as it is, not looked at further.
          if (refusePath(path) || name.startsWith('.')) { entries.push({ path, type: 'file', size: 0 }); continue; }
          try {
            const stats = await fs.lstat(join(root, path));
            entries.push({ path, size: stats.size, ...typeOf(stats) });
            if (stats.isDirectory() && path.split('/').length <= LIMITS.folderDepth + 1) queue.push(path);
          } catch (error) {
            entries.push({ path, type: 'file', size: 0, unreadable: reason(error) });
          }
        }
      }
      return entries;
    },
    async entry(path) {
      try {
        const stats = await fs.lstat(join(root, path));
        return { path, size: stats.size, ...typeOf(stats) };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : { path, type: 'file', size: 0, unreadable: reason(error) };
      }
    },
    read: (path, maxBytes) => readRegularFile(join(root, path), maxBytes),
  };
}

async function readRegularFile(full: string, maxBytes: number): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await fs.open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new Error(reason(error));
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`${typeOf(stats).detail ?? 'not a regular file'}; herd reads only regular files`);
    if (stats.size > maxBytes) throw new Error(`the file has ${stats.size} bytes; at most ${maxBytes} are read`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) throw new Error(`the file has more than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Reads every spec file (YAML below clusters/ and profiles/) of a directory on disk, and what was refused. */
export async function readSpecFiles(root: string): Promise<{ files: RepositoryFile[]; refused: SpecError[] }> {
  return collectSpecFiles(directoryReader(root));
}

/**
 * One file of a directory repository (a static provider's keyFile): every folder on the way
 * must be a real folder and the file a regular file inside the repository, never a link.
 */
export async function readRepositoryFile(root: string, path: string): Promise<string> {
  const reader = directoryReader(root);
  const problem = await namedFileProblem(path, (p) => reader.entry(p));
  if (problem) throw new UserError(problem);
  return reader.read(path, LIMITS.fileBytes).catch((e: Error) => { throw new UserError(`${path} cannot be read: ${e.message}`); });
}
