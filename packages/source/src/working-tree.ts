import { constants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LIMITS, refusePath, type RepositoryFile, type SpecError } from '@herd/api';
import { collectSpecFiles, TOP_FOLDERS, type EntryType, type TreeEntry, type TreeReader } from './tree.js';

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
  const parts = path.split('/');
  if (refusePath(path) || path.startsWith('/') || parts.includes('..') || parts.includes('')) {
    throw new Error(`${path} is not a plain relative path inside the repository`);
  }
  for (let i = 1; i < parts.length; i++) {
    const folder = parts.slice(0, i).join('/');
    const stats = await fs.lstat(join(root, folder)).catch(() => undefined);
    if (!stats) throw new Error(`${path} does not exist in the repository`);
    if (!stats.isDirectory()) throw new Error(`${folder} (on the way to ${path}) is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; herd does not follow links`);
  }
  const stats = await fs.lstat(join(root, path)).catch(() => undefined);
  if (!stats) throw new Error(`${path} does not exist in the repository`);
  if (stats.isSymbolicLink()) throw new Error(`${path} is a symbolic link; herd does not follow links`);
  return readRegularFile(join(root, path), LIMITS.fileBytes).catch((e: Error) => { throw new Error(`${path}: ${e.message}`); });
}
