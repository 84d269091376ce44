import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';
import type { RepositoryFile } from '@herd/api';
import { UserError } from '@herd/sys';

/** Creates a new Git repository in `dir` (absent or empty) holding `files`, committed. Returns the commit. */
export async function initRepository(dir: string, files: readonly RepositoryFile[], message: string): Promise<string> {
  const existing = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new UserError(`cannot use ${dir}: ${e.message}`);
  });
  if (existing.length > 0) throw new UserError(`${dir} is not empty; herd init creates a new repository in an empty or new directory`);
  await fs.mkdir(dir, { recursive: true });
  for (const file of files) {
    await fs.mkdir(dirname(join(dir, file.path)), { recursive: true });
    await fs.writeFile(join(dir, file.path), file.text);
  }
  const git = simpleGit(dir);
  await git.init(['--quiet', '--initial-branch=main']);
  await git.add('.');
  // Commit as the user when git knows who that is; otherwise as herd, rather than fail.
  const name = (await git.raw(['config', '--get', 'user.name']).catch(() => '')).trim();
  const identity = name ? [] : ['-c', 'user.name=herd init', '-c', 'user.email=herd@localhost'];
  await git.raw([...identity, 'commit', '--quiet', '-m', message]);
  return (await git.revparse(['HEAD'])).trim();
}
