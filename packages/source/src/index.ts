export { GitSource, GitSourceError, isRemoteUrl, type GitSourceOptions } from './git-source.js';
export { readSpecFiles, readRepositoryFile } from './working-tree.js';
export { parseTreeListing } from './git-source.js';
export { initRepository } from './init.js';
export { snapshotOf, readSnapshot, type Snapshot } from './snapshot.js';
export { collectSpecFiles, namedFileProblem, type TreeEntry, type TreeReader } from './tree.js';

import type { LoadOptions } from '@herd/api';
import { directoryReader } from './working-tree.js';
import { readSnapshot, type Snapshot } from './snapshot.js';

/** Reads a directory as it is on disk, uncommitted changes included (what `herd validate DIR` checks before a commit). */
export async function readWorkingTree(dir: string, options: LoadOptions = {}): Promise<Snapshot> {
  return readSnapshot(directoryReader(dir), dir, undefined, undefined, options);
}
