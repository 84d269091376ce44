/**
 * Walks a value against a schema from schema.ts, collecting every problem with its path
 * and, in `resolved` mode, filling defaults. One walker serves both modes:
 * - `layer`: one file as written (a profile, or a cluster before its profile is applied).
 *   Fields of mergeable objects may be missing; what is present must be right.
 * - `resolved`: profile and cluster merged; missing fields take their defaults or are errors.
 */
import type { TSchema } from '@sinclair/typebox';
import { FORMATS, type FormatName } from './formats.js';
import { quote } from './text.js';

export type PathSegment = string | number;

export interface Issue {
  path: PathSegment[];
  message: string;
  /** Point at the key (an unknown field) rather than at the value. */
  atKey?: boolean;
}

export type Mode = 'layer' | 'resolved';

type Schema = TSchema & Record<string, any>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a key as an own property whatever it is called (`__proto__` included), never the prototype. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** How a value looks to a person reading YAML. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (the field is empty)';
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  if (typeof value === 'string') return quote(value);
  return `${typeof value} ${String(value)}`;
}

function expectedOf(schema: Schema): string {
  if (schema.expected) return schema.expected;
  if (schema.const !== undefined) return `"${schema.const}"`;
  if (schema.enum) return `one of ${schema.enum.join(', ')}`;
  if (schema.format && schema.format in FORMATS) return FORMATS[schema.format as FormatName].expected;
  switch (schema.type) {
    case 'object': return 'a mapping';
    case 'array': return 'a list';
    case 'integer': {
      const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` from ${schema.minimum} to ${schema.maximum}`
        : schema.minimum !== undefined ? ` of at least ${schema.minimum}` : '';
      return `a whole number${range}`;
    }
    case 'string': return 'a string';
    case 'boolean': return 'true or false';
    default: return 'a valid value';
  }
}

