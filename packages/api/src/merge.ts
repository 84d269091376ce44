import { isPlainObject } from './validate.js';

/**
 * Applies a cluster's settings over its profile's. Mappings merge key by key (so a cluster
 * can add one package or one sysctl); lists and scalars are replaced whole; a mapping with
 * a different `kind` (another provider) replaces the profile's instead of mixing with it.
 */
export function mergeLayers(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  if ('kind' in base && 'kind' in override && base.kind !== override.kind) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = mergeLayers(base[key], value);
  return out;
}
