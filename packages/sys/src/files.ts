import { promises as fs, constants } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface FileInfo {
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/** The filesystem as steps see it: injected, so logic is tested in memory and run on nodes. */
export interface FileSystem {
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  stat(path: string): Promise<FileInfo | undefined>;
  /** Write through a temporary file and a rename: readers never see half a file. */
  writeAtomic(path: string, content: string | Uint8Array, options?: { mode?: number; uid?: number; gid?: number }): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  remove(path: string): Promise<void>;
  mkdirp(path: string, mode?: number): Promise<void>;
  list(dir: string): Promise<string[]>;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The real filesystem, optionally below a root (a machine's rootfs seen from the host). */
export function nodeFileSystem(root = ''): FileSystem {
  const at = (path: string) => (root ? join(root, path) : path);
  return {
    async read(path) {
      try { return await fs.readFile(at(path), 'utf8'); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
    },
    async stat(path) {
      try {
        const s = await fs.stat(at(path));
        return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, size: s.size };
      } catch (e) { if (isNotFound(e)) return undefined; throw e; }
    },
    async writeAtomic(path, content, options = {}) {
      const target = at(path);
      await fs.mkdir(dirname(target), { recursive: true });
      const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
      const handle = await fs.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, options.mode ?? 0o644);
      try {
        await handle.writeFile(content);
        if (options.mode !== undefined) await handle.chmod(options.mode);
        if (options.uid !== undefined && options.gid !== undefined) await handle.chown(options.uid, options.gid);
        await handle.sync();
      } catch (e) {
        await handle.close();
        await fs.rm(temp, { force: true });
        throw e;
      }
      await handle.close();
      await fs.rename(temp, target);
    },
    chmod: (path, mode) => fs.chmod(at(path), mode),
    chown: (path, uid, gid) => fs.chown(at(path), uid, gid),
    remove: (path) => fs.rm(at(path), { force: true, recursive: true }),
    async mkdirp(path, mode) { await fs.mkdir(at(path), { recursive: true, mode }); },
    async list(dir) {
      try { return (await fs.readdir(at(dir))).sort(); } catch (e) { if (isNotFound(e)) return []; throw e; }
    },
  };
}