/** Closest known name, to suggest for a typo (edit distance at most 2). */
function suggest(name: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d <= 2 && (!best || d < best.distance)) best = { name: candidate, distance: d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export interface Validation<T = unknown> {
  value: T;
  issues: Issue[];
}

/**
 * `mergeableRoot` names the top-level field below which layer mode lets fields be missing
 * (`spec`: a profile or cluster file sets only what it changes); everything else, like
 * `metadata.name`, is required in every file.
 */
export function validate<T = unknown>(schema: TSchema, value: unknown, mode: Mode, mergeableRoot?: string): Validation<T> {
  const issues: Issue[] = [];
  const result = walk(schema as Schema, value, [], mode, false, issues, mergeableRoot);
  return { value: result as T, issues };
}

/**
 * `partial` is true while the walk stays in objects that profiles and clusters merge field
 * by field; list items, union branches and map values are whole values and always complete.
 */
function walk(schema: Schema, value: unknown, path: PathSegment[], mode: Mode, partial: boolean, issues: Issue[], mergeableRoot?: string): unknown {
  const fail = (message: string) => { issues.push({ path, message }); return value; };
  const mismatch = () => {
    const hint = schema.type === 'string' && (typeof value === 'number' || typeof value === 'boolean')
      ? ` (YAML reads ${String(value)} as a ${typeof value}; quote it)` : '';
    return fail(`expected ${expectedOf(schema)}, found ${describe(value)}${hint}`);
  };

  if (schema.anyOf) return walkUnion(schema, value, path, mode, issues);

  if (schema.const !== undefined) return value === schema.const ? value : mismatch();

  switch (schema.type) {
    case 'object': {
      if (!isPlainObject(value)) return mismatch();
      return schema.properties ? walkObject(schema, value, path, mode, partial, issues, mergeableRoot) : walkMap(schema, value, path, mode, issues);
    }
    case 'array': {
      if (!Array.isArray(value)) return mismatch();
      if (schema.minItems !== undefined && value.length < schema.minItems) return fail(`expected at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}, found ${value.length}`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return fail(`expected at most ${schema.maxItems} items, found ${value.length}`);
      return value.map((item, i) => walk(schema.items, item, [...path, i], mode, false, issues));
    }
    case 'string': {
      if (typeof value !== 'string') return mismatch();
      if (schema.enum && !schema.enum.includes(value)) return mismatch();
      if (schema.format && !FORMATS[schema.format as FormatName].check(value)) return mismatch();
      if (!schema.format && schema.pattern && !new RegExp(schema.pattern).test(value)) return mismatch();
      return value;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return mismatch();
      if (schema.enum && !schema.enum.includes(value)) return mismatch();
      if (schema.minimum !== undefined && value < schema.minimum) return mismatch();
      if (schema.maximum !== undefined && value > schema.maximum) return mismatch();
      return value;
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : mismatch();
    default:
      throw new Error(`schema node without a type at ${path.join('.')}`);
  }
}

function walkObject(schema: Schema, value: Record<string, unknown>, path: PathSegment[], mode: Mode, partial: boolean, issues: Issue[], mergeableRoot?: string) {
  const partialBelow = (key: string) => partial || (path.length === 0 && key === mergeableRoot);
  const properties: Record<string, Schema> = schema.properties;
  for (const key of Object.keys(value)) {
    // Own properties only: `constructor` or `toString` are not fields because every object inherits them.
    if (Object.hasOwn(properties, key)) continue;
    const known = Object.keys(properties);
    const hint = suggest(key, known);
    issues.push({
      path: [...path, key],
      atKey: true,
      message: `unknown field ${quote(key)}${hint ? `; did you mean "${hint}"?` : ''} (allowed here: ${known.join(', ')})`,
    });
  }
  // Output in schema order, so resolved clusters print the same way whatever the input order.
  const out: Record<string, unknown> = {};
  const required: string[] = schema.required ?? [];
  for (const [key, childSchema] of Object.entries(properties)) {
    if (Object.hasOwn(value, key)) {
      out[key] = walk(childSchema, value[key], [...path, key], mode, partialBelow(key), issues);
    } else if (mode === 'resolved' && childSchema.default !== undefined) {
      out[key] = walk(childSchema, structuredClone(childSchema.default), [...path, key], mode, partialBelow(key), issues);
    } else if (required.includes(key) && childSchema.default === undefined && (mode === 'resolved' || !partial)) {
      issues.push({ path, message: `missing required field "${key}": expected ${expectedOf(childSchema)}` });
    }
  }
  return out;
}

function walkMap(schema: Schema, value: Record<string, unknown>, path: PathSegment[], mode: Mode, issues: Issue[]) {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const keySchema: Schema | undefined = schema.propertyNames;
    if (keySchema?.format && !FORMATS[keySchema.format as FormatName].check(key)) {
      issues.push({ path: [...path, key], atKey: true, message: `invalid key ${quote(key)}: expected ${expectedOf(keySchema)}` });
      continue;
    }
    setOwn(out, key, walk(schema.additionalProperties, child, [...path, key], mode, false, issues));
  }
  return out;
}

function walkUnion(schema: Schema, value: unknown, path: PathSegment[], mode: Mode, issues: Issue[]) {
  const branches: Schema[] = schema.anyOf;
  const discriminator: string | undefined = schema.discriminator;
  if (discriminator) {
    const kinds = branches.map((b) => b.properties[discriminator].const as string);
    if (!isPlainObject(value)) {
      issues.push({ path, message: `expected a mapping with "${discriminator}" (one of ${kinds.join(', ')}), found ${describe(value)}` });
      return value;
    }
    const kind = value[discriminator];
    if (kind === undefined) {
      issues.push({ path, message: `missing required field "${discriminator}" (one of ${kinds.join(', ')})` });
      return value;
    }
    const branch = branches.find((b) => b.properties[discriminator].const === kind);
    if (!branch) {
      issues.push({ path: [...path, discriminator], message: `unknown ${discriminator} ${describe(kind)}; expected one of ${kinds.join(', ')}` });
      return value;
    }
    return walk(branch, value, path, mode, false, issues);
  }
  for (const branch of branches) {
    const trial: Issue[] = [];
    const result = walk(branch, value, path, mode, false, trial);
    if (trial.length === 0) return result;
  }
  issues.push({ path, message: `expected ${expectedOf(schema)}, found ${describe(value)}` });
  return value;
}

/** `spec.pools[1].name`, `spec.os.sysctls["net.ipv4.ip_forward"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${quote(segment)}]`;
  }
  return out;
}
