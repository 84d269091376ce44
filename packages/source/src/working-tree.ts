import { promises as fs } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { isSpecFile, type RepositoryFile } from '@herd/api';

/** Reads every spec file (YAML below clusters/ and profiles/) of a directory on disk. */
export async function readSpecFiles(root: string): Promise<RepositoryFile[]> {
  const files: RepositoryFile[] = [];
  for (const top of ['clusters', 'profiles']) {
    let entries: string[];
    try {
      entries = (await fs.readdir(join(root, top), { recursive: true })).map(String);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries.sort()) {
      const path = relative(root, join(root, top, entry)).split(sep).join('/');
      if (!isSpecFile(path) || path.split('/').some((part) => part.startsWith('.'))) continue;
      const full = join(root, path);
      if (!(await fs.stat(full)).isFile()) continue;
      files.push({ path, text: await fs.readFile(full, 'utf8') });
    }
  }
  return files;
}
