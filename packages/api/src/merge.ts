import type { TSchema } from '@sinclair/typebox';
import { isPlainObject, setOwn } from './validate.js';

type Schema = TSchema & Record<string, any>;

/**
 * Applies a cluster's settings over its profile's, guided by the schema of `spec`: objects
 * and maps (packages, sysctls, labels) merge key by key whatever the keys are called, lists
 * and scalars are replaced whole. The one place replaced whole as a mapping is a union with a
 * discriminator (the provider) when the two layers name different branches: a static provider
 * does not inherit a local one's subnet. Decided by the schema path, never by key names.
 */
export function mergeLayers(base: unknown, override: unknown, schema: TSchema): unknown {
  return merge(base, override, schema);
}

function merge(base: unknown, override: unknown, schema: TSchema | undefined): unknown {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override) || !schema) return override;
  const s = schema as Schema;
  if (s.anyOf) {
    const discriminator: string | undefined = s.discriminator;
    if (!discriminator) return override;
    const kind = Object.hasOwn(override, discriminator) ? override[discriminator] : base[discriminator];
    if (Object.hasOwn(override, discriminator) && Object.hasOwn(base, discriminator) && base[discriminator] !== override[discriminator]) return override;
    const branch = (s.anyOf as Schema[]).find((b) => b.properties?.[discriminator]?.const === kind);
    return branch ? merge(base, override, branch) : override;
  }
  if (s.type !== 'object') return override;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(override)) {
    // A field the schema does not know is kept as written; validation reports it.
    const child: TSchema | undefined = s.properties ? (Object.hasOwn(s.properties, key) ? s.properties[key] : undefined) : s.additionalProperties;
    setOwn(out, key, merge(Object.hasOwn(base, key) ? base[key] : undefined, value, child));
  }
  return out;
}
