import { isDeepStrictEqual } from 'node:util';
import type { TSchema } from '@sinclair/typebox';
import { isPlainObject, setOwn, type PathSegment } from './validate.js';

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
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const s = mergedObject(base, override, schema);
  if (!s) return override;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(override)) setOwn(out, key, merge(Object.hasOwn(base, key) ? base[key] : undefined, value, fieldSchema(s, key)));
  return out;
}

/** The object schema two mappings merge key by key under, or undefined where the override replaces the base whole. */
function mergedObject(base: Record<string, unknown>, override: Record<string, unknown>, schema: TSchema | undefined): Schema | undefined {
  const s = schema as Schema | undefined;
  if (!s) return undefined;
  if (s.anyOf) {
    const discriminator: string | undefined = s.discriminator;
    if (!discriminator) return undefined;
    if (Object.hasOwn(override, discriminator) && Object.hasOwn(base, discriminator) && base[discriminator] !== override[discriminator]) return undefined;
    const kind = Object.hasOwn(override, discriminator) ? override[discriminator] : base[discriminator];
    const branch = (s.anyOf as Schema[]).find((b) => b.properties?.[discriminator]?.const === kind);
    return branch ? mergedObject(base, override, branch) : undefined;
  }
  return s.type === 'object' ? s : undefined;
}

/** A field the schema does not know has no schema: it is kept as written, and validation reports it. */
function fieldSchema(s: Schema, key: string): TSchema | undefined {
  return s.properties ? (Object.hasOwn(s.properties, key) ? s.properties[key] : undefined) : s.additionalProperties;
}

/** A value the override layer sets that mergeLayers takes over the base's. */
export interface LayerOverride {
  path: PathSegment[];
  /** The base's value there; undefined when the base does not set it (the override adds it). */
  base: unknown;
  override: unknown;
}

/**
 * Every value `override` sets that differs from `base`, at the depth mergeLayers takes it:
 * the fields of a merged mapping one by one (also of a mapping the base lacks, so each is
 * named), a list, a scalar or a replaced union whole. A value equal to the base's is no
 * difference. Paths are relative to the layers' root.
 */
export function layerOverrides(base: unknown, override: unknown, schema: TSchema): LayerOverride[] {
  const found: LayerOverride[] = [];
  const walk = (b: unknown, o: unknown, s: TSchema | undefined, path: PathSegment[]) => {
    if (o === undefined || isDeepStrictEqual(b, o)) return;
    const object = isPlainObject(o) && (b === undefined || isPlainObject(b)) ? mergedObject((b ?? {}) as Record<string, unknown>, o, s) : undefined;
    if (!object) {
      found.push({ path, base: b, override: o });
      return;
    }
    for (const [key, value] of Object.entries(o as Record<string, unknown>)) {
      walk(isPlainObject(b) && Object.hasOwn(b, key) ? b[key] : undefined, value, fieldSchema(object, key), [...path, key]);
    }
  };
  walk(base, override, schema, []);
  return found;
}
