export { GitSource, GitSourceError, isRemoteUrl, type GitSourceOptions } from './git-source.js';
export { readSpecFiles, readRepositoryFile } from './working-tree.js';
export { parseTreeListing } from './git-source.js';
export { initRepository } from './init.js';
export { snapshotOf, type Snapshot } from './snapshot.js';

import type { LoadOptions } from '@herd/api';
import { readSpecFiles } from './working-tree.js';
import { snapshotOf, type Snapshot } from './snapshot.js';

/** Reads a directory as it is on disk, uncommitted changes included (what `herd validate DIR` checks before a commit). */
export async function readWorkingTree(dir: string, options: LoadOptions = {}): Promise<Snapshot> {
  const { files, refused } = await readSpecFiles(dir);
  return snapshotOf(files, dir, undefined, undefined, { ...options, refused: [...(options.refused ?? []), ...refused] });
}
