import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where herd caches what it can rebuild (Git clones, machine images, built artifacts):
 * $HERD_CACHE_DIR, else /var/cache/herd for root, else $XDG_CACHE_HOME/herd.
 */
export function herdCacheDir(): string {
  if (process.env.HERD_CACHE_DIR) return process.env.HERD_CACHE_DIR;
  if (process.getuid?.() === 0) return '/var/cache/herd';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herd');
}

/** Hides the password or token in a URL (`https://user:secret@host` → `https://***@host`) for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}
