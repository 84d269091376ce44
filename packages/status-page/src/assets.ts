import { readFileSync } from 'node:fs';

/** The page's files, read once from the package's assets/ (beside dist/): no CDN, nothing fetched from elsewhere. */
const FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/render.js': { file: 'render.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
} as const;

export interface Asset { type: string; body: Buffer }

export function loadAssets(): Map<string, Asset> {
  const dir = new URL('../assets/', import.meta.url);
  return new Map(Object.entries(FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(new URL(file, dir)) }]));
}
