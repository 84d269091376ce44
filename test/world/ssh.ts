import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecutor } from '@herd/sys';
import type { AfterHook } from './index.js';

export interface TestSshKey {
  /** For WorldOptions.authorizedKeys. */
  publicKey: string;
  /** ssh/scp options that log in with this key, non-interactively, trusting a machine's new host key. */
  options: string[];
}

/** A throwaway ed25519 key (removed after the test) for logging in to test machines as root. */
export async function testSshKey(hook: AfterHook): Promise<TestSshKey> {
  const dir = await mkdtemp(join(tmpdir(), 'herd-ssh-'));
  hook.after(() => rm(dir, { recursive: true, force: true }));
  await createExecutor().run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  return {
    publicKey: await readFile(join(dir, 'id.pub'), 'utf8'),
    options: ['-i', join(dir, 'id'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`],
  };
}
