import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { FileSystem } from '@herd/sys';

/** Where the page's token is kept, in the state directory, 0600 like the coordinator's admin key. */
export const TOKEN_FILE = 'status-page.token';

/** A fresh token for one run of the coordinator: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes the token for the operator to read (never logged). Returns the file's path. */
export async function writeTokenFile(fs: FileSystem, stateDir: string, token: string): Promise<string> {
  const path = join(stateDir, TOKEN_FILE);
  await fs.writeAtomic(path, `${token}\n`, { mode: 0o600 });
  return path;
}

/** Whether an Authorization header carries `token` (the scheme is case-insensitive, RFC 7235); compared in constant time (over hashes, so lengths never leak). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([A-Za-z0-9_-]{1,256})$/i.exec(header ?? '');
  if (!match) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}
