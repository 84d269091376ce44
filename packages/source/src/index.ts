export { GitSource, GitSourceError, isRemoteUrl, type GitSourceOptions } from './git-source.js';
export { readSpecFiles } from './working-tree.js';
export { initRepository } from './init.js';
export { snapshotOf, type Snapshot } from './snapshot.js';

import { readSpecFiles } from './working-tree.js';
import { snapshotOf, type Snapshot } from './snapshot.js';

/** Reads a directory as it is on disk, uncommitted changes included (what `herd validate DIR` checks before a commit). */
export async function readWorkingTree(dir: string): Promise<Snapshot> {
  return snapshotOf(await readSpecFiles(dir), dir);
}
